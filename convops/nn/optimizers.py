"""Optimisers with Keras's names, defaults and update formulas.

Updates are done in place, in the variables' dtype, with the operations in Keras's order so
that float32 results round the same way (that is what makes a 20-step parity test possible).

Each optimizer's ``_update_reference`` is its formula in NumPy, the readable form; ``_update``
runs the compiled twin (``convops/_kernels/nn.pyx``), one pass over each variable with the same
operations in the same order -- the same bits (tests/test_nn_optimizers.py compares them) --
where NumPy made a pass and a temporary per operation. It applies to C-contiguous float32 and
float64 variables and gradients; anything else (a strided view, float16) takes the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import convops._kernels
from convops.nn._checks import as_bool, as_float, describe

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "get"]

_kernels = convops._kernels.load("nn")


def _flat(grad: np.ndarray, var: np.ndarray, slots: dict[str, np.ndarray]) -> list[np.ndarray] | None:
    """``[var, grad, *slots]`` as 1-D views for the compiled updates, or None when one of them
    is not a C-contiguous float32/float64 array of var's dtype, or when the gradient shares
    memory with the variable (NumPy's ufuncs copy an overlapping operand; an element-by-element
    loop would read what it has just written): the reference runs then. The slots are the
    optimizer's own arrays."""
    arrays = [var, grad, *slots.values()]
    if var.dtype not in (np.float32, np.float64) or any(
        a.dtype != var.dtype or not a.flags.c_contiguous for a in arrays
    ):
        return None
    if np.may_share_memory(var, grad):
        return None
    return [a.reshape(-1) for a in arrays]


class Optimizer:
    """Base class: ``apply_gradients([(grad, variable), ...])`` updates the variables in place;
    per-variable state (``slots``) is created on first use, keyed by position in the list.

    Parameters
    ----------
    learning_rate : float
        A finite number > 0.
    """

    def __init__(self, learning_rate: float = 0.01):
        self.learning_rate = as_float(learning_rate, "learning_rate", 0.0, None, low_open=True)
        self.iterations = 0
        self._slots: list[dict[str, np.ndarray]] = []

    def apply_gradients(self, grads_and_vars: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
        """One update of every variable, in place.

        Parameters
        ----------
        grads_and_vars : sequence of (gradient, variable)
            Each variable a writeable floating ndarray, each gradient of its shape; the same
            variables, in the same order, at every call.

        Raises
        ------
        ValueError, TypeError
            A malformed pair, a shape mismatch or a different number of variables than before
            (checked before anything is updated).
        """
        if isinstance(grads_and_vars, (str, bytes)) or not hasattr(grads_and_vars, "__iter__"):
            raise TypeError(
                f"`grads_and_vars` must be a list of (gradient, variable) pairs; got {describe(grads_and_vars)}"
            )
        pairs = [self._checked_pair(index, pair) for index, pair in enumerate(grads_and_vars)]
        if self._slots and len(self._slots) != len(pairs):
            raise ValueError(
                f"`grads_and_vars`: this optimizer was built for {len(self._slots)} variables; got {len(pairs)}"
            )
        if not self._slots:
            self._slots = [self._make_slots(var) for _, var in pairs]
        for (grad, var), slots in zip(pairs, self._slots):
            self._update(grad, var, slots)
        self.iterations += 1

    @staticmethod
    def _checked_pair(index: int, pair: Any) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"`grads_and_vars`: item {index} must be a (gradient, variable) pair; got {describe(pair)}")
        grad, var = pair
        if not isinstance(var, np.ndarray) or var.dtype.kind != "f" or not var.flags.writeable:
            raise TypeError(
                f"`grads_and_vars`: variable {index} must be a writeable floating ndarray (it is "
                f"updated in place); got {describe(var)}"
            )
        try:
            grad = np.asarray(grad, dtype=var.dtype)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"`grads_and_vars`: gradient {index} must be an array of numbers: {exc}") from None
        if grad.shape != var.shape:
            raise ValueError(f"`grads_and_vars`: gradient {index} has shape {grad.shape}, its variable {var.shape}")
        return grad, var

    def _make_slots(self, var: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    def _update(self, grad: np.ndarray, var: np.ndarray, slots: dict[str, np.ndarray]) -> None:
        """One variable's update in place: the compiled kernel, or the reference."""
        self._update_reference(grad, var, slots)

    def _update_reference(self, grad: np.ndarray, var: np.ndarray, slots: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The hyperparameters, as Keras's ``get_config`` (a subset of its keys).

        Returns
        -------
        dict
        """
        return {"learning_rate": self.learning_rate}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """``var -= learning_rate * grad``; with momentum ``m = momentum*m - lr*grad; var += m``
    (Nesterov: ``var += momentum*m - lr*grad``). Keras defaults: lr 0.01, no momentum.

    Parameters
    ----------
    learning_rate : float
        > 0.
    momentum : float
        In [0, 1].
    nesterov : bool
    """

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False):
        super().__init__(learning_rate)
        self.momentum = as_float(momentum, "momentum", 0.0, 1.0)
        self.nesterov = as_bool(nesterov, "nesterov")

    def _make_slots(self, var):
        return {"momentum": np.zeros_like(var)} if self.momentum else {}

    def _update(self, grad, var, slots):
        flat = _flat(grad, var, slots)
        if flat is None:
            return self._update_reference(grad, var, slots)
        momentum = flat[2] if self.momentum else None
        _kernels.sgd_update(flat[0], flat[1], momentum, self.learning_rate, self.momentum, self.nesterov)

    def _update_reference(self, grad, var, slots):
        step = grad * self.learning_rate
        if not self.momentum:
            var -= step
            return
        m = slots["momentum"]
        m *= self.momentum
        m -= step
        if self.nesterov:
            var += m * self.momentum - step
        else:
            var += m

    def get_config(self) -> dict[str, Any]:
        """The hyperparameters.

        Returns
        -------
        dict
        """
        return {"learning_rate": self.learning_rate, "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """Divide each step by a running root-mean-square of the gradient (Tieleman & Hinton, 2012).

    ``v = rho*v + (1 - rho)*grad**2``; ``var -= lr * grad / sqrt(v + epsilon)`` (Keras 3's form:
    epsilon inside the square root). Keras defaults: lr 0.001, rho 0.9, epsilon 1e-7, no
    momentum, not centered.

    Parameters
    ----------
    learning_rate : float
        > 0.
    rho : float
        In [0, 1).
    momentum : float
        In [0, 1].
    epsilon : float
        >= 0.
    centered : bool
        Divide by the running *variance* instead (subtract the running mean's square).
    """

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
    ):
        super().__init__(learning_rate)
        self.rho = as_float(rho, "rho", 0.0, 1.0, high_open=True)
        self.momentum = as_float(momentum, "momentum", 0.0, 1.0)
        self.epsilon = as_float(epsilon, "epsilon", 0.0)
        self.centered = as_bool(centered, "centered")

    def _make_slots(self, var):
        slots = {"velocity": np.zeros_like(var)}
        if self.momentum:
            slots["momentum"] = np.zeros_like(var)
        if self.centered:
            slots["average_gradient"] = np.zeros_like(var)
        return slots

    def _update(self, grad, var, slots):
        flat = _flat(grad, var, slots)
        if flat is None:
            return self._update_reference(grad, var, slots)
        named = dict(zip(slots, flat[2:]))
        _kernels.rmsprop_update(
            flat[0],
            flat[1],
            named["velocity"],
            named.get("average_gradient"),
            named.get("momentum"),
            self.learning_rate,
            self.rho,
            1 - self.rho,
            self.epsilon,
            self.momentum,
        )

    def _update_reference(self, grad, var, slots):
        v = slots["velocity"]
        v *= self.rho
        v += (1 - self.rho) * np.square(grad)
        if self.centered:
            a = slots["average_gradient"]
            a *= self.rho
            a += (1 - self.rho) * grad
            denominator = v - np.square(a) + self.epsilon
        else:
            denominator = v + self.epsilon
        increment = grad * self.learning_rate
        increment /= np.sqrt(denominator, out=denominator)
        if self.momentum:
            m = slots["momentum"]
            m *= self.momentum
            m += increment
            var -= m
        else:
            var -= increment

    def get_config(self) -> dict[str, Any]:
        """The hyperparameters.

        Returns
        -------
        dict
        """
        return {
            "learning_rate": self.learning_rate,
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adam(Optimizer):
    """Keras's Adam: ``m = b1*m + (1-b1)*g``, ``v = b2*v + (1-b2)*g**2``,
    ``var -= lr*sqrt(1-b2**t)/(1-b1**t) * m / (sqrt(v) + epsilon)``.

    Parameters
    ----------
    learning_rate : float
        > 0.
    beta_1, beta_2 : float
        In [0, 1).
    epsilon : float
        >= 0.
    """

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7):
        super().__init__(learning_rate)
        self.beta_1 = as_float(beta_1, "beta_1", 0.0, 1.0, high_open=True)
        self.beta_2 = as_float(beta_2, "beta_2", 0.0, 1.0, high_open=True)
        self.epsilon = as_float(epsilon, "epsilon", 0.0)

    def _make_slots(self, var):
        return {"m": np.zeros_like(var), "v": np.zeros_like(var)}

    def _alpha(self) -> float:
        t = self.iterations + 1
        return float(self.learning_rate * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t))

    def _update(self, grad, var, slots):
        flat = _flat(grad, var, slots)
        if flat is None:
            return self._update_reference(grad, var, slots)
        _kernels.adam_update(*flat, self._alpha(), 1 - self.beta_1, 1 - self.beta_2, self.epsilon)

    def _update_reference(self, grad, var, slots):
        # alpha is a float64 scalar: m * alpha and the quotient are computed in float64 (NumPy 2's
        # promotion; NumPy 1.x's value-based casting kept them in float32, the compiled update
        # computes them in float64 with any NumPy), then var -= rounds once to var's dtype.
        alpha = np.float64(self._alpha())
        m, v = slots["m"], slots["v"]
        m += (grad - m) * (1 - self.beta_1)
        v += (np.square(grad) - v) * (1 - self.beta_2)
        var -= (m * alpha) / (np.sqrt(v) + self.epsilon)

    def get_config(self) -> dict[str, Any]:
        """The hyperparameters.

        Returns
        -------
        dict
        """
        return {
            "learning_rate": self.learning_rate,
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get(identifier: Any) -> Optimizer:
    """An optimizer from a Keras name or an instance.

    Parameters
    ----------
    identifier : {"rmsprop", "sgd", "adam"} or Optimizer
        A name gives a new optimizer with Keras's defaults; an instance is returned as is.

    Returns
    -------
    Optimizer
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    kind = ValueError if isinstance(identifier, str) else TypeError
    raise kind(f"`optimizer` must be one of {sorted(_BY_NAME)} or an Optimizer; got {identifier!r}")

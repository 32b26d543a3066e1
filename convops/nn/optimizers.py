"""Optimisers with Keras's names, defaults and update formulas.

Updates are done in place, in the variables' dtype, with the operations in Keras's order so
that float32 results round the same way (that is what makes a 20-step parity test possible).
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "get"]


class Optimizer:
    """Base class. ``apply_gradients([(grad, variable), ...])`` updates the variables in place;
    per-variable state (``slots``) is created on first use, keyed by position in the list."""

    def __init__(self, learning_rate: float = 0.01):
        learning_rate = float(learning_rate)
        if not learning_rate > 0:
            raise ValueError(f"`learning_rate` must be > 0; got {learning_rate}")
        self.learning_rate = learning_rate
        self.iterations = 0
        self._slots: List[Dict[str, np.ndarray]] = []

    def apply_gradients(self, grads_and_vars: Sequence[Tuple[np.ndarray, np.ndarray]]) -> None:
        pairs = list(grads_and_vars)
        if not self._slots:
            self._slots = [self._make_slots(var) for _, var in pairs]
        if len(self._slots) != len(pairs):
            raise ValueError(f"this optimizer was built for {len(self._slots)} variables; got {len(pairs)}")
        for (grad, var), slots in zip(pairs, self._slots):
            if grad.shape != var.shape:
                raise ValueError(f"gradient shape {grad.shape} does not match variable shape {var.shape}")
            self._update(np.asarray(grad, dtype=var.dtype), var, slots)
        self.iterations += 1

    def _make_slots(self, var: np.ndarray) -> Dict[str, np.ndarray]:
        return {}

    def _update(self, grad: np.ndarray, var: np.ndarray, slots: Dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def get_config(self) -> Dict[str, Any]:
        return {"learning_rate": self.learning_rate}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """``var -= learning_rate * grad``; with momentum ``m = momentum*m - lr*grad; var += m``
    (Nesterov: ``var += momentum*m - lr*grad``). Keras defaults: lr 0.01, no momentum."""

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False):
        super().__init__(learning_rate)
        if not 0 <= momentum <= 1:
            raise ValueError(f"`momentum` must be in [0, 1]; got {momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _make_slots(self, var):
        return {"momentum": np.zeros_like(var)} if self.momentum else {}

    def _update(self, grad, var, slots):
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

    def get_config(self):
        return {"learning_rate": self.learning_rate, "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """Divide each step by a running root-mean-square of the gradient (Tieleman & Hinton, 2012).

    ``v = rho*v + (1 - rho)*grad**2``; ``var -= lr * grad / sqrt(v + epsilon)`` (Keras 3's form:
    epsilon inside the square root). Keras defaults: lr 0.001, rho 0.9, epsilon 1e-7, no
    momentum, not centered.
    """

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False):
        super().__init__(learning_rate)
        if not 0 <= rho < 1:
            raise ValueError(f"`rho` must be in [0, 1); got {rho}")
        self.rho, self.momentum, self.epsilon, self.centered = float(rho), float(momentum), float(epsilon), \
            bool(centered)

    def _make_slots(self, var):
        slots = {"velocity": np.zeros_like(var)}
        if self.momentum:
            slots["momentum"] = np.zeros_like(var)
        if self.centered:
            slots["average_gradient"] = np.zeros_like(var)
        return slots

    def _update(self, grad, var, slots):
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

    def get_config(self):
        return {"learning_rate": self.learning_rate, "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adam(Optimizer):
    """Keras's Adam: ``m = b1*m + (1-b1)*g``, ``v = b2*v + (1-b2)*g**2``,
    ``var -= lr*sqrt(1-b2**t)/(1-b1**t) * m / (sqrt(v) + epsilon)``."""

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7):
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _make_slots(self, var):
        return {"m": np.zeros_like(var), "v": np.zeros_like(var)}

    def _update(self, grad, var, slots):
        t = self.iterations + 1
        alpha = self.learning_rate * np.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        m, v = slots["m"], slots["v"]
        m += (grad - m) * (1 - self.beta_1)
        v += (np.square(grad) - v) * (1 - self.beta_2)
        var -= (m * alpha) / (np.sqrt(v) + self.epsilon)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam}


def get(identifier: Any) -> Optimizer:
    """An optimizer from a Keras name (``"rmsprop"``, ``"sgd"``, ``"adam"``) or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"`optimizer` must be one of {sorted(_BY_NAME)} or an Optimizer; got {identifier!r}")

"""Weight initialisers with Keras's names and formulas.

``fan_in``/``fan_out`` follow Keras: for a conv kernel (KH, KW, C_in, C_out) they are
``KH*KW*C_in`` and ``KH*KW*C_out``; for a dense kernel (n_in, n_out) ``n_in`` and ``n_out``.
The values are not Keras's bit for bit (Keras draws from TensorFlow's generators); to start
from Keras's exact weights, copy them with ``model.set_weights(keras_model.get_weights())``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from convops._docstrings import fill_doc
from convops._validation import as_int
from convops.nn._checks import as_float, describe
from convops.nn._random import next_generator

__all__ = [
    "Initializer",
    "GlorotUniform",
    "GlorotNormal",
    "HeUniform",
    "HeNormal",
    "Zeros",
    "Ones",
    "Constant",
    "RandomNormal",
    "RandomUniform",
    "compute_fans",
    "get",
]


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise TypeError(f"`shape` must be a tuple of ints; got {describe(shape)}")
    sides = tuple(as_int(s, "shape") for s in shape)
    if sides and min(sides) < 0:
        raise ValueError(f"`shape` must have sides >= 0; got {sides}")
    return sides


def compute_fans(shape: Sequence[int]) -> tuple[float, float]:
    """``(fan_in, fan_out)`` of a kernel shape, as Keras computes them.

    Parameters
    ----------
    shape : tuple of int
        ``(KH, KW, C_in, C_out)``, ``(n_in, n_out)``, ``(n,)`` or ``()``.

    Returns
    -------
    (float, float)
    """
    shape = _shape(shape)
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = float(np.prod(shape[:-2]))
    return receptive * shape[-2], receptive * shape[-1]


def _seed(seed: Any) -> int | None:
    if seed is None:
        return None
    value = as_int(seed, "seed")
    if value < 0:
        raise ValueError(f"`seed` must be a non-negative integer or None; got {value}")
    return value


def _float_dtype(dtype: Any) -> np.dtype:
    try:
        parsed = np.dtype(dtype)
    except (TypeError, ValueError):
        raise TypeError(f"`dtype` must be a floating NumPy dtype; got {describe(dtype)}") from None
    if parsed.kind != "f":
        raise ValueError(f"`dtype` must be a floating dtype; got {parsed}")
    return parsed


@fill_doc
class Initializer:
    """Base class: ``initializer(shape, dtype)`` returns a new array.

    Parameters
    ----------
    %(seed)s
    """

    def __init__(self, seed: int | None = None):
        self.seed = _seed(seed)

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = "float32") -> np.ndarray:
        """A new array of initial values.

        Parameters
        ----------
        shape : tuple of int
        dtype : floating dtype

        Returns
        -------
        ndarray
        """
        shape, dtype = _shape(shape), _float_dtype(dtype)
        return self.sample(shape, next_generator(self.seed)).astype(dtype)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Values of ``shape`` in float64 (the caller rounds them to the dtype).

        Parameters
        ----------
        shape : tuple of int
        rng : numpy.random.Generator

        Returns
        -------
        ndarray
        """
        return self._sample(shape, rng)

    def _sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@fill_doc
class GlorotUniform(Initializer):
    """Uniform on ``[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))`` (Keras's default
    for Conv2D and Dense kernels): keeps the variance of activations and gradients similar
    from layer to layer (Glorot & Bengio, 2010).

    Parameters
    ----------
    %(seed)s
    """

    def _sample(self, shape, rng):
        fan_in, fan_out = compute_fans(shape)
        limit = np.sqrt(6.0 / max(1.0, fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)


@fill_doc
class GlorotNormal(Initializer):
    """Normal truncated at 2 standard deviations, ``stddev = sqrt(2 / (fan_in + fan_out))``
    (Keras rescales by 0.8796 so the truncated distribution keeps that standard deviation).

    Parameters
    ----------
    %(seed)s
    """

    def _sample(self, shape, rng):
        fan_in, fan_out = compute_fans(shape)
        return _truncated_normal(rng, shape, np.sqrt(2.0 / max(1.0, fan_in + fan_out)))


@fill_doc
class HeUniform(Initializer):
    """Uniform on ``[-limit, limit]``, ``limit = sqrt(6 / fan_in)`` (He et al., 2015, for ReLU).

    Parameters
    ----------
    %(seed)s
    """

    def _sample(self, shape, rng):
        fan_in, _ = compute_fans(shape)
        limit = np.sqrt(6.0 / max(1.0, fan_in))
        return rng.uniform(-limit, limit, size=shape)


@fill_doc
class HeNormal(Initializer):
    """Truncated normal with ``stddev = sqrt(2 / fan_in)``.

    Parameters
    ----------
    %(seed)s
    """

    def _sample(self, shape, rng):
        fan_in, _ = compute_fans(shape)
        return _truncated_normal(rng, shape, np.sqrt(2.0 / max(1.0, fan_in)))


@fill_doc
class RandomNormal(Initializer):
    """Normal with ``mean`` and ``stddev``.

    Parameters
    ----------
    mean : float
    stddev : float
        >= 0.
    %(seed)s
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean, self.stddev = as_float(mean, "mean"), as_float(stddev, "stddev", 0.0)

    def _sample(self, shape, rng):
        return rng.normal(self.mean, self.stddev, size=shape)


@fill_doc
class RandomUniform(Initializer):
    """Uniform on ``[minval, maxval)``.

    Parameters
    ----------
    minval, maxval : float
        ``minval <= maxval``.
    %(seed)s
    """

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.minval, self.maxval = as_float(minval, "minval"), as_float(maxval, "maxval")
        if self.minval > self.maxval:
            raise ValueError(f"`minval` must be <= `maxval`; got {self.minval} and {self.maxval}")

    def _sample(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, size=shape)


class Constant(Initializer):
    """Every value ``value``.

    Parameters
    ----------
    value : float
    """

    def __init__(self, value: float = 0.0):
        super().__init__(None)
        self.value = as_float(value, "value")

    def _sample(self, shape, rng):
        return np.full(shape, self.value)

    def __call__(self, shape: Sequence[int], dtype: DTypeLike = "float32") -> np.ndarray:
        """A new array filled with ``value``.

        Parameters
        ----------
        shape : tuple of int
        dtype : floating dtype

        Returns
        -------
        ndarray
        """
        return np.full(_shape(shape), self.value, dtype=_float_dtype(dtype))


class Zeros(Constant):
    """All zeros (Keras's default for biases)."""

    def __init__(self):
        super().__init__(0.0)


class Ones(Constant):
    """All ones."""

    def __init__(self):
        super().__init__(1.0)


def _truncated_normal(rng: np.random.Generator, shape, stddev: float) -> np.ndarray:
    # Keras: truncated at 2 sigma, with the sigma of the untruncated normal divided by .87962566.
    sigma = stddev / 0.87962566103423978
    values = rng.normal(0.0, sigma, size=shape)
    bad = np.abs(values) > 2 * sigma
    while bad.any():
        values[bad] = rng.normal(0.0, sigma, size=int(bad.sum()))
        bad = np.abs(values) > 2 * sigma
    return values


_BY_NAME = {
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "zeros": Zeros,
    "ones": Ones,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
}


def get(identifier: Any, name: str = "initializer") -> Initializer:
    """An initializer from a Keras name (``"glorot_uniform"``, ``"zeros"``...) or an instance.

    Parameters
    ----------
    identifier : str or Initializer
        One of the names in this module (case-insensitive), or an instance (returned as is).
    name : str
        The argument's name, for the error message (``"kernel_initializer"``...).

    Returns
    -------
    Initializer

    Raises
    ------
    ValueError
        An unknown name or another kind of object.
    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    kind = ValueError if isinstance(identifier, str) else TypeError
    raise kind(f"`{name}` must be one of {sorted(_BY_NAME)} or an Initializer; got {identifier!r}")

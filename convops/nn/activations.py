"""Activation functions and their derivatives.

Each activation is a pair: the function ``y = f(z)`` and the backward step
``dz = backward(dy, y)``, written with the *output* ``y`` (all of these derivatives can be), so a
layer only keeps its output for the backward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from convops._validation import as_int
from convops.nn._checks import describe

__all__ = ["relu", "softmax", "sigmoid", "tanh", "linear", "get"]


def _array(value: Any, name: str) -> np.ndarray:
    """A numeric array (floating arrays as they are), or ValueError/TypeError naming ``name``."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"`{name}` must be an array of numbers; got {describe(value)}: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must be an array of numbers; got dtype {array.dtype}")
    return array if array.dtype.kind == "f" else array.astype(np.float64)


def _pair(dy: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    dy, y = _array(dy, "dy"), _array(y, "y")
    if dy.shape != y.shape:
        raise ValueError(f"`dy` must have the shape of `y`; got {dy.shape} and {y.shape}")
    return dy, y


def relu(z: ArrayLike, out: np.ndarray | None = None) -> np.ndarray:
    """``max(z, 0)``.

    Parameters
    ----------
    z : array_like
    out : ndarray, optional
        Where to write the result; ``out=z`` computes it in place.

    Returns
    -------
    ndarray
    """
    z = _array(z, "z")
    if out is not None and (not isinstance(out, np.ndarray) or out.shape != z.shape):
        raise ValueError(f"`out` must be an array of `z`'s shape {z.shape}; got {describe(out)}")
    return np.maximum(z, 0, out=out)


def relu_backward(dy: ArrayLike, y: ArrayLike) -> np.ndarray:
    """The gradient passes where the unit was active (``y > 0``); ReLU'(0) = 0, as in TF.

    Parameters
    ----------
    dy : array_like
        ``dL/dy``.
    y : array_like
        The activation's output.

    Returns
    -------
    ndarray
        ``dL/dz``.
    """
    dy, y = _pair(dy, y)
    return dy * (y > 0)


def softmax(z: ArrayLike, axis: int = -1) -> np.ndarray:
    """``exp(z - max z) / sum exp(z - max z)`` along ``axis`` (subtracting the max avoids overflow
    and does not change the result).

    Parameters
    ----------
    z : array_like
        At least one axis.
    axis : int
        The axis that sums to 1.

    Returns
    -------
    ndarray
    """
    z = _array(z, "z")
    axis = as_int(axis, "axis")
    if not -z.ndim <= axis < z.ndim:
        raise ValueError(f"`axis` must be in [-{z.ndim}, {z.ndim}) for `z` of shape {z.shape}; got {axis}")
    if z.shape[axis] == 0:
        return z.copy()
    shifted = z - z.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(dy: ArrayLike, y: ArrayLike) -> np.ndarray:
    """Jacobian-vector product of softmax (last axis): ``y * (dy - sum(dy * y))``.

    Parameters
    ----------
    dy : array_like
        ``dL/dy``.
    y : array_like
        The softmax's output.

    Returns
    -------
    ndarray
        ``dL/dz``.
    """
    dy, y = _pair(dy, y)
    return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))


def sigmoid(z: ArrayLike) -> np.ndarray:
    """``1 / (1 + exp(-z))``, computed as ``(tanh(z / 2) + 1) / 2`` (no overflow in exp).

    Parameters
    ----------
    z : array_like

    Returns
    -------
    ndarray
    """
    z = _array(z, "z")
    return 0.5 * (np.tanh(0.5 * z) + 1)


def sigmoid_backward(dy: ArrayLike, y: ArrayLike) -> np.ndarray:
    """``dy * y * (1 - y)``.

    Parameters
    ----------
    dy : array_like
        ``dL/dy``.
    y : array_like
        The sigmoid's output.

    Returns
    -------
    ndarray
        ``dL/dz``.
    """
    dy, y = _pair(dy, y)
    return dy * y * (1 - y)


def tanh(z: ArrayLike) -> np.ndarray:
    """Hyperbolic tangent.

    Parameters
    ----------
    z : array_like

    Returns
    -------
    ndarray
    """
    return np.tanh(_array(z, "z"))


def tanh_backward(dy: ArrayLike, y: ArrayLike) -> np.ndarray:
    """``dy * (1 - y**2)``.

    Parameters
    ----------
    dy : array_like
        ``dL/dy``.
    y : array_like
        The tanh's output.

    Returns
    -------
    ndarray
        ``dL/dz``.
    """
    dy, y = _pair(dy, y)
    return dy * (1 - y * y)


def linear(z: ArrayLike) -> np.ndarray:
    """The identity.

    Parameters
    ----------
    z : array_like

    Returns
    -------
    ndarray
        ``z`` itself when it is a floating array.
    """
    return _array(z, "z")


def linear_backward(dy: ArrayLike, y: ArrayLike) -> np.ndarray:
    """``dy`` unchanged.

    Parameters
    ----------
    dy : array_like
        ``dL/dy``.
    y : array_like
        The output (unused; its shape is checked).

    Returns
    -------
    ndarray
        ``dL/dz``.
    """
    return _pair(dy, y)[0]


Activation = tuple[str, Callable[..., np.ndarray], Callable[[np.ndarray, np.ndarray], np.ndarray]]

_ACTIVATIONS: dict[str, Activation] = {
    "relu": ("relu", relu, relu_backward),
    "softmax": ("softmax", softmax, softmax_backward),
    "sigmoid": ("sigmoid", sigmoid, sigmoid_backward),
    "tanh": ("tanh", tanh, tanh_backward),
    "linear": ("linear", linear, linear_backward),
}


def get(identifier: str | None) -> Activation:
    """An activation from its Keras name.

    Parameters
    ----------
    identifier : {"relu", "softmax", "sigmoid", "tanh", "linear"} or None
        Case-insensitive; None means linear.

    Returns
    -------
    (name, forward, backward)
    """
    if identifier is None:
        return _ACTIVATIONS["linear"]
    if isinstance(identifier, str) and identifier.lower() in _ACTIVATIONS:
        return _ACTIVATIONS[identifier.lower()]
    kind = ValueError if isinstance(identifier, str) else TypeError
    raise kind(f"`activation` must be one of {sorted(_ACTIVATIONS)} or None; got {identifier!r}")

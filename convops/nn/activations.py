"""Activation functions and their derivatives.

Each activation is a pair: the function ``y = f(z)`` and the backward step
``dz = backward(dy, y)``, written with the *output* ``y`` (all of these derivatives can be), so a
layer only keeps its output for the backward pass.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

__all__ = ["relu", "softmax", "sigmoid", "tanh", "linear", "get"]


def relu(z: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``max(z, 0)``; ``out=z`` computes it in place."""
    return np.maximum(z, 0, out=out)


def relu_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The gradient passes where the unit was active (``y > 0``); ReLU'(0) = 0, as in TF."""
    return dy * (y > 0)


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``exp(z - max z) / sum exp(z - max z)`` along ``axis`` (subtracting the max avoids overflow
    and does not change the result)."""
    shifted = z - z.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Jacobian-vector product of softmax: ``y * (dy - sum(dy * y))``."""
    return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * z) + 1)          # tanh form: no overflow in exp


def sigmoid_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    return dy * y * (1 - y)


def tanh(z: np.ndarray) -> np.ndarray:
    return np.tanh(z)


def tanh_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    return dy * (1 - y * y)


def linear(z: np.ndarray) -> np.ndarray:
    return z


def linear_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    return dy


Activation = Tuple[str, Callable[..., np.ndarray], Callable[[np.ndarray, np.ndarray], np.ndarray]]

_ACTIVATIONS: Dict[str, Activation] = {
    "relu": ("relu", relu, relu_backward),
    "softmax": ("softmax", softmax, softmax_backward),
    "sigmoid": ("sigmoid", sigmoid, sigmoid_backward),
    "tanh": ("tanh", tanh, tanh_backward),
    "linear": ("linear", linear, linear_backward),
}


def get(identifier: Any) -> Activation:
    """``(name, forward, backward)`` for a Keras activation name (``None`` means linear)."""
    if identifier is None:
        return _ACTIVATIONS["linear"]
    if isinstance(identifier, str) and identifier.lower() in _ACTIVATIONS:
        return _ACTIVATIONS[identifier.lower()]
    raise ValueError(f"`activation` must be one of {sorted(_ACTIVATIONS)} or None; got {identifier!r}")

"""The losses whose targets have the output's shape: categorical and binary crossentropy and
mean squared error, with Keras's formulas (TensorFlow backend) and reduction.

Keras reduces every one the same way: a value per example row (the sum over the last axis for
categorical crossentropy, the mean over it for the other two), then the mean of those values
over everything else (``sum_over_batch_size``). The gradients below are those of that mean.
Public through :mod:`convops.nn.losses`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from convops.nn._checks import as_bool, describe

#: Keras's ``backend.epsilon()``.
EPSILON = 1e-7


def _predictions(y_pred: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(y_pred)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"`{name}` must be an array (N, ...); got {describe(y_pred)}: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must be numeric; got dtype {array.dtype}")
    if array.ndim < 1 or array.size == 0:
        raise ValueError(f"`{name}` must be a non-empty array with a batch axis; got shape {array.shape}")
    return array if array.dtype.kind == "f" else array.astype(np.float64)


def _targets(y_true: Any, shape: tuple[int, ...], dtype: np.dtype, name: str = "y_true") -> np.ndarray:
    """Targets of the predictions' shape (a ``(N,)`` vector is accepted for ``(N, 1)``)."""
    try:
        array = np.asarray(y_true)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"`{name}` must be an array of shape {shape}; got {describe(y_true)}: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must be numeric; got dtype {array.dtype}")
    if array.shape != shape and array.shape + (1,) == shape:
        array = array[..., None]
    if array.shape != shape:
        hint = ""
        if array.ndim == len(shape) - 1 and array.dtype.kind in "iu":
            hint = " (integer class labels need loss='sparse_categorical_crossentropy')"
        raise ValueError(f"`{name}` must have the predictions' shape {shape}; got {array.shape}{hint}")
    return array.astype(dtype, copy=False)


class _DenseLoss:
    name = ""
    fused_activation: str | None = None

    def __init__(self, from_logits: bool = False):
        self.from_logits = as_bool(from_logits, "from_logits")

    def prepare_y(self, y_true: Any, output_shape: tuple[int, ...], name: str = "y") -> np.ndarray:
        """The targets for outputs of ``output_shape`` (batch axis included), checked.

        Parameters
        ----------
        y_true : array_like
            Targets of the outputs' shape (one-hot rows, probabilities or values).
        output_shape : tuple of int
            Shape of the model's output, batch axis included.
        name : str
            The argument's name in error messages.

        Returns
        -------
        ndarray of float64
            The targets, checked.
        """
        return _targets(y_true, tuple(output_shape), np.dtype(np.float64), name)

    def __call__(self, y_true: ArrayLike, y_pred: ArrayLike) -> float:
        """The loss (mean over the batch).

        Parameters
        ----------
        y_true : array_like, the shape of ``y_pred``
        y_pred : array_like, shape (N, ...)

        Returns
        -------
        float
        """
        return self.value_and_grad(y_true, y_pred)[0]

    def value_and_grad(
        self, y_true: ArrayLike, y_pred: ArrayLike | None = None, logits: ArrayLike | None = None
    ) -> tuple[float, np.ndarray]:
        """The loss and its gradient.

        Parameters
        ----------
        y_true : array_like, the shape of ``y_pred``
        y_pred : array_like, shape (N, ...), optional
            The model's outputs (or logits with ``from_logits``).
        logits : array_like, optional
            The output activation's input, when known: the loss is then computed from them, as Keras does.

        Returns
        -------
        loss : float
        gradient : ndarray
            With respect to ``logits`` when they are given (or with ``from_logits``), else ``y_pred``.
        """
        per_row, grad = self.per_example(y_true, y_pred, logits)
        return float(per_row.mean(dtype=grad.dtype)), grad

    def per_example(
        self, y_true: ArrayLike, y_pred: ArrayLike | None = None, logits: ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Keras's per-example losses (the last axis reduced) and the gradient of their mean.

        Parameters
        ----------
        y_true : array_like
            Targets of the predictions' shape.
        y_pred : array_like, optional
            Predictions (probabilities for the crossentropies, values for mse).
        logits : array_like, optional
            The output layer's logits, instead of ``y_pred`` (the fused softmax/sigmoid path).

        Returns
        -------
        (ndarray, ndarray)
            The losses per example and the gradient of their mean with respect to the
            predictions (or the logits).
        """
        if logits is None and self.from_logits:
            logits = y_pred
        if logits is not None:
            z = _predictions(logits, "logits" if y_pred is None or not self.from_logits else "y_pred")
            return self._from_logits(_targets(y_true, z.shape, z.dtype), z)
        if y_pred is None:
            raise ValueError("`y_pred` (or `logits`) must be given")
        p = _predictions(y_pred, "y_pred")
        return self._from_outputs(_targets(y_true, p.shape, p.dtype), p)

    def _from_logits(self, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise ValueError(f"`from_logits`: {type(self).__name__} has no logits form")

    def _from_outputs(self, y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(from_logits={self.from_logits})"


def _rows(array: np.ndarray) -> int:
    """How many values the per-row losses have (Keras's sum_over_batch_size divisor)."""
    return max(1, array.size // array.shape[-1]) if array.ndim > 1 else 1


class CategoricalCrossentropy(_DenseLoss):
    """``-sum(y_true * log(y_pred))`` over the classes, mean over the batch, as
    ``keras.losses.CategoricalCrossentropy`` (one-hot or soft targets).

    Probabilities are first divided by their sum and clipped to ``[1e-7, 1 - 1e-7]`` (Keras's
    TensorFlow backend); a model ending in a softmax hands the loss its logits instead.

    Parameters
    ----------
    from_logits : bool
    """

    name = "categorical_crossentropy"
    fused_activation = "softmax"

    def _from_logits(self, y, z):
        shifted = z - z.max(axis=-1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=-1, keepdims=True)
        weight = y.sum(axis=-1, keepdims=True)
        per_row = (weight * np.log(total) - (y * shifted).sum(axis=-1, keepdims=True))[..., 0]
        grad = (e / total) * weight - y
        grad /= z.dtype.type(_rows(z))
        return per_row.astype(z.dtype, copy=False), grad.astype(z.dtype, copy=False)

    def _from_outputs(self, y, p):
        total = p.sum(axis=-1, keepdims=True)
        q = p / total
        clipped = np.clip(q, EPSILON, 1 - EPSILON)
        per_row = -(y * np.log(clipped)).sum(axis=-1)
        # dL/dq through the clip (no gradient outside it), then through q = p / sum(p).
        dq = -y / clipped * ((q >= EPSILON) & (q <= 1 - EPSILON))
        grad = (dq - (dq * q).sum(axis=-1, keepdims=True)) / total
        grad /= p.dtype.type(_rows(p))
        return per_row.astype(p.dtype, copy=False), grad.astype(p.dtype, copy=False)


class BinaryCrossentropy(_DenseLoss):
    """``-(y log p + (1 - y) log(1 - p))``, mean over the last axis and the batch, as
    ``keras.losses.BinaryCrossentropy``.

    Probabilities are clipped to ``[1e-7, 1 - 1e-7]``; a model ending in a sigmoid hands the
    loss its logits, and from logits the loss is TensorFlow's stable
    ``max(z, 0) - z * y + log1p(exp(-|z|))``.

    Parameters
    ----------
    from_logits : bool
    """

    name = "binary_crossentropy"
    fused_activation = "sigmoid"

    def _from_logits(self, y, z):
        per_value = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        with np.errstate(over="ignore"):
            sigmoid = 1 / (1 + np.exp(-z))
        grad = (sigmoid - y) / z.dtype.type(z.size)
        return per_value.mean(axis=-1, dtype=z.dtype), grad.astype(z.dtype, copy=False)

    def _from_outputs(self, y, p):
        clipped = np.clip(p, EPSILON, 1 - EPSILON)
        per_value = -(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
        grad = -(y / clipped - (1 - y) / (1 - clipped)) * ((p >= EPSILON) & (p <= 1 - EPSILON))
        grad /= p.dtype.type(p.size)
        return per_value.mean(axis=-1, dtype=p.dtype), grad.astype(p.dtype, copy=False)


class MeanSquaredError(_DenseLoss):
    """``mean((y_pred - y_true) ** 2)``, as ``keras.losses.MeanSquaredError``."""

    name = "mean_squared_error"

    def __init__(self) -> None:
        super().__init__(False)

    def _from_outputs(self, y, p):
        diff = p - y
        grad = diff * p.dtype.type(2 / p.size)
        return (diff * diff).mean(axis=-1, dtype=p.dtype), grad.astype(p.dtype, copy=False)

    def __repr__(self) -> str:
        return "MeanSquaredError()"


def categorical_crossentropy(y_true: ArrayLike, y_pred: ArrayLike, from_logits: bool = False) -> np.ndarray:
    """Per-example categorical crossentropy, as ``keras.losses.categorical_crossentropy`` (the
    class :class:`convops.nn.CategoricalCrossentropy` gives their mean).

    Parameters
    ----------
    y_true, y_pred : array_like, shape (N, classes)
    from_logits : bool

    Returns
    -------
    ndarray, shape (N,)
    """
    return CategoricalCrossentropy(from_logits).per_example(y_true, y_pred)[0]


def binary_crossentropy(y_true: ArrayLike, y_pred: ArrayLike, from_logits: bool = False) -> np.ndarray:
    """Per-example binary crossentropy (the mean over the last axis), as
    ``keras.losses.binary_crossentropy``.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (N, ...)
    from_logits : bool

    Returns
    -------
    ndarray, shape (N, ...) without the last axis
    """
    return BinaryCrossentropy(from_logits).per_example(y_true, y_pred)[0]


def mean_squared_error(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    """Per-example mean squared error (the mean over the last axis), as
    ``keras.losses.mean_squared_error``.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (N, ...)

    Returns
    -------
    ndarray, shape (N, ...) without the last axis
    """
    return MeanSquaredError().per_example(y_true, y_pred)[0]


mse = mean_squared_error

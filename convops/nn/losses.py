"""Losses: a value and its gradient.

``SparseCategoricalCrossentropy`` is Keras's loss for integer class labels. When the model ends
in a softmax, Keras (TensorFlow backend) does not take the log of the probabilities: it finds
the logits that went into the softmax and computes ``log_softmax`` from them, which stays
finite when a probability underflows to 0. convops does the same: models hand the loss the
last layer's logits, and the gradient with respect to them is simply ``(softmax - onehot) / N``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from convops.nn._checks import as_bool, describe

__all__ = [
    "SparseCategoricalCrossentropy",
    "CategoricalCrossentropy",
    "BinaryCrossentropy",
    "MeanSquaredError",
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "mean_squared_error",
    "mse",
    "sparse_categorical_accuracy",
    "get",
]

#: Keras's ``backend.epsilon()``: probabilities are clipped to [EPSILON, 1 - EPSILON] before the log.
EPSILON = 1e-7


def _labels(y_true: Any, n: int, classes: int, name: str = "y_true") -> np.ndarray:
    """Integer class labels ``(n,)`` in ``[0, classes)``, or ValueError/TypeError naming ``name``."""
    try:
        labels = np.asarray(y_true)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"`{name}` must be an array of integer class labels; got {describe(y_true)}: {exc}") from None
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(
            f"`{name}` must be sparse labels of shape (N,) = ({n},) (or (N, 1)), one per example; "
            f"got shape {labels.shape}"
        )
    if labels.dtype.kind == "f":
        if not np.all(np.mod(labels, 1) == 0):  # also false for NaN and inf
            raise ValueError(f"`{name}` must be integer class indices; got non-integer values")
    elif labels.dtype.kind not in "iu":
        raise TypeError(f"`{name}` must be integer class labels; got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"`{name}`: labels must be in [0, {classes}) (the number of classes); got values from "
            f"{labels.min()} to {labels.max()}"
        )
    return labels.astype(np.intp)


def _scores(y_pred: Any, name: str) -> np.ndarray:
    """Predictions ``(N, classes)`` of floating dtype, or ValueError/TypeError naming ``name``."""
    try:
        scores = np.asarray(y_pred)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"`{name}` must be an array (N, classes); got {describe(y_pred)}: {exc}") from None
    if scores.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must be numeric; got dtype {scores.dtype}")
    if scores.ndim != 2 or scores.shape[1] < 1:
        raise ValueError(
            f"`{name}` must have shape (N, classes) with classes >= 1, one row of scores per "
            f"example; got shape {scores.shape}"
        )
    return scores if scores.dtype.kind == "f" else scores.astype(np.float64)


class SparseCategoricalCrossentropy:
    """Mean over the batch of ``-log p[label]`` (Keras's ``sum_over_batch_size`` reduction).

    Parameters
    ----------
    from_logits : bool
        False: ``y_pred`` are probabilities (as from a softmax layer). True: they are logits.
    """

    name = "sparse_categorical_crossentropy"
    #: The output activation whose input (logits) the loss uses instead of its output, as Keras.
    fused_activation: str | None = "softmax"

    def __init__(self, from_logits: bool = False):
        self.from_logits = as_bool(from_logits, "from_logits")

    def prepare_y(self, y_true: Any, output_shape: tuple[int, ...], name: str = "y") -> np.ndarray:
        """The targets for outputs of ``output_shape`` (batch axis included), checked.

        Parameters
        ----------
        y_true : array_like of int
            Class labels, shape (N,) or (N, 1).
        output_shape : tuple of int
            Shape of the model's output, ``(N, classes)``.
        name : str
            The argument's name in error messages.

        Returns
        -------
        ndarray of int64, shape (N,)
            The labels, each in ``[0, classes)``.
        """
        return _labels(y_true, output_shape[0], output_shape[-1], name)

    def __call__(self, y_true: ArrayLike, y_pred: ArrayLike) -> float:
        """The loss.

        Parameters
        ----------
        y_true : array_like of int, shape (N,) or (N, 1)
            Class labels.
        y_pred : array_like, shape (N, classes)
            Probabilities (or logits with ``from_logits``).

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
        y_true : array_like of int, shape (N,) or (N, 1)
            Class labels.
        y_pred : array_like, shape (N, classes), optional
            Probabilities (or logits with ``from_logits``).
        logits : array_like, shape (N, classes), optional
            The softmax's input, when known: the loss is then computed from them, as Keras does.

        Returns
        -------
        loss : float
        gradient : ndarray, shape (N, classes)
            With respect to ``logits`` when they are given (or when ``from_logits``), else with
            respect to the probabilities ``y_pred``.
        """
        if logits is None and self.from_logits:
            logits, name = y_pred, "y_pred"
        else:
            name = "logits"
        if logits is not None:
            return self._from_logits(y_true, _scores(logits, name))
        if y_pred is None:
            raise ValueError("`y_pred` (or `logits`) must be given")
        return self._from_probabilities(y_true, _scores(y_pred, "y_pred"))

    @staticmethod
    def _from_logits(y_true, z: np.ndarray) -> tuple[float, np.ndarray]:
        n, classes = z.shape
        labels = _labels(y_true, n, classes)
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        per_sample = np.log(total[:, 0]) - shifted[np.arange(n), labels]  # logsumexp(z) - z[label]
        grad = e / total  # softmax
        grad[np.arange(n), labels] -= 1
        grad /= z.dtype.type(n)
        return float(per_sample.mean(dtype=z.dtype)), grad

    @staticmethod
    def _from_probabilities(y_true, p: np.ndarray) -> tuple[float, np.ndarray]:
        # Keras's formula for probabilities: clip to [eps, 1 - eps], take the log, and treat it as
        # logits: loss = log(sum p_c) - log(p_c[label]) (sum p_c = 1 unless clipping moved it).
        n, classes = p.shape
        labels = _labels(y_true, n, classes)
        clipped = np.clip(p, EPSILON, 1 - EPSILON)
        total = clipped.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        per_sample = np.log(total[:, 0]) - np.log(clipped[rows, labels])
        grad = np.broadcast_to(1 / total, p.shape).copy()
        grad[rows, labels] -= 1 / clipped[rows, labels]
        grad *= (p >= EPSILON) & (p <= 1 - EPSILON)  # clip_by_value passes no gradient outside
        grad /= p.dtype.type(n)
        return float(per_sample.mean(dtype=p.dtype)), grad.astype(p.dtype, copy=False)


def sparse_categorical_crossentropy(y_true: ArrayLike, y_pred: ArrayLike, from_logits: bool = False) -> float:
    """Functional form of :class:`SparseCategoricalCrossentropy` (the mean over the batch).

    Parameters
    ----------
    y_true : array_like of int, shape (N,) or (N, 1)
        Class labels.
    y_pred : array_like, shape (N, classes)
        Probabilities (or logits with ``from_logits``).
    from_logits : bool
        ``y_pred`` are logits.

    Returns
    -------
    float
    """
    return SparseCategoricalCrossentropy(from_logits)(y_true, y_pred)


def sparse_categorical_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of rows whose largest score is at the label (ties: the first index, as argmax).

    Parameters
    ----------
    y_true : array_like of int, shape (N,) or (N, 1)
        Class labels.
    y_pred : array_like, shape (N, classes)
        Scores.

    Returns
    -------
    float
        0.0 for an empty batch.
    """
    scores = _scores(y_pred, "y_pred")
    labels = _labels(y_true, scores.shape[0], scores.shape[1])
    return float(np.mean(np.argmax(scores, axis=1) == labels)) if labels.size else 0.0


from convops.nn._dense_losses import (  # noqa: E402  (they build on the helpers above)
    BinaryCrossentropy,
    CategoricalCrossentropy,
    MeanSquaredError,
    binary_crossentropy,
    categorical_crossentropy,
    mean_squared_error,
    mse,
)

Loss = SparseCategoricalCrossentropy | CategoricalCrossentropy | BinaryCrossentropy | MeanSquaredError

_BY_NAME: dict[str, Any] = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
}


def get(identifier: Any) -> Loss:
    """The loss from Keras's name or an instance.

    Parameters
    ----------
    identifier : str or loss instance
        ``"sparse_categorical_crossentropy"``, ``"categorical_crossentropy"``,
        ``"binary_crossentropy"``, ``"mean_squared_error"`` (or ``"mse"``), or an instance of
        one of the loss classes.

    Returns
    -------
    SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy or MeanSquaredError
    """
    if isinstance(
        identifier, (SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy, MeanSquaredError)
    ):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    kind = ValueError if isinstance(identifier, str) else TypeError
    raise kind(f"`loss` must be one of {sorted(_BY_NAME)} or an instance of a loss class; got {identifier!r}")

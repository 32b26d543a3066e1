"""Losses: a value and its gradient.

``SparseCategoricalCrossentropy`` is Keras's loss for integer class labels. When the model ends
in a softmax, Keras (TensorFlow backend) does not take the log of the probabilities: it finds
the logits that went into the softmax and computes ``log_softmax`` from them, which stays
finite when a probability underflows to 0. convops does the same: models hand the loss the
last layer's logits, and the gradient with respect to them is simply ``(softmax - onehot) / N``.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

__all__ = ["SparseCategoricalCrossentropy", "sparse_categorical_crossentropy", "sparse_categorical_accuracy",
           "get"]

#: Keras's ``backend.epsilon()``: probabilities are clipped to [EPSILON, 1 - EPSILON] before the log.
EPSILON = 1e-7


def _labels(y_true: Any, n: int, classes: int) -> np.ndarray:
    labels = np.asarray(y_true)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"sparse labels must have shape (N,) = ({n},) (or (N, 1)); got {labels.shape}")
    if labels.dtype.kind == "f":
        if not np.all(np.mod(labels, 1) == 0):
            raise ValueError("sparse labels must be integer class indices")
    elif labels.dtype.kind not in "iu":
        raise TypeError(f"sparse labels must be integers; got dtype {labels.dtype}")
    labels = labels.astype(np.intp)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"labels must be in [0, {classes}) (the number of classes); got values from "
                         f"{labels.min()} to {labels.max()}")
    return labels


class SparseCategoricalCrossentropy:
    """Mean over the batch of ``-log p[label]`` (Keras's ``sum_over_batch_size`` reduction).

    Parameters
    ----------
    from_logits : bool
        False: ``y_pred`` are probabilities (as from a softmax layer). True: they are logits.
    """

    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        return self.value_and_grad(y_true, np.asarray(y_pred))[0]

    def value_and_grad(self, y_true: Any, y_pred: Optional[np.ndarray] = None,
                       logits: Optional[np.ndarray] = None) -> Tuple[float, np.ndarray]:
        """``(loss, gradient)``: the gradient is with respect to ``logits`` when they are given (or
        when ``from_logits``), else with respect to the probabilities ``y_pred``."""
        if logits is None and self.from_logits:
            logits = y_pred
        if logits is not None:
            return self._from_logits(y_true, np.asarray(logits))
        return self._from_probabilities(y_true, np.asarray(y_pred))

    @staticmethod
    def _from_logits(y_true, z: np.ndarray) -> Tuple[float, np.ndarray]:
        n, classes = z.shape
        labels = _labels(y_true, n, classes)
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        per_sample = np.log(total[:, 0]) - shifted[np.arange(n), labels]     # logsumexp(z) - z[label]
        grad = e / total                                                     # softmax
        grad[np.arange(n), labels] -= 1
        grad /= z.dtype.type(n)
        return float(per_sample.mean(dtype=z.dtype)), grad

    @staticmethod
    def _from_probabilities(y_true, p: np.ndarray) -> Tuple[float, np.ndarray]:
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
        grad *= (p >= EPSILON) & (p <= 1 - EPSILON)          # clip_by_value passes no gradient outside
        grad /= p.dtype.type(n)
        return float(per_sample.mean(dtype=p.dtype)), grad.astype(p.dtype, copy=False)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> float:
    """Functional form of :class:`SparseCategoricalCrossentropy` (the mean over the batch)."""
    return SparseCategoricalCrossentropy(from_logits)(y_true, y_pred)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of rows whose largest score is at the label (ties: the first index, as argmax)."""
    y_pred = np.asarray(y_pred)
    labels = _labels(y_true, y_pred.shape[0], y_pred.shape[1])
    return float(np.mean(np.argmax(y_pred, axis=1) == labels)) if labels.size else 0.0


def get(identifier: Any) -> SparseCategoricalCrossentropy:
    if isinstance(identifier, SparseCategoricalCrossentropy):
        return identifier
    if identifier == "sparse_categorical_crossentropy":
        return SparseCategoricalCrossentropy()
    raise ValueError(f"`loss` must be 'sparse_categorical_crossentropy' or a SparseCategoricalCrossentropy; "
                     f"got {identifier!r}")

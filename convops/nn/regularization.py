"""Layers that behave differently in training and in inference: :class:`Dropout` and
:class:`BatchNormalization`, with Keras's names, defaults and weight order.

Public through :mod:`convops.nn.layers` and :mod:`convops.nn`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from convops._validation import as_int
from convops.nn import _checks, initializers
from convops.nn._layer import Layer
from convops.nn._random import next_generator

__all__ = ["Dropout", "BatchNormalization"]


class Dropout(Layer):
    """Inverted dropout, as ``keras.layers.Dropout``: in training each value is kept with
    probability ``1 - rate`` and divided by ``1 - rate`` (so the expected output is the input),
    else set to 0; in inference the input passes unchanged.

    The masks are drawn from :func:`convops.nn.set_random_seed`'s sequence (or from ``seed``), so
    a seeded run is reproducible; they cannot be Keras's own, which come from TensorFlow's
    generator.

    Parameters
    ----------
    rate : float in [0, 1)
        The fraction of values dropped.
    noise_shape : tuple of int or None, optional
        The mask's shape with the batch axis, broadcast to the input's (``None`` entries take the
        input's side), as Keras: ``(None, 1, 1, C)`` drops whole channels.
    seed : int, optional
        A seed of the layer's own (each training call still draws a new mask).
    name : str, optional
    input_shape : tuple of int, optional
    dtype : {"float32", "float64"}
    """

    def __init__(
        self,
        rate: float,
        noise_shape: Sequence[int | None] | None = None,
        seed: int | None = None,
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: DTypeLike = "float32",
    ):
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.rate = _checks.as_float(rate, "rate", 0.0, 1.0, high_open=True)
        if noise_shape is not None:
            if isinstance(noise_shape, (str, bytes)) or not hasattr(noise_shape, "__iter__"):
                raise TypeError(f"`noise_shape` must be a tuple of ints or None; got {_checks.describe(noise_shape)}")
            noise_shape = tuple(None if side is None else as_int(side, "noise_shape") for side in noise_shape)
        self.noise_shape = noise_shape
        self.seed = None if seed is None else as_int(seed, "seed")
        if self.seed is not None and self.seed < 0:
            raise ValueError(f"`seed` must be a non-negative integer; got {self.seed}")
        self._rng = next_generator(self.seed) if self.seed is not None else None
        self._mask: np.ndarray | None = None

    def _mask_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if self.noise_shape is None:
            return shape
        if len(self.noise_shape) != len(shape):
            raise ValueError(
                f"`noise_shape` of Dropout {self.name!r} must have the input's rank {len(shape)} "
                f"(batch axis included); got {self.noise_shape}"
            )
        sides = tuple(s if n is None else n for n, s in zip(self.noise_shape, shape))
        for n, s in zip(sides, shape):
            if n not in (1, s):
                raise ValueError(
                    f"`noise_shape` of Dropout {self.name!r} must broadcast to the input {shape} "
                    f"(each side 1, None or the input's); got {self.noise_shape}"
                )
        return sides

    def _forward(self, x, training):
        if not training or self.rate == 0.0:
            if training:
                self._mask = np.ones((1,) * x.ndim, x.dtype)
            return x
        rng = self._rng if self._rng is not None else next_generator()
        keep = rng.random(self._mask_shape(x.shape)) >= self.rate
        # tf.nn.dropout (Keras's TF backend): x * reciprocal(1 - rate) where kept, the reciprocal
        # rounded in x's dtype (dividing by 1 - rate instead differs in the last bit).
        scale = x.dtype.type(1) / x.dtype.type(1 - self.rate)
        self._mask = np.where(keep, scale, x.dtype.type(0)).astype(x.dtype)
        return x * self._mask

    def _backward(self, dy, need_input_grad, from_logits, overwrite_dy):
        if self._mask is None:
            raise self._no_forward()
        mask, self._mask = self._mask, None
        return (dy * mask).astype(self.dtype, copy=False)


class BatchNormalization(Layer):
    """Batch normalisation over the last axis, as ``keras.layers.BatchNormalization``.

    Training: ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the batch's mean and
    (biased) variance over every axis but the last, and the moving statistics updated as
    ``moving = moving * momentum + batch * (1 - momentum)``. Inference uses the moving
    statistics. Weights in Keras's order: ``gamma, beta, moving_mean, moving_variance`` (the last
    two are not trained: the optimizer never sees them).

    Parameters
    ----------
    axis : int
        Only -1 (the channels of NHWC, the features of a Dense output), Keras's default.
    momentum : float in [0, 1]
    epsilon : float > 0
    center, scale : bool
        Keep ``beta`` / ``gamma`` (dropped from the weights when False, as in Keras).
    beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer
        ``"zeros"``, ``"ones"``, ``"zeros"``, ``"ones"`` by default.
    name : str, optional
    input_shape : tuple of int, optional
    dtype : {"float32", "float64"}
    """

    non_trainable = ("moving_mean", "moving_variance")

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: DTypeLike = "float32",
    ):
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        axis = as_int(axis, "axis")
        if axis != -1:
            raise ValueError(f"`axis` must be -1 (the last axis, Keras's default for channels_last); got {axis}")
        self.axis = axis
        self.momentum = _checks.as_float(momentum, "momentum", 0.0, 1.0)
        self.epsilon = _checks.as_float(epsilon, "epsilon", 0.0, low_open=True)
        self.center = _checks.as_bool(center, "center")
        self.scale = _checks.as_bool(scale, "scale")
        self._initializers = {
            "gamma": initializers.get(gamma_initializer, "gamma_initializer"),
            "beta": initializers.get(beta_initializer, "beta_initializer"),
            "moving_mean": initializers.get(moving_mean_initializer, "moving_mean_initializer"),
            "moving_variance": initializers.get(moving_variance_initializer, "moving_variance_initializer"),
        }
        self._cache: tuple[np.ndarray, np.ndarray] | None = None

    def _make_weights(self):
        channels = (self._shapes()[0][-1],)
        keys: list[str] = [k for k, kept in (("gamma", self.scale), ("beta", self.center)) if kept]
        keys += ["moving_mean", "moving_variance"]
        self.params = {key: self._initializers[key](channels, self.dtype) for key in keys}

    def _gamma_beta(self) -> tuple[np.ndarray, np.ndarray]:
        channels = self._shapes()[0][-1]
        gamma = self.params.get("gamma", np.ones(channels, self.dtype))
        beta = self.params.get("beta", np.zeros(channels, self.dtype))
        return gamma, beta

    def _forward(self, x, training):
        gamma, beta = self._gamma_beta()
        axes = tuple(range(x.ndim - 1))
        if training and x.shape[0]:
            mean = x.mean(axis=axes)
            var = np.maximum((x * x).mean(axis=axes) - mean * mean, 0).astype(self.dtype)  # Keras's E[x^2] - E[x]^2
            decay = self.dtype.type(1 - self.momentum)
            momentum = self.dtype.type(self.momentum)
            for key, batch in (("moving_mean", mean), ("moving_variance", var)):
                self.params[key][...] = self.params[key] * momentum + batch * decay
        else:
            mean, var = self.params["moving_mean"], self.params["moving_variance"]
        # tf.nn.batch_normalization's formula: x * inv + (beta - mean * inv).
        inv = (1 / np.sqrt(var + self.dtype.type(self.epsilon))).astype(self.dtype) * gamma
        y = x * inv + (beta - mean * inv)
        if training:
            self._cache = (x, mean, var)  # type: ignore[assignment]
        return y.astype(self.dtype, copy=False)

    def _backward(self, dy, need_input_grad, from_logits, overwrite_dy):
        if self._cache is None:
            raise self._no_forward()
        x, mean, var = self._cache  # type: ignore[misc]
        self._cache = None
        gamma, _ = self._gamma_beta()
        axes = tuple(range(x.ndim - 1))
        count = x.size // x.shape[-1]
        inv_std = 1 / np.sqrt(var.astype(np.float64) + self.epsilon)
        x_hat = (x - mean) * inv_std
        dbeta = dy.sum(axis=axes, dtype=np.float64)
        dgamma = (dy * x_hat).sum(axis=axes, dtype=np.float64)
        self.grads = {}
        if self.scale:
            self.grads["gamma"] = dgamma.astype(self.dtype)
        if self.center:
            self.grads["beta"] = dbeta.astype(self.dtype)
        if not need_input_grad:
            return None
        dx = (gamma * inv_std / count) * (count * dy - dbeta - x_hat * dgamma)
        return dx.astype(self.dtype)

    def flops(self) -> int:
        """Two operations per value (one multiply, one add) for one example in inference.

        Returns
        -------
        int
        """
        return 2 * int(np.prod(self._shapes()[0]))

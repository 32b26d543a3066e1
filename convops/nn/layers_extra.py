"""Shape-changing layers of the tutorial's next chapters: :class:`Conv2DTranspose` (learned
upsampling), :class:`GlobalAveragePooling2D` and :class:`ZeroPadding2D`, with Keras's names,
defaults and weight layouts. Public through :mod:`convops.nn.layers` and :mod:`convops.nn`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import DTypeLike

import convops
from convops import gradients
from convops._validation import as_int
from convops.nn import _checks, initializers
from convops.nn._layer import IntPair, Layer, _padding, _pair
from convops.nn.layers import _Activated, _tf_padding

__all__ = ["Conv2DTranspose", "GlobalAveragePooling2D", "ZeroPadding2D"]


def _transpose_length(size: int, kernel: int, stride: int, padding: str, dilation: int) -> int:
    """Keras's ``deconv_output_length`` without ``output_padding``."""
    kernel = kernel + (kernel - 1) * (dilation - 1)
    return size * stride + max(kernel - stride, 0) if padding == "valid" else size * stride


class Conv2DTranspose(_Activated):
    """Transposed 2-D convolution, as ``keras.layers.Conv2DTranspose``:
    ``activation(conv2d_transpose(x, kernel) + bias)``.

    Output ``(N, H_out, W_out, filters)`` with ``H_out = H * sh + max(KH' - sh, 0)`` for
    ``"valid"`` and ``H * sh`` for ``"same"`` (``KH' = KH + (KH - 1) * (dh - 1)``), as Keras.
    The kernel has Keras's (and :func:`convops.conv2d_transpose`'s) layout
    ``(KH, KW, filters, C_in)``. Backward: the input gradient is :func:`convops.conv2d` of
    ``dy`` with the kernel, the kernel gradient :func:`convops.conv2d_backprop_filter` with
    ``dy`` as the input and ``x`` as the upstream gradient.

    Parameters
    ----------
    filters : int
        Output channels, >= 1.
    kernel_size : int or (int, int)
    strides : int or (int, int), default 1
    padding : {"valid", "same"}
    dilation_rate : int or (int, int), default 1
    activation : {"relu", "softmax", "sigmoid", "tanh", "linear"} or None
    use_bias : bool
    kernel_initializer, bias_initializer : str or Initializer
    input_shape : (H, W, C_in), optional
    name : str, optional
    dtype : {"float32", "float64"}
    """

    def __init__(
        self,
        filters: int,
        kernel_size: IntPair,
        strides: IntPair = (1, 1),
        padding: Literal["valid", "same"] = "valid",
        dilation_rate: IntPair = (1, 1),
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        input_shape: Sequence[int] | None = None,
        name: str | None = None,
        dtype: DTypeLike = "float32",
    ):
        super().__init__(activation=activation, name=name, input_shape=input_shape, dtype=dtype)
        self.filters = _checks.positive_int(filters, "filters")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _padding(padding)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"`dilation_rate` {self.dilation_rate} > 1 cannot be combined with `strides` {self.strides} > 1 "
                f"(as in Keras)"
            )
        self.use_bias = _checks.as_bool(use_bias, "use_bias")
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self._x: np.ndarray | None = None

    def _output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"`input_shape`: Conv2DTranspose {self.name!r} needs inputs (batch, H, W, C); "
                f"got (batch,) + {input_shape}"
            )
        h, w, _ = input_shape
        geometry = zip((h, w), self.kernel_size, self.strides, self.dilation_rate)
        sides = [_transpose_length(size, k, s, self.padding, d) for size, k, s, d in geometry]
        return (sides[0], sides[1], self.filters)

    def _make_weights(self):
        shape = (*self.kernel_size, self.filters, self._shapes()[0][2])
        self.params = {"kernel": self.kernel_initializer(shape, self.dtype)}
        if self.use_bias:
            self.params["bias"] = self.bias_initializer((self.filters,), self.dtype)

    def _args(self) -> tuple[Any, ...]:
        return self.strides, _tf_padding(self.padding), "NHWC", self.dilation_rate

    def _pre_activation(self, x, training):
        out_shape = (x.shape[0],) + self._shapes()[1]
        z = convops.conv2d_transpose(x, self.params["kernel"], out_shape, *self._args())
        if self.use_bias:
            z += self.params["bias"]
        if training:
            self._x = x
        return z

    def _backward(self, dy, need_input_grad, from_logits, overwrite_dy):
        if self._x is None:
            raise self._no_forward()
        dz = np.ascontiguousarray(self._activation_backward(dy, from_logits), dtype=self.dtype)
        kernel = self.params["kernel"]
        self.grads = {"kernel": gradients.conv2d_backprop_filter(dz, kernel.shape, self._x, *self._args())}
        if self.use_bias:
            self.grads["bias"] = dz.reshape(-1, self.filters).sum(axis=0, dtype=np.float64).astype(self.dtype)
        strides, padding, _, dilations = self._args()
        dx = convops.conv2d(dz, kernel, strides, padding, dilations) if need_input_grad else None
        self._x = self._output = None
        return dx

    def flops(self) -> int:
        """Multiply-adds (counted 2) for one example: each input pixel paints a whole kernel.

        Returns
        -------
        int
        """
        h, w, c_in = self._shapes()[0]
        return 2 * h * w * c_in * self.kernel_size[0] * self.kernel_size[1] * self.filters


class GlobalAveragePooling2D(Layer):
    """The mean over H and W of each channel, as ``keras.layers.GlobalAveragePooling2D``:
    ``(N, H, W, C) -> (N, C)`` (or ``(N, 1, 1, C)`` with ``keepdims``).

    Parameters
    ----------
    keepdims : bool
    name : str, optional
    input_shape : tuple of int, optional
    dtype : {"float32", "float64"}
    """

    def __init__(
        self,
        keepdims: bool = False,
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: DTypeLike = "float32",
    ):
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.keepdims = _checks.as_bool(keepdims, "keepdims")

    def _output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"`input_shape`: GlobalAveragePooling2D {self.name!r} needs inputs (batch, H, W, C); "
                f"got (batch,) + {input_shape}"
            )
        return (1, 1, input_shape[2]) if self.keepdims else (input_shape[2],)

    def _forward(self, x, training):
        return x.mean(axis=(1, 2), keepdims=self.keepdims, dtype=x.dtype)

    def _backward(self, dy, need_input_grad, from_logits, overwrite_dy):
        h, w, c = self._shapes()[0]
        share = dy.reshape(dy.shape[0], 1, 1, c) / dy.dtype.type(h * w)
        return np.ascontiguousarray(np.broadcast_to(share, (dy.shape[0], h, w, c)))

    def flops(self) -> int:
        """One add per input value.

        Returns
        -------
        int
        """
        return int(np.prod(self._shapes()[0]))


def _zero_padding(value: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    """Keras's three spellings: ``p``, ``(ph, pw)``, ``((top, bottom), (left, right))``."""
    rule = "`padding` must be an int, (rows, cols) or ((top, bottom), (left, right)) of ints >= 0"
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"{rule}; got {value!r}")
        if all(isinstance(v, (list, tuple)) for v in value):
            if any(len(v) != 2 for v in value):
                raise ValueError(f"{rule}; got {value!r}")
            pads = tuple((as_int(v[0], "padding"), as_int(v[1], "padding")) for v in value)
        elif any(isinstance(v, (list, tuple)) for v in value):
            raise ValueError(f"{rule}; got {value!r}")
        else:
            pads = tuple((as_int(v, "padding"),) * 2 for v in value)
    else:
        pads = ((as_int(value, "padding"),) * 2,) * 2
    if min(min(p) for p in pads) < 0:
        raise ValueError(f"{rule}; got {value!r}")
    return pads[0], pads[1]


class ZeroPadding2D(Layer):
    """Zeros around each image, as ``keras.layers.ZeroPadding2D``.

    Parameters
    ----------
    padding : int, (int, int) or ((int, int), (int, int))
        The same on all sides; ``(rows, cols)`` symmetric; or ``((top, bottom), (left, right))``.
    name : str, optional
    input_shape : tuple of int, optional
    dtype : {"float32", "float64"}
    """

    def __init__(
        self,
        padding: Any = (1, 1),
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: DTypeLike = "float32",
    ):
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.padding = _zero_padding(padding)

    def _output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"`input_shape`: ZeroPadding2D {self.name!r} needs inputs (batch, H, W, C); "
                f"got (batch,) + {input_shape}"
            )
        (top, bottom), (left, right) = self.padding
        h, w, c = input_shape
        return (h + top + bottom, w + left + right, c)

    def _forward(self, x, training):
        return np.pad(x, ((0, 0), *self.padding, (0, 0)))

    def _backward(self, dy, need_input_grad, from_logits, overwrite_dy):
        (top, _), (left, _) = self.padding
        h, w, _ = self._shapes()[0]
        return np.ascontiguousarray(dy[:, top : top + h, left : left + w, :])

# Size: Keras's layer kinds, each with its forward, backward, weights and argument checks.
"""Layers with Keras's names, arguments and weight layouts, computed with convops' own ops.

Each layer has a forward pass (``forward``) and a backward pass (``backward``): given
``dL/d(output)`` it stores ``dL/d(weights)`` in ``layer.grads`` and returns ``dL/d(input)``. The
forward pass keeps what the backward pass needs (``training=True`` only).

Weights are NumPy arrays in Keras's layouts — Conv2D kernel ``(KH, KW, C_in, C_out)`` and bias
``(C_out,)``, Dense kernel ``(n_in, n_out)`` and bias ``(n_out,)`` — so
``model.set_weights(keras_model.get_weights())`` just works. Images are NHWC
(Keras's ``channels_last``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import DTypeLike

import convops
from convops import _algorithms, arithmetic, gradients
from convops.nn import _checks, _conv_calls, activations, initializers
from convops.nn._layer import (
    _LANES,
    IntPair,
    Layer,
    Shape,
    SymbolicTensor,
    Window,
    _bias_act_backward,
    _bias_act_forward,
    _checked_weights,
    _padding,
    _pair,
)

__all__ = [
    "Layer",
    "InputLayer",
    "Input",
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "Flatten",
    "Dense",
    "ReLU",
    "Softmax",
    "Activation",
    "SymbolicTensor",
]

# Documented here, where users find them (Sphinx and help() show this module's name).
Layer.__module__ = SymbolicTensor.__module__ = __name__
_REEXPORTED = (_checked_weights,)  # models.py imports it from here
_nn_kernels = convops._kernels.load("nn")


def _tf_padding(padding: str) -> Literal["SAME", "VALID"]:
    """Keras's ``"valid"``/``"same"`` (already checked by the layer) in TensorFlow's spelling."""
    return "SAME" if padding == "same" else "VALID"


class InputLayer(Layer):
    """The model's input: checks the shape of what comes in.

    Parameters
    ----------
    shape : tuple of int
        Shape of one example (no batch axis), every side >= 1.
    name : str, optional
    dtype : {"float32", "float64"}
    """

    def __init__(self, shape: Sequence[int], name: str | None = None, dtype: DTypeLike = "float32"):
        super().__init__(name=name, dtype=dtype)
        self.build(_checks.shape(shape, "shape"))

    def _forward(self, x, training):
        return x

    def _backward(self, dy, need_input_grad, from_logits, overwrite_dy):
        return dy


def Input(shape: Sequence[int], name: str | None = None, dtype: DTypeLike = "float32") -> SymbolicTensor:
    """The start of a functional model, as ``keras.Input``: ``inputs = Input(shape=(28, 28, 1))``.

    Parameters
    ----------
    shape : tuple of int
        Shape of one example (no batch axis), every side >= 1.
    name : str, optional
    dtype : {"float32", "float64"}

    Returns
    -------
    SymbolicTensor
    """
    layer = InputLayer(shape, name=name, dtype=dtype)
    return SymbolicTensor(layer._shapes()[1], layer, None)


class _Activated(Layer):
    """A layer followed by an activation. Training keeps the activation's output (its backward
    needs it) and, for a softmax, its input: the loss uses those logits, as Keras does."""

    def __init__(self, activation: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.activation_name, self._act, self._act_backward = activations.get(activation)
        self.logits: np.ndarray | None = None
        self._output: np.ndarray | None = None

    def _pre_activation(self, x: np.ndarray, training: bool) -> np.ndarray:
        """The layer's output before the activation, in an array of its own."""
        raise NotImplementedError

    def _forward(self, x, training):
        return self._activate(self._pre_activation(x, training), training)

    def forward_with_logits(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inference output and the activation's input (the logits of a softmax), storing nothing.

        Parameters
        ----------
        x : ndarray, shape (N,) + input shape

        Returns
        -------
        output, logits : ndarray
        """
        z = self._pre_activation(self._checked_batch(x, "x", self.input_shape), False)
        if self.activation_name in ("softmax", "sigmoid"):
            return self._act(z), z
        logits = z.copy()
        return self._activate(z, False), logits

    def _activate(self, z: np.ndarray, training: bool) -> np.ndarray:
        if self.activation_name == "relu":
            y = activations.relu(z, out=z)  # in place: z is ours
        elif self.activation_name == "softmax":
            if training:
                self.logits = z
            y = activations.softmax(z)
        elif self.activation_name == "sigmoid":
            if training:
                self.logits = z  # binary crossentropy uses them, as Keras
            y = self._act(z)
        else:
            y = self._act(z)
        if training:
            self._output = y
        return y

    def _activation_backward(self, dy: np.ndarray, from_logits: bool) -> np.ndarray:
        if from_logits:
            return dy
        if self._output is None:
            raise self._no_forward()
        return self._act_backward(dy, self._output)


class Conv2D(_Activated):
    """2-D convolution layer, as ``keras.layers.Conv2D``: ``activation(conv2d(x, kernel) + bias)``.

    Parameters
    ----------
    filters : int
        Number of output channels ``C_out``, >= 1.
    kernel_size : int or (int, int)
        ``(KH, KW)``.
    strides : int or (int, int), default 1
    padding : {"valid", "same"}
    dilation_rate : int or (int, int), default 1
        Not together with ``strides`` > 1 (as in Keras).
    groups : int, default 1
        ``C_in`` and ``filters`` must be multiples; the kernel is then ``(KH, KW, C_in / groups, C_out)``.
    activation : {"relu", "softmax", "sigmoid", "tanh", "linear"} or None
    use_bias : bool
    kernel_initializer, bias_initializer : str or Initializer
        ``"glorot_uniform"`` and ``"zeros"`` by default, as in Keras.
    input_shape : (H, W, C_in), optional
        For the first layer of a :class:`~convops.nn.Sequential` model, as in Keras.
    name : str, optional
    dtype : {"float32", "float64"}

    Notes
    -----
    Output ``(N, H_out, W_out, C_out)`` with ``H_out`` from
    :func:`convops.arithmetic.conv_output_size`; an empty output is refused when the layer is
    built. Backward: the bias gradient sums ``dz`` over ``N, H_out, W_out``; the kernel gradient
    is :func:`convops.conv2d_backprop_filter`; the input gradient
    :func:`convops.conv2d_backprop_input` (skipped for a model's first layer, which has no layer
    below to receive it).
    """

    def __init__(
        self,
        filters: int,
        kernel_size: IntPair,
        strides: IntPair = (1, 1),
        padding: Literal["valid", "same"] = "valid",
        dilation_rate: IntPair = (1, 1),
        groups: int = 1,
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
            # Keras refuses this combination (tf.nn.conv2d itself would accept it).
            raise ValueError(
                f"`strides` > 1 is not compatible with `dilation_rate` > 1 (as in Keras); got "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}"
            )
        self.groups = _checks.positive_int(groups, "groups")
        if self.filters % self.groups:
            raise ValueError(f"`filters` ({self.filters}) must be a multiple of `groups` ({self.groups})")
        self.use_bias = _checks.as_bool(use_bias, "use_bias")
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self._x: np.ndarray | None = None
        self._cached_geometry: tuple[Shape, Any] | None = None

    def _output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"`input_shape`: Conv2D {self.name!r} needs inputs (batch, H, W, C); got (batch,) + {input_shape}"
            )
        h, w, c_in = input_shape
        if c_in % self.groups:
            raise ValueError(
                f"Conv2D {self.name!r}: input channels ({c_in}) must be a multiple of groups ({self.groups})"
            )
        pad = _tf_padding(self.padding)
        return (
            arithmetic.conv_output_size(h, self.kernel_size[0], self.strides[0], pad, self.dilation_rate[0]),
            arithmetic.conv_output_size(w, self.kernel_size[1], self.strides[1], pad, self.dilation_rate[1]),
            self.filters,
        )

    def _empty_reason(self, input_shape):
        return (
            f"a {self.kernel_size} kernel (dilation {self.dilation_rate}) does not fit input {input_shape[:2]} "
            f"with padding {self.padding!r}"
        )

    def _make_weights(self):
        shape = (*self.kernel_size, self._shapes()[0][2] // self.groups, self.filters)
        self.params = {"kernel": self.kernel_initializer(shape, self.dtype)}
        if self.use_bias:
            self.params["bias"] = self.bias_initializer((self.filters,), self.dtype)

    @property
    def kernel(self) -> np.ndarray:
        """The kernel, ``(KH, KW, C_in / groups, C_out)``."""
        return self.params["kernel"]

    @property
    def bias(self) -> np.ndarray | None:
        """The bias ``(C_out,)``, or None without ``use_bias``."""
        return self.params.get("bias")

    def _geometry(self, x_shape: Shape, training: bool) -> Any:
        """The convolution's geometry for inputs of ``x_shape``, validated once per shape (kept by
        the training pass only: inference writes nothing on the layer)."""
        cached = self._cached_geometry
        if cached is not None and cached[0] == x_shape:
            return cached[1]
        geo = _conv_calls.geometry(
            x_shape, self.kernel.shape, self.strides, _tf_padding(self.padding), self.dilation_rate, self.dtype
        )
        if training:
            self._cached_geometry = (x_shape, geo)
        return geo

    def _pre_activation(self, x, training):
        z = _conv_calls.forward(self._geometry(x.shape, training), x, self.kernel)
        if training:
            self._x = x
        if self.use_bias:
            z += self.bias
        return z

    def _forward(self, x, training):
        if self.activation_name not in ("relu", "linear"):
            return super()._forward(x, training)
        geo, relu = self._geometry(x.shape, training), self.activation_name == "relu"
        # Bias and ReLU as the direct kernel stores each sum; else in one pass over the output,
        # in place (z is ours).
        z, applied = _conv_calls.forward_fused(geo, x, self.kernel, self.bias, relu)
        if not applied and z.size:
            _bias_act_forward(z, self.filters, self.bias, relu)
        if training:
            self._x, self._output = x, z
        return z

    def _backward(self, dy, need_input_grad, from_logits, overwrite_dy):
        if self._x is None:
            raise self._no_forward()
        geo = self._geometry(self._x.shape, True)
        if self.activation_name in ("relu", "linear") and not from_logits and dy.size:
            # ReLU's mask and the bias gradient in one pass (the sum in float64, rounded once).
            reuse = overwrite_dy and dy.dtype == self.dtype and dy.flags.c_contiguous and dy.flags.writeable
            dz = dy if reuse else np.array(dy, dtype=self.dtype, order="C")
            bias_grad = _bias_act_backward(dz, self._output, self.filters, self.activation_name == "relu")
        else:
            dz = np.ascontiguousarray(self._activation_backward(dy, from_logits), dtype=self.dtype)
            bias_grad = dz.reshape(-1, self.filters).sum(axis=0, dtype=np.float64)
        self.grads = {"kernel": _conv_calls.filter_grad(geo, self._x, dz)}
        if self.use_bias:
            self.grads["bias"] = bias_grad.astype(self.dtype)
        dx = _conv_calls.input_grad(geo, self.kernel, dz) if need_input_grad else None
        self._x = self._output = None
        return dx

    def _first_layer_grads_from_max_pool(self, pool: MaxPooling2D, dy: np.ndarray) -> bool:
        """A model's training step, for its first layer with weights when a MaxPooling2D comes
        right after it: this layer's and the pool's backward in one pass where the compiled kernel
        applies (ReLU or no activation; windows of at most 4 cells that do not overlap; one group;
        a SIMD variant), storing the kernel and bias gradients and returning True; else False,
        having changed nothing (the caller runs both layers' backward). ``dy``: the gradient of
        the pool's output.

        Such a layer needs no input gradient, and dL/dz is zero but at each pool window's maximum,
        where it is the pool's gradient if the ReLU was on there -- that is, if the pooled value
        is > 0. So the sums run over the pool's outputs (src/nn_first_conv_ukernel.h) and dz is
        never written: for the tutorial's first layer, 1.4 MB read instead of a 5.5 MB dz written
        by the pool's backward, read and rewritten by the ReLU's and read by the filter gradient.
        The filter gradient adds the same nonzero products as conv2d_backprop_filter of dz, in
        lanes of images summed in a fixed order: the same bits on any thread count and SIMD
        variant, and within the dense kernel's rounding of it."""
        if self._x is None or pool._output is None or pool._argmax is None:
            return False
        if self.activation_name not in ("relu", "linear") or pool._argmax.dtype != np.uint8:
            return False
        geo = self._geometry(self._x.shape, True)
        ksize, strides, pad_before, _ = pool._geometry(pool._in_shape)
        isa = convops.pooling._float_isa(widest=True)
        taps = geo.kh * geo.kw * geo.c_in
        if (
            isa < 0
            or ksize[0] * ksize[1] > 4
            or geo.groups != 1
            or taps > 256
            or dy.dtype != geo.compute
            or pool._output.dtype != geo.compute
            or dy.shape != pool._output.shape
            or not dy.flags.c_contiguous
            or dy.size == 0
        ):
            return False
        x = np.ascontiguousarray(self._x, dtype=geo.compute)
        # Finite data whose sums cannot overflow, for two reasons. The dense gradient multiplies
        # every input by dz, zeros included (0 * inf = NaN), and the kernel only the nonzero
        # entries. And the pooled value is the ReLU's output at the argmax only where the window
        # holds no NaN (max pooling skips NaN; TensorFlow's argmax may point at one).
        x_max, w_max = _algorithms._finite_and_small(x), _algorithms._finite_and_small(self.kernel)
        b_max = _algorithms._finite_and_small(self.bias) if self.bias is not None else 0.0
        if x_max is None or w_max is None or b_max is None:
            return False
        if taps * x_max * w_max + b_max >= float(np.finfo(geo.compute).max) / 2:
            return False
        # Each lane's partial sums at least a cache line past the previous lane's: the threads
        # write them at every pooled output.
        lanes, size = max(1, min(_LANES, geo.n)), taps * self.filters
        kernel_partial = np.zeros((lanes, size + 128 // geo.compute.itemsize), dtype=geo.compute)
        bias_partial = np.zeros((lanes, self.filters + 16), dtype=np.float64)
        _nn_kernels.first_conv_grads_from_max_pool(
            x,
            dy,
            pool._output,
            pool._argmax,
            kernel_partial,
            bias_partial,
            (geo.kh, geo.kw, *geo.strides, *geo.dilations, geo.pads[0][0], geo.pads[1][0]),
            *geo.out_hw,
            (*ksize, *strides, *pad_before),
            self.activation_name == "relu",
            convops.get_num_threads(),
            isa,
        )
        self.grads = {"kernel": kernel_partial[:, :size].sum(axis=0).reshape(self.kernel.shape)}
        if self.use_bias:
            self.grads["bias"] = bias_partial[:, : self.filters].sum(axis=0).astype(self.dtype)
        self._x = self._output = None
        pool._argmax = pool._output = None
        return True

    def flops(self) -> int:
        """Floating-point operations for one example (multiply + add count 2).

        Returns
        -------
        int
        """
        h_out, w_out, c_out = self._shapes()[1]
        return arithmetic.conv2d_flops((h_out, w_out), self.kernel_size, self._shapes()[0][2], c_out, self.groups)

    def window(self) -> Window | None:
        """``((KH, KW), strides, dilation_rate, (pad_top, pad_left))``, for receptive fields.

        Returns
        -------
        tuple
        """
        pads = [
            arithmetic.resolve_padding(_tf_padding(self.padding), size, k, s, d)[0]
            for size, k, s, d in zip(self._shapes()[0][:2], self.kernel_size, self.strides, self.dilation_rate)
        ]
        return self.kernel_size, self.strides, self.dilation_rate, (pads[0], pads[1])


class _Pooling2D(Layer):
    def __init__(
        self,
        pool_size: IntPair = (2, 2),
        strides: IntPair | None = None,
        padding: Literal["valid", "same"] = "valid",
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: DTypeLike = "float32",
    ):
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides, "strides") if strides is not None else self.pool_size
        self.padding = _padding(padding)
        self._in_shape: Shape | None = None

    def _output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"`input_shape`: {type(self).__name__} {self.name!r} needs inputs (batch, H, W, C); "
                f"got (batch,) + {input_shape}"
            )
        h, w, c = input_shape
        pad = _tf_padding(self.padding)
        return (
            arithmetic.pool_output_size(h, self.pool_size[0], self.strides[0], pad),
            arithmetic.pool_output_size(w, self.pool_size[1], self.strides[1], pad),
            c,
        )

    def _empty_reason(self, input_shape):
        return (
            f"a {self.pool_size} window does not fit input {input_shape[:2]} with padding {self.padding!r} "
            f"(use padding='same' or a smaller pool_size)"
        )

    def window(self) -> Window | None:
        """``(pool_size, strides, (1, 1), (pad_top, pad_left))``, for receptive fields.

        Returns
        -------
        tuple
        """
        pads = [
            arithmetic.resolve_padding(_tf_padding(self.padding), size, k, s)[0]
            for size, k, s in zip(self._shapes()[0][:2], self.pool_size, self.strides)
        ]
        return self.pool_size, self.strides, (1, 1), (pads[0], pads[1])


class MaxPooling2D(_Pooling2D):
    """Max pooling, as ``keras.layers.MaxPooling2D`` (``strides`` default to ``pool_size``).

    Training keeps, for every output, *where* its maximum was (TensorFlow's argmax: the first
    maximum in row-major order), and the backward pass sends each gradient there.

    Parameters
    ----------
    pool_size : int or (int, int)
    strides : int or (int, int), optional
        Default: ``pool_size``.
    padding : {"valid", "same"}
    name : str, optional
    input_shape : tuple of int, optional
    dtype : {"float32", "float64"}
    """

    def __init__(
        self,
        pool_size: IntPair = (2, 2),
        strides: IntPair | None = None,
        padding: Literal["valid", "same"] = "valid",
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: DTypeLike = "float32",
    ):
        super().__init__(pool_size, strides, padding, name=name, input_shape=input_shape, dtype=dtype)
        self._argmax: np.ndarray | None = None
        self._output: np.ndarray | None = None
        self._cached_geometry: tuple[tuple[int, ...], Any] | None = None

    def _forward(self, x, training):
        if not training:
            return convops.max_pool2d(x, self.pool_size, self.strides, _tf_padding(self.padding), "NHWC")
        x = np.ascontiguousarray(x)
        ksize, strides, pad_before, out_shape = self._geometry(x.shape)
        self._in_shape = x.shape
        if self._codes_fit(ksize, strides) and x.size:
            # Windows that do not overlap (Keras's default strides): the maxima and a one-byte
            # position per output in one compiled pass; backward writes dx from them directly.
            out = np.empty(out_shape, dtype=x.dtype)
            self._argmax = np.empty(out_shape, dtype=np.uint8)
            window = (*ksize, *strides, *pad_before)
            lowest = convops.pooling._lowest(x.dtype)
            threads, isa = convops.get_num_threads(), convops.pooling._float_isa(widest=True)
            _nn_kernels.max_pool_train_forward(x, out, self._argmax, *window, lowest, threads, isa)
        else:
            # One pass gives the maxima (max_pool2d's values) and their positions for backward.
            out, self._argmax = convops.pooling._argmax(
                x, ksize, strides, pad_before, out_shape, values_from_argmax=False, index_dtype=np.int32
            )
            out = out.astype(x.dtype, copy=False)
        self._output = out  # a first Conv2D below reads it (Conv2D._first_layer_grads_from_max_pool)
        return out

    @staticmethod
    def _codes_fit(ksize, strides):
        # Positions fit one byte (KH*KW <= 256) and every input cell is in at most one window.
        return ksize[0] <= strides[0] and ksize[1] <= strides[1] and ksize[0] * ksize[1] <= 256

    def _geometry(self, shape):
        """``(ksize, strides, pad_before, out_shape)`` for an input of ``shape``, validated once per shape."""
        cached = self._cached_geometry
        if cached is None or cached[0] != shape:
            geometry = convops.pooling._pool_geometry(
                "MaxPooling2D", shape, self.pool_size, self.strides, _tf_padding(self.padding), "NHWC"
            )
            self._cached_geometry = cached = (shape, geometry)
        return cached[1]

    def _backward(self, dy, need_input_grad, from_logits, overwrite_dy):
        if self._argmax is None or self._in_shape is None:
            raise self._no_forward()
        dy = np.ascontiguousarray(dy)
        if self._argmax.dtype == np.uint8:
            ksize, strides, pad_before, _ = self._geometry(self._in_shape)
            dx = np.empty(self._in_shape, dtype=dy.dtype)
            if dx.size:
                window = (*ksize, *strides, *pad_before)
                _nn_kernels.max_pool_train_backward(dy, self._argmax, dx, *window, convops.get_num_threads())
        else:
            dx = convops.pooling._scatter_argmax(dy, self._argmax, self._in_shape)
        self._argmax = self._output = None
        return dx

    def flops(self) -> int:
        """Comparisons for one example.

        Returns
        -------
        int
        """
        h, w, c = self._shapes()[1]
        return h * w * c * (self.pool_size[0] * self.pool_size[1] - 1)


class AveragePooling2D(_Pooling2D):
    """Average pooling, as ``keras.layers.AveragePooling2D`` (pads excluded from the mean).

    Parameters
    ----------
    pool_size : int or (int, int)
    strides : int or (int, int), optional
        Default: ``pool_size``.
    padding : {"valid", "same"}
    name : str, optional
    input_shape : tuple of int, optional
    dtype : {"float32", "float64"}
    """

    def _forward(self, x, training):
        if training:
            self._in_shape = x.shape
        return convops.avg_pool2d(x, self.pool_size, self.strides, _tf_padding(self.padding), "NHWC")

    def _backward(self, dy, need_input_grad, from_logits, overwrite_dy):
        if self._in_shape is None:
            raise self._no_forward()
        return gradients.avg_pool2d_grad(self._in_shape, dy, self.pool_size, self.strides, _tf_padding(self.padding))

    def flops(self) -> int:
        """Adds (and one division) for one example.

        Returns
        -------
        int
        """
        h, w, c = self._shapes()[1]
        return h * w * c * self.pool_size[0] * self.pool_size[1]


class Flatten(Layer):
    """``(N, H, W, C) -> (N, H*W*C)`` in row-major (C) order, as Keras with channels_last.

    Parameters
    ----------
    name : str, optional
    input_shape : tuple of int, optional
    dtype : {"float32", "float64"}
    """

    def _output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def _forward(self, x, training):
        return x.reshape(x.shape[0], int(np.prod(x.shape[1:])))  # explicit: works for an empty batch

    def _backward(self, dy, need_input_grad, from_logits, overwrite_dy):
        if self.input_shape is None:
            raise self._no_forward()
        return dy.reshape((dy.shape[0],) + tuple(self.input_shape))


class Dense(_Activated):
    """Fully connected layer, as ``keras.layers.Dense``: ``activation(x @ kernel + bias)``.

    Parameters
    ----------
    units : int
        Output features, >= 1.
    activation : {"relu", "softmax", "sigmoid", "tanh", "linear"} or None
    use_bias : bool
    kernel_initializer, bias_initializer : str or Initializer
    input_shape : (n_in,), optional
    name : str, optional
    dtype : {"float32", "float64"}
    """

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        input_shape: Sequence[int] | None = None,
        name: str | None = None,
        dtype: DTypeLike = "float32",
    ):
        super().__init__(activation=activation, name=name, input_shape=input_shape, dtype=dtype)
        self.units = _checks.positive_int(units, "units")
        self.use_bias = _checks.as_bool(use_bias, "use_bias")
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self._x: np.ndarray | None = None

    def _output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(
                f"`input_shape`: Dense {self.name!r} needs inputs (batch, features) — put a Flatten() "
                f"before it; got (batch,) + {input_shape}"
            )
        return (self.units,)

    def _make_weights(self):
        self.params = {"kernel": self.kernel_initializer((self._shapes()[0][0], self.units), self.dtype)}
        if self.use_bias:
            self.params["bias"] = self.bias_initializer((self.units,), self.dtype)

    def _pre_activation(self, x, training):
        z = x @ self.params["kernel"]
        if self.use_bias:
            z += self.params["bias"]
        if training:
            self._x = x
        return z

    def _backward(self, dy, need_input_grad, from_logits, overwrite_dy):
        if self._x is None:
            raise self._no_forward()
        dz = self._activation_backward(dy, from_logits)
        self.grads = {"kernel": self._x.T @ dz}
        if self.use_bias:
            self.grads["bias"] = dz.sum(axis=0, dtype=np.float64).astype(self.dtype)
        dx = dz @ self.params["kernel"].T if need_input_grad else None
        self._x = self._output = None
        return dx

    def flops(self) -> int:
        """``2 * n_in * units`` for one example.

        Returns
        -------
        int
        """
        return 2 * self._shapes()[0][0] * self.units


class Activation(_Activated):
    """An activation on its own, as ``keras.layers.Activation("relu")``.

    Parameters
    ----------
    activation : {"relu", "softmax", "sigmoid", "tanh", "linear"} or None
    name : str, optional
    input_shape : tuple of int, optional
    dtype : {"float32", "float64"}
    """

    def __init__(
        self,
        activation: str | None,
        name: str | None = None,
        input_shape: Sequence[int] | None = None,
        dtype: DTypeLike = "float32",
    ):
        super().__init__(activation=activation, name=name, input_shape=input_shape, dtype=dtype)

    def _pre_activation(self, x, training):
        return np.array(x, dtype=x.dtype)

    def _backward(self, dy, need_input_grad, from_logits, overwrite_dy):
        return self._activation_backward(dy, from_logits)


class ReLU(Activation):
    """``max(x, 0)``, as ``keras.layers.ReLU()``.

    Parameters
    ----------
    name : str, optional
    input_shape : tuple of int, optional
    dtype : {"float32", "float64"}
    """

    def __init__(self, name: str | None = None, input_shape: Sequence[int] | None = None, dtype: DTypeLike = "float32"):
        super().__init__("relu", name=name, input_shape=input_shape, dtype=dtype)


class Softmax(Activation):
    """Softmax over the last axis, as ``keras.layers.Softmax()``.

    Parameters
    ----------
    name : str, optional
    input_shape : tuple of int, optional
    dtype : {"float32", "float64"}
    """

    def __init__(self, name: str | None = None, input_shape: Sequence[int] | None = None, dtype: DTypeLike = "float32"):
        super().__init__("softmax", name=name, input_shape=input_shape, dtype=dtype)


# Defined in modules of their own (this one is at its size budget); imported last because they
# build on _Activated and _tf_padding above.
from convops.nn.layers_extra import Conv2DTranspose, GlobalAveragePooling2D, ZeroPadding2D  # noqa: E402
from convops.nn.regularization import BatchNormalization, Dropout  # noqa: E402

__all__ += ["Dropout", "BatchNormalization", "Conv2DTranspose", "GlobalAveragePooling2D", "ZeroPadding2D"]

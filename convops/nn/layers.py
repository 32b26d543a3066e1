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

import itertools
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

import convops
from convops import arithmetic, gradients
from convops._validation import as_int
from convops.nn import activations, initializers

__all__ = ["Layer", "InputLayer", "Input", "Conv2D", "MaxPooling2D", "AveragePooling2D", "Flatten", "Dense",
           "ReLU", "Softmax", "Activation", "SymbolicTensor"]

Shape = Tuple[int, ...]

# Keras names layers conv2d, conv2d_1, ... with one counter per kind for the whole session.
_name_counters: Dict[str, "itertools.count[int]"] = defaultdict(itertools.count)


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper() and not name[i - 1].isdigit():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _pair(value: Any, name: str) -> Tuple[int, int]:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"`{name}` must be an int or a pair of ints; got {value!r}")
        pair = as_int(value[0], name), as_int(value[1], name)
    else:
        pair = (as_int(value, name),) * 2
    if min(pair) < 1:
        raise ValueError(f"`{name}` must be >= 1; got {pair}")
    return pair


def _padding(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in ("valid", "same"):
        raise ValueError(f"`padding` must be 'valid' or 'same' (as in Keras); got {value!r}")
    return value.lower()


_LANES = 8        # fixed partial sums for the bias gradient: the same result for any thread count


def _bias_act_forward(z: np.ndarray, channels: int, bias: Optional[np.ndarray], relu: bool) -> None:
    kernel = convops._kernels.load("nn").bias_act_forward
    flat = z.reshape(-1, channels)
    kernel(flat, bias if bias is not None else np.zeros(channels, z.dtype), bias is not None, relu,
           convops.get_num_threads())


def _bias_act_backward(dz: np.ndarray, y: Optional[np.ndarray], channels: int, relu: bool) -> np.ndarray:
    """Mask ``dz`` in place where the ReLU was off; return the bias gradient (float64)."""
    kernel = convops._kernels.load("nn").bias_act_backward
    flat = dz.reshape(-1, channels)
    partial = np.empty((max(1, min(_LANES, flat.shape[0])), channels), dtype=np.float64)
    kernel(flat, (y if relu else dz).reshape(-1, channels), partial, relu, convops.get_num_threads())
    return partial.sum(axis=0)


class SymbolicTensor:
    """What ``Input(...)`` and calling a layer on it return: a shape and the layer that made it,
    enough to write Keras's functional form ``x = layers.Conv2D(32, 3)(inputs)``."""

    def __init__(self, shape: Shape, layer: "Layer", parent: Optional["SymbolicTensor"]):
        self.shape = (None,) + tuple(shape)
        self.layer = layer
        self.parent = parent

    def __repr__(self) -> str:
        return f"<SymbolicTensor shape={self.shape} from {self.layer.name}>"


class Layer:
    """Base class. Subclasses set ``self.params`` (name -> array, in Keras's weight order) in
    ``build`` and implement ``output_shape_for``, ``forward`` and ``backward``."""

    def __init__(self, name: Optional[str] = None, input_shape: Optional[Sequence[int]] = None,
                 dtype: Any = "float32"):
        kind = _snake(type(self).__name__)
        self.name = name if name is not None else (kind if (n := next(_name_counters[kind])) == 0 else f"{kind}_{n}")
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"`dtype` of a layer must be floating (float32 or float64); got {self.dtype}")
        self.input_shape: Optional[Shape] = tuple(int(s) for s in input_shape) if input_shape is not None else None
        self.output_shape: Optional[Shape] = None
        self.built = False
        self.params: Dict[str, np.ndarray] = {}
        self.grads: Dict[str, np.ndarray] = {}

    # -- building ------------------------------------------------------------------------------
    def build(self, input_shape: Sequence[int]) -> None:
        """Create the weights for inputs of shape ``(batch,) + input_shape``."""
        self.input_shape = tuple(int(s) for s in input_shape)
        self.output_shape = self.output_shape_for(self.input_shape)
        self.built = True

    def output_shape_for(self, input_shape: Shape) -> Shape:
        return input_shape

    def __call__(self, tensor: SymbolicTensor) -> SymbolicTensor:
        if not isinstance(tensor, SymbolicTensor):
            raise TypeError(f"calling a layer builds a model: pass the output of `Input(...)` or of another "
                            f"layer; got {type(tensor).__name__}. To compute, use model.predict(x) or "
                            f"layer.forward(x)")
        if not self.built:
            self.build(tensor.shape[1:])
        return SymbolicTensor(self.output_shape, self, tensor)

    # -- computing -----------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, need_input_grad: bool = True) -> Optional[np.ndarray]:
        raise NotImplementedError

    # -- weights -------------------------------------------------------------------------------
    @property
    def weights(self) -> List[np.ndarray]:
        return list(self.params.values())

    def get_weights(self) -> List[np.ndarray]:
        return [w.copy() for w in self.params.values()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        weights = list(weights)
        if len(weights) != len(self.params):
            raise ValueError(f"layer {self.name!r} has {len(self.params)} weight arrays; got {len(weights)}")
        for (key, current), new in zip(self.params.items(), weights):
            new = np.asarray(new)
            if new.shape != current.shape:
                raise ValueError(f"layer {self.name!r}: weight {key!r} must have shape {current.shape}; got {new.shape}")
            current[...] = new

    def count_params(self) -> int:
        return int(sum(w.size for w in self.params.values()))

    # -- what summary() shows ------------------------------------------------------------------
    def flops(self) -> int:
        """Floating-point operations for one example's forward pass (multiply + add count 2)."""
        return 0

    def window(self) -> Optional[Tuple[Tuple[int, int], Tuple[int, int], Tuple[int, int], Tuple[int, int]]]:
        """``((kh, kw), (sh, sw), (dh, dw), (pad_top, pad_left))`` of a sliding-window layer, for
        receptive fields; None when the layer does not change the receptive field."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


class InputLayer(Layer):
    """The model's input: checks the shape of what comes in (shape excludes the batch axis)."""

    def __init__(self, shape: Sequence[int], name: Optional[str] = None, dtype: Any = "float32"):
        super().__init__(name=name, dtype=dtype)
        self.build(tuple(as_int(s, "shape") for s in shape))

    def forward(self, x, training=False):
        return x

    def backward(self, dy, need_input_grad=True):
        return dy


def Input(shape: Sequence[int], name: Optional[str] = None, dtype: Any = "float32") -> SymbolicTensor:
    """The start of a functional model, as ``keras.Input``: ``inputs = Input(shape=(28, 28, 1))``."""
    layer = InputLayer(shape, name=name, dtype=dtype)
    return SymbolicTensor(layer.output_shape, layer, None)


class _Activated(Layer):
    """A layer followed by an activation; keeps the pre-activation when it is a softmax (the
    loss uses those logits, as Keras does)."""

    def __init__(self, activation: Any = None, **kwargs):
        super().__init__(**kwargs)
        self.activation_name, self._act, self._act_backward = activations.get(activation)
        self.logits: Optional[np.ndarray] = None
        self._output: Optional[np.ndarray] = None

    def _activate(self, z: np.ndarray, training: bool) -> np.ndarray:
        if self.activation_name == "relu":
            y = activations.relu(z, out=z)            # in place: z is ours
        elif self.activation_name == "softmax":
            self.logits = z
            y = activations.softmax(z)
        else:
            y = self._act(z)
        self._output = y if training else None
        return y

    def _activation_backward(self, dy: np.ndarray, from_logits: bool) -> np.ndarray:
        if from_logits:
            return dy
        if self._output is None:
            raise RuntimeError(f"layer {self.name!r}: backward() needs a forward(x, training=True) first")
        return self._act_backward(dy, self._output)


class Conv2D(_Activated):
    """2-D convolution layer, as ``keras.layers.Conv2D``: ``activation(conv2d(x, kernel) + bias)``.

    Parameters
    ----------
    filters : int
        Number of output channels ``C_out``.
    kernel_size : int or (KH, KW)
    strides : int or (sh, sw), default 1
    padding : "valid" (default) or "same"
    dilation_rate : int or (dh, dw), default 1
    groups : int, default 1
        ``C_in`` must be a multiple; the kernel is then ``(KH, KW, C_in / groups, C_out)``.
    activation : "relu", "softmax", "sigmoid", "tanh", "linear" or None
    use_bias : bool
    kernel_initializer, bias_initializer : Keras names or initializers
        ``"glorot_uniform"`` and ``"zeros"`` by default, as in Keras.
    input_shape : (H, W, C_in), optional
        For the first layer of a :class:`~convops.nn.Sequential` model, as in Keras.

    Notes
    -----
    Output ``(N, H_out, W_out, C_out)`` with ``H_out`` from
    :func:`convops.arithmetic.conv_output_size`. Backward: the bias gradient sums ``dz`` over
    ``N, H_out, W_out``; the kernel gradient is :func:`convops.conv2d_backprop_filter`; the input
    gradient :func:`convops.conv2d_backprop_input` (skipped for a model's first layer, which
    has no layer below to receive it).
    """

    def __init__(self, filters: int, kernel_size: Any, strides: Any = (1, 1), padding: str = "valid",
                 dilation_rate: Any = (1, 1), groups: int = 1, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 input_shape: Optional[Sequence[int]] = None, name: Optional[str] = None, dtype: Any = "float32"):
        super().__init__(activation=activation, name=name, input_shape=input_shape, dtype=dtype)
        self.filters = as_int(filters, "filters")
        if self.filters < 1:
            raise ValueError(f"`filters` must be >= 1; got {self.filters}")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _padding(padding)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            # Keras refuses this combination (tf.nn.conv2d itself would accept it).
            raise ValueError(f"`strides` > 1 is not compatible with `dilation_rate` > 1 (as in Keras); got "
                             f"strides={self.strides}, dilation_rate={self.dilation_rate}")
        self.groups = as_int(groups, "groups")
        if self.groups < 1 or self.filters % self.groups:
            raise ValueError(f"`filters` ({self.filters}) must be a multiple of `groups` ({self.groups})")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._x: Optional[np.ndarray] = None

    def output_shape_for(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"Conv2D {self.name!r} needs inputs (batch, H, W, C); got (batch,) + {input_shape}")
        h, w, _ = input_shape
        pad = self.padding.upper()
        return (arithmetic.conv_output_size(h, self.kernel_size[0], self.strides[0], pad, self.dilation_rate[0]),
                arithmetic.conv_output_size(w, self.kernel_size[1], self.strides[1], pad, self.dilation_rate[1]),
                self.filters)

    def build(self, input_shape):
        super().build(input_shape)
        c_in = self.input_shape[2]
        if c_in % self.groups:
            raise ValueError(f"Conv2D {self.name!r}: input channels ({c_in}) must be a multiple of groups "
                             f"({self.groups})")
        shape = (*self.kernel_size, c_in // self.groups, self.filters)
        self.params = {"kernel": self.kernel_initializer(shape, self.dtype)}
        if self.use_bias:
            self.params["bias"] = self.bias_initializer((self.filters,), self.dtype)
        if 0 in self.output_shape:
            raise ValueError(f"Conv2D {self.name!r}: a {self.kernel_size} kernel does not fit input "
                             f"{self.input_shape[:2]} with padding {self.padding!r} (output {self.output_shape})")

    @property
    def kernel(self) -> np.ndarray:
        return self.params["kernel"]

    @property
    def bias(self) -> Optional[np.ndarray]:
        return self.params.get("bias")

    def forward(self, x, training=False):
        z = convops.conv2d(x, self.kernel, self.strides, self.padding.upper(), self.dilation_rate)
        self._x = x if training else None
        if self.activation_name in ("relu", "linear") and z.size:
            # Bias and ReLU in one pass over the output, in place (z is ours).
            _bias_act_forward(z, self.filters, self.bias, self.activation_name == "relu")
            self._output = z if training else None
            return z
        if self.use_bias:
            z += self.bias
        return self._activate(z, training)

    def backward(self, dy, need_input_grad=True, from_logits=False, overwrite_dy=False):
        """``overwrite_dy=True`` lets the layer compute in ``dy``'s memory (a model passes its own
        intermediate gradients this way: one activation-sized copy less per layer)."""
        if self._x is None:
            raise RuntimeError(f"layer {self.name!r}: backward() needs a forward(x, training=True) first")
        args = (self.strides, self.padding.upper(), "NHWC", self.dilation_rate)
        if self.activation_name in ("relu", "linear") and not from_logits and dy.size:
            # ReLU's mask and the bias gradient in one pass (the sum in float64, rounded once).
            reuse = (overwrite_dy and dy.dtype == self.dtype and dy.flags.c_contiguous and dy.flags.writeable)
            dz = dy if reuse else np.array(dy, dtype=self.dtype, order="C")
            bias_grad = _bias_act_backward(dz, self._output, self.filters, self.activation_name == "relu")
        else:
            dz = np.ascontiguousarray(self._activation_backward(dy, from_logits), dtype=self.dtype)
            bias_grad = dz.reshape(-1, self.filters).sum(axis=0, dtype=np.float64)
        self.grads = {"kernel": gradients.conv2d_backprop_filter(self._x, self.kernel.shape, dz, *args)}
        if self.use_bias:
            self.grads["bias"] = bias_grad.astype(self.dtype)
        dx = gradients.conv2d_backprop_input(self._x.shape, self.kernel, dz, *args) if need_input_grad else None
        self._x = self._output = None
        return dx

    def flops(self):
        h_out, w_out, c_out = self.output_shape
        return arithmetic.conv2d_flops((h_out, w_out), self.kernel_size, self.input_shape[2], c_out, self.groups)

    def window(self):
        pads = [arithmetic.resolve_padding(self.padding.upper(), size, k, s, d)[0] for size, k, s, d in
                zip(self.input_shape[:2], self.kernel_size, self.strides, self.dilation_rate)]
        return self.kernel_size, self.strides, self.dilation_rate, tuple(pads)


class _Pooling2D(Layer):
    def __init__(self, pool_size: Any = (2, 2), strides: Any = None, padding: str = "valid",
                 name: Optional[str] = None, input_shape: Optional[Sequence[int]] = None, dtype: Any = "float32"):
        super().__init__(name=name, input_shape=input_shape, dtype=dtype)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides, "strides") if strides is not None else self.pool_size
        self.padding = _padding(padding)
        self._in_shape: Optional[Shape] = None

    def output_shape_for(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__} {self.name!r} needs inputs (batch, H, W, C); got (batch,) + "
                             f"{input_shape}")
        h, w, c = input_shape
        pad = self.padding.upper()
        return (arithmetic.pool_output_size(h, self.pool_size[0], self.strides[0], pad),
                arithmetic.pool_output_size(w, self.pool_size[1], self.strides[1], pad), c)

    def window(self):
        pads = [arithmetic.resolve_padding(self.padding.upper(), size, k, s)[0] for size, k, s in
                zip(self.input_shape[:2], self.pool_size, self.strides)]
        return self.pool_size, self.strides, (1, 1), tuple(pads)


class MaxPooling2D(_Pooling2D):
    """Max pooling, as ``keras.layers.MaxPooling2D`` (``strides`` default to ``pool_size``).

    Training keeps, for every output, *where* its maximum was (TensorFlow's argmax: the first
    maximum in row-major order), and the backward pass sends each gradient there.
    """

    def __init__(self, pool_size: Any = (2, 2), strides: Any = None, padding: str = "valid", **kwargs):
        super().__init__(pool_size, strides, padding, **kwargs)
        self._argmax: Optional[np.ndarray] = None

    def forward(self, x, training=False):
        if not training:
            self._argmax = None
            return convops.max_pool2d(x, self.pool_size, self.strides, self.padding.upper())
        # One pass gives the maxima (max_pool2d's values) and their positions for backward.
        x = np.ascontiguousarray(x)
        ksize, strides, pad_before, out_shape = convops.pooling._pool_geometry(
            "MaxPooling2D", x.shape, self.pool_size, self.strides, self.padding.upper(), "NHWC")
        out, self._argmax = convops.pooling._argmax(x, ksize, strides, pad_before, out_shape, values_from_argmax=False,
                                              index_dtype=np.int32)
        self._in_shape = x.shape
        return out.astype(x.dtype, copy=False)

    def backward(self, dy, need_input_grad=True):
        if self._argmax is None:
            raise RuntimeError(f"layer {self.name!r}: backward() needs a forward(x, training=True) first")
        dx = convops.pooling._scatter_argmax(np.ascontiguousarray(dy), self._argmax, self._in_shape)
        self._argmax = None
        return dx

    def flops(self):
        h, w, c = self.output_shape
        return h * w * c * (self.pool_size[0] * self.pool_size[1] - 1)        # comparisons


class AveragePooling2D(_Pooling2D):
    """Average pooling, as ``keras.layers.AveragePooling2D`` (pads excluded from the mean)."""

    def forward(self, x, training=False):
        self._in_shape = x.shape if training else None
        return convops.avg_pool2d(x, self.pool_size, self.strides, self.padding.upper())

    def backward(self, dy, need_input_grad=True):
        if self._in_shape is None:
            raise RuntimeError(f"layer {self.name!r}: backward() needs a forward(x, training=True) first")
        return gradients.avg_pool2d_grad(self._in_shape, dy, self.pool_size, self.strides, self.padding.upper())

    def flops(self):
        h, w, c = self.output_shape
        return h * w * c * self.pool_size[0] * self.pool_size[1]               # adds and one division


class Flatten(Layer):
    """``(N, H, W, C) -> (N, H*W*C)`` in row-major (C) order, as Keras with channels_last."""

    def output_shape_for(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, x, training=False):
        self._in_shape = x.shape
        return x.reshape(x.shape[0], int(np.prod(x.shape[1:])))    # explicit: works for an empty batch

    def backward(self, dy, need_input_grad=True):
        return dy.reshape(self._in_shape)


class Dense(_Activated):
    """Fully connected layer, as ``keras.layers.Dense``: ``activation(x @ kernel + bias)``."""

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 input_shape: Optional[Sequence[int]] = None, name: Optional[str] = None, dtype: Any = "float32"):
        super().__init__(activation=activation, name=name, input_shape=input_shape, dtype=dtype)
        self.units = as_int(units, "units")
        if self.units < 1:
            raise ValueError(f"`units` must be >= 1; got {self.units}")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._x: Optional[np.ndarray] = None

    def output_shape_for(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"Dense {self.name!r} needs inputs (batch, features) — put a Flatten() before it; "
                             f"got (batch,) + {input_shape}")
        return (self.units,)

    def build(self, input_shape):
        super().build(input_shape)
        self.params = {"kernel": self.kernel_initializer((self.input_shape[0], self.units), self.dtype)}
        if self.use_bias:
            self.params["bias"] = self.bias_initializer((self.units,), self.dtype)

    def forward(self, x, training=False):
        z = x @ self.params["kernel"]
        if self.use_bias:
            z += self.params["bias"]
        self._x = x if training else None
        return self._activate(z, training)

    def backward(self, dy, need_input_grad=True, from_logits=False):
        if self._x is None:
            raise RuntimeError(f"layer {self.name!r}: backward() needs a forward(x, training=True) first")
        dz = self._activation_backward(dy, from_logits)
        self.grads = {"kernel": self._x.T @ dz}
        if self.use_bias:
            self.grads["bias"] = dz.sum(axis=0, dtype=np.float64).astype(self.dtype)
        dx = dz @ self.params["kernel"].T if need_input_grad else None
        self._x = self._output = None
        return dx

    def flops(self):
        return 2 * self.input_shape[0] * self.units


class Activation(_Activated):
    """An activation on its own, as ``keras.layers.Activation("relu")``."""

    def __init__(self, activation: Any, **kwargs):
        super().__init__(activation=activation, **kwargs)

    def forward(self, x, training=False):
        return self._activate(np.array(x, dtype=x.dtype), training)

    def backward(self, dy, need_input_grad=True, from_logits=False):
        return self._activation_backward(dy, from_logits)


class ReLU(Activation):
    """``max(x, 0)``, as ``keras.layers.ReLU()``."""

    def __init__(self, **kwargs):
        super().__init__("relu", **kwargs)


class Softmax(Activation):
    """Softmax over the last axis, as ``keras.layers.Softmax()``."""

    def __init__(self, **kwargs):
        super().__init__("softmax", **kwargs)

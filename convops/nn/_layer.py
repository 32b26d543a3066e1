"""The base of every layer: :class:`Layer` (building, forward/backward dispatch, weights) and
:class:`SymbolicTensor` (Keras's functional form), with the argument helpers the layers share.
Public through :mod:`convops.nn.layers`; kept apart so each file stays readable."""

from __future__ import annotations

import functools
import inspect
import itertools
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

import convops
from convops._validation import as_int
from convops.nn import _checks

Shape = tuple[int, ...]
IntPair = int | tuple[int, int] | list[int]
Pair = tuple[int, int]
Window = tuple[Pair, Pair, Pair, Pair]

# Keras names layers conv2d, conv2d_1, ... with one counter per kind for the whole session.
_name_counters: dict[str, itertools.count[int]] = defaultdict(itertools.count)


def _snake(name: str) -> str:
    # Keras's to_snake_case: "Conv2DTranspose" -> "conv2d_transpose", "ReLU" -> "re_lu".
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _pair(value: Any, name: str) -> tuple[int, int]:
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


_LANES = 8  # fixed partial sums for the bias gradient: the same result for any thread count


def _bias_act_forward(z: np.ndarray, channels: int, bias: np.ndarray | None, relu: bool) -> None:
    kernel = convops._kernels.load("nn").bias_act_forward
    flat = z.reshape(-1, channels)
    kernel(
        flat,
        bias if bias is not None else np.zeros(channels, z.dtype),
        bias is not None,
        relu,
        convops.get_num_threads(),
    )


def _bias_act_backward(dz: np.ndarray, y: np.ndarray | None, channels: int, relu: bool) -> np.ndarray:
    """Mask ``dz`` in place where the ReLU was off; return the bias gradient (float64)."""
    kernel = convops._kernels.load("nn").bias_act_backward
    flat = dz.reshape(-1, channels)
    partial = np.empty((max(1, min(_LANES, flat.shape[0])), channels), dtype=np.float64)
    if relu and y is None:
        raise RuntimeError("the ReLU's output is needed for its backward pass: run forward(x, training=True)")
    mask = y if relu and y is not None else dz
    isa = convops.pooling._float_isa(widest=True)  # the step's arrays are on 64-byte boundaries
    kernel(flat, mask.reshape(-1, channels), partial, relu, convops.get_num_threads(), isa)
    return partial.sum(axis=0)


_NOT_PLAIN = object()


def _plain(value: Any) -> Any:
    """``value`` as JSON data (tuples become lists), or ``_NOT_PLAIN``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return _NOT_PLAIN if any(v is _NOT_PLAIN for v in items) else items
    return _NOT_PLAIN


class SymbolicTensor:
    """What ``Input(...)`` and calling a layer on it return: a shape and the layer that made it,
    enough to write Keras's functional form ``x = layers.Conv2D(32, 3)(inputs)``.

    Parameters
    ----------
    shape : tuple of int
        The shape without the batch axis (``self.shape`` has ``None`` in front, as Keras's).
    layer : Layer
        The layer whose output this is.
    parent : SymbolicTensor or None
        The layer's input (None for the output of ``Input``).
    """

    def __init__(self, shape: Shape, layer: Layer, parent: SymbolicTensor | None):
        self.shape = (None,) + tuple(shape)
        self.layer = layer
        self.parent = parent

    def __repr__(self) -> str:
        return f"<SymbolicTensor shape={self.shape} from {self.layer.name}>"


def _on_cache_line(array: np.ndarray) -> np.ndarray:
    """``array``, or a copy of it whose data starts on a 64-byte boundary (a cache line, one AVX-512
    vector) when it does not. The convolution kernels load a filter's rows as whole vectors many
    times per call; at NumPy's 16-byte alignment most of those loads touch two cache lines (the
    tutorial's second Conv2D forward took 1.06x as long with its kernel 16 bytes off a line: Intel
    Emerald Rapids, AVX-512, 1 thread). Weights keep their place: the optimizers and
    :meth:`Layer.set_weights` write into them."""
    if array.size == 0 or array.ctypes.data % 64 == 0 or not array.flags.c_contiguous:
        return array
    buffer = np.empty(array.nbytes + 63, dtype=np.uint8)
    start = -buffer.ctypes.data % 64
    aligned = buffer[start : start + array.nbytes].view(array.dtype).reshape(array.shape)
    aligned[...] = array
    return aligned


class Layer:
    """Base class of every layer.

    Subclasses set ``self.params`` (name -> array, in Keras's weight order) in ``build`` and
    implement ``_output_shape``, ``_forward`` and ``_backward``. The inference pass
    (``forward(x, training=False)``) writes nothing on the layer, so one layer can serve
    several Python threads at once; ``training=True`` keeps what ``backward`` needs.

    Parameters
    ----------
    name : str, optional
        Keras's automatic names (``conv2d``, ``conv2d_1``, ...) when not given.
    input_shape : tuple of int, optional
        Shape of one example, for the first layer of a model.
    dtype : {"float32", "float64"}
        What the layer computes in. float16 and Keras's mixed precision are refused: Keras
        computes them in float16, which convops cannot reproduce.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Record the outermost constructor's arguments: get_config() (and model.save) returns
        # them, so a saved model is rebuilt from data, never from pickled code.
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self: Layer, *args: Any, **kw: Any) -> None:
            if "_init_arguments" not in self.__dict__:  # the outermost constructor only
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                self._init_arguments = {
                    k: v for k, v in list(bound.arguments.items())[1:] if k not in ("kwargs", "args")
                }
            init(self, *args, **kw)

        cls.__init__ = recording_init  # type: ignore[method-assign]

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments as plain JSON data (Keras's ``get_config``), with the
        layer's name and dtype. Initializer objects are left out (the weights carry their values).

        Returns
        -------
        dict
        """
        config: dict[str, Any] = {}
        for key, value in getattr(self, "_init_arguments", {}).items():
            value = _plain(value)
            if value is not _NOT_PLAIN:
                config[key] = value
        config["name"] = self.name
        config["dtype"] = self.dtype.name
        return config

    #: Weights updated by the layer itself, never by an optimizer (BatchNormalization's moving statistics).
    non_trainable: tuple[str, ...] = ()
    _init_arguments: dict[str, Any]

    def __init__(self, name: str | None = None, input_shape: Sequence[int] | None = None, dtype: DTypeLike = "float32"):
        kind = _snake(type(self).__name__)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a str; got {_checks.describe(name)}")
        self.dtype = _checks.layer_dtype(dtype)
        self.input_shape: Shape | None = _checks.shape(input_shape, "input_shape") if input_shape is not None else None
        self.name = name if name is not None else (kind if (n := next(_name_counters[kind])) == 0 else f"{kind}_{n}")
        self.output_shape: Shape | None = None
        self.built = False
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    # -- building ------------------------------------------------------------------------------
    def build(self, input_shape: Sequence[int]) -> None:
        """Create the weights for inputs of shape ``(batch,) + input_shape``.

        Parameters
        ----------
        input_shape : tuple of int
            Shape of one example (no batch axis), every side >= 1.

        Raises
        ------
        ValueError
            The input has the wrong rank for the layer, or the layer's output would be empty.
        """
        shape = _checks.shape(input_shape, "input_shape")
        output_shape = self.output_shape_for(shape)
        if 0 in output_shape:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: {self._empty_reason(shape)} (input {shape} "
                f"gives output {output_shape}; a layer with an empty output would make every "
                f"prediction the same)"
            )
        self.input_shape = shape
        self.output_shape = output_shape
        self._make_weights()
        self.params = {key: _on_cache_line(value) for key, value in self.params.items()}
        self.built = True

    def _make_weights(self) -> None:
        pass

    def _shapes(self) -> tuple[Shape, Shape]:
        """``(input_shape, output_shape)`` of a built layer."""
        if self.input_shape is None or self.output_shape is None:
            raise RuntimeError(f"layer {self.name!r} is not built: build(input_shape) it or put it in a model first")
        return self.input_shape, self.output_shape

    def output_shape_for(self, input_shape: Sequence[int]) -> Shape:
        """The output shape (no batch axis) for inputs of shape ``input_shape``.

        Parameters
        ----------
        input_shape : tuple of int
            Shape of one example.

        Returns
        -------
        tuple of int
            A side is 0 when the layer's window does not fit the input (:meth:`build` refuses
            that).

        Raises
        ------
        ValueError
            The input has the wrong rank for the layer.
        """
        return self._output_shape(_checks.shape(input_shape, "input_shape", minimum=0))

    def _output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def _empty_reason(self, input_shape: Shape) -> str:
        return "the output would be empty"

    def __call__(self, tensor: SymbolicTensor) -> SymbolicTensor:
        """Keras's functional form: build on ``tensor``'s shape, return the symbolic output.

        Parameters
        ----------
        tensor : SymbolicTensor
            The output of ``Input(...)`` or of another layer.

        Returns
        -------
        SymbolicTensor
        """
        if not isinstance(tensor, SymbolicTensor):
            raise TypeError(
                f"`tensor`: calling a layer builds a model: pass the output of `Input(...)` or of "
                f"another layer; got {type(tensor).__name__}. To compute, use model.predict(x) or "
                f"layer.forward(x)"
            )
        if not self.built:
            self.build(tensor.shape[1:])  # type: ignore[arg-type]  # (None,) + ints: [1:] are ints
        return SymbolicTensor(self._shapes()[1], self, tensor)

    # -- computing -----------------------------------------------------------------------------
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """The layer's output for a batch ``x``.

        Parameters
        ----------
        x : ndarray, shape (N,) + input shape
            In the layer's dtype.
        training : bool
            Keep what :meth:`backward` needs (only then is anything stored on the layer).

        Returns
        -------
        ndarray, shape (N,) + output shape
        """
        training = _checks.as_bool(training, "training")
        return self._forward(self._checked_batch(x, "x", self.input_shape), training)

    def backward(
        self, dy: np.ndarray, need_input_grad: bool = True, from_logits: bool = False, overwrite_dy: bool = False
    ) -> np.ndarray | None:
        """Store ``dL/d(weights)`` in ``self.grads`` and return ``dL/d(input)``.

        Parameters
        ----------
        dy : ndarray, shape of the last ``forward(x, training=True)`` output
            ``dL/d(output)``.
        need_input_grad : bool
            False skips ``dL/d(input)`` (a model's first layer with weights needs none).
        from_logits : bool
            ``dy`` is the gradient with respect to the softmax's input (its logits), not its output.
        overwrite_dy : bool
            The layer may compute in ``dy``'s memory (saves a copy).

        Returns
        -------
        ndarray or None
            ``dL/d(input)``, or None when ``need_input_grad`` is False.

        Raises
        ------
        RuntimeError
            No ``forward(x, training=True)`` came before.
        """
        dy = self._checked_batch(dy, "dy", self.output_shape)
        flags = [
            _checks.as_bool(v, n)
            for v, n in (
                (need_input_grad, "need_input_grad"),
                (from_logits, "from_logits"),
                (overwrite_dy, "overwrite_dy"),
            )
        ]
        return self._backward(dy, *flags)

    def _checked_batch(self, value: Any, name: str, shape: Shape | None) -> np.ndarray:
        """``value`` as an array ``(N,) + shape`` in the layer's dtype (no copy when it already is)."""
        if not self.built or shape is None:
            raise RuntimeError(f"layer {self.name!r} is not built: build(input_shape) it or put it in a model first")
        if isinstance(value, np.ndarray) and value.dtype == self.dtype:
            array = value
        else:
            try:
                array = np.asarray(value)
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"`{name}` must be an array (N,) + {shape}; got {_checks.describe(value)}: {exc}"
                ) from None
            if array.dtype.kind not in "biuf":
                raise TypeError(f"`{name}` must be an array of numbers; got dtype {array.dtype}")
            array = array.astype(self.dtype)
        if array.shape[1:] != tuple(shape) or array.ndim != len(shape) + 1:
            raise ValueError(
                f"`{name}` of layer {self.name!r} must have shape (N,) + {tuple(shape)}; got {array.shape}"
            )
        return array

    def _forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        raise NotImplementedError

    def _backward(
        self, dy: np.ndarray, need_input_grad: bool, from_logits: bool, overwrite_dy: bool
    ) -> np.ndarray | None:
        raise NotImplementedError

    def _no_forward(self) -> RuntimeError:
        return RuntimeError(f"layer {self.name!r}: backward() needs a forward(x, training=True) first")

    # -- weights -------------------------------------------------------------------------------
    def trainable_keys(self) -> list[str]:
        """The names of the weights an optimizer updates (every one but :attr:`non_trainable`).

        Returns
        -------
        list of str
            Keys of ``params``, in their order.
        """
        return [key for key in self.params if key not in self.non_trainable]

    @property
    def weights(self) -> list[np.ndarray]:
        """The weight arrays themselves (not copies), in Keras's order."""
        return list(self.params.values())

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights, in Keras's order (kernel, then bias).

        Returns
        -------
        list of ndarray
        """
        return [w.copy() for w in self.params.values()]

    def set_weights(self, weights: Sequence[ArrayLike]) -> None:
        """Load weights in :meth:`get_weights`' order.

        Parameters
        ----------
        weights : sequence of array_like
            One array per weight, each of the current weight's shape.

        Raises
        ------
        ValueError
            A wrong number of arrays, or an array of the wrong shape (nothing is changed then).
        """
        new_weights = _checked_weights(weights, list(self.params.values()), f"layer {self.name!r}")
        for current, new in zip(self.params.values(), new_weights):
            current[...] = new

    def count_params(self) -> int:
        """The number of weights.

        Returns
        -------
        int
        """
        return int(sum(w.size for w in self.params.values()))

    # -- what summary() shows ------------------------------------------------------------------
    def flops(self) -> int:
        """Floating-point operations for one example's forward pass (multiply + add count 2).

        Returns
        -------
        int
        """
        return 0

    def window(self) -> Window | None:
        """The sliding window of the layer, for receptive fields.

        Returns
        -------
        ((kh, kw), (sh, sw), (dh, dw), (pad_top, pad_left)) or None
            None when the layer does not change the receptive field.
        """
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


def _checked_weights(weights: Any, current: list[np.ndarray], owner: str) -> list[np.ndarray]:
    """``weights`` as arrays of the current weights' shapes and dtypes, or ValueError/TypeError
    (before anything is changed)."""
    if isinstance(weights, (str, bytes, np.ndarray)) or not hasattr(weights, "__iter__"):
        raise TypeError(f"`weights` must be a list of arrays; got {_checks.describe(weights)}")
    weights = list(weights)
    if len(weights) != len(current):
        raise ValueError(f"`weights`: {owner} has {len(current)} weight arrays; got {len(weights)}")
    out = []
    for index, (old, new) in enumerate(zip(current, weights)):
        try:
            array = np.asarray(new)
        except ValueError as exc:
            raise ValueError(f"`weights`: weight {index} is not an array: {exc}") from None
        if array.dtype.kind not in "biuf":
            raise TypeError(f"`weights`: weight {index} must be numeric; got dtype {array.dtype}")
        if array.shape != old.shape:
            raise ValueError(f"`weights`: weight {index} must have shape {old.shape}; got {array.shape}")
        out.append(array)
    return out

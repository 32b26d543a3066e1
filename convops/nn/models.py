# Size: one class, Keras's Model, whose public methods each carry a full numpydoc docstring.
"""Models: a stack of layers trained with ``fit``, as Keras's ``Sequential`` and functional ``Model``.

The tutorial's network in both of Keras's styles::

    from convops.nn import layers, models

    model = models.Sequential([
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
        layers.Conv2D(128, 3, activation="relu"),
        layers.Flatten(), layers.Dense(10, activation="softmax")])

    inputs = layers.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    ...
    model = models.Model(inputs=inputs, outputs=outputs)

    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=5, batch_size=64)

A training step is the forward pass of every layer (keeping what backward needs), the loss and
its gradient, the backward pass from the last layer to the first, and one optimizer update.

(This file is longer than our ~600-line habit: ``Model`` is one class whose public methods
each carry a full numpydoc docstring; its helpers -- the thread guard, the summary table, the
callbacks, the file formats -- live in ``_guard.py``, ``_summary.py``, ``callbacks.py`` and
``saving.py``.)
"""

from __future__ import annotations

import itertools
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import numpy as np
from numpy.typing import ArrayLike

from convops._kernels import load
from convops._threads import blas_threads
from convops._validation import as_int
from convops.nn import _checks, saving
from convops.nn import callbacks as callbacks_module
from convops.nn import losses as losses_module
from convops.nn import optimizers as optimizers_module
from convops.nn._guard import UseGuard
from convops.nn._progress import ProgressBar
from convops.nn._random import next_generator
from convops.nn._summary import summary_lines
from convops.nn.callbacks import History
from convops.nn.layers import Conv2D, InputLayer, Layer, MaxPooling2D, SymbolicTensor, _Activated, _checked_weights

_step_memory = load("memory")


def _in_step(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` as a training step or an inference batch runs: BLAS on the calling thread
    (NumPy's and SciPy's OpenBLAS threads, spinning after a small product such as Dense's, would
    compete with the kernels' own threads), and NumPy's arrays from convops' step allocator, which
    keeps freed large blocks for the next step (convops/_kernels/src/memory_cache.h: the same sizes
    every step, reused instead of new pages; in a fresh process the tutorial's step took 16 ms
    instead of 10), put back afterwards."""
    previous = _step_memory.install()
    try:
        return blas_threads.call(1, fn, *args)
    finally:
        _step_memory.restore(previous)


__all__ = ["Model", "Sequential", "History"]

_ACCURACY_NAMES = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy")

_model_counters: dict[str, itertools.count[int]] = defaultdict(itertools.count)


def _model_name(kind: str) -> str:
    n = next(_model_counters[kind])
    return kind if n == 0 else f"{kind}_{n}"


class Model:
    """A chain of layers. Build it from a list (``Model(layers=[...])``), with
    :class:`Sequential`, or in Keras's functional style ``Model(inputs=..., outputs=...)`` (a
    single chain: each layer's input is the previous layer's output).

    Several Python threads may call ``predict``/``evaluate`` on one model at once (inference
    keeps nothing on the layers); ``fit``, ``train_on_batch``, ``loss_and_gradients`` and
    ``set_weights`` cannot overlap any other call on the same model and raise RuntimeError.

    Parameters
    ----------
    inputs, outputs : SymbolicTensor, optional
        Keras's functional form: ``inputs = Input(...)``, ``outputs`` the last layer's result.
    name : str, optional
    layers : sequence of Layer, optional
        The layers, in order (the first may be ``Input(...)``).
    """

    def __init__(
        self,
        inputs: SymbolicTensor | None = None,
        outputs: SymbolicTensor | None = None,
        name: str | None = None,
        layers: Sequence[Layer | SymbolicTensor] | None = None,
    ):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a str; got {_checks.describe(name)}")
        if layers is not None and (isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__")):
            raise TypeError(f"`layers` must be a list of layers; got {_checks.describe(layers)}")
        self._guard = UseGuard()
        self._input_layer: InputLayer | None = None
        self._layers: list[Layer] = []
        self._show_input_row = False
        self.optimizer: optimizers_module.Optimizer | None = None
        self.loss: losses_module.Loss | None = None
        self.metrics: list[str] = []
        self.compiled = False
        self.stop_training = False
        self.history: History | None = None
        if inputs is not None or outputs is not None:
            self.name = name or _model_name("functional")
            self._from_graph(inputs, outputs)
            self._show_input_row = True
        else:
            self.name = name or _model_name(self._default_name())
            for index, layer in enumerate(layers or []):
                try:
                    self.add(layer)
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"`layers`: item {index}: {exc}") from None

    def _default_name(self) -> str:
        return "model"

    def _from_graph(self, inputs: Any, outputs: Any) -> None:
        if not isinstance(inputs, SymbolicTensor) or not isinstance(outputs, SymbolicTensor):
            raise TypeError(
                "`inputs` and `outputs` must be the results of Input(...) and of calling layers on it "
                "(one input, one output)"
            )
        chain = []
        node: SymbolicTensor | None = outputs
        while node is not None and node is not inputs:
            chain.append(node.layer)
            node = node.parent
        if node is None:
            raise ValueError(
                "`outputs` was not computed from `inputs`: every layer must be called on the previous "
                "layer's output, starting from `inputs`"
            )
        if not isinstance(inputs.layer, InputLayer):
            raise ValueError("`inputs` must come from Input(shape=...)")
        self._input_layer = inputs.layer
        self._layers = list(reversed(chain))

    # -- composition ---------------------------------------------------------------------------
    def add(self, layer: Layer | SymbolicTensor) -> None:
        """Append a layer, building it when the model's input shape is known.

        Parameters
        ----------
        layer : Layer or SymbolicTensor
            ``Input(...)`` or an InputLayer only as the first element.

        Raises
        ------
        ValueError
            The layer does not fit the previous one's output (the model is left as it was).
        """
        if isinstance(layer, SymbolicTensor):
            if layer.parent is not None or not isinstance(layer.layer, InputLayer):
                raise ValueError("`layer`: only the result of Input(...) can be added to a model as a tensor")
            layer = layer.layer
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("`layer`: an input layer can only be the first layer of a model")
            self._input_layer = layer
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"`layer` must be a convops.nn layer (a model is made of them); got {_checks.describe(layer)}"
            )
        if any(existing is layer for existing in self._layers):
            raise ValueError(f"`layer`: layer {layer.name!r} is already in this model")
        input_layer = self._input_layer
        if not self._layers and self._input_layer is None and layer.input_shape is not None and not layer.built:
            self._input_layer = InputLayer(layer.input_shape, dtype=layer.dtype)
        self._layers.append(layer)
        if self._input_layer is not None:
            try:
                self._build_from(len(self._layers) - 1)
            except BaseException:
                self._layers.pop()  # a refused layer leaves no trace in the model
                self._input_layer = input_layer
                raise

    def _input(self) -> InputLayer:
        if self._input_layer is None:
            raise ValueError(
                f"model {self.name!r} has no input shape yet: start with Input(shape=...) or call build(input_shape)"
            )
        return self._input_layer

    def _loss(self) -> losses_module.Loss:
        if self.loss is None:
            raise RuntimeError("call model.compile(optimizer=..., loss=..., metrics=...) first")
        return self.loss

    def _optimizer(self) -> optimizers_module.Optimizer:
        if self.optimizer is None:
            raise RuntimeError("call model.compile(optimizer=..., loss=..., metrics=...) first")
        return self.optimizer

    def _build_from(self, start: int) -> None:
        shape = self._input()._shapes()[1] if start == 0 else self._layers[start - 1]._shapes()[1]
        for layer in self._layers[start:]:
            if not layer.built:
                layer.build(shape)
            elif layer._shapes()[0] != tuple(shape):
                raise ValueError(f"layer {layer.name!r} was built for inputs {layer.input_shape}, but receives {shape}")
            shape = layer._shapes()[1]

    def build(self, input_shape: Sequence[int | None]) -> None:
        """Create every weight for inputs of ``input_shape``.

        Parameters
        ----------
        input_shape : tuple of int
            With or without a leading ``None`` batch axis.

        Raises
        ------
        ValueError
            A shape with a non-positive side, or a layer whose window does not fit.
        """
        if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__iter__"):
            raise TypeError(f"`input_shape` must be a tuple of ints; got {_checks.describe(input_shape)}")
        shape = tuple(input_shape)
        if len(shape) >= 1 and shape[0] is None:
            shape = shape[1:]
        shape = _checks.shape(shape, "input_shape")
        if self._input_layer is None:
            layer = InputLayer(shape)
            self._input_layer = layer
            try:
                self._build_from(0)
            except BaseException:
                self._input_layer = None
                raise
            return
        elif self._input_layer._shapes()[1] != shape:
            raise ValueError(
                f"`input_shape`: model {self.name!r} expects inputs "
                f"{(None,) + self._input_layer._shapes()[1]}; got {(None,) + shape}"
            )
        self._build_from(0)

    @property
    def built(self) -> bool:
        """Whether every layer has its weights."""
        return self._input_layer is not None and all(layer.built for layer in self._layers)

    @property
    def layers(self) -> list[Layer]:
        """The layers (without the input layer), in order."""
        return list(self._layers)

    @property
    def input_shape(self) -> tuple[int | None, ...] | None:
        """``(None,) + shape of one example``, or None before the model is built."""
        return None if self._input_layer is None else (None,) + self._input_layer._shapes()[1]

    @property
    def output_shape(self) -> tuple[int | None, ...] | None:
        """``(None,) + shape of one output``, or None before the model is built."""
        return (None,) + self._layers[-1]._shapes()[1] if self.built and self._layers else None

    # -- weights -------------------------------------------------------------------------------
    @property
    def weights(self) -> list[np.ndarray]:
        """Every weight array itself (not copies), in :meth:`get_weights`' order."""
        return [w for layer in self._layers for w in layer.params.values()]

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """The weight arrays an optimizer updates (not BatchNormalization's moving statistics)."""
        return [layer.params[key] for layer in self._layers for key in layer.trainable_keys()]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every weight array, layer by layer in Keras's order (kernel, then bias).

        Returns
        -------
        list of ndarray
        """
        return [w.copy() for w in self.weights]

    def set_weights(self, weights: Sequence[ArrayLike]) -> None:
        """Load weights in :meth:`get_weights`' order.

        Parameters
        ----------
        weights : sequence of array_like
            E.g. ``keras_model.get_weights()`` of a Keras model with the same architecture.

        Raises
        ------
        ValueError
            Not built, a wrong number of arrays or a wrong shape (nothing is changed then).
        RuntimeError
            The model is in use in another thread.
        """
        self._require_built("set_weights")
        mine = self.weights
        new_weights = _checked_weights(weights, mine, f"model {self.name!r}")
        with self._guard.writing(self.name, "set_weights"):
            for current, new in zip(mine, new_weights):
                current[...] = new

    def count_params(self) -> int:
        """The number of weights.

        Returns
        -------
        int
        """
        self._require_built("count_params")
        return sum(layer.count_params() for layer in self._layers)

    # -- training configuration ----------------------------------------------------------------
    def compile(
        self,
        optimizer: str | optimizers_module.Optimizer = "rmsprop",
        loss: str | losses_module.Loss = "sparse_categorical_crossentropy",
        metrics: Sequence[str] | None = None,
    ) -> None:
        """Choose the optimizer, the loss and the metrics.

        Parameters
        ----------
        optimizer : {"rmsprop", "sgd", "adam"} or Optimizer
        loss : str or loss instance
            ``"sparse_categorical_crossentropy"``, ``"categorical_crossentropy"``,
            ``"binary_crossentropy"``, ``"mean_squared_error"`` / ``"mse"``, or an instance of
            one of the loss classes of ``convops.nn.losses``.
        metrics : list of str, optional
            ``["accuracy"]`` (also spelled ``"acc"``, ``"sparse_categorical_accuracy"``) or none.

        Raises
        ------
        RuntimeError
            The model is in use in another thread.
        """
        if metrics is not None and (isinstance(metrics, (str, bytes)) or not hasattr(metrics, "__iter__")):
            raise TypeError(f"`metrics` must be a list such as ['accuracy']; got {_checks.describe(metrics)}")
        metrics = list(metrics or [])
        for metric in metrics:
            if not isinstance(metric, str) or metric not in _ACCURACY_NAMES:
                raise ValueError(
                    f"`metrics` may contain 'accuracy' (sparse categorical, categorical or binary, as "
                    f"the shapes say; also spelled {_ACCURACY_NAMES[1:]}); got {metric!r}"
                )
        chosen_optimizer = optimizers_module.get(optimizer)
        chosen_loss = losses_module.get(loss)
        with self._guard.writing(self.name, "compile"):
            self.optimizer, self.loss = chosen_optimizer, chosen_loss
            self.metrics = ["accuracy"] if metrics else []
            self.compiled = True

    # -- computing -----------------------------------------------------------------------------
    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(
                f"model {self.name!r} is not built yet: give the first layer input_shape=..., start "
                f"with Input(shape=...), or call build(input_shape) before {what}()"
            )

    def _prepare_x(self, x: Any) -> np.ndarray:
        if not self._layers:
            raise ValueError(f"model {self.name!r} has no layers: add some first")
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"`x` must be an array of examples (N,) + input shape; got {_checks.describe(x)}: {exc}"
            ) from None
        if x.dtype.kind not in "biuf":
            raise TypeError(f"`x` must be numeric; got dtype {x.dtype}")
        if x.ndim < 2:
            raise ValueError(f"`x` must be a batch of examples, shape (N,) + input shape; got shape {x.shape}")
        if not self.built:
            with self._guard.writing(self.name, "build"):  # building creates the weights
                if not self.built:
                    self.build(x.shape[1:])
        expected = self._input()._shapes()[1]
        if x.shape[1:] != tuple(expected):
            hint = ""
            if x.shape[1:] == tuple(expected[:-1]) and expected[-1] == 1:
                hint = " (add the channel axis: x[..., None])"
            raise ValueError(f"model {self.name!r} expects `x` of shape (N,) + {tuple(expected)}; got {x.shape}{hint}")
        return np.ascontiguousarray(x, dtype=self._input().dtype)

    def _prepare_y(self, y: Any, n: int, name: str = "y") -> np.ndarray:
        length = getattr(y, "__len__", None)
        if length is not None and not isinstance(y, (str, bytes)) and len(y) != n:
            raise ValueError(f"`x` and `{name}` must have the same number of examples; got {n} and {len(y)}")
        return self._loss().prepare_y(y, (n,) + self._layers[-1]._shapes()[1], name)

    def _forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        # BLAS held at one thread through blas_threads.call (not `with limit(1)`: no contextlib
        # frame where a Ctrl-C could land and leave BLAS limited; convops/_threads.py).
        return blas_threads.call(1, self._forward_layers, x, training)

    def _forward_layers(self, x: np.ndarray, training: bool) -> np.ndarray:
        for layer in self._layers:
            x = layer.forward(x, training=training)
        return x

    def _infer(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Inference output and, when the loss uses them, the last layer's logits -- in local
        variables only, so that concurrent calls on one model cannot see each other's. Run as a
        training step is (_in_step): predict and evaluate run batch after batch of the same sizes."""
        return _in_step(self._infer_layers, x)

    def _infer_layers(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        logits = None
        for layer in self._layers[:-1]:
            x = layer.forward(x, training=False)
        last = self._layers[-1]
        if self.loss is not None and isinstance(last, _Activated) and self._fused_logits():
            x, logits = last.forward_with_logits(x)
        else:
            x = last.forward(x, training=False)
        return x, logits

    def _fused_logits(self) -> bool:
        # Keras: a softmax (sigmoid) output and a crossentropy (binary crossentropy) loss with
        # from_logits=False -> the loss uses the activation's input, its logits.
        last, loss = self._layers[-1], self._loss()
        fused = loss.fused_activation
        return (
            isinstance(last, _Activated)
            and fused is not None
            and last.activation_name == fused
            and not loss.from_logits
        )

    def _train_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        return _in_step(self._backprop_and_apply, x, y)

    def _backprop_and_apply(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        loss, correct = self._backprop(x, y)
        pairs = [(layer.grads[key], layer.params[key]) for layer in self._layers for key in layer.trainable_keys()]
        self._optimizer().apply_gradients(pairs)
        return loss, correct

    def _backprop(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Forward (keeping what backward needs), loss, backward: fills every ``layer.grads``."""
        out = self._forward(x, training=True)
        fused = self._fused_logits()
        last = self._layers[-1]
        logits = last.logits if fused and isinstance(last, _Activated) else None
        loss, grad = self._loss().value_and_grad(y, out, logits=logits)
        dy: Any = grad  # None after the first layer with weights (nothing below needs it)
        correct = _correct(y, out)
        # Layers below the first one with weights need no gradient at all, and that one needs
        # none with respect to its input.
        first = next((i for i, layer in enumerate(self._layers) if layer.params), len(self._layers))
        index = len(self._layers) - 1
        while index >= first:
            layer = self._layers[index]
            need = index > first
            below = self._layers[index - 1] if index > first else None
            if index == len(self._layers) - 1 and fused:
                dy = layer.backward(dy, need, from_logits=True)
            elif (
                index - 1 == first
                and isinstance(layer, MaxPooling2D)
                and isinstance(below, Conv2D)
                and below._first_layer_grads_from_max_pool(layer, dy)
            ):
                index -= 1  # the first layer with weights and its max pool, in one pass
            elif isinstance(layer, Conv2D):
                dy = layer.backward(dy, need, overwrite_dy=True)  # dy is ours: no copy
            else:
                dy = layer.backward(dy, need)
            index -= 1
        return loss, correct

    def loss_and_gradients(self, x: ArrayLike, y: ArrayLike) -> tuple[float, list[np.ndarray]]:
        """The loss on one batch and its gradient with respect to every weight, without updating
        anything -- what ``tf.GradientTape`` would give for Keras's model.

        Parameters
        ----------
        x : array_like, shape (N,) + input shape
        y : array_like of int, shape (N,)
            Class labels.

        Returns
        -------
        loss : float
        gradients : list of ndarray
            In :attr:`trainable_weights`' order (BatchNormalization's moving statistics have none).

        Examples
        --------
        >>> from convops import nn
        >>> from convops.nn import layers
        >>> import numpy as np
        >>> model = nn.Sequential([layers.Input((4,)), layers.Dense(3, activation="softmax")])
        >>> model.compile(loss="sparse_categorical_crossentropy")
        >>> loss, grads = model.loss_and_gradients(np.ones((2, 4)), [0, 2])
        >>> [g.shape for g in grads]
        [(4, 3), (3,)]
        """
        self._require_compiled("loss_and_gradients")
        x = self._prepare_x(x)
        y = self._prepare_y(y, len(x))
        with self._guard.writing(self.name, "loss_and_gradients"):
            loss, _ = blas_threads.call(1, self._backprop, x, y)
            return loss, [layer.grads[key] for layer in self._layers for key in layer.trainable_keys()]

    def _test_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        out, logits = self._infer(x)
        loss, _ = self._loss().value_and_grad(y, out, logits=logits)
        return loss, _correct(y, out)

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(f"call model.compile(optimizer=..., loss=..., metrics=...) before {what}()")

    def train_on_batch(self, x: ArrayLike, y: ArrayLike) -> float | list[float]:
        """One update on one batch, as Keras.

        Parameters
        ----------
        x : array_like, shape (N,) + input shape
        y : array_like of int, shape (N,)

        Returns
        -------
        float or [float, float]
            The loss computed *before* the update (and the accuracy when compiled with it).
        """
        self._require_compiled("train_on_batch")
        x = self._prepare_x(x)
        y = self._prepare_y(y, len(x))
        if len(x) == 0:
            raise ValueError("`x` has no examples to train on")
        with self._guard.writing(self.name, "train_on_batch"):
            loss, correct = self._train_step(x, y)
        return [loss, correct / len(x)] if self.metrics else loss

    def test_on_batch(self, x: ArrayLike, y: ArrayLike) -> float | list[float]:
        """Loss (and accuracy) on one batch, as Keras.

        Parameters
        ----------
        x : array_like, shape (N,) + input shape
        y : array_like of int, shape (N,)

        Returns
        -------
        float or [float, float]
        """
        self._require_compiled("test_on_batch")
        x = self._prepare_x(x)
        y = self._prepare_y(y, len(x))
        if len(x) == 0:
            raise ValueError("`x` has no examples to evaluate")
        with self._guard.reading(self.name, "test_on_batch"):
            loss, correct = self._test_step(x, y)
        return [loss, correct / len(x)] if self.metrics else loss

    def predict_on_batch(self, x: ArrayLike) -> np.ndarray:
        """The model's outputs for one batch.

        Parameters
        ----------
        x : array_like, shape (N,) + input shape

        Returns
        -------
        ndarray, shape (N,) + output shape
        """
        x = self._prepare_x(x)
        with self._guard.reading(self.name, "predict_on_batch"):
            return self._infer(x)[0]

    def __call__(self, x: ArrayLike) -> np.ndarray:
        """Same as :meth:`predict_on_batch`.

        Parameters
        ----------
        x : array_like, shape (N,) + input shape

        Returns
        -------
        ndarray
        """
        return self.predict_on_batch(x)

    def predict(
        self, x: ArrayLike, batch_size: int | None = None, verbose: int | str = 1, stream: TextIO | None = None
    ) -> np.ndarray:
        """The model's outputs for ``x``, computed ``batch_size`` examples at a time.

        Several threads may predict (and evaluate) with one model at once; not while it trains.

        Parameters
        ----------
        x : array_like, shape (N,) + input shape
        batch_size : int, optional
            Default 32.
        verbose : {0, 1, 2, "auto"}
            Progress bar (1, "auto"), one line (2) or nothing (0).
        stream : file-like, optional
            Where the progress goes (default ``sys.stdout``).

        Returns
        -------
        ndarray, shape (N,) + output shape

        Raises
        ------
        RuntimeError
            The model is training in another thread.
        """
        x = self._prepare_x(x)
        batch_size = _batch_size(batch_size)
        bar_args = (_verbose(verbose), _stream(stream))
        steps = max(1, -(-len(x) // batch_size))
        bar = ProgressBar(steps, *bar_args)
        outputs = []
        with self._guard.reading(self.name, "predict"):
            for step in range(steps):
                outputs.append(self._infer(x[step * batch_size : (step + 1) * batch_size])[0])
                bar.update(step + 1, {}, finalize=step == steps - 1)
        return np.concatenate(outputs)

    def evaluate(
        self,
        x: ArrayLike,
        y: ArrayLike,
        batch_size: int | None = None,
        verbose: int | str = 1,
        stream: TextIO | None = None,
    ) -> float | list[float]:
        """Loss (and accuracy) over the whole of ``x``, as Keras.

        Several threads may evaluate (and predict) with one model at once; not while it trains.

        Parameters
        ----------
        x : array_like, shape (N,) + input shape
        y : array_like of int, shape (N,)
            Class labels.
        batch_size : int, optional
            Default 32.
        verbose : {0, 1, 2, "auto"}
        stream : file-like, optional

        Returns
        -------
        float or [float, float]
            ``[loss, accuracy]`` when compiled with ``metrics=["accuracy"]``, else the loss.

        Raises
        ------
        RuntimeError
            Not compiled, or the model is training in another thread.
        """
        self._require_compiled("evaluate")
        x = self._prepare_x(x)
        y = self._prepare_y(y, len(x))
        if len(x) == 0:
            raise ValueError("`x` has no examples to evaluate")
        batch_size = _batch_size(batch_size)
        steps = max(1, -(-len(x) // batch_size))
        bar = ProgressBar(steps, _verbose(verbose), _stream(stream))
        total_loss = total_correct = seen = 0.0
        with self._guard.reading(self.name, "evaluate"):
            for step in range(steps):
                sl = slice(step * batch_size, (step + 1) * batch_size)
                loss, correct = self._test_step(x[sl], y[sl])
                count = len(x[sl])
                total_loss += loss * count
                total_correct += correct
                seen += count
                bar.update(step + 1, self._logs(total_loss, total_correct, seen), finalize=step == steps - 1)
        logs = self._logs(total_loss, total_correct, seen)
        return [logs["loss"], logs["accuracy"]] if self.metrics else logs["loss"]

    def _logs(self, total_loss: float, total_correct: float, seen: float, prefix: str = "") -> dict[str, float]:
        seen = max(seen, 1)
        logs = {}
        if self.metrics:
            logs[prefix + "accuracy"] = total_correct / seen
        logs[prefix + "loss"] = total_loss / seen
        return logs

    def fit(
        self,
        x: ArrayLike,
        y: ArrayLike,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = 1,
        validation_split: float = 0.0,
        validation_data: tuple[ArrayLike, ArrayLike] | None = None,
        shuffle: bool = True,
        stream: TextIO | None = None,
        callbacks: Sequence[callbacks_module.Callback] | None = None,
    ) -> History:
        """Train for ``epochs`` passes over ``(x, y)`` in mini-batches of ``batch_size`` (32).

        Parameters
        ----------
        x : array_like, shape (N,) + input shape
        y : array_like of int, shape (N,)
            Class labels.
        batch_size : int, optional
            Default 32.
        epochs : int
            >= 0.
        verbose : {0, 1, 2, "auto"}
            0 silent, 1 Keras's progress bar (one line per epoch), 2 one plain line per epoch.
        validation_split : float in [0, 1)
            Hold out this fraction of the examples (the *last* ones, before shuffling, as Keras).
        validation_data : (x_val, y_val), optional
        shuffle : bool
            Shuffle the examples before each epoch (reproducible after
            :func:`convops.nn.set_random_seed`).
        stream : file-like, optional
            Where the progress goes (default ``sys.stdout``).
        callbacks : list of Callback, optional
            E.g. :class:`~convops.nn.callbacks.EarlyStopping`,
            :class:`~convops.nn.callbacks.ModelCheckpoint`; their hooks run as in Keras.

        Returns
        -------
        History
            ``history.history`` maps ``"loss"``, ``"accuracy"`` (and ``"val_..."``) to one value per epoch:
            the mean over the epoch's examples, as Keras reports them.

        Raises
        ------
        RuntimeError
            Not compiled, or another call is using the model in another thread.
        """
        self._require_compiled("fit")
        x = self._prepare_x(x)
        y = self._prepare_y(y, len(x))
        epochs = as_int(epochs, "epochs")
        if epochs < 0:
            raise ValueError(f"`epochs` must be >= 0; got {epochs}")
        batch_size = _batch_size(batch_size)
        verbose = _verbose(verbose)
        validation_split = _checks.as_float(validation_split, "validation_split", 0.0, 1.0, high_open=True)
        shuffle = _checks.as_bool(shuffle, "shuffle")
        out = _stream(stream)
        hooks = _callbacks(callbacks)
        if validation_data is not None:
            validation_data = self._validation_data(validation_data)
        elif validation_split:
            cut = int(len(x) * (1 - validation_split))
            x, y, validation_data = x[:cut], y[:cut], (x[cut:], y[cut:])
        if len(x) == 0:
            raise ValueError("`x` has no examples to train on")
        with self._guard.writing(self.name, "fit"):
            return self._fit(x, y, batch_size, epochs, verbose, validation_data, shuffle, out, hooks)

    def _validation_data(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise TypeError(f"`validation_data` must be a pair (x_val, y_val); got {_checks.describe(data)}")
        try:
            x_val = self._prepare_x(data[0])
            y_val = self._prepare_y(data[1], len(x_val))
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"`validation_data`: {exc}") from None
        if len(x_val) == 0:
            raise ValueError("`validation_data` has no examples")
        return x_val, y_val

    def _fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        epochs: int,
        verbose: int,
        validation_data: tuple[np.ndarray, np.ndarray] | None,
        shuffle: bool,
        out: TextIO,
        hooks: list[callbacks_module.Callback],
    ) -> History:
        rng = next_generator()
        history = History()
        hooks = hooks + [history]
        steps = max(1, -(-len(x) // batch_size))
        for hook in hooks:
            hook.set_model(self)
            hook.set_params({"verbose": verbose, "epochs": epochs, "steps": steps})
        self.stop_training = False
        # Weights change between the hooks (restore_best_weights, user code): no writing guard
        # is held by them, fit's guard covers the whole call.
        for hook in hooks:
            hook.on_train_begin()
        logs: dict[str, float] = {}
        for epoch in range(epochs):
            for hook in hooks:
                hook.on_epoch_begin(epoch)
            if verbose:
                out.write(f"Epoch {epoch + 1}/{epochs}\n")
            order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
            bar = ProgressBar(steps, verbose, out)
            logs = self._train_epoch(x, y, order, batch_size, steps, bar, hooks)
            if validation_data is not None:
                val = self.evaluate(*validation_data, batch_size=batch_size, verbose=0)
                val = val if isinstance(val, list) else [val]
                if self.metrics:
                    logs["val_accuracy"] = val[1]  # Keras's order: alphabetical
                logs["val_loss"] = val[0]
            bar.update(steps, logs, finalize=True)
            for hook in hooks:
                hook.on_epoch_end(epoch, dict(logs))
            if self.stop_training:
                break
        for hook in hooks:
            hook.on_train_end(dict(logs))
        return history

    def _train_epoch(
        self,
        x: np.ndarray,
        y: np.ndarray,
        order: np.ndarray,
        batch_size: int,
        steps: int,
        bar: ProgressBar,
        hooks: list[callbacks_module.Callback],
    ) -> dict[str, float]:
        total_loss = total_correct = seen = 0.0
        for step in range(steps):
            index = order[step * batch_size : (step + 1) * batch_size]
            for hook in hooks:
                hook.on_train_batch_begin(step)
            loss, correct = self._train_step(np.ascontiguousarray(x[index]), y[index])
            total_loss += loss * len(index)
            total_correct += correct
            seen += len(index)
            for hook in hooks:
                hook.on_train_batch_end(step, self._logs(total_loss, total_correct, seen))
            if step < steps - 1:
                bar.update(step + 1, self._logs(total_loss, total_correct, seen))
        return self._logs(total_loss, total_correct, seen)

    # -- files ---------------------------------------------------------------------------------
    def save_weights(self, filepath: str | os.PathLike[str]) -> None:
        """Write every weight (moving statistics included) to ``filepath``, an ``.npz`` of plain
        arrays with a header naming each layer's weights (no ``.npz`` is appended to the name).

        Parameters
        ----------
        filepath : str or os.PathLike
        """
        with self._guard.reading(self.name, "save_weights"):
            saving.save_weights(self, filepath)

    def load_weights(self, filepath: str | os.PathLike[str]) -> None:
        """Load weights written by :meth:`save_weights`, or Keras 3's ``.weights.h5`` file of a
        model with the same architecture (needs h5py).

        Parameters
        ----------
        filepath : str or os.PathLike

        Raises
        ------
        ValueError
            The file is not a weights file, or its weights do not fit this model (nothing changes).
        ImportError
            A ``.h5`` file without h5py installed.
        """
        saving.load_weights(self, filepath)

    def save(self, filepath: str | os.PathLike[str]) -> None:
        """Write the architecture, the compile settings and every weight to one ``.npz`` file,
        read back by :func:`convops.nn.load_model`.

        Parameters
        ----------
        filepath : str or os.PathLike
        """
        with self._guard.reading(self.name, "save"):
            saving.save_model(self, filepath)

    # -- summary -------------------------------------------------------------------------------
    def summary(self, print_fn: Callable[[str], Any] | None = None) -> None:
        """Keras's table (layer, output shape, parameters) plus what Keras does not show: each
        layer's receptive field (how many input pixels can reach one of its units, and the jump
        between neighbouring units in input pixels) and its FLOPs per example.

        Parameters
        ----------
        print_fn : callable, optional
            Called with each line (default ``print``).
        """
        self._require_built("summary")
        if print_fn is not None and not callable(print_fn):
            raise TypeError(f"`print_fn` must be callable (or None for print); got {_checks.describe(print_fn)}")
        for line in summary_lines(self):
            (print_fn or print)(line)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {len(self._layers)} layers>"


class Sequential(Model):
    """Layers applied one after the other, as ``keras.Sequential``.

    Parameters
    ----------
    layers : sequence of Layer, optional
        The first may be ``Input(...)``, or give the first layer ``input_shape=``.
    name : str, optional
        The model's name (``"sequential"``, ``"sequential_1"``, ... by default, as Keras).

    Examples
    --------
    >>> from convops.nn import layers, Sequential
    >>> model = Sequential([layers.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"),
    ...                     layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(10, activation="softmax")])
    >>> model.count_params()
    54410
    """

    def __init__(self, layers: Sequence[Layer | SymbolicTensor] | None = None, name: str | None = None):
        super().__init__(name=name, layers=layers)

    def _default_name(self) -> str:
        return "sequential"

    def pop(self) -> Layer:
        """Remove the last layer.

        Returns
        -------
        Layer
        """
        if not self._layers:
            raise IndexError("there is no layer to remove")
        return self._layers.pop()


def _correct(y: np.ndarray, out: np.ndarray) -> float:
    """The sum over the batch of each example's accuracy, chosen from the shapes as Keras's
    ``"accuracy"``: sparse categorical for integer labels, binary (threshold 0.5) for one
    output unit, else categorical (the argmax of the targets)."""
    if len(out) == 0:
        return 0.0
    if y.ndim < out.ndim:
        hits = np.argmax(out, axis=-1) == y.reshape(out.shape[:-1])
    elif out.shape[-1] == 1:
        hits = (out > 0.5) == (y > 0.5)
    else:
        hits = np.argmax(out, axis=-1) == np.argmax(y, axis=-1)
    return float(hits.reshape(len(out), -1).mean(axis=1).sum())


def _callbacks(callbacks: Any) -> list[callbacks_module.Callback]:
    if callbacks is None:
        return []
    if isinstance(callbacks, callbacks_module.Callback):
        return [callbacks]
    if isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
        raise TypeError(f"`callbacks` must be a list of Callback objects; got {_checks.describe(callbacks)}")
    callbacks = list(callbacks)
    for index, hook in enumerate(callbacks):
        if not isinstance(hook, callbacks_module.Callback):
            raise TypeError(
                f"`callbacks`: item {index} must be a convops.nn.callbacks.Callback (subclass it for your "
                f"own hooks); got {_checks.describe(hook)}"
            )
    return callbacks


def _batch_size(batch_size: int | None) -> int:
    value = 32 if batch_size is None else as_int(batch_size, "batch_size")
    if value < 1:
        raise ValueError(f"`batch_size` must be >= 1; got {value}")
    return value


def _stream(stream: Any) -> TextIO:
    if stream is None:
        return sys.stdout
    if not callable(getattr(stream, "write", None)):
        raise TypeError(
            f"`stream` must be a file-like object with write() (or None for sys.stdout); got {_checks.describe(stream)}"
        )
    return stream


def _verbose(verbose: Any) -> int:
    if isinstance(verbose, str):
        if verbose == "auto":
            return 1
        raise ValueError(f"`verbose` must be 0, 1, 2 or 'auto'; got {verbose!r}")
    value = as_int(verbose, "verbose")
    if value not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 0, 1, 2 or 'auto'; got {verbose!r}")
    return value

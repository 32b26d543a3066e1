"""convops.nn at its edges: what it refuses when a model is built, and one model shared by threads.

* Every layer refuses float16 (and Keras's mixed-precision policy names) when constructed, with a
  ValueError naming ``dtype``; Keras computes those in float16, which convops cannot reproduce.
* Every layer refuses, when built, a geometry that would give it an empty output (a window
  larger than its input, a zero-size input): otherwise the model predicts its last bias for
  every input. Keras's own output-shape arithmetic (``compute_output_shape``) is the oracle for
  which geometries are empty.
* Concurrent ``predict``/``evaluate`` on one model from several Python threads give, bit for bit,
  the single-threaded results; ``fit``/``train_on_batch`` overlapping any other call on the model
  raise RuntimeError instead of corrupting it, and leave it usable.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import convops
from convops import nn
from convops.nn import layers

ALL_LAYERS = [
    lambda dtype: layers.Conv2D(2, 3, dtype=dtype),
    lambda dtype: layers.MaxPooling2D(2, dtype=dtype),
    lambda dtype: layers.AveragePooling2D(2, dtype=dtype),
    lambda dtype: layers.Flatten(dtype=dtype),
    lambda dtype: layers.Dense(3, dtype=dtype),
    lambda dtype: layers.ReLU(dtype=dtype),
    lambda dtype: layers.Softmax(dtype=dtype),
    lambda dtype: layers.Activation("tanh", dtype=dtype),
    lambda dtype: layers.InputLayer((4, 4, 1), dtype=dtype),
    lambda dtype: layers.Input((4, 4, 1), dtype=dtype),
]


@pytest.mark.parametrize("make", ALL_LAYERS)
@pytest.mark.parametrize("dtype", ["float16", np.float16, "mixed_float16", "mixed_bfloat16", "int32", "complex64"])
def test_every_layer_refuses_dtypes_it_cannot_compute(make, dtype):
    with pytest.raises(ValueError, match=r"`dtype` of a layer must be 'float32' or 'float64'") as info:
        make(dtype)
    assert str(np.dtype(dtype) if "mixed" not in str(dtype) else dtype) in str(info.value)


@pytest.mark.parametrize("make", ALL_LAYERS)
@pytest.mark.parametrize("dtype", [3.5, object(), [1, 2]])
def test_every_layer_refuses_non_dtypes_by_name(make, dtype):
    with pytest.raises(TypeError, match=r"`dtype`"):
        make(dtype)


@pytest.mark.parametrize("make", ALL_LAYERS)
@pytest.mark.parametrize("dtype", ["float32", "float64", np.float32, None])
def test_every_layer_accepts_its_dtypes(make, dtype):
    made = make(dtype)
    layer = made.layer if isinstance(made, layers.SymbolicTensor) else made
    assert layer.dtype == np.dtype(dtype if dtype is not None else "float32")


def keras_output_shape(kind, kwargs, input_shape):
    """Keras's own arithmetic: the layer's output shape (or None when Keras itself refuses)."""
    import oracle

    oracle.load()
    import keras

    cls = {"conv": keras.layers.Conv2D, "max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}[kind]
    try:
        return tuple(cls(**kwargs).compute_output_shape((None,) + input_shape))[1:]
    except ValueError:
        return None


@given(
    kind=st.sampled_from(["conv", "max", "avg"]),
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    k=st.tuples(st.integers(1, 8), st.integers(1, 8)),
    s=st.integers(1, 3),
    padding=st.sampled_from(["valid", "same"]),
)
def test_windows_that_do_not_fit_are_refused_when_built(kind, h, w, k, s, padding):
    kwargs = dict(strides=s, padding=padding)
    if kind == "conv":
        kwargs.update(filters=2, kernel_size=k)
        layer = layers.Conv2D(**kwargs)
    else:
        kwargs.update(pool_size=k)
        layer = (layers.MaxPooling2D if kind == "max" else layers.AveragePooling2D)(**kwargs)
    try:
        want = keras_output_shape(kind, kwargs, (h, w, 1))
    except ImportError:
        pytest.skip("TensorFlow (the oracle) is not importable here")
    empty = want is None or any(side is not None and side <= 0 for side in want)
    if empty:
        with pytest.raises(
            ValueError,
            match=rf"{type(layer).__name__} '{layer.name}': .*does not fit input "
            rf"\({h}, {w}\).*gives output",
        ):
            nn.Sequential([layers.Input((h, w, 1)), layer])
        assert not layer.built and layer.params == {}
    else:
        model = nn.Sequential([layers.Input((h, w, 1)), layer])
        assert model.output_shape[1:] == want


def test_pool_larger_than_input_no_longer_predicts_the_bias():
    with pytest.raises(ValueError, match=r"MaxPooling2D 'big_pool': a \(5, 5\) window does not fit input \(4, 4\)"):
        nn.Sequential(
            [layers.Input((4, 4, 1)), layers.MaxPooling2D(5, name="big_pool"), layers.Flatten(), layers.Dense(3)]
        )
    model = nn.Sequential(
        [layers.Input((4, 4, 1)), layers.MaxPooling2D(5, padding="same"), layers.Flatten(), layers.Dense(3)]
    )
    assert model.output_shape == (None, 3)


@pytest.mark.parametrize(
    "build",
    [
        lambda: layers.Input((0, 4, 1)),
        lambda: layers.Input(()),
        lambda: layers.Input((3, -1)),
        lambda: nn.Sequential().build((None, 4, 0)),
        lambda: layers.Flatten().build((2, 0, 3)),
        lambda: layers.Dense(3).build((0,)),
        lambda: layers.Dense(3, input_shape=(0,)),
        lambda: layers.Dense(0),
        lambda: layers.Conv2D(0, 3),
    ],
)
def test_zero_size_inputs_and_layers_are_refused_by_name(build):
    with pytest.raises(ValueError, match=r"`(shape|input_shape|units|filters)`"):
        build()


# --------------------------------------------------------------------------- threads


def small_model(seed=0):
    nn.set_random_seed(seed)
    model = nn.Sequential(
        [
            layers.Input((9, 9, 2)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(3, 2, activation="tanh"),
            layers.AveragePooling2D(2, padding="same"),
            layers.Flatten(),
            layers.Dense(5, activation="softmax"),
        ]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run_threads(targets):
    errors = []

    def wrap(target):
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


def bits(values):
    return [np.asarray(v, dtype=np.float64).tobytes() for v in values]


def test_concurrent_evaluate_and_predict_equal_the_serial_results_bit_for_bit():
    model = small_model()
    rng = np.random.default_rng(1)
    batches = [(rng.standard_normal((n, 9, 9, 2)).astype(np.float32), rng.integers(0, 5, n)) for n in (3, 7, 16, 1)]
    want_eval = [model.evaluate(x, y, batch_size=4, verbose=0) for x, y in batches]
    want_pred = [model.predict(x, batch_size=5, verbose=0) for x, _ in batches]
    want_test = [model.test_on_batch(x, y) for x, y in batches]
    mismatches = []

    def worker(offset):
        def run():
            for i in range(60):
                j = (i + offset) % len(batches)
                x, y = batches[j]
                if bits(model.evaluate(x, y, batch_size=4, verbose=0)) != bits(want_eval[j]):
                    mismatches.append(("evaluate", j))
                if model.predict(x, batch_size=5, verbose=0).tobytes() != want_pred[j].tobytes():
                    mismatches.append(("predict", j))
                if bits(model.test_on_batch(x, y)) != bits(want_test[j]):
                    mismatches.append(("test_on_batch", j))

        return run

    with convops.num_threads(2):
        run_threads([worker(k) for k in range(4)])
    assert not mismatches, mismatches[:10]


def test_training_overlapping_any_call_is_refused_and_leaves_the_model_usable():
    model = small_model()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 9, 9, 2)).astype(np.float32)
    y = rng.integers(0, 5, 64)
    started, release = threading.Event(), threading.Event()
    original = model._train_step

    def slow_step(*args):  # hold the first training step until the main thread has tried
        started.set()
        release.wait(60)
        return original(*args)

    model._train_step = slow_step
    fitter = threading.Thread(target=lambda: model.fit(x, y, epochs=1, batch_size=64, verbose=0))
    fitter.start()
    try:
        assert started.wait(60)
        for call in (
            lambda: model.predict(x, verbose=0),
            lambda: model.evaluate(x, y, verbose=0),
            lambda: model.fit(x, y, verbose=0),
            lambda: model.train_on_batch(x, y),
            lambda: model.loss_and_gradients(x, y),
            lambda: model.set_weights(model.get_weights()),
            lambda: model.test_on_batch(x, y),
            lambda: model.predict_on_batch(x),
        ):
            with pytest.raises(RuntimeError, match=r"while fit\(\) is running on this model in another thread"):
                call()
    finally:
        release.set()
        fitter.join(60)
    del model._train_step
    # After the refusals the model works and is untouched by them: same weights as a model
    # trained alone on the same data from the same seed.
    alone = small_model()
    alone.fit(x, y, epochs=1, batch_size=64, verbose=0)
    assert bits(model.get_weights()) == bits(alone.get_weights())
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)


def test_fit_is_refused_while_another_thread_predicts():
    model = small_model()
    x = np.zeros((4, 9, 9, 2), np.float32)
    started, release = threading.Event(), threading.Event()
    original = model._infer

    def slow_infer(batch):
        started.set()
        release.wait(60)
        return original(batch)

    model._infer = slow_infer
    predictor = threading.Thread(target=lambda: model.predict(x, verbose=0))
    predictor.start()
    try:
        assert started.wait(60)
        before = bits(model.get_weights())
        with pytest.raises(RuntimeError, match=r"fit\(\) was called while an inference call"):
            model.fit(x, [0, 1, 2, 3], verbose=0)
        assert bits(model.get_weights()) == before
    finally:
        release.set()
        predictor.join(60)


# --------------------------------------------------------------------------- docstrings


def test_every_public_callable_documents_its_parameters_and_return():
    """numpydoc's GL08 (a docstring), PR01 (every parameter documented) and RT01 (a Returns
    section) for every public function, class and method of nn, datasets and arithmetic -- the
    same introspection as the API fuzzer, so a new function is checked too."""
    validate = pytest.importorskip("numpydoc.validate").validate
    from hardening.fuzz_api import discover

    problems = {}
    for name in sorted(discover()):
        errors = [
            f"{code}: {message}" for code, message in validate(name)["errors"] if code in ("GL08", "PR01", "RT01")
        ]
        if errors:
            problems[name] = errors
    assert not problems, problems


# --------------------------------------------------------------------------- named refusals


def test_the_reported_unnamed_errors_now_name_their_argument():
    model = small_model()
    x, y = np.zeros((4, 9, 9, 2), np.float32), np.array([0, 1, 2, 3])
    with pytest.raises(TypeError, match=r"`validation_split` must be a real number; got '0\.2' \(str\)"):
        model.fit(x, y, validation_split="0.2", verbose=0)
    with pytest.raises(ValueError, match=r"`validation_split` must be a finite number in \[0\.0, 1\.0\); got nan"):
        model.fit(x, y, validation_split=float("nan"), verbose=0)
    for function in (nn.losses.sparse_categorical_accuracy, nn.losses.sparse_categorical_crossentropy):
        with pytest.raises(
            ValueError,
            match=r"`y_pred` must have shape \(N, classes\) with classes >= 1, one row "
            r"of scores per example; got shape \(4,\)",
        ):
            function(y, np.full(4, 0.25))
    with pytest.raises(ValueError, match=r"`y` must be sparse labels of shape \(N,\) = \(4,\)"):
        model.evaluate(x, np.zeros((4, 5)), verbose=0)
    with pytest.raises(TypeError, match=r"`shuffle` must be a bool; got 'no' \(str\)"):
        model.fit(x, y, shuffle="no", verbose=0)
    with pytest.raises(TypeError, match=r"`stream` must be a file-like object"):
        model.predict(x, stream="stdout")

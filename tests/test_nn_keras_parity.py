# Size: one file per the brief's request: every new layer, loss, callback and file format of
# convops.nn against Keras 3 (the installed TensorFlow's), plus the argument checks.
"""convops.nn's second chapter against Keras 3 (TensorFlow backend, oneDNN off).

* Layers (Dropout, BatchNormalization, Conv2DTranspose, GlobalAveragePooling2D, ZeroPadding2D):
  the same weights and inputs give Keras's outputs in training and inference, and the backward
  pass gives ``tf.GradientTape``'s gradients of ``sum(y * dy)`` for the input and every weight.
  In float64 they agree to ~1e-12 relative (the tolerances below); ZeroPadding2D and the
  pooling are exact.
* Losses (categorical and binary crossentropy, mean squared error): value and gradient against
  Keras's loss classes under GradientTape, from probabilities and from logits.
* Callbacks: EarlyStopping fed the same monitored values as Keras's own EarlyStopping stops at
  the same epoch and restores the same epoch's weights; ModelCheckpoint writes the files Keras
  would name.
* Files: save/load round trips give bit-identical predictions; foreign and corrupt files are
  refused; a Keras ``.weights.h5`` loads into the same architecture.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

import oracle
from convops import nn
from convops.nn import layers


@pytest.fixture(scope="module")
def tf():
    return oracle.load()  # TensorFlow first, with oneDNN off (see tests/oracle.py)


@pytest.fixture(scope="module")
def keras(tf):
    import keras

    return keras


def _max_rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b))))) if a.size else 0.0


def _keras_forward_backward(tf, klayer, x, dy, training):
    """Keras's output and, under GradientTape, d(sum(y * dy))/d(x and each trainable weight)."""
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = klayer(xt, training=training)
        objective = tf.reduce_sum(y * tf.constant(dy))
    grads = tape.gradient(objective, [xt] + [v.value for v in klayer.trainable_weights])
    return y.numpy(), [g.numpy() for g in grads]


def _compare_layer(tf, mine, klayer, x, training=True, rtol=1e-12, seed=0):
    """Build both on x's shape, give Keras convops's weights, and compare outputs and gradients."""
    mine.build(x.shape[1:])
    klayer.build((None,) + x.shape[1:])
    klayer.set_weights(mine.get_weights())
    y = mine.forward(x, training=training)
    dy = np.random.default_rng(seed).standard_normal(y.shape).astype(x.dtype)
    ky, kgrads = _keras_forward_backward(tf, klayer, x, dy, training)
    assert y.shape == ky.shape
    assert _max_rel(y, ky) <= rtol, f"forward: max relative difference {_max_rel(y, ky):.3g}"
    if training:
        dx = mine.backward(dy)
        assert _max_rel(dx, kgrads[0]) <= rtol, f"dx: {_max_rel(dx, kgrads[0]):.3g}"
        keys = mine.trainable_keys()
        assert len(keys) == len(kgrads) - 1
        for key, kgrad in zip(keys, kgrads[1:]):
            assert _max_rel(mine.grads[key], kgrad) <= rtol, f"d{key}: {_max_rel(mine.grads[key], kgrad):.3g}"
    for ours, theirs in zip(mine.get_weights(), klayer.get_weights()):  # moving statistics too
        assert _max_rel(ours, theirs) <= rtol
    return y, ky


# -- layers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        (dict(filters=3, kernel_size=3), (2, 5, 4, 2)),
        (dict(filters=2, kernel_size=(3, 2), strides=2, padding="same", activation="relu"), (2, 4, 5, 3)),
        (dict(filters=4, kernel_size=2, strides=(2, 3), padding="valid", use_bias=False), (1, 3, 3, 2)),
        (dict(filters=2, kernel_size=(1, 4), strides=3, padding="valid", activation="sigmoid"), (3, 2, 3, 1)),
    ],
)
def test_conv2d_transpose_matches_keras(tf, keras, kwargs, shape):
    x = np.random.default_rng(1).standard_normal(shape)
    nn.set_random_seed(3)
    mine = layers.Conv2DTranspose(dtype="float64", bias_initializer="random_normal", **kwargs)
    klayer = keras.layers.Conv2DTranspose(dtype="float64", **kwargs)
    _compare_layer(tf, mine, klayer, x)
    assert mine.name.startswith("conv2d_transpose")


@pytest.mark.parametrize("padding, shape", [("same", (1, 6, 5, 2)), ("valid", (2, 4, 3, 1))])
def test_dilated_conv2d_transpose_is_the_transpose_of_tf_conv2d(tf, padding, shape):
    """TensorFlow's CPU kernel refuses a dilated transposed convolution, so Keras cannot be the
    oracle; the definition can: <T(x), u> = <x, conv2d(u)> for every u, conv2d TF's own."""
    rng = np.random.default_rng(14)
    x = rng.standard_normal(shape)
    layer = layers.Conv2DTranspose(3, (3, 2), dilation_rate=2, padding=padding, use_bias=False, dtype="float64")
    layer.build(shape[1:])
    y = layer.forward(x, training=True)
    u = rng.standard_normal(y.shape)
    kernel = layer.get_weights()[0]
    conv_u = tf.nn.conv2d(u, kernel, 1, padding.upper(), dilations=2).numpy()
    assert conv_u.shape == x.shape
    assert abs(np.sum(y * u) - np.sum(x * conv_u)) < 1e-10 * np.sum(np.abs(y * u))
    np.testing.assert_allclose(layer.backward(u), conv_u, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_average_pooling_matches_keras(tf, keras, keepdims):
    x = np.random.default_rng(2).standard_normal((3, 4, 5, 2))
    mine = layers.GlobalAveragePooling2D(keepdims=keepdims, dtype="float64")
    _compare_layer(tf, mine, keras.layers.GlobalAveragePooling2D(keepdims=keepdims, dtype="float64"), x)


@pytest.mark.parametrize("padding", [1, (2, 0), ((1, 2), (0, 3)), [[0, 1], [2, 2]]])
def test_zero_padding_matches_keras_exactly(tf, keras, padding):
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 2)).astype(np.float32)
    mine = layers.ZeroPadding2D(padding)
    y, ky = _compare_layer(tf, mine, keras.layers.ZeroPadding2D(padding), x, rtol=0.0)
    np.testing.assert_array_equal(y, ky)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 2, 5)])
def test_batch_normalization_matches_keras(tf, keras, training, shape):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape) * 3 + 1.5
    mine = layers.BatchNormalization(dtype="float64")
    mine.build(shape[1:])
    # Non-trivial weights: gamma, beta and moving statistics all away from their initial values.
    mine.set_weights(
        [
            rng.uniform(0.5, 2, shape[-1]),
            rng.standard_normal(shape[-1]),
            rng.standard_normal(shape[-1]),
            rng.uniform(0.5, 2, shape[-1]),
        ]
    )
    klayer = keras.layers.BatchNormalization(dtype="float64")
    _compare_layer(tf, mine, klayer, x, training=training, rtol=1e-12)
    # Keras's weight order and defaults.
    assert [w.shape for w in mine.get_weights()] == [w.shape for w in klayer.get_weights()]
    assert (mine.momentum, mine.epsilon, mine.axis) == (klayer.momentum, klayer.epsilon, klayer.axis)


def test_batch_normalization_float32_and_options_match_keras(tf, keras):
    x = np.random.default_rng(5).standard_normal((8, 3, 3, 4)).astype(np.float32)
    for kwargs in (dict(), dict(center=False), dict(scale=False, momentum=0.5, epsilon=1e-5)):
        mine = layers.BatchNormalization(**kwargs)
        _compare_layer(tf, mine, keras.layers.BatchNormalization(**kwargs), x, rtol=2e-6)


def test_dropout_keeps_keras_scaling_and_is_identity_in_inference(tf, keras):
    x = np.random.default_rng(6).uniform(1, 2, (64, 50)).astype(np.float32)
    nn.set_random_seed(7)
    mine = layers.Dropout(0.3)
    mine.build(x.shape[1:])
    np.testing.assert_array_equal(mine.forward(x, training=False), x)
    y = mine.forward(x, training=True)
    ky = keras.layers.Dropout(0.3, seed=1)(x, training=True).numpy()
    # Keras's rule on its own random mask: kept values are x * (1 / (1 - rate)) with the
    # reciprocal rounded to float32 (tf.nn.dropout), bit for bit; ours too.
    scale = np.float32(1) / np.float32(0.7)
    for out in (y, ky):
        kept = out != 0
        np.testing.assert_array_equal(out[kept], (x * scale)[kept])
        assert 0.25 < 1 - kept.mean() < 0.35
    dy = np.random.default_rng(8).standard_normal(y.shape).astype(np.float32)
    dx = mine.backward(dy)
    np.testing.assert_array_equal(dx, np.where(y != 0, dy * scale, 0))
    # Seeded: the same masks again.
    nn.set_random_seed(7)
    again = layers.Dropout(0.3)
    again.build(x.shape[1:])
    np.testing.assert_array_equal(again.forward(x, training=True), y)


def test_dropout_noise_shape_drops_whole_channels():
    x = np.ones((4, 3, 3, 8), np.float32)
    nn.set_random_seed(1)
    layer = layers.Dropout(0.5, noise_shape=(None, 1, 1, 8))
    layer.build(x.shape[1:])
    y = layer.forward(x, training=True)
    per_channel = y.reshape(4, 9, 8)
    assert (per_channel == per_channel[:, :1, :]).all()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).mean() < 1


def test_model_with_every_new_layer_predicts_and_trains_like_keras(tf, keras):
    """A whole model in float64: Keras's weights give Keras's predictions and loss gradients."""

    def build(kl, **d):
        return [
            kl.ZeroPadding2D(1, **d),
            kl.Conv2D(3, 3, activation="relu", **d),
            kl.BatchNormalization(**d),
            kl.Conv2DTranspose(2, 3, strides=2, padding="same", **d),
            kl.GlobalAveragePooling2D(**d),
            kl.Dropout(0.0, **d),
            kl.Dense(4, activation="softmax", **d),
        ]

    x = np.random.default_rng(9).standard_normal((5, 6, 6, 2))
    y = np.array([0, 3, 1, 2, 3])
    km = keras.Sequential([keras.Input((6, 6, 2), dtype="float64")] + build(keras.layers, dtype="float64"))
    model = nn.Sequential([layers.Input((6, 6, 2), dtype="float64")] + build(layers, dtype="float64"))
    model.set_weights(km.get_weights())
    # km(x), not km.predict(x): predict's data adapter casts float64 inputs to float32.
    assert _max_rel(model.predict(x, verbose=0), km(x, training=False).numpy()) < 1e-12
    model.compile(loss="sparse_categorical_crossentropy")
    loss, grads = model.loss_and_gradients(x, y)
    with tf.GradientTape() as tape:
        kloss = keras.losses.SparseCategoricalCrossentropy(dtype="float64")(y, km(x, training=True))
    kgrads = tape.gradient(kloss, km.trainable_weights)
    assert abs(loss - float(kloss)) < 1e-12
    for ours, theirs in zip(grads, kgrads):
        assert _max_rel(ours, theirs.numpy()) < 1e-10
    # The training pass moved the moving statistics as Keras's did.
    for ours, theirs in zip(model.get_weights(), km.get_weights()):
        assert _max_rel(ours, theirs) < 1e-12


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: layers.Dropout(1.0), "`rate`"),
        (lambda: layers.Dropout("0.5"), "`rate`"),
        (lambda: layers.Dropout(0.5, noise_shape=3), "`noise_shape`"),
        (lambda: layers.BatchNormalization(axis=1), "`axis`"),
        (lambda: layers.BatchNormalization(momentum=1.5), "`momentum`"),
        (lambda: layers.BatchNormalization(epsilon=0), "`epsilon`"),
        (lambda: layers.BatchNormalization(center=1), "`center`"),
        (lambda: layers.Conv2DTranspose(0, 3), "`filters`"),
        (lambda: layers.Conv2DTranspose(2, 3, strides=2, dilation_rate=2), "`dilation_rate`"),
        (lambda: layers.Conv2DTranspose(2, 3, padding="full"), "`padding`"),
        (lambda: layers.GlobalAveragePooling2D(keepdims="yes"), "`keepdims`"),
        (lambda: layers.ZeroPadding2D(-1), "`padding`"),
        (lambda: layers.ZeroPadding2D((1, 2, 3)), "`padding`"),
        (lambda: layers.ZeroPadding2D(((1, 2), 3)), "`padding`"),
    ],
)
def test_bad_layer_arguments_name_the_argument(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_dropout_noise_shape_must_broadcast():
    layer = layers.Dropout(0.5, noise_shape=(None, 2))
    layer.build((3,))
    with pytest.raises(ValueError, match="`noise_shape`"):
        layer.forward(np.ones((2, 3)), training=True)


# -- losses ----------------------------------------------------------------------------------------


def _loss_case(kind, from_logits, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "categorical_crossentropy":
        z = rng.standard_normal((6, 4)) * 3
        y = rng.dirichlet(np.ones(4), 6)  # soft targets: the general formula
        y[:3] = np.eye(4)[[0, 3, 1]]
        pred = z if from_logits else np.exp(z) / np.exp(z).sum(1, keepdims=True)
    elif kind == "binary_crossentropy":
        z = rng.standard_normal((5, 3)) * 4
        y = rng.integers(0, 2, (5, 3)).astype(float)
        pred = z if from_logits else 1 / (1 + np.exp(-z))
        pred[0, 0] = 0.0 if not from_logits else pred[0, 0]  # a clipped value: no gradient
    else:
        pred = rng.standard_normal((4, 2, 3))
        y = rng.standard_normal((4, 2, 3))
    return y.astype(dtype), pred.astype(dtype)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 2e-6)])
@pytest.mark.parametrize(
    "kind, cls, from_logits",
    [
        ("categorical_crossentropy", "CategoricalCrossentropy", False),
        ("categorical_crossentropy", "CategoricalCrossentropy", True),
        ("binary_crossentropy", "BinaryCrossentropy", False),
        ("binary_crossentropy", "BinaryCrossentropy", True),
        ("mean_squared_error", "MeanSquaredError", None),
    ],
)
def test_losses_match_keras_value_and_gradient(tf, keras, kind, cls, from_logits, dtype, rtol):
    y, pred = _loss_case(kind, from_logits, dtype)
    kwargs = {} if from_logits is None else {"from_logits": from_logits}
    mine = getattr(nn.losses, cls)(**kwargs)
    theirs = getattr(keras.losses, cls)(dtype=dtype, **kwargs)
    value, grad = mine.value_and_grad(y, pred)
    p = tf.constant(pred)
    with tf.GradientTape() as tape:
        tape.watch(p)
        kvalue = theirs(tf.constant(y), p)
    kgrad = tape.gradient(kvalue, p).numpy()
    assert abs(value - float(kvalue)) <= rtol * max(1, abs(float(kvalue)))
    assert grad.dtype == np.dtype(dtype)
    assert _max_rel(grad, kgrad) <= rtol, f"gradient: {_max_rel(grad, kgrad):.3g}"
    # The functional forms are Keras's per-example values; compile's strings find the classes.
    per_example = getattr(nn.losses, kind)(y, pred, **kwargs)
    kper = getattr(keras.losses, kind)(y, pred, **kwargs).numpy()
    assert per_example.shape == kper.shape and _max_rel(per_example, kper) <= rtol
    assert type(nn.losses.get(kind)) is type(mine)
    assert type(nn.losses.get("mse")) is nn.losses.MeanSquaredError


@pytest.mark.parametrize(
    "loss, activation, units, make_y",
    [
        ("categorical_crossentropy", "softmax", 3, lambda rng, n: np.eye(3)[rng.integers(0, 3, n)]),
        ("binary_crossentropy", "sigmoid", 1, lambda rng, n: rng.integers(0, 2, (n, 1)).astype(float)),
        ("mse", "linear", 2, lambda rng, n: rng.standard_normal((n, 2))),
    ],
)
def test_models_with_each_loss_match_keras_gradients_and_training(
    tf, keras, keras_float64, loss, activation, units, make_y
):
    """Loss and gradients of a small conv net (softmax/sigmoid outputs: Keras's logits path), then
    four SGD steps with fit: losses and weights as Keras's."""
    rng = np.random.default_rng(10)
    x, y = rng.standard_normal((6, 5, 5, 2)), make_y(rng, 6)

    def build(kl):
        return [kl.Conv2D(2, 3, activation="relu"), kl.Flatten(), kl.Dense(units, activation=activation)]

    km = keras.Sequential([keras.Input((5, 5, 2))] + build(keras.layers))
    model = nn.Sequential([layers.Input((5, 5, 2), dtype="float64")] + build_f64(build))
    model.set_weights(km.get_weights())
    model.compile(optimizer=nn.SGD(0.1), loss=loss, metrics=["accuracy"] if loss != "mse" else None)
    km.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, metrics=["accuracy"] if loss != "mse" else None)
    value, grads = model.loss_and_gradients(x, y)
    with tf.GradientTape() as tape:
        kvalue = km.compute_loss(x=x, y=tf.constant(y), y_pred=km(x, training=True))
    kgrads = tape.gradient(kvalue, km.trainable_weights)
    assert abs(value - float(kvalue)) < 1e-12
    for ours, theirs in zip(grads, kgrads):
        assert _max_rel(ours, theirs.numpy()) < 1e-10
    history = model.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0)
    khistory = km.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0)
    for key in khistory.history:
        assert _max_rel(history.history[key], khistory.history[key]) < 1e-9, key
    for ours, theirs in zip(model.get_weights(), km.get_weights()):
        assert _max_rel(ours, theirs) < 1e-9


def build_f64(build):
    return build(_Float64Layers())


class _Float64Layers:
    """``layers`` with dtype='float64' by default (Keras's side follows keras.config.floatx())."""

    def __getattr__(self, name):
        cls = getattr(layers, name)
        return lambda *args, **kwargs: cls(*args, dtype="float64", **kwargs)


@pytest.fixture
def keras_float64(keras):
    """float64 for Keras's layers, losses and metrics in one test. Both settings: Keras caches its
    global dtype policy at the first layer call, after which set_floatx alone changes nothing."""
    previous = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx(previous[0])
    keras.config.set_dtype_policy(previous[1])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: nn.losses.get("hinge"), "`loss`"),
        (lambda: nn.losses.get(3), "`loss`"),
        (lambda: nn.losses.CategoricalCrossentropy(from_logits="no"), "`from_logits`"),
        (lambda: nn.losses.binary_crossentropy(np.ones((2, 3)), np.ones((2, 2))), "`y_true`"),
        (lambda: nn.losses.categorical_crossentropy([0, 1], np.ones((2, 2))), "sparse_categorical_crossentropy"),
        (lambda: nn.losses.mse(np.ones((2, 2)), np.array([["a", "b"]] * 2)), "`y_pred`"),
    ],
)
def test_bad_loss_arguments_name_the_argument(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


# -- callbacks -------------------------------------------------------------------------------------


class _ScriptedModel:
    """Just what a callback touches: weights that name their epoch, stop_training, saving."""

    def __init__(self):
        self.epoch, self.stop_training, self.restored, self.saved = 0, False, None, []

    def get_weights(self):
        return [np.array(self.epoch)]

    def set_weights(self, weights):
        self.restored = int(weights[0])

    def save_weights(self, filepath, overwrite=True):
        self.saved.append(str(filepath))

    save = save_weights


def _run_callback(callback, values, monitor="val_loss"):
    model = _ScriptedModel()
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in enumerate(values):
        model.epoch = epoch
        callback.on_epoch_end(epoch, {"loss": 1.0, monitor: value})
        if model.stop_training:
            break
    callback.on_train_end()
    return model


@pytest.mark.parametrize("seed", range(12))
def test_early_stopping_stops_and_restores_like_keras(keras, seed):
    rng = np.random.default_rng(seed)
    values = np.round(rng.uniform(0, 1, 15), 1).tolist()  # ties on purpose: min_delta matters
    monitor, mode = ("val_loss", "auto") if seed % 2 else ("val_accuracy", "max")
    kwargs = dict(
        monitor=monitor,
        mode=mode,
        patience=int(rng.integers(0, 4)),
        min_delta=float(rng.choice([0.0, 0.1])),
        restore_best_weights=bool(seed % 3),
        baseline=[None, 0.5][seed % 4 == 0],
        start_from_epoch=int(seed % 5 == 0),
    )
    ours = _run_callback(nn.EarlyStopping(**kwargs), values, monitor)
    theirs = _run_callback(keras.callbacks.EarlyStopping(**kwargs), values, monitor)
    assert (ours.epoch, ours.restored) == (theirs.epoch, theirs.restored), kwargs


@pytest.mark.parametrize("save_best_only, mode", [(False, "auto"), (True, "auto"), (True, "max")])
def test_model_checkpoint_saves_the_epochs_keras_saves(keras, save_best_only, mode):
    values = [0.5, 0.4, 0.45, 0.3, 0.3, 0.6]
    pattern = "/tmp/ckpt-{epoch:02d}-{val_loss:.2f}.weights.h5"
    kwargs = dict(save_best_only=save_best_only, save_weights_only=True, mode=mode)
    ours = _run_callback(nn.ModelCheckpoint(pattern, **kwargs), values)
    theirs = _run_callback(keras.callbacks.ModelCheckpoint(pattern, **kwargs), values)
    assert ours.saved == theirs.saved and ours.saved


def test_fit_runs_hooks_in_keras_order_and_early_stopping_restores_best_weights(tmp_path):
    events = []

    class Recorder(nn.Callback):
        def on_train_begin(self, logs=None):
            events.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            events.append(f"epoch_begin {epoch}")

        def on_train_batch_end(self, batch, logs=None):
            events.append(f"batch_end {batch}")

        def on_epoch_end(self, epoch, logs=None):
            events.append(f"epoch_end {epoch} {sorted(logs)}")

        def on_train_end(self, logs=None):
            events.append("train_end")

    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((12, 4)), rng.integers(0, 3, 12)
    nn.set_random_seed(0)
    model = nn.Sequential([layers.Input((4,), dtype="float64"), layers.Dense(3, activation="softmax", dtype="float64")])
    model.compile(optimizer=nn.SGD(5.0), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    weights_per_epoch = []

    class Snapshot(nn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            weights_per_epoch.append(self.model.get_weights())

    stopper = nn.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    checkpoint = nn.ModelCheckpoint(
        tmp_path / "w-{epoch}.npz", monitor="loss", save_best_only=True, save_weights_only=True
    )
    history = model.fit(
        x, y, batch_size=6, epochs=30, verbose=0, shuffle=False, callbacks=[Recorder(), Snapshot(), stopper, checkpoint]
    )
    assert events[:4] == ["train_begin", "epoch_begin 0", "batch_end 0", "batch_end 1"]
    assert events[4] == "epoch_end 0 ['accuracy', 'loss']" and events[-1] == "train_end"
    assert model.history is history and history.epoch == list(range(len(history.epoch)))
    losses = history.history["loss"]
    assert len(losses) < 30, "a learning rate of 5 must make the loss go up at some point"
    best = int(np.argmin(losses))
    for ours, best_weights in zip(model.get_weights(), weights_per_epoch[best]):
        np.testing.assert_array_equal(ours, best_weights)
    # The last checkpoint holds the best epoch's weights.
    fresh = nn.Sequential([layers.Input((4,), dtype="float64"), layers.Dense(3, activation="softmax", dtype="float64")])
    fresh.load_weights(checkpoint.saved[-1])
    assert checkpoint.saved[-1].endswith(f"w-{best + 1}.npz")
    for ours, best_weights in zip(fresh.get_weights(), weights_per_epoch[best]):
        np.testing.assert_array_equal(ours, best_weights)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: nn.EarlyStopping(patience=-1), "`patience`"),
        (lambda: nn.EarlyStopping(mode="up"), "`mode`"),
        (lambda: nn.EarlyStopping(monitor=3), "`monitor`"),
        (lambda: nn.EarlyStopping(restore_best_weights="yes"), "`restore_best_weights`"),
        (lambda: nn.ModelCheckpoint(3), "`filepath`"),
        (lambda: nn.ModelCheckpoint("x.npz", save_best_only=1), "`save_best_only`"),
        (lambda: _run_callback(nn.EarlyStopping(monitor="val_f1"), [0.1, 0.2], "val_f1"), "mode='max'"),
        (lambda: _run_callback(nn.ModelCheckpoint("x-{val_acc}.npz"), [0.1]), "`filepath`"),
    ],
)
def test_bad_callback_arguments_name_the_argument(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_fit_refuses_what_is_not_a_callback():
    model = nn.Sequential([layers.Input((2,)), layers.Dense(2, activation="softmax")])
    model.compile()
    with pytest.raises(TypeError, match="`callbacks`: item 0"):
        model.fit(np.ones((2, 2)), [0, 1], verbose=0, callbacks=[print])


# -- saving ----------------------------------------------------------------------------------------


def _every_layer_model(dtype="float32"):
    return nn.Sequential(
        [
            layers.Input((6, 6, 2), dtype=dtype),
            layers.ZeroPadding2D(((1, 0), (0, 1)), dtype=dtype),
            layers.Conv2D(3, 3, activation="relu", dtype=dtype),
            layers.BatchNormalization(momentum=0.9, dtype=dtype),
            layers.MaxPooling2D(2, padding="same", dtype=dtype),
            layers.Conv2DTranspose(2, 3, strides=2, padding="same", dtype=dtype),
            layers.GlobalAveragePooling2D(dtype=dtype),
            layers.Dropout(0.25, dtype=dtype),
            layers.Dense(3, activation="softmax", dtype=dtype),
        ]
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_and_load_model_round_trip_bit_for_bit(tmp_path, dtype):
    rng = np.random.default_rng(12)
    x, y = rng.standard_normal((8, 6, 6, 2)), rng.integers(0, 3, 8)
    nn.set_random_seed(1)
    model = _every_layer_model(dtype)
    model.compile(optimizer=nn.SGD(0.05, momentum=0.5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)  # moves the moving statistics too
    path = tmp_path / "model"  # no suffix: the file keeps the exact name
    model.save(path)
    assert path.exists()
    loaded = nn.load_model(path)
    assert type(loaded) is nn.Sequential and [type(a) for a in loaded.layers] == [type(a) for a in model.layers]
    assert [a.get_config() for a in loaded.layers] == [a.get_config() for a in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    assert type(loaded.optimizer) is nn.SGD and loaded.optimizer.momentum == 0.5
    weights = tmp_path / "w.npz"
    model.save_weights(weights)
    nn.set_random_seed(2)
    other = _every_layer_model(dtype)
    other.load_weights(weights)
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_saved_files_are_plain_data(tmp_path):
    model = _every_layer_model()
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as data:
        assert all(data[key].dtype != object for key in data.files)


def _foreign_files(tmp_path):
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.ones(3))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __convops_nn_weights__=np.array([{"code": print}], dtype=object))
    truncated = tmp_path / "truncated.npz"
    _every_layer_model().save_weights(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    return [text, plain, pickled, truncated]


def test_foreign_and_corrupt_files_are_refused_and_change_nothing(tmp_path):
    model = _every_layer_model()
    before = model.get_weights()
    for path in _foreign_files(tmp_path):
        with pytest.raises(ValueError, match="`filepath`"):
            model.load_weights(path)
        with pytest.raises(ValueError, match="`filepath`"):
            nn.load_model(path)
    other = nn.Sequential([layers.Input((6, 6, 2)), layers.Flatten(), layers.Dense(2)])
    other.save_weights(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="`weights`"):
        model.load_weights(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="not a convops.nn model"):
        nn.load_model(tmp_path / "other.npz")  # a weights file is not a model file
    for ours, old in zip(model.get_weights(), before):
        np.testing.assert_array_equal(ours, old)
    with pytest.raises(TypeError, match="`filepath`"):
        model.save_weights(3)
    with pytest.raises(FileNotFoundError, match="`filepath`"):
        model.load_weights(tmp_path / "missing.npz")


def test_keras_weights_h5_loads_into_the_same_architecture(keras, tmp_path):
    pytest.importorskip("h5py")
    kl = keras.layers
    km = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            kl.ZeroPadding2D(1),
            kl.Conv2D(3, 3, activation="relu"),
            kl.BatchNormalization(),
            kl.Conv2D(4, 3),
            kl.Conv2DTranspose(2, 2, strides=2),
            kl.GlobalAveragePooling2D(),
            kl.Dropout(0.5),
            kl.Dense(3, activation="softmax"),
        ]
    )
    rng = np.random.default_rng(13)
    x = rng.standard_normal((5, 6, 6, 2)).astype(np.float32)
    km.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    km.fit(x, rng.integers(0, 3, 5), epochs=1, verbose=0)  # moving statistics away from 0 and 1
    path = tmp_path / "model.weights.h5"
    km.save_weights(path)
    model = nn.Sequential(
        [
            layers.Input((6, 6, 2)),
            layers.ZeroPadding2D(1),
            layers.Conv2D(3, 3, activation="relu"),
            layers.BatchNormalization(),
            layers.Conv2D(4, 3),
            layers.Conv2DTranspose(2, 2, strides=2),
            layers.GlobalAveragePooling2D(),
            layers.Dropout(0.5),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.load_weights(path)
    for ours, theirs in zip(model.get_weights(), km.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert _max_rel(model.predict(x, verbose=0), km.predict(x, verbose=0)) < 1e-6
    wrong = nn.Sequential([layers.Input((6, 6, 2)), layers.Conv2D(3, 3), layers.Flatten(), layers.Dense(3)])
    with pytest.raises(ValueError, match="architectures differ|does not have"):
        wrong.load_weights(path)


def test_keras_h5_without_h5py_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(__import__("sys").modules, "h5py", None)  # the import fails, as when missing
    model = nn.Sequential([layers.Input((2,)), layers.Dense(2)])
    with pytest.raises(ImportError, match="pip install h5py"):
        model.load_weights(tmp_path / "model.weights.h5")


# -- progress bar in a notebook --------------------------------------------------------------------


class _KernelStream(io.StringIO):
    """Stands in for ipykernel's OutStream (sys.stdout in a notebook): not a tty."""

    def isatty(self):
        return False


_KernelStream.__module__ = "ipykernel.iostream"


def test_progress_bar_is_live_in_a_notebook_and_plain_in_a_log(monkeypatch):
    import convops.nn._progress as progress

    clock = iter(np.arange(0, 100, 0.1))
    monkeypatch.setattr(progress.time, "perf_counter", lambda: float(next(clock)))
    x, y = np.ones((12, 3)), np.arange(12) % 2
    model = nn.Sequential([layers.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile()
    notebook, log = _KernelStream(), io.StringIO()
    model.fit(x, y, batch_size=2, epochs=1, stream=notebook)
    model.fit(x, y, batch_size=2, epochs=1, stream=log)
    live = notebook.getvalue().split("\n")[1]
    frames = live.split("\r")[1:]
    assert len(frames) == 6 and frames[0].startswith("1/6 ") and frames[-1].startswith("6/6 ")
    assert "\x1b" not in notebook.getvalue()  # no terminal codes in Jupyter's output
    assert all(len(a) >= len(b.rstrip()) for a, b in zip(frames[1:], frames[:-1]))  # old text covered
    assert "\r" not in log.getvalue() and log.getvalue().count("6/6 ") == 1

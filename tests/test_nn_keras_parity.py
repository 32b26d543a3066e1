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
        (dict(filters=2, kernel_size=3, dilation_rate=2, padding="same"), (1, 6, 5, 2)),
    ],
)
def test_conv2d_transpose_matches_keras(tf, keras, kwargs, shape):
    if kwargs.get("dilation_rate", 1) != 1:
        pytest.skip("TensorFlow's CPU kernel refuses dilated Conv2DBackpropInput: no oracle")
    x = np.random.default_rng(1).standard_normal(shape)
    nn.set_random_seed(3)
    mine = layers.Conv2DTranspose(dtype="float64", bias_initializer="random_normal", **kwargs)
    klayer = keras.layers.Conv2DTranspose(dtype="float64", **kwargs)
    _compare_layer(tf, mine, klayer, x)
    assert mine.name.startswith("conv2d_transpose")


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
    mine.set_weights([rng.uniform(0.5, 2, shape[-1]), rng.standard_normal(shape[-1]),
                      rng.standard_normal(shape[-1]), rng.uniform(0.5, 2, shape[-1])])
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
        return [kl.ZeroPadding2D(1, **d), kl.Conv2D(3, 3, activation="relu", **d), kl.BatchNormalization(**d),
                kl.Conv2DTranspose(2, 3, strides=2, padding="same", **d), kl.GlobalAveragePooling2D(**d),
                kl.Dropout(0.0, **d), kl.Dense(4, activation="softmax", **d)]

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
def test_models_with_each_loss_match_keras_gradients_and_training(tf, keras, keras_float64, loss, activation, units, make_y):
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

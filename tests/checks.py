"""Assertions that explain themselves, the tolerance table, and "inputs are not modified".

A failing comparison prints a call you can paste into a Python prompt (after
``import numpy as np, convops``) to reproduce the result, the largest error with its index, and
the values on both sides there — the habit of array-api-tests, which attaches a repro snippet to
every failure.
"""

from __future__ import annotations

import contextlib
import copy
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# A repro longer than this is cut: it would drown the report (hypothesis shrinks to small cases
# anyway, and prints its own reproduce blob).
_MAX_REPRO_CHARS = 40_000


# --------------------------------------------------------------------------- formatting


def format_value(value: Any) -> str:
    """Python source that rebuilds ``value``: arrays with their dtype and every digit, views
    (Fortran order, negative or gapped strides, read-only) rebuilt as the same kind of view."""
    if isinstance(value, np.ndarray):
        return _format_unusual_array(value) or _format_array(value)
    if isinstance(value, (np.generic,)):
        return f"np.{value.dtype}({value.item()!r})"
    if isinstance(value, tuple):
        inner = ", ".join(format_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, float) and not np.isfinite(value):
        return f"float({str(value)!r})"
    return repr(value)


def _format_unusual_array(a: np.ndarray) -> str | None:
    """Arrays the hardening harness draws that the views below do not cover: non-numeric dtypes,
    non-native byte order, zero strides (np.broadcast_to), items at an unaligned address."""
    if not a.flags.aligned and a.dtype.kind != "O":
        # bytearray: writeable memory; one leading byte puts every item at an odd address.
        return (
            f"np.frombuffer(bytearray(1) + {format_value(np.array(a))}.tobytes(), "
            f"dtype={a.dtype.str!r}, offset=1).reshape({a.shape})"
        )
    if a.size and a.ndim and 0 in a.strides:
        # One index along each zero-stride axis holds every value there is.
        base = np.array(a[tuple(slice(0, 1) if step == 0 else slice(None) for step in a.strides)])
        return f"np.broadcast_to({format_value(base)}, {a.shape})"
    if a.dtype.kind not in "biufc":
        if a.size == 0:
            return f"np.empty({a.shape}, dtype={a.dtype.str!r})"
        values = a.astype(np.int64) if a.dtype.kind in "mM" else a  # datetimes as counts of their unit
        return f"np.array({values.tolist()!r}, dtype={a.dtype.str!r})"
    if a.dtype.byteorder == ">":
        return f"{format_value(a.astype(a.dtype.newbyteorder('=')))}.astype({a.dtype.str!r})"
    return None


def _array_literal(a: np.ndarray) -> str:
    if a.size == 0:  # a literal [] would lose the shape (0, 3)
        return f"np.empty({a.shape}, dtype=np.{'bool_' if a.dtype == np.bool_ else a.dtype})"
    if a.ndim == 0:  # (np.ascontiguousarray below would make it 1-d)
        return f"np.array({format_value(a.item())}, dtype=np.{'bool_' if a.dtype == np.bool_ else a.dtype})"
    body = np.array2string(
        np.ascontiguousarray(a), separator=", ", threshold=sys.maxsize, max_line_width=120, floatmode="unique", sign="-"
    )
    body = body.replace("nan", "np.nan").replace("inf", "np.inf")
    dtype = "bool_" if a.dtype == np.bool_ else str(a.dtype)
    return f"np.array({body}, dtype=np.{dtype})"


def _format_array(a: np.ndarray) -> str:
    if a.ndim == 0:
        return _array_literal(a)
    if not a.flags.writeable:
        return f"np.lib.stride_tricks.as_strided({_format_array(_writeable_copy(a))}, writeable=False)"
    if a.flags.c_contiguous or a.size <= 1:
        return _array_literal(a)
    if a.flags.f_contiguous:
        return f"np.asfortranarray({_array_literal(a)})"
    flipped = tuple(slice(None, None, -1) if s < 0 else slice(None) for s in a.strides)
    if any(s < 0 for s in a.strides):
        inner = _format_array(np.ascontiguousarray(a[flipped]))
        return f"{inner}[{', '.join(':' if s == slice(None) else '::-1' for s in flipped)}]"
    # Gapped strides (or a transposed view): rebuilt as a view taking every second element of a
    # doubled array; the values and the non-contiguity are what matter for a repro.
    return f"np.repeat({_array_literal(a)}, 2, axis=-1)[..., ::2]"


def _writeable_copy(a: np.ndarray) -> np.ndarray:
    # Keep the memory layout (Fortran, negative strides) so that the repro keeps it too.
    if a.flags.f_contiguous and not a.flags.c_contiguous:
        return np.array(a, order="F", copy=True)
    if any(s < 0 for s in a.strides):
        flipped = tuple(slice(None, None, -1) if s < 0 else slice(None) for s in a.strides)
        return np.array(a[flipped], order="C", copy=True)[flipped]
    return np.array(a, copy=True)


class Repro:
    """A call, formatted as copy-pasteable source only when a message needs it (formatting every
    digit of a 40k-element array costs ~0.1 s; most calls pass)."""

    def __init__(self, function: str, args: tuple, kwargs: dict, module: str = "convops"):
        self.function, self.args, self.kwargs, self.module = function, args, kwargs, module
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = _format_call(f"{self.module}.{self.function}", self.args, self.kwargs)
        return self._text


def repro(function: str, *args: Any, **kwargs: Any) -> Repro:
    """A lazily formatted ``convops.<function>(...)`` call for assertion messages."""
    return Repro(function, args, kwargs)


def format_call(function: str, *args: Any, **kwargs: Any) -> str:
    """``convops.<function>(<args>, key=value, ...)`` as copy-pasteable source."""
    return _format_call(f"convops.{function}", args, kwargs)


def _format_call(qualified: str, args: tuple, kwargs: dict) -> str:
    parts = [format_value(a) for a in args] + [f"{k}={format_value(v)}" for k, v in kwargs.items()]
    text = f"{qualified}({', '.join(parts)})"
    if len(text) > _MAX_REPRO_CHARS:
        shapes = [getattr(a, "shape", None) for a in args]
        text = text[: _MAX_REPRO_CHARS // 2] + f"\n... [repro cut: {len(text)} characters; argument shapes {shapes}]"
    return text


# --------------------------------------------------------------------------- tolerances


@dataclass(frozen=True)
class Tolerance:
    """Allowed |got - want| for one output element of a reduction of ``K`` products:

    ``value_rtol * |want| + term_eps * (K + 1) * magnitude + atol``

    where ``magnitude = sum |x| * |w|`` over the element's window (``conv2d(|x|, |w|)`` in
    float64). Two correct implementations that sum the same K products in different orders
    (BLAS blocking, FMA, Eigen's contraction) each err by at most ``(K + 1) * u * magnitude``
    with ``u = eps / 2`` (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1), so
    ``term_eps = eps`` bounds their difference and never flakes, while any indexing bug (a
    wrong tap, pad, stride or group) is off by a whole term, ~``magnitude / K`` or more.
    """

    value_rtol: float
    term_eps: float
    atol: float


#: One table for every floating comparison of conv2d: float16 is computed in float32 by both
#: TensorFlow (on CPU) and convops and rounded once to half, which adds one half-ulp of the value
#: (float16 subnormals are 2**-24 apart, hence atol). int32 arithmetic wraps mod 2**32 in both
#: and is compared exactly. Measured: float32 TF vs float64 worst ~2e-6 * max|ref| at K ~ 20,
#: i.e. the bound's order of magnitude.
CONV_TOLERANCE = {
    np.dtype(np.float64): Tolerance(value_rtol=0.0, term_eps=float(np.finfo(np.float64).eps), atol=0.0),
    np.dtype(np.float32): Tolerance(value_rtol=0.0, term_eps=float(np.finfo(np.float32).eps), atol=0.0),
    np.dtype(np.float16): Tolerance(
        value_rtol=float(np.finfo(np.float16).eps), term_eps=float(np.finfo(np.float32).eps), atol=2.0**-24
    ),
    np.dtype(np.int32): Tolerance(value_rtol=0.0, term_eps=0.0, atol=0.0),
}


def conv_bound(want: np.ndarray, magnitude: np.ndarray, reduction: int, dtype: np.dtype) -> np.ndarray:
    """Elementwise allowed error for a conv2d result (see :class:`Tolerance`)."""
    tol = CONV_TOLERANCE[np.dtype(dtype).newbyteorder("=")]  # >f4 is float32 (results are native)
    with np.errstate(invalid="ignore"):  # 0 * inf where the result is non-finite: compared exactly
        return tol.value_rtol * np.abs(want.astype(np.float64)) + tol.term_eps * (reduction + 1) * magnitude + tol.atol


# --------------------------------------------------------------------------- assertions


def _first_difference(got: np.ndarray, want: np.ndarray) -> tuple | None:
    if got.dtype.kind == "f" or want.dtype.kind == "f":
        same = (got == want) | (np.isnan(got) & np.isnan(want))
    else:
        same = got == want
    bad = np.argwhere(~same)
    return tuple(int(i) for i in bad[0]) if len(bad) else None


def assert_same_shape_dtype(got: np.ndarray, want: np.ndarray, call: Any, dtype: np.dtype | None = None) -> None:
    if not isinstance(got, np.ndarray):
        raise AssertionError(f"expected an ndarray, got {type(got).__name__}\n  call: {call}")
    if got.shape != want.shape:
        raise AssertionError(f"shape {got.shape} != expected {want.shape}\n  call: {call}")
    expected_dtype = np.dtype(dtype) if dtype is not None else want.dtype
    if got.dtype != expected_dtype:
        raise AssertionError(f"dtype {got.dtype} != expected {expected_dtype}\n  call: {call}")


def _bits(a: np.ndarray) -> np.ndarray:
    """The raw bit patterns of ``a``'s elements (unsigned integers of the same width)."""
    a = np.ascontiguousarray(a)
    if a.dtype.kind in "fc":
        return a.view(f"u{a.dtype.itemsize}")
    return a.view(np.uint8) if a.dtype == np.bool_ else a


def assert_exact(got: np.ndarray, want: np.ndarray, call: Any, what: str = "oracle", nan_payload: bool = False) -> None:
    """Same shape, dtype and values bit for bit (pooling, padding, int conv): ``-0.0`` is not
    ``+0.0`` (``np.array_equal`` treats them as equal). A NaN must be a NaN; its sign and payload
    are compared only with ``nan_payload`` (:func:`assert_bits_equal`), because IEEE 754 leaves
    them to the implementation for a NaN that an operation creates (``inf - inf`` is 0xFFC00000 in
    x86 SSE, 0x7FC00000 from TensorFlow's Eigen kernels): against another library, NaN-ness is the
    contract; against convops itself, or for ops that only copy values, the very bits are."""
    assert_same_shape_dtype(got, want, call)
    index = _first_difference(got, want)
    if index is not None:
        count = int(np.count_nonzero(~((got == want) | (_isnan(got) & _isnan(want)))))
        raise AssertionError(
            f"{count} of {got.size} elements differ from {what}; first at index {index}: "
            f"got {got[index]!r}, expected {want[index]!r}\n  reproduce: {call}"
        )
    differ = _bits(got) != _bits(want)
    if not nan_payload:
        differ &= ~_isnan(np.ascontiguousarray(got))
    if differ.any():
        index = tuple(int(i) for i in np.argwhere(differ)[0])
        kind = "signed zero or NaN payload" if nan_payload else "signed zero"
        raise AssertionError(
            f"{int(np.count_nonzero(differ))} of {got.size} elements have other bits than {what} ({kind}); "
            f"first at index {index}: got {got[index]!r} (0x{int(_bits(got)[index]):x}), expected "
            f"{want[index]!r} (0x{int(_bits(want)[index]):x})\n  reproduce: {call}"
        )


def assert_bits_equal(got: np.ndarray, want: np.ndarray, call: Any, what: str = "oracle") -> None:
    """Every element's bits equal, NaN payloads included: convops against itself (memory layouts,
    thread counts, kernel variants) and ops that only copy values (pad)."""
    assert_exact(got, want, call, what, nan_payload=True)


def _isnan(a: np.ndarray) -> np.ndarray:
    return np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, dtype=bool)


def assert_within(
    got: np.ndarray, want: np.ndarray, bound: np.ndarray, call: Any, what: str = "oracle", dtype: np.dtype | None = None
) -> None:
    """``|got - want| <= bound`` where both are finite; NaN and ±inf must match exactly (a NaN
    bound counts as 0, so a broken bound cannot pass silently). Reports the worst element."""
    assert_same_shape_dtype(got, want, call, dtype)
    g, w = got.astype(np.float64), want.astype(np.float64)
    finite = np.isfinite(g) & np.isfinite(w)
    mismatch = ~finite & ~((g == w) | (np.isnan(g) & np.isnan(w)))
    if mismatch.any():
        index = tuple(int(i) for i in np.argwhere(mismatch)[0])
        raise AssertionError(
            f"{int(np.count_nonzero(mismatch))} non-finite mismatches; first at index {index}: got {got[index]!r}, "
            f"expected {want[index]!r}\n  reproduce: {call}"
        )
    with np.errstate(invalid="ignore"):
        error = np.where(finite, np.abs(g - w), 0.0)
        allowed = np.where(np.isnan(bound), 0.0, bound)
        excess = np.where(finite, error - allowed, -np.inf)
    if excess.size and excess.max() > 0:
        index = tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), excess.shape))
        worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(error)), error.shape))
        raise AssertionError(
            f"{int(np.count_nonzero(excess > 0))} of {got.size} elements differ from {what} beyond the "
            f"tolerance; worst at index {index}: got {got[index]!r}, expected {want[index]!r}, "
            f"error {error[index]:.3g} > allowed {allowed[index]:.3g} (max error {error[worst]:.3g} at {worst})"
            f"\n  reproduce: {call}"
        )


# --------------------------------------------------------------------------- inputs unchanged


def _snapshot(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy(order="K"), value.flags.writeable, value.strides
    return copy.deepcopy(value)


@contextlib.contextmanager
def unchanged(*values: Any, call: Any = "") -> Iterator[None]:
    """Check that the ops do not write into (or change the flags of) their arguments."""
    before = [_snapshot(v) for v in values]
    yield
    for position, (value, old) in enumerate(zip(values, before)):
        if isinstance(value, np.ndarray):
            data, writeable, strides = old
            if not np.array_equal(value, data, equal_nan=value.dtype.kind == "f") or value.tobytes() != data.tobytes():
                raise AssertionError(f"argument {position} was modified in place\n  reproduce: {call}")
            if value.flags.writeable != writeable or value.strides != strides:
                raise AssertionError(f"argument {position} had its flags or strides changed\n  reproduce: {call}")
        elif not _equal_nested(value, old):
            raise AssertionError(f"argument {position} ({type(value).__name__}) was modified\n  reproduce: {call}")


def _equal_nested(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_equal_nested(x, y) for x, y in zip(a, b))
    if isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating)) and np.isnan(a) and np.isnan(b):
        return type(a) is type(b)
    return type(a) is type(b) and bool(a == b)


def call_op(function: Callable[..., np.ndarray], name: str, *args: Any, **kwargs: Any):
    """Run ``convops.<name>(*args, **kwargs)``, checking that no argument is modified.

    Returns ``(result, repro)`` where ``repro`` is the copy-pasteable call.
    """
    call = Repro(name, args, kwargs)
    with unchanged(*args, *kwargs.values(), call=call):
        result = function(*args, **kwargs)
    return result, call


def nhwc(array: np.ndarray, data_format: str) -> np.ndarray:
    """A result in ``data_format`` seen as NHWC, for comparison with a NHWC oracle."""
    return array.transpose(0, 2, 3, 1) if data_format == "NCHW" else array


def reduction_length(filters_shape: Sequence[int]) -> int:
    """``K = KH * KW * C_in / groups`` — the filters' in-channels already are ``C_in / groups``."""
    kh, kw, c_group = filters_shape[:3]
    return int(kh * kw * c_group)


def window_conv2d(x: np.ndarray, w: np.ndarray, strides, padding, dilations) -> np.ndarray:
    """A vectorised float64 conv2d written for the tests (sliding windows + einsum), independent of
    convops and its reference. Used as the ``magnitude`` of :class:`Tolerance` (called on |x|, |w|).

    x: (N, H, W, C_in), w: (KH, KW, C_in/groups, C_out), padding ((top, bottom), (left, right)).
    """
    (sh, sw), ((top, bottom), (left, right)), (dh, dw) = strides, padding, dilations
    kh, kw, c_group, c_out = w.shape
    n, _, _, c_in = x.shape
    groups = c_in // c_group
    xp = np.pad(x.astype(np.float64), ((0, 0), (top, bottom), (left, right), (0, 0)))
    span_h, span_w = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    h_out = max((xp.shape[1] - span_h) // sh + 1, 0)
    w_out = max((xp.shape[2] - span_w) // sw + 1, 0)
    if h_out == 0 or w_out == 0:
        return np.zeros((n, h_out, w_out, c_out))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (span_h, span_w), axis=(1, 2))
    windows = windows[:, ::sh, ::sw, :, ::dh, ::dw][:, :h_out, :w_out]  # (N, Ho, Wo, C_in, KH, KW)
    windows = windows.reshape(n, h_out, w_out, groups, c_group, kh, kw)
    filters = w.astype(np.float64).reshape(kh, kw, c_group, groups, c_out // groups)
    out = np.einsum("nyxgcij,ijcgo->nyxgo", windows, filters)
    return out.reshape(n, h_out, w_out, c_out)


def flush_subnormals(a: np.ndarray) -> np.ndarray:
    """``a`` with float32/float64 subnormals replaced by (signed) zero.

    TensorFlow's CPU kernels run with flush-to-zero and denormals-are-zero for float32/float64
    (checked: avg_pool2d of [4 * smallest_subnormal, 0] gives 0, not 2 * smallest_subnormal);
    convops keeps IEEE gradual underflow. Results are compared with TF after this flush and with
    the NumPy reference (IEEE) without it. float16 is computed in float32 on both sides, where
    half's subnormals are normal numbers, so TF does not flush them.
    """
    if a.dtype not in (np.float32, np.float64):
        return a
    tiny = np.finfo(a.dtype).tiny
    return np.where(np.abs(a) < tiny, np.copysign(np.zeros((), a.dtype), a), a).astype(a.dtype)


def central_differences(loss, v: np.ndarray, h: float) -> np.ndarray:
    """``d loss / d v`` by central differences, one element at a time (``v`` is perturbed in place
    and restored; float64 for meaningful differences)."""
    flat = v.reshape(-1)
    numeric = np.empty(flat.size)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = loss(v)
        flat[i] = keep - h
        down = loss(v)
        flat[i] = keep
        numeric[i] = (up - down) / (2 * h)
    return numeric.reshape(v.shape)

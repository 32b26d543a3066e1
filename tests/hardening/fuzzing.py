# Size: the fuzzing harness: argument strategies, their canonical meaning, oracles that work for any
# geometry and the property.
"""Argument fuzzing: strategies that draw *any* argument combination for each public function of
convops, and the one property every call must satisfy.

The property: a call either returns the right answer or raises ``ValueError`` /
``TypeError`` whose message names an offending argument. Nothing else: no ``IndexError``,
``ZeroDivisionError``, ``OverflowError``, ``SystemError``, no ``MemoryError`` for a small request,
no warning (a NumPy ``RuntimeWarning`` inside an op means it computed garbage and hid it), no
argument modified, no crash and no hang (those two are caught by running the suite in a child
process, see ``test_fuzz.py``).

How a drawn call knows its right answer: every argument is drawn with a *status*:

* ``valid``, with its canonical meaning (``(h, w)`` pairs, explicit pads, a C-contiguous array of
  the dtype the op must compute in), written here independently of convops' own parser;
* ``invalid``: the call must be refused with a message naming this argument;
* ``limit``: a value at the edge of what can be represented (a stride above 2**60, a non-native
  byte order): the right answer *or* a refusal (``MemoryError`` included) is acceptable.

The op's relational rules (channels divide, dtypes match, pool padding smaller than the window,
REFLECT limits, ...) are then applied to the canonical values. The right answer of a valid call
comes from :mod:`convops.reference` when its padding is small, otherwise (strides, pads or
dilations near 2**60, which the reference would have to materialise) from the direct loops in
this module, which visit only the real cells of each output position.

Shared with the property suites, not copied: array values (``strategies.make_values``), memory
layouts (``strategies.present``), copy-pasteable repros (``checks.format_value``) and TF's
output-size and SAME rules (``tf_rules``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import assume, event, note
from hypothesis import strategies as st

import checks  # tests/checks.py: repro formatting and the conv2d tolerance table
from strategies import ArrayLike, make_values, present
from tf_rules import output_size

VALID, INVALID, LIMIT = "valid", "invalid", "limit"

#: Largest output (elements) a *valid* drawn call may have: the right answer is computed by
#: Python loops. Larger-but-possible outputs are not drawn; absurd ones (>= ABSURD elements,
#: far beyond this machine's memory) must be refused with MemoryError or ValueError.
MAX_CHECKED_OUTPUT = 5_000
ABSURD = 2**46

#: Huge scalars: the first group is representable (<= 2**60, convops' documented limit), the
#: second is not and may be refused.
HUGE_OK = (10**6, 2**31 - 1, 2**31, 2**32 + 1, 2**60)
HUGE_LIMIT = (2**60 + 1, 2**63 - 1, 2**63, 2**64, 10**30)

NUMERIC_DTYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
)
EXOTIC_DTYPES = (
    "longdouble",
    "complex64",
    "complex128",
    "object",
    "<U3",
    "S3",
    "datetime64[s]",
    "timedelta64[s]",
    ">f4",
    ">i4",
    ">f8",
    "V4",
)
LAYOUTS = ("C", "C", "C", "F", "negative", "gapped", "readonly", "broadcast", "unaligned", "list", "arraylike")


# --------------------------------------------------------------------------- arguments and calls


@dataclass
class Arg:
    """One argument as passed (``value``), its status and its canonical meaning."""

    value: Any
    status: str = VALID
    canonical: Any = None


@dataclass
class ArrayArg(Arg):
    """An array argument. ``canonical`` is the values as a C-contiguous ndarray in the dtype the
    op will see (lists: NumPy's dtype before convops' list rules; see :func:`list_dtype`)."""

    is_list: bool = False
    layout: str = "C"


@dataclass
class Call:
    """A drawn call and what must happen when it is made."""

    name: str
    function: Callable[..., Any]
    args: tuple
    kwargs: dict[str, Any]
    status: str = VALID
    names: tuple[str, ...] = ()  # arguments a refusal may name
    expected: Callable[[], Any] | None = None
    compare: Callable[[Any, Any, str], None] | None = None
    size_refusal: bool = False  # an absurd output: MemoryError/ValueError expected

    def repro(self) -> str:
        parts = [checks.format_value(a) for a in self.args]
        parts += [f"{k}={checks.format_value(v)}" for k, v in self.kwargs.items()]
        return f"convops.{self.name}({', '.join(parts)})"


def combine(call: Call, args: dict[str, Arg], relational: Sequence[tuple[bool, Sequence[str]]] = ()) -> Call:
    """Set the call's status from its arguments' statuses and the op's relational rules
    (``(violated, names)`` pairs; each rule is only evaluated on valid-or-limit arguments)."""
    invalid = [name for name, arg in args.items() if arg.status == INVALID]
    limit = [name for name, arg in args.items() if arg.status == LIMIT]
    for violated, names in relational:
        if violated:
            invalid.extend(names)
    if invalid:
        # A limit argument may be the one refused first: naming it is fine too.
        call.status, call.names = INVALID, tuple(invalid + limit)
    elif limit:
        call.status, call.names = LIMIT, tuple(limit)
    else:
        call.status, call.names = VALID, ()
    return call


# --------------------------------------------------------------------------- array values


@st.composite
def array_args(
    draw,
    name: str,
    ok_dtypes: Sequence[str],
    shape: tuple[int, ...],
    styles: Sequence[str] = ("normal", "ties", "nan", "extremes"),
    list_ok: bool = True,
    exotic: bool = True,
    prefer: str | None = None,
) -> ArrayArg:
    """An array of ``shape`` whose dtype is mostly one of ``ok_dtypes`` (mostly ``prefer`` when
    given: the other operand's), sometimes any other (then the argument is invalid, or a limit
    for non-native byte order), in any layout."""
    roll = draw(st.integers(0, 19), label=f"{name} dtype roll")
    if prefer is not None and (roll < 13 or not exotic and roll < 17):
        dtype_name = prefer
    elif roll < 16 or not exotic:
        dtype_name = draw(st.sampled_from(list(ok_dtypes)), label=f"{name} dtype")
    elif roll < 18:
        dtype_name = draw(st.sampled_from(NUMERIC_DTYPES), label=f"{name} dtype")
    else:
        dtype_name = draw(st.sampled_from(EXOTIC_DTYPES), label=f"{name} dtype")
    dtype = np.dtype(dtype_name)
    style = draw(st.sampled_from(list(styles)), label=f"{name} style")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label=f"{name} seed"))
    values = make_values(rng, shape, dtype, style)
    layouts = [l for l in LAYOUTS if list_ok or l != "list"]
    layout = draw(st.sampled_from(layouts), label=f"{name} layout")
    if layout == "list" and (
        dtype.kind not in "biuf"
        or dtype.itemsize > 8
        or dtype.byteorder == ">"
        or style in ("nan", "extremes")
        or 0 in shape
    ):
        # Lists of exotic objects are covered by the garbage draws; a list cannot hold an empty
        # axis after the first (np.zeros((2, 0)).tolist() is [[], []], of shape (2, 0) but
        # (1, 2, 0, 3) would come back as (1, 2, 0)).
        layout = "C"
    value = present(values, layout)
    if layout == "list":
        canonical = np.asarray(value)
        status = VALID if canonical.dtype.kind in "biuf" else INVALID
        return ArrayArg(value, status, canonical, is_list=True, layout=layout)
    canonical = np.array(np.asarray(value), order="C")  # (np.ascontiguousarray makes 0-d arrays 1-d)
    if dtype_name in ok_dtypes:
        status = VALID
    elif dtype.byteorder == ">" and dtype.newbyteorder("=").name in ok_dtypes:
        status = LIMIT  # same numbers, other byte order: computing or refusing are both fine
    else:
        status = INVALID
    return ArrayArg(value, status, canonical, layout=layout)


def garbage_array_arg(draw, name: str) -> ArrayArg:
    """Not an array at all: None, a string, a dict, a ragged list, a scalar, an empty list."""
    choice = draw(
        st.sampled_from(["none", "str", "bytes", "dict", "ragged", "set", "float", "int", "nested_str", "huge_int"]),
        label=f"{name} garbage",
    )
    value = {
        "none": None,
        "str": "image",
        "bytes": b"\x00\x01",
        "dict": {"a": 1},
        "ragged": [[1.0, 2.0], [3.0]],
        "set": {1, 2},
        "float": 1.5,
        "int": 3,
        "empty": [],
        "nested_str": [["a", "b"]],
        "huge_int": [[2**80]],
    }[choice]
    return ArrayArg(value, INVALID, None, is_list=isinstance(value, list), layout=choice)


def default_list_dtype(values: np.ndarray) -> np.dtype:
    """TensorFlow's dtype for a Python list: ints -> int32 (int64 if they do not fit), floats ->
    float32, bools stay bool (``tf.convert_to_tensor``; written here from TF's documentation)."""
    if values.dtype.kind in "iu":
        if values.size and (values.min() < -(2**31) or values.max() > 2**31 - 1):
            return np.dtype(np.int64)
        return np.dtype(np.int32)
    if values.dtype.kind == "f":
        return np.dtype(np.float32)
    return values.dtype


def list_to(arg: ArrayArg, dtype: np.dtype) -> tuple[np.ndarray | None, bool]:
    """A list's values converted to the other operand's dtype, and whether that is allowed
    (integers must be exactly representable)."""
    values = arg.canonical
    if (values.dtype.kind == "b") != (dtype.kind == "b"):
        return None, False  # bools and numbers do not convert into each other (as in TF)
    if dtype.kind in "iu" and values.dtype.kind == "f":
        if not np.all(np.isfinite(values) & (np.mod(values, 1) == 0)):
            return None, False
    if dtype.kind in "iu" and values.size:
        info = np.iinfo(dtype)
        if values.min() < info.min or values.max() > info.max:
            return None, False
    return values.astype(dtype), True


def resolve_operands(first: ArrayArg, second: ArrayArg) -> tuple[np.ndarray | None, np.ndarray | None, bool]:
    """Canonical values of two operands that must share a dtype (conv2d's input and filters, a
    gradient and its forward input), with convops' documented list rule: a list takes the other
    operand's dtype when that one is a numeric array, TF's list default otherwise. Returns
    ``(a, b, dtypes_match)``; ``None`` for an operand whose list cannot take the dtype."""
    a, b = first.canonical, second.canonical
    if first.is_list and second.is_list:
        a = a.astype(default_list_dtype(a))
        b, ok = list_to(second, a.dtype)
        return a, b, ok
    if first.is_list:
        if b.dtype.kind in "iuf":
            a, ok = list_to(first, b.dtype)
            return a, b, ok
        return a.astype(default_list_dtype(a)), b, False
    if second.is_list:
        if a.dtype.kind in "iuf":
            b, ok = list_to(second, a.dtype)
            return a, b, ok
        return a, b.astype(default_list_dtype(b)), False
    # Byte order is not a dtype: >f4 and float32 are the same numbers (convops normalises both).
    return a, b, a.dtype.newbyteorder("=") == b.dtype.newbyteorder("=")


def mark_byte_order(pairs) -> None:
    """A list that took the other operand's non-native byte order becomes a limit argument
    too (computing with it or refusing it, naming either operand, are both fine)."""
    for arg, values in pairs:
        if values is not None and values.dtype.byteorder == ">" and arg.status == VALID:
            arg.status = LIMIT


# --------------------------------------------------------------------------- scalar arguments


def int_like(draw, value: int, label: str) -> Any:
    """``value`` as a Python int or a NumPy integer scalar / 0-d array."""
    form = draw(st.sampled_from(["int", "np.int64", "np.int32", "0d"]), label=label)
    if form == "np.int32" and -(2**31) <= value < 2**31:
        return np.int32(value)
    if form == "np.int64" and -(2**63) <= value < 2**63:
        return np.int64(value)
    if form == "0d" and -(2**63) <= value < 2**63:
        return np.array(value)
    return value


BAD_INTS = (
    0,
    -1,
    -(2**63),
    1.0,
    1.5,
    float("nan"),
    float("inf"),
    True,
    False,
    None,
    "2",
    b"2",
    1j,
    np.float32(2.0),
    np.bool_(True),
    [2.5],
    {1: 1},
)


@st.composite
def spatial_args(draw, name: str, data_format: str, small_max: int = 3, wild: bool = True) -> Arg:
    """``strides``/``dilations``/``ksize``: canonical ``(h, w)``, each >= 1. ``wild=False``
    draws only valid values (huge ones included)."""
    kinds = ["int", "int", "pair", "pair", "one", "four", "numpy", "huge"]
    kinds += ["huge", "limit", "bad", "bad", "bad_shape"] if wild else []
    kind = draw(st.sampled_from(kinds), label=f"{name} kind")
    if kind in ("int", "pair", "one", "four", "numpy"):
        h = draw(st.integers(1, small_max), label=f"{name} h")
        w = h if kind in ("int", "one") else draw(st.integers(1, small_max), label=f"{name} w")
        value: Any = {
            "int": int_like(draw, h, f"{name} int form"),
            "pair": draw(st.sampled_from([(h, w), [h, w]])),
            "one": [h],
            "numpy": np.array([h, w]),
            "four": [1, h, w, 1] if data_format == "NHWC" else [1, 1, h, w],
        }[kind]
        return Arg(value, VALID, (h, w))
    if kind in ("huge", "limit"):
        big = draw(st.sampled_from(HUGE_OK if kind == "huge" else HUGE_LIMIT), label=f"{name} huge")
        small = draw(st.integers(1, small_max), label=f"{name} other")
        axis = draw(st.sampled_from(["h", "w", "both"]), label=f"{name} huge axis")
        h, w = (big, small) if axis == "h" else (small, big) if axis == "w" else (big, big)
        value = (h, w) if axis != "both" else big
        return Arg(value, VALID if kind == "huge" else LIMIT, (h, w))
    if kind == "bad":
        bad = draw(st.sampled_from(BAD_INTS), label=f"{name} bad value")
        form = draw(st.sampled_from(["scalar", "pair", "four"]), label=f"{name} bad form")
        value = bad if form == "scalar" else (1, bad) if form == "pair" else [1, bad, 1, 1]
        return Arg(value, INVALID)
    value = draw(
        st.sampled_from(
            [
                [],
                [1, 1, 1],
                [1, 1, 1, 1, 1],
                [[1, 1]],
                [2, 1, 1, 1],
                [1, 1, 1, 2],
                np.ones((2, 2), int),
                np.array([1.0, 2.0]),
                "SAME",
                None,
            ]
        ),
        label=f"{name} bad shape",
    )
    if data_format == "NCHW" and isinstance(value, list) and value == [1, 1, 1, 2]:
        value = [1, 2, 1, 1]  # a batch/channel entry that is not 1 in this layout
    return Arg(value, INVALID)


@st.composite
def padding_args(draw, data_format: str, small_max: int = 3, explicit: bool = True, wild: bool = True) -> Arg:
    """conv/pool ``padding``: canonical ``"SAME"``, ``"VALID"`` or ``((t, b), (l, r))``."""
    kinds = ["string", "string", "string", "short", "short", "tf", "numpy", "huge"]
    kinds += ["limit", "bad_string", "bad_value", "bad_shape"] if wild else []
    kind = draw(st.sampled_from(kinds), label="padding kind")
    if kind == "string":
        word = draw(st.sampled_from(["SAME", "VALID"]), label="padding word")
        return Arg(draw(st.sampled_from([word, word.lower(), word.capitalize()]), label="padding case"), VALID, word)
    if kind in ("short", "tf", "numpy", "huge", "limit"):
        pads = [draw(st.integers(0, small_max), label=f"pad {i}") for i in range(4)]
        status = VALID
        if kind in ("huge", "limit"):
            i = draw(st.integers(0, 3), label="huge pad index")
            pads[i] = draw(st.sampled_from(HUGE_OK if kind == "huge" else HUGE_LIMIT), label="huge pad")
            status = VALID if kind == "huge" else LIMIT
        t, b, l, r = pads
        canonical = ((t, b), (l, r))
        if kind == "tf":
            value: Any = [[0, 0], [t, b], [l, r], [0, 0]] if data_format == "NHWC" else [[0, 0], [0, 0], [t, b], [l, r]]
        elif kind == "numpy":
            value = np.array([[t, b], [l, r]])
        else:
            value = draw(st.sampled_from([((t, b), (l, r)), [[t, b], [l, r]], [(t, b), [l, r]]]), label="short form")
        return Arg(value, status if explicit else INVALID, canonical if explicit else None)
    if kind == "bad_string":
        return Arg(
            draw(
                st.sampled_from(["FULL", "", " SAME", "VALID ", "CAUSAL", "SAMEE", b"SAME", "EXPLICIT"]),
                label="bad padding string",
            ),
            INVALID,
        )
    if kind == "bad_value":
        bad = draw(
            st.sampled_from([-1, -(2**62), 1.0, 0.5, float("nan"), True, None, "1", np.float64(1)]),
            label="bad pad value",
        )
        return Arg(
            draw(
                st.sampled_from([[[bad, 0], [0, 0]], [[0, 0], [0, bad]], [[0, 0], [bad, 0], [0, 0], [0, 0]]]),
                label="bad pad place",
            ),
            INVALID,
        )
    channel_pad = [[0, 0], [1, 1], [1, 1], [1, 0]] if data_format == "NHWC" else [[0, 0], [1, 0], [1, 1], [1, 1]]
    return Arg(
        draw(
            st.sampled_from(
                [
                    None,
                    0,
                    1,
                    [1, 1],
                    [[1, 1]],
                    [[1, 1], [1, 1], [1, 1]],
                    [[1, 2, 3], [0, 0]],
                    [[1, 0], [0, 0], [0, 0], [0, 0]],
                    channel_pad,
                    np.zeros((2, 2)),
                    np.zeros((2, 2, 2), int),
                    {"top": 1},
                    [[[1], [1]], [[1], [1]]],
                ]
            ),
            label="bad padding shape",
        ),
        INVALID,
    )


@st.composite
def data_format_args(draw, wild: bool = True, none_is_nhwc: bool = False) -> Arg:
    """``data_format``; ``none_is_nhwc`` for the ops whose default is None (meaning NHWC)."""
    kind = draw(st.integers(0, 9), label="data_format roll")
    if kind < 8 or not wild:
        fmt = draw(st.sampled_from(["NHWC", "NCHW"]), label="data_format")
        return Arg(draw(st.sampled_from([fmt, fmt.lower()]), label="data_format case"), VALID, fmt)
    bad = draw(st.sampled_from(["NWHC", "HWC", "", None, 1, b"NHWC", "NHWC "]), label="bad data_format")
    if bad is None and none_is_nhwc:
        return Arg(None, VALID, "NHWC")
    return Arg(bad, INVALID)


# --------------------------------------------------------------------------- direct oracles
# Kept beside convops.reference and checks.window_conv2d on purpose: both of those pad the array,
# which cannot be done for the pads of 2**40 and more (or SAME with a dilation near 2**60) that
# this suite draws. These loops visit only each output position's real cells, so any geometry
# whose *output* is small can be checked. They are not a third copy of the same idea: they are
# the only oracle that scales with the output instead of the padded input.


def direct_conv2d(x: np.ndarray, w: np.ndarray, strides, pads, dilations) -> np.ndarray:
    """conv2d visiting only each output position's taps: works for any stride/pad/dilation (the
    reference pads the array, which it cannot do for a pad of 2**40). Padded taps contribute
    ``0 * w`` so that inf/NaN filters behave as in the padded reference and TensorFlow."""
    n, height, width, c_in = x.shape
    kh, kw, c_group, c_out = w.shape
    groups = c_in // c_group
    c_out_group = c_out // groups
    (sh, sw), ((top, bottom), (left, right)), (dh, dw) = strides, pads, dilations
    h_out, w_out = output_size(height, kh, sh, (top, bottom), dh), output_size(width, kw, sw, (left, right), dw)
    if 0 in (n, h_out, w_out, c_out):
        # (h_out may be 2**60 when w_out is 0: no loop over it, and no wider dtype than x's)
        return np.zeros((n, h_out, w_out, c_out), dtype=x.dtype)
    acc = np.int64 if x.dtype.kind in "iu" else np.float64
    xa, wa = x.astype(acc), w.astype(acc)
    out = np.zeros((n, h_out, w_out, c_out), dtype=acc)
    zeros = np.zeros((n, c_group), dtype=acc)
    for oy in range(h_out):
        for ox in range(w_out):
            for ky in range(kh):
                iy = oy * sh - top + ky * dh
                for kx in range(kw):
                    ix = ox * sw - left + kx * dw
                    inside = 0 <= iy < height and 0 <= ix < width
                    for g in range(groups):
                        cs, os_ = slice(g * c_group, (g + 1) * c_group), slice(g * c_out_group, (g + 1) * c_out_group)
                        patch = xa[:, iy, ix, cs] if inside else zeros
                        if acc is np.int64 and not inside:
                            continue
                        out[:, oy, ox, os_] += patch @ wa[ky, kx, :, os_]
    return out.astype(x.dtype)


def direct_pool(x: np.ndarray, ksize, strides, pads, kind: str, count_include_pad: bool = False) -> np.ndarray:
    """max/avg pooling over each window's real cells (clamped, so any window size works)."""
    n, height, width, channels = x.shape
    (kh, kw), (sh, sw), ((top, bottom), (left, right)) = ksize, strides, pads
    h_out, w_out = output_size(height, kh, sh, (top, bottom)), output_size(width, kw, sw, (left, right))
    if kind == "max":
        lowest = np.finfo(x.dtype).min if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        out = np.full((n, h_out, w_out, channels), lowest, dtype=x.dtype)
    else:
        out = np.zeros((n, h_out, w_out, channels), dtype=x.dtype)
    if out.size == 0:
        return out
    for oy in range(h_out):
        y0, y1 = max(oy * sh - top, 0), min(oy * sh - top + kh, height)
        for ox in range(w_out):
            x0, x1 = max(ox * sw - left, 0), min(ox * sw - left + kw, width)
            if kind == "max":
                best = out[:, oy, ox, :].copy()
                for iy in range(y0, y1):
                    for ix in range(x0, x1):
                        value = x[:, iy, ix, :]
                        best = np.where(value > best, value, best)  # NaN never wins
                out[:, oy, ox, :] = best
            else:
                total = np.zeros((n, channels), dtype=x.dtype)
                for iy in range(y0, y1):
                    for ix in range(x0, x1):
                        total = total + x[:, iy, ix, :]  # one addition at a time, in the input dtype
                cells = kh * kw if count_include_pad else max(y1 - y0, 0) * max(x1 - x0, 0)
                with np.errstate(all="ignore"):  # 0/0 for a window without real cells is NaN
                    if np.isfinite(x.dtype.type(float(cells))):
                        out[:, oy, ox, :] = total / x.dtype.type(float(cells))
                    else:  # a count beyond float16's range: the quotient, rounded once
                        out[:, oy, ox, :] = (total.astype(np.float64) / float(cells)).astype(x.dtype)
    return out


# --------------------------------------------------------------------------- comparisons


def _same_nan_inf(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Mask of elements that agree as non-finite values (both NaN, or the same infinity)."""
    if got.dtype.kind != "f":
        return np.zeros(got.shape, dtype=bool)
    return (np.isnan(got) & np.isnan(want)) | (np.isinf(got) & (got == want))


def assert_array(got: Any, want: np.ndarray, repro: str, bound: np.ndarray | None = None) -> None:
    """``got`` is an ndarray of ``want``'s shape and dtype in native byte order (convops returns
    a big-endian input's results natively), equal (or within ``bound``)."""
    assert isinstance(got, np.ndarray), f"returned {type(got).__name__}, not an ndarray\n  reproduce: {repro}"
    assert got.shape == want.shape, f"shape {got.shape}, expected {want.shape}\n  reproduce: {repro}"
    native = want.dtype.newbyteorder("=")
    assert got.dtype == native, f"dtype {got.dtype}, expected {native}\n  reproduce: {repro}"
    if got.size == 0:
        return
    if bound is None:
        ok = (got == want) | _same_nan_inf(got, want)
    else:
        g64, w64 = got.astype(np.float64), want.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            close = np.abs(g64 - w64) <= bound
        # Where the bound itself is not finite (inf/NaN in the window), only non-finite agreement counts.
        ok = np.where(np.isfinite(bound), close | _same_nan_inf(g64, w64), _same_nan_inf(g64, w64) | (g64 == w64))
    if not np.all(ok):
        index = tuple(int(i) for i in np.argwhere(~ok)[0])
        raise AssertionError(
            f"wrong value at {index}: got {got[index]!r}, expected {want[index]!r} "
            f"({int((~ok).sum())} of {got.size} differ)\n  reproduce: {repro}"
        )


# --------------------------------------------------------------------------- the property


#: A refusal must name an offending argument: `name` in backticks (the package's style), or the
#: bare word for relational messages such as "MEAN padding needs a non-empty input".
def _names_argument(message: str, names: Sequence[str]) -> bool:
    return any(re.search(rf"(`{re.escape(n)}`|\b{re.escape(n)}\b)", message) for n in names)


def is_layout_hint(caught: warnings.WarningMessage) -> bool:
    """convops' documented warnings for data that looks like PyTorch's layouts (OIHW filters with
    NCHW data, an NCHW-looking batch pooled without ``data_format``): a hint about the caller's
    intent, not a sign of garbage, so drawn arguments may trigger it."""
    text = str(caught.message)
    return caught.category is UserWarning and ("filters_format=" in text or "looks like NCHW" in text)


def learner_2d_pair(first: ArrayArg, second: ArrayArg, ok_dtypes) -> tuple[np.ndarray, np.ndarray] | None:
    """conv2d's documented 2-D rule, written from the API docs: one (H, W) image with one (KH, KW)
    kernel, at least one of them integer or bool and not already a valid pair of one dtype, are
    computed in floating point -- the float dtype among them, else float32 when every integer
    needs at most 16 bits (a list: its values; an array: its itemsize), else float64. None when the
    rule does not apply."""
    if first.canonical is None or second.canonical is None:
        return None
    values = []
    for arg in (first, second):
        array = arg.canonical
        if arg.is_list:
            array = array.astype(default_list_dtype(array))
        if array.dtype.kind not in "biuf" or array.ndim != 2 or array.dtype.itemsize > 8:
            return None
        values.append(array.astype(array.dtype.newbyteorder("=")))
    a, b = values
    if a.dtype == b.dtype and a.dtype.name in ok_dtypes:
        return None
    if not any(v.dtype.kind in "biu" for v in values):
        return None
    floats = [v.dtype for v in values if v.dtype.kind == "f"]
    if floats:
        target = np.result_type(*floats)
    else:

        def width(arg, array):
            if arg.is_list and array.size and array.min() >= -(2**15) and array.max() < 2**15:
                return 2
            return array.dtype.itemsize

        target = np.dtype(np.float32 if max(width(first, a), width(second, b)) <= 2 else np.float64)
    if target.name not in ok_dtypes:
        return None
    return a.astype(target), b.astype(target)


def check(call: Call) -> None:
    """Make ``call`` and assert the property of the module docstring."""
    repro = call.repro()
    event(f"{call.status}{' (size refusal)' if call.size_refusal else ''}")
    note(f"call: {repro}\nexpected: {call.status}" + (f" (may name {call.names})" if call.names else ""))
    before = [_snapshot(v) for v in (*call.args, *call.kwargs.values())]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, error = call.function(*call.args, **call.kwargs), None
        except (ValueError, TypeError, MemoryError) as exc:
            result, error = None, exc
        except Exception as exc:  # noqa: BLE001 - anything else is the bug this suite hunts
            raise AssertionError(f"raised {type(exc).__name__}: {exc}\n  reproduce: {repro}") from exc
    for value, old in zip((*call.args, *call.kwargs.values()), before):
        _assert_unchanged(value, old, repro)
    caught = [w for w in caught if not is_layout_hint(w)]
    if caught:
        raise AssertionError(f"emitted {caught[0].category.__name__}: {caught[0].message}\n  reproduce: {repro}")

    if error is not None:
        if isinstance(error, MemoryError):
            assert call.status == LIMIT or call.size_refusal, (
                f"MemoryError for a small valid request: {error}\n  reproduce: {repro}"
            )
            return
        if call.status == VALID and not call.size_refusal:
            raise AssertionError(f"refused a valid call with {type(error).__name__}: {error}\n  reproduce: {repro}")
        if call.status == LIMIT and isinstance(error, ValueError) and "too large" in str(error):
            return  # a size refusal (the output's extent or byte count cannot be indexed)
        if call.size_refusal and not _names_argument(str(error), call.names):
            assert isinstance(error, ValueError) and "large" in str(error), (
                f"an absurdly large output was refused with {type(error).__name__}: {error}\n  reproduce: {repro}"
            )
            return
        assert _names_argument(str(error), call.names), (
            f"{type(error).__name__} does not name any of {call.names}: {error}\n  reproduce: {repro}"
        )
        return

    if call.status == INVALID:
        raise AssertionError(
            f"accepted an invalid call (should name one of {call.names}); returned "
            f"{_describe_result(result)}\n  reproduce: {repro}"
        )
    if call.size_refusal:
        raise AssertionError(
            f"returned {_describe_result(result)} for an output of >= 2**46 elements\n  reproduce: {repro}"
        )
    if call.expected is not None:
        with np.errstate(all="ignore"), warnings.catch_warnings():  # the oracle's own inf/NaN arithmetic
            warnings.simplefilter("ignore")
            want = call.expected()
        (call.compare or (lambda g, w, r: assert_array(g, w, r)))(result, want, repro)
    for value in (*call.args, *call.kwargs.values()):
        if isinstance(value, np.ndarray) and isinstance(result, np.ndarray) and result.size and value.size:
            assert not np.shares_memory(result, value), f"the result is a view of an argument\n  reproduce: {repro}"


def _describe_result(result: Any) -> str:
    if isinstance(result, np.ndarray):
        return f"an array of shape {result.shape} and dtype {result.dtype}"
    return repr(result)[:200]


def _snapshot(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy(), value.flags.writeable, value.strides, value.tobytes()
    if isinstance(value, ArrayLike):
        return _snapshot(value._array)
    try:
        return repr(value)
    except Exception:  # noqa: BLE001
        return None


def _assert_unchanged(value: Any, old: Any, repro: str) -> None:
    if isinstance(value, ArrayLike):
        value = value._array
    if isinstance(value, np.ndarray):
        _, writeable, strides, data = old
        assert value.tobytes() == data, f"an argument was modified in place\n  reproduce: {repro}"
        assert value.flags.writeable == writeable and value.strides == strides, (
            f"an argument's flags or strides changed\n  reproduce: {repro}"
        )
    elif old is not None:
        assert repr(value) == old, f"an argument ({type(value).__name__}) was modified\n  reproduce: {repro}"


def absurd_or_checked(call: Call, shape: Sequence[int], itemsize: int) -> None:
    """Valid calls with huge outputs: absurd ones must be refused (>= ABSURD elements, or an
    empty shape NumPy cannot represent: its non-zero extents times the item size overflow
    intp); merely large ones are not drawn."""
    if call.status == INVALID:
        return
    elements, nonzero = 1, itemsize
    for extent in shape:
        elements *= extent
        nonzero *= max(extent, 1)
    if elements >= ABSURD or nonzero > np.iinfo(np.intp).max:
        call.size_refusal = True
        call.expected = None
        return
    assume(elements <= MAX_CHECKED_OUTPUT)

# Size: one generator of valid and invalid calls per op and arithmetic function.
"""Argument fuzzing of every public function (the property is in ``fuzzing.py``).

Not collected by pytest's default pattern on purpose: ``test_fuzz.py`` runs this module in a
child process, so that a segfault, an abort or a hang in a kernel fails that test with the
child's output instead of killing the whole test session. Run it directly while debugging:

    python -m pytest tests/hardening/fuzz_ops.py

Examples per function: ``FUZZ_FACTOR`` times the Hypothesis profile's ``max_examples`` (each
example is one call on arrays of a few dozen elements, so they are cheap): 800 with the ``ci``
profile, 4,000 with ``thorough``; ``CONVOPS_FUZZ_EXAMPLES`` sets the count outright.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import checks
import convops
from convops import arithmetic, reference
from hardening.fuzzing import (
    HUGE_LIMIT,
    HUGE_OK,
    INVALID,
    LIMIT,
    VALID,
    Arg,
    Call,
    absurd_or_checked,
    array_args,
    assert_array,
    check,
    combine,
    data_format_args,
    default_list_dtype,
    direct_conv2d,
    direct_pool,
    garbage_array_arg,
    int_like,
    learner_2d_pair,
    mark_byte_order,
    padding_args,
    resolve_operands,
    spatial_args,
)
from tf_rules import effective_kernel, explicit_pads, output_size, same_pads

FUZZ_FACTOR = 4
#: CONVOPS_FUZZ_EXAMPLES overrides the count (scripts/sanitize.sh sets it for its reduced budget).
FUZZ = settings(
    max_examples=int(os.environ.get("CONVOPS_FUZZ_EXAMPLES") or 0) or FUZZ_FACTOR * settings.default.max_examples
)

CONV_DTYPES = ("float16", "float32", "float64", "int32")
MAX_POOL_DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16")
AVG_POOL_DTYPES = ("float16", "float32", "float64")
PAD_DTYPES = (
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
    "longdouble",
)
#: The reference pads arrays for real; above this pad/stride/dilation the direct loops are used.
SMALL_GEOMETRY = 64


def side(draw, label: str, high: int = 5) -> int:
    """A spatial side: mostly 1..high, sometimes 0 (empty arrays are legal inputs)."""
    return 0 if draw(st.integers(0, 11), label=f"{label} zero?") == 0 else draw(st.integers(1, high), label=label)


def nchw(shape_nhwc, data_format: str):
    n, h, w, c = shape_nhwc
    return (n, c, h, w) if data_format == "NCHW" else (n, h, w, c)


def odd_rank_shape(draw, label: str):
    rank = draw(st.sampled_from([0, 1, 3, 5]), label=f"{label} rank")
    return tuple(draw(st.integers(1, 3), label=f"{label} dim") for _ in range(rank))


# --------------------------------------------------------------------------- conv2d


@st.composite
# Size: one flat list of every kind of bad value for each argument reads better than helpers.
def conv2d_calls(draw) -> Call:
    wild = draw(st.integers(0, 9), label="wild?") >= 4  # else every argument is drawn valid
    fmt = draw(data_format_args(wild))
    layout = fmt.canonical or "NHWC"
    form = draw(st.sampled_from(["4d"] * 8 + ["2d"] + (["odd"] if wild else [])), label="input rank form")
    groups = draw(st.integers(1, 2), label="groups")
    c_group = draw(st.integers(1, 3), label="C_in/groups")
    c_in = groups * c_group if draw(st.integers(0, 9), label="channels fit?") or not wild else draw(st.integers(0, 4))
    c_out = (
        groups * draw(st.integers(0, 2), label="C_out/groups")
        if draw(st.integers(0, 9)) or not wild
        else draw(st.integers(0, 3))
    )
    if c_out == 0 and draw(st.integers(0, 3)):
        c_out = groups
    n, h, w = side(draw, "N", 2), side(draw, "H"), side(draw, "W")
    kh, kw = side(draw, "KH", 3), side(draw, "KW", 3)
    if form == "4d":
        x_shape, w_shape = nchw((n, h, w, c_in), layout), (kh, kw, c_group, c_out)
    elif form == "2d":
        x_shape, w_shape = (h, w), (kh, kw) if draw(st.integers(0, 5)) else (kh, kw, 1, 1)
    else:
        x_shape, w_shape = odd_rank_shape(draw, "input"), (kh, kw, c_group, c_out)

    if wild and draw(st.integers(0, 9), label="input garbage?") == 0:
        x = garbage_array_arg(draw, "input")
    else:
        x = draw(array_args("input", CONV_DTYPES, x_shape, styles=("normal", "ties", "nan"), exotic=wild))
    same_dtype = (
        x.canonical is not None and x.canonical.dtype.name in CONV_DTYPES and (draw(st.integers(0, 7)) > 0 or not wild)
    )
    filters = draw(
        array_args(
            "filters",
            CONV_DTYPES,
            w_shape,
            styles=("normal", "ties"),
            exotic=wild,
            prefer=x.canonical.dtype.name if same_dtype else None,
        )
    )
    strides = draw(spatial_args("strides", layout, wild=wild))
    dilations = draw(spatial_args("dilations", layout, wild=wild))
    padding = draw(padding_args(layout, wild=wild))
    args: dict[str, Arg] = {
        "input": x,
        "filters": filters,
        "strides": strides,
        "dilations": dilations,
        "padding": padding,
        "data_format": fmt,
    }
    kwargs = {
        "strides": strides.value,
        "padding": padding.value,
        "dilations": dilations.value,
        "data_format": fmt.value,
    }
    call = Call("conv2d", convops.conv2d, (x.value, filters.value), kwargs)

    promoted = learner_2d_pair(x, filters, CONV_DTYPES)
    if promoted is not None:  # the learner's 2-D form computes integer operands as floats
        for arg in (x, filters):
            arg.status = VALID if arg.status == INVALID else arg.status
        xa, wa = promoted
        rules = []
    else:
        if x.status == INVALID or x.canonical is None or filters.status == INVALID:
            # A list operand takes the other one's dtype, so a bad dtype may be reported on either.
            return combine(call, args, [(x.is_list or filters.is_list, ["input", "filters"])])
        xa, wa, match = resolve_operands(x, filters)
        mark_byte_order(((x, xa), (filters, wa)))
        rules = [
            (xa is None or xa.dtype.name not in CONV_DTYPES, ["input"]),
            (not match or wa is None, ["filters", "input"]),
        ]
        if any(violated for violated, _ in rules):
            return combine(call, args, rules)
    rules += [
        (xa.ndim not in (2, 4), ["input"]),
        (xa.ndim == 2 and wa.ndim != 2, ["filters", "input"]),
        (xa.ndim == 4 and wa.ndim != 4, ["filters"]),
    ]
    if any(violated for violated, _ in rules):
        return combine(call, args, rules)
    image_2d = xa.ndim == 2
    x4 = xa[None, :, :, None] if image_2d else (xa.transpose(0, 2, 3, 1) if layout == "NCHW" else xa)
    w4 = wa[:, :, None, None] if image_2d else wa
    n, h, w, c_in = x4.shape
    kh, kw, c_group, c_out = w4.shape
    rules += [
        (min(kh, kw, c_group) < 1, ["filters"]),
        (c_in < 1 or (c_group >= 1 and c_in % c_group != 0), ["filters", "input"]),
    ]
    if not any(v for v, _ in rules):
        rules.append((c_out % (c_in // c_group) != 0, ["filters"]))
    call = combine(call, args, rules)
    if call.status == INVALID or strides.canonical is None or dilations.canonical is None or fmt.canonical is None:
        return call
    pads = explicit_pads(padding.canonical, (h, w), (kh, kw), strides.canonical, dilations.canonical)
    if max(max(p) for p in pads) > 2**60:  # SAME padding of a huge dilation
        call.status, call.names = LIMIT, tuple(set(call.names) | {"dilations", "padding"})
    (sh, sw), (dh, dw) = strides.canonical, dilations.canonical
    h_out, w_out = output_size(h, kh, sh, pads[0], dh), output_size(w, kw, sw, pads[1], dw)
    absurd_or_checked(call, (n, h_out, w_out, c_out), 4 if xa.dtype == np.float16 else xa.dtype.itemsize)
    call.expected = lambda: _conv2d_expected(x4, w4, (sh, sw), pads, (dh, dw), image_2d, layout)
    call.compare = lambda got, want_bound, repro: assert_array(got, want_bound[0], repro, want_bound[1])
    return call


def _conv2d_expected(x4, w4, strides, pads, dilations, image_2d: bool, layout: str):
    """(want, bound) for conv2d: the reference for small geometry, the direct loops otherwise, in
    the caller's layout (a 2-D image and NCHW are NHWC here)."""
    small = max(*strides, *dilations, *pads[0], *pads[1]) <= SMALL_GEOMETRY
    if small:
        want = reference.conv2d_reference(x4, w4, strides, pads, dilations)
    else:
        want = direct_conv2d(x4, w4, strides, pads, dilations)
    bound = None
    if want.dtype.kind == "f" and want.size:
        if small:
            magnitude = checks.window_conv2d(np.abs(x4), np.abs(w4), strides, pads, dilations)
        else:
            magnitude = direct_conv2d(
                np.abs(x4.astype(np.float64)), np.abs(w4.astype(np.float64)), strides, pads, dilations
            )
        kh, kw, c_group, _ = w4.shape
        bound = checks.conv_bound(want, magnitude, kh * kw * c_group, want.dtype)
    if image_2d:
        return want[0, :, :, 0], None if bound is None else bound[0, :, :, 0]
    if layout == "NCHW":
        return want.transpose(0, 3, 1, 2), None if bound is None else bound.transpose(0, 3, 1, 2)
    return want, bound


# --------------------------------------------------------------------------- pools


def _averaged_as_float(x) -> np.ndarray | None:
    """avg_pool2d's documented 2-D rule: an integer or bool image is averaged as float32 (float64
    for integers wider than 16 bits; a list by its values). None where it does not apply."""
    if x.canonical is None:
        return None
    image = x.canonical.astype(default_list_dtype(x.canonical)) if x.is_list else x.canonical
    if image.ndim != 2 or image.dtype.kind not in "biu" or image.dtype.itemsize > 8:
        return None
    narrow = image.dtype.itemsize <= 2 or (x.is_list and image.size and image.min() >= -(2**15) and image.max() < 2**15)
    x.status = VALID if x.status == INVALID else x.status
    return image.astype(np.float32 if narrow else np.float64)


@st.composite
def pool_calls(draw, op: str) -> Call:
    dtypes = MAX_POOL_DTYPES if op == "max_pool2d" else AVG_POOL_DTYPES
    wild = draw(st.integers(0, 9), label="wild?") >= 4  # else every argument is drawn valid
    fmt = draw(data_format_args(wild, none_is_nhwc=True))
    layout = fmt.canonical or "NHWC"
    form = draw(st.sampled_from(["4d"] * 8 + ["2d"] + (["odd"] if wild else [])), label="input rank form")
    n, h, w, c = side(draw, "N", 2), side(draw, "H"), side(draw, "W"), side(draw, "C", 3)
    shape = nchw((n, h, w, c), layout) if form == "4d" else (h, w) if form == "2d" else odd_rank_shape(draw, "input")
    if wild and draw(st.integers(0, 9), label="input garbage?") == 0:
        x = garbage_array_arg(draw, "input")
    else:
        x = draw(array_args("input", dtypes, shape, exotic=wild))
    ksize = draw(spatial_args("ksize", layout, 4, wild=wild))
    strides = draw(spatial_args("strides", layout, wild=wild))
    padding = draw(padding_args(layout, wild=wild))
    if not wild and not isinstance(padding.canonical, str) and ksize.canonical is not None:
        # valid explicit pool padding is smaller than the window
        (t, b), (l, r) = padding.canonical
        kh, kw = ksize.canonical
        padding = Arg(((min(t, kh - 1), min(b, kh - 1)), (min(l, kw - 1), min(r, kw - 1))), VALID)
        padding.canonical = padding.value
    args: dict[str, Arg] = {"input": x, "ksize": ksize, "strides": strides, "padding": padding, "data_format": fmt}
    kwargs: dict[str, Any] = {"padding": padding.value, "data_format": fmt.value}
    geometry_rules = []
    if ksize.canonical is not None and padding.canonical is not None and not isinstance(padding.canonical, str):
        # Pool padding must be smaller than the window (checkable whatever the input is).
        (t, b), (l, r) = padding.canonical
        geometry_rules.append(
            (max(t, b) >= ksize.canonical[0] or max(l, r) >= ksize.canonical[1], ["padding", "ksize"])
        )
    count_include_pad = False
    if op == "avg_pool2d" and draw(st.booleans(), label="pass count_include_pad?"):
        cip = draw(
            st.sampled_from([True, False, np.True_, np.False_] + ([1, 0, "yes", None] if wild else [])),
            label="count_include_pad",
        )
        ok = isinstance(cip, (bool, np.bool_))
        args["count_include_pad"] = Arg(cip, VALID if ok else INVALID)
        kwargs["count_include_pad"] = cip
        count_include_pad = bool(cip) if ok else False
    function = getattr(convops, op)
    call = Call(op, function, (x.value, ksize.value, strides.value), kwargs)
    xa = _averaged_as_float(x) if op == "avg_pool2d" else None
    if xa is None:
        if x.status == INVALID or x.canonical is None:
            return combine(call, args, geometry_rules)
        xa = x.canonical.astype(default_list_dtype(x.canonical)) if x.is_list else x.canonical
    rules = geometry_rules + [(xa.dtype.name not in dtypes, ["input"]), (xa.ndim not in (2, 4), ["input"])]
    if any(v for v, _ in rules) or ksize.canonical is None or padding.canonical is None:
        return combine(call, args, rules)
    (kh, kw) = ksize.canonical
    call = combine(call, args, rules)
    if call.status == INVALID or strides.canonical is None or fmt.canonical is None:
        return call
    image_2d = xa.ndim == 2
    x4 = xa[None, :, :, None] if image_2d else (xa.transpose(0, 2, 3, 1) if layout == "NCHW" else xa)
    x4 = x4.astype(x4.dtype.newbyteorder("="))
    n, h, w, c = x4.shape
    (sh, sw) = strides.canonical
    pads = explicit_pads(padding.canonical, (h, w), (kh, kw), (sh, sw), (1, 1))
    h_out, w_out = output_size(h, kh, sh, pads[0]), output_size(w, kw, sw, pads[1])
    absurd_or_checked(call, (n, h_out, w_out, c), 8)  # (max_pool2d_with_argmax's int64 indices)
    small = max(kh, kw, sh, sw) <= SMALL_GEOMETRY

    def expected():
        if small and op == "max_pool2d":
            want = reference.max_pool2d_reference(x4, (kh, kw), (sh, sw), pads)
        elif small:
            with np.errstate(invalid="ignore", over="ignore"):
                want = reference.avg_pool2d_reference(x4, (kh, kw), (sh, sw), pads, count_include_pad)
        else:
            want = direct_pool(x4, (kh, kw), (sh, sw), pads, "max" if op == "max_pool2d" else "avg", count_include_pad)
        if image_2d:
            return want[0, :, :, 0]
        return want.transpose(0, 3, 1, 2) if layout == "NCHW" else want

    def compare(got, want, repro):
        # A window of more than 2**24 cells divided by KH*KW: the divisor itself is rounded, so
        # allow a few ulps; every other pooling result is exact.
        bound = None
        if op == "avg_pool2d" and count_include_pad and kh * kw > 2**24:
            bound = 4 * np.finfo(want.dtype).eps * np.abs(want.astype(np.float64))
        assert_array(got, want, repro, bound)

    call.expected, call.compare = expected, compare
    return call


# --------------------------------------------------------------------------- pad and padding_index

NUMPY_MODE = {"REFLECT": "reflect", "SYMMETRIC": "symmetric", "EDGE": "edge", "CIRCULAR": "wrap"}


@st.composite
# Size: one flat list of every kind of bad value for each argument reads better than helpers.
def pad_calls(draw) -> Call:
    rank = draw(st.sampled_from([0, 1, 2, 2, 3, 4, 4]), label="rank")
    shape = tuple(side(draw, f"dim {i}", 4) for i in range(rank))
    if draw(st.integers(0, 19), label="input garbage?") == 0:
        x = garbage_array_arg(draw, "input")
    else:
        x = draw(array_args("input", PAD_DTYPES, shape))
    paddings = _pad_paddings_arg(draw, rank)
    # mode and constant_values
    mode_word = draw(st.sampled_from(convops.PAD_MODES), label="mode")
    if draw(st.integers(0, 9), label="mode roll"):
        mode = Arg(draw(st.sampled_from([mode_word, mode_word.lower(), mode_word.capitalize()])), VALID, mode_word)
    else:
        mode = Arg(draw(st.sampled_from(["WRAP", "reflect101", "", None, 1, b"REFLECT", "CONSTANT "])), INVALID)
    args: dict[str, Arg] = {"input": x, "paddings": paddings, "mode": mode}
    kwargs: dict[str, Any] = {"mode": mode.value}
    cv: Any = 0
    if draw(st.booleans(), label="pass constant_values?"):
        cv = draw(
            st.sampled_from(
                [
                    0,
                    1,
                    -1,
                    7,
                    300,
                    -129,
                    2.0,
                    2.5,
                    float("nan"),
                    float("inf"),
                    1e300,
                    True,
                    np.float32(1.5),
                    np.int64(-3),
                    np.array(4),
                    [1, 2],
                    "a",
                    None,
                    1j,
                    np.array([1]),
                ]
            ),
            label="constant_values",
        )
        kwargs["constant_values"] = cv
    call = Call("pad", convops.pad, (x.value, paddings.value), kwargs)
    if x.status == INVALID or x.canonical is None:
        args["constant_values"] = Arg(cv)
        return combine(call, args)
    xa = x.canonical.astype(default_list_dtype(x.canonical)) if x.is_list else x.canonical
    cv_arg = _constant_values_arg(cv, xa.dtype)
    if mode.canonical not in (None, "CONSTANT") and cv_arg.status == INVALID:
        cv_arg.status = LIMIT  # unused outside CONSTANT: ignoring or refusing it are both fine
    args["constant_values"] = cv_arg
    rules = [(xa.dtype.kind not in "biuf", ["input"]), (xa.ndim == 0, ["input"])]
    if any(v for v, _ in rules) or paddings.canonical is None or mode.canonical is None:
        return combine(call, args, rules)
    rules.append((len(paddings.canonical) != xa.ndim, ["paddings"]))
    if len(paddings.canonical) == xa.ndim:
        for (before, after), size in zip(paddings.canonical, xa.shape):
            limit = {"REFLECT": size - 1, "SYMMETRIC": size}.get(mode.canonical)
            rules.append((limit is not None and max(before, after) > limit, ["paddings", "mode"]))
            rules.append(
                (
                    mode.canonical in ("EDGE", "CIRCULAR") and size == 0 and before + after > 0,
                    ["paddings", "input", "mode"],
                )
            )
        out_shape = tuple(size + b + a for size, (b, a) in zip(xa.shape, paddings.canonical))
        out_count = int(np.prod(out_shape, dtype=object))
        if mode.canonical == "MEAN" and out_count:
            rules.append(
                (
                    any(size == 0 and (b or a) for size, (b, a) in zip(xa.shape, paddings.canonical)),
                    ["input", "paddings", "mode"],
                )
            )
    call = combine(call, args, rules)
    if call.status == INVALID:
        return call
    absurd_or_checked(call, out_shape, xa.dtype.itemsize)
    native = xa.astype(xa.dtype.newbyteorder("="))

    def expected():
        if mode.canonical == "CONSTANT":
            return reference.pad_reference(native, paddings.canonical, "CONSTANT", cv_arg.canonical)
        return reference.pad_reference(native, paddings.canonical, mode.canonical)

    def compare(got, want, repro):
        bound = None
        # (want.size: an empty result of extent 2**60 cannot be widened to float64 to build a bound.)
        if mode.canonical == "MEAN" and want.dtype.kind == "f" and want.size:
            # A mean's last bit depends on how it is summed (the reference divides each value by the
            # count first; convops sums, then divides): a few ulps either way are the same mean.
            with np.errstate(all="ignore"):  # (both compute a longdouble mean in float64)
                eps = max(float(np.finfo(want.dtype).eps), float(np.finfo(np.float64).eps))
                bound = 4 * eps * np.abs(want.astype(np.float64))
        assert_array(
            got.astype(got.dtype.newbyteorder("=")) if isinstance(got, np.ndarray) else got, want, repro, bound
        )

    call.expected, call.compare = expected, compare
    return call


def _pad_paddings_arg(draw, rank: int) -> Arg:
    """pad's ``paddings`` for an input of ``rank``: a list/array/tuple of pairs (some huge), or garbage."""
    kind = draw(
        st.sampled_from(["list"] * 5 + ["numpy", "tuple", "huge", "limit", "bad_value", "bad_shape"]),
        label="paddings kind",
    )
    pairs = [(draw(st.integers(0, 3), label="before"), draw(st.integers(0, 3), label="after")) for _ in range(rank)]
    paddings_status, paddings_canonical = VALID, None
    if kind in ("list", "numpy", "tuple", "huge", "limit"):
        if kind in ("huge", "limit") and rank:
            i = draw(st.integers(0, rank - 1), label="huge axis")
            big = draw(st.sampled_from(HUGE_OK if kind == "huge" else HUGE_LIMIT), label="huge pad")
            pairs[i] = (big, pairs[i][1]) if draw(st.booleans()) else (pairs[i][0], big)
            paddings_status = VALID if kind == "huge" else LIMIT
        paddings_canonical = tuple(pairs)
        value: Any = (
            np.array(pairs, dtype=np.int64).reshape(rank, 2)
            if kind == "numpy" and max([0] + [max(p) for p in pairs]) < 2**63
            else tuple(tuple(p) for p in pairs)
            if kind == "tuple"
            else [list(p) for p in pairs]
        )
        if rank == 0 and kind == "numpy":
            value = np.zeros((0, 2), dtype=np.int64)
    elif kind == "bad_value":
        bad = draw(st.sampled_from([-1, 1.0, 0.5, float("nan"), True, None, "1", np.float64(1.0)]), label="bad pad")
        value = [list(p) for p in pairs] + ([] if rank else [[0, 0]])
        value[0] = [bad, 0] if draw(st.booleans()) else [0, bad]
        paddings_status = INVALID
    else:
        value = draw(
            st.sampled_from(
                [
                    None,
                    "SAME",
                    1,
                    [[1, 1]] * (rank + 1),
                    [[1]] * max(rank, 1),
                    [[1, 1, 1]] * max(rank, 1),
                    np.zeros((max(rank, 1), 2)),
                    {0: (1, 1)},
                    [[[1, 1]]] * max(rank, 1),
                ]
            ),
            label="bad paddings",
        )
        paddings_status = INVALID
    return Arg(value, paddings_status, paddings_canonical)


def _constant_values_arg(cv: Any, dtype: np.dtype) -> Arg:
    """tf.pad's rules for ``constant_values`` (checked with TF 2.21 here): a real scalar; a float
    into an integer array must be a finite integer in range; a bool array takes bools or 0/1;
    integers out of an integer dtype's range wrap, as TF wraps them."""
    value = np.asarray(cv) if not isinstance(cv, (str, type(None))) else None
    if value is None or value.ndim != 0 or value.dtype.kind not in "biuf":
        return Arg(cv, INVALID)
    native = np.dtype(dtype).newbyteorder("=")
    if native.kind in "iu" and value.dtype.kind == "f":
        f = float(value)
        info = np.iinfo(native)
        if not math.isfinite(f) or f != math.floor(f) or not info.min <= f <= info.max:
            return Arg(cv, INVALID)
    if native.kind == "b" and value.dtype.kind != "b" and float(value) not in (0.0, 1.0):
        return Arg(cv, INVALID)
    with np.errstate(over="ignore"):
        canonical = value.astype(native) if value.dtype.kind in "iub" else np.asarray(value, dtype=native)
    return Arg(cv, VALID, canonical)


@st.composite
def padding_index_calls(draw) -> Call:
    def size_arg(label):
        roll = draw(st.integers(0, 11), label=f"{label} roll")
        if roll < 9:
            v = draw(st.integers(0, 4), label=label)
            return Arg(int_like(draw, v, f"{label} form"), VALID, v)
        if roll == 9:
            v = draw(st.sampled_from(HUGE_OK[:1]), label=label)
            return Arg(v, VALID, v)
        if roll == 10:
            return Arg(draw(st.sampled_from(HUGE_LIMIT)), LIMIT)
        return Arg(draw(st.sampled_from([-1, 2.0, 2.5, None, "3", True, float("nan"), [2]])), INVALID)

    size, before, after = size_arg("size"), size_arg("before"), size_arg("after")
    mode_word = draw(st.sampled_from(convops.PAD_MODES), label="mode")
    if draw(st.integers(0, 9)):
        mode = Arg(draw(st.sampled_from([mode_word, mode_word.lower()])), VALID, mode_word)
    else:
        mode = Arg(draw(st.sampled_from(["WRAP", "", None, 3, b"EDGE"])), INVALID)
    args = {"size": size, "before": before, "after": after, "mode": mode}
    call = Call("padding_index", convops.padding_index, (size.value, before.value, after.value, mode.value), {})
    rules = []
    if all(a.status == VALID for a in args.values()):
        s, b, a = size.canonical, before.canonical, after.canonical
        limit = {"REFLECT": s - 1, "SYMMETRIC": s}.get(mode.canonical)
        rules.append((limit is not None and max(b, a) > limit, ["before", "after", "mode", "size"]))
        rules.append((mode.canonical in ("EDGE", "CIRCULAR") and s == 0 and b + a > 0, ["size", "mode"]))
    call = combine(call, args, rules)
    if call.status != VALID:
        return call
    s, b, a, m = size.canonical, before.canonical, after.canonical, mode.canonical
    absurd_or_checked(call, (s + b + a,), 8)

    def expected():
        # An independent oracle: pad the positions 0..size-1 with NumPy's np.pad in the same mode.
        positions = np.arange(s, dtype=np.intp)
        if m in ("CONSTANT", "MEAN") or s == 0:
            return np.pad(positions, (b, a), mode="constant", constant_values=-1)
        return np.pad(positions, (b, a), mode=NUMPY_MODE[m])

    def compare(got, want, repro):
        assert isinstance(got, np.ndarray) and got.dtype.kind == "i", f"not an integer array: {got!r}\n  {repro}"
        assert_array(got.astype(np.intp), want, repro)

    call.expected, call.compare = expected, compare
    return call


# --------------------------------------------------------------------------- arithmetic


def _int_arg(draw, label: str, minimum: int) -> Arg:
    """An integer argument of the arithmetic module: valid (>= minimum) mostly, else anything."""
    roll = draw(st.integers(0, 11), label=f"{label} roll")
    if roll < 8:
        v = draw(st.integers(minimum, 6), label=label)
        return Arg(int_like(draw, v, f"{label} form"), VALID, v)
    if roll == 8:
        v = draw(st.sampled_from(HUGE_OK + HUGE_LIMIT), label=f"{label} huge")
        return Arg(v, VALID, v)  # pure Python arithmetic: no size limit at all
    return Arg(
        draw(
            st.sampled_from([minimum - 1, -5, 2.0, 2.5, None, "3", True, float("nan"), [2], np.float64(2)]),
            label=f"{label} bad",
        ),
        INVALID,
    )


@st.composite
def arithmetic_calls(draw) -> Call:
    """Every function of convops.arithmetic, against formulas written out here (tests/tf_rules.py
    for the output sizes and SAME padding)."""
    fn = draw(st.sampled_from(list(_ARITHMETIC_DRAWS)), label="function")
    call = _ARITHMETIC_DRAWS[fn](draw, fn, getattr(arithmetic, fn))

    def compare(got, want, repro):
        if fn == "receptive_fields":
            got = [(rf.size, rf.jump) for rf in got]
        assert got == want and type(got) is type(want), f"got {got!r}, expected {want!r}\n  reproduce: {repro}"
        if isinstance(want, tuple):
            assert all(type(v) is int for v in got), f"not plain ints: {got!r}\n  reproduce: {repro}"

    call.compare = compare
    # The arithmetic is exact Python: no size can be refused, so LIMIT does not apply here.
    return call


def _effective_kernel_call(draw, fn: str, function) -> Call:
    k, d = _int_arg(draw, "kernel_size", 1), _int_arg(draw, "dilation", 1)
    call = combine(Call(f"arithmetic.{fn}", function, (k.value, d.value), {}), {"kernel_size": k, "dilation": d})
    call.expected = lambda: effective_kernel(k.canonical, d.canonical)
    return call


def _same_padding_call(draw, fn: str, function) -> Call:
    i, k, s, d = (
        _int_arg(draw, "input_size", 0),
        _int_arg(draw, "kernel_size", 1),
        _int_arg(draw, "stride", 1),
        _int_arg(draw, "dilation", 1),
    )
    call = combine(
        Call(f"arithmetic.{fn}", function, (i.value, k.value, s.value, d.value), {}),
        {"input_size": i, "kernel_size": k, "stride": s, "dilation": d},
    )
    call.expected = lambda: same_pads(i.canonical, k.canonical, s.canonical, d.canonical)
    return call


def _arithmetic_padding(draw) -> Arg:
    """The arithmetic's ``padding``: a word (any case), a ``(before, after)`` pair, or garbage."""
    roll = draw(st.integers(0, 9), label="padding roll")
    if roll < 4:
        word = draw(st.sampled_from(["SAME", "VALID", "same", "valid"]))
        return Arg(word, VALID, word.upper())
    if roll < 8:
        t, b = draw(st.integers(0, 4)), draw(st.integers(0, 4))
        return Arg(draw(st.sampled_from([(t, b), [t, b]])), VALID, (t, b))
    return Arg(draw(st.sampled_from(["FULL", None, 1, (1,), (1, 2, 3), (-1, 0), (1.5, 0), ("a", 1)])), INVALID)


def _output_size_call(draw, fn: str, function) -> Call:
    """conv_output_size, pool_output_size and resolve_padding."""
    i, k, s = _int_arg(draw, "input_size", 0), _int_arg(draw, "kernel_size", 1), _int_arg(draw, "stride", 1)
    d = _int_arg(draw, "dilation", 1) if fn != "pool_output_size" else Arg(1, VALID, 1)
    pad = _arithmetic_padding(draw)
    # pool_output_size calls its window `window_size`; the others call it `kernel_size`
    names = {
        "input_size": i,
        ("window_size" if fn == "pool_output_size" else "kernel_size"): k,
        "stride": s,
        "padding": pad,
    }
    if fn == "resolve_padding":
        call_args = (pad.value, i.value, k.value, s.value, d.value)
    elif fn == "pool_output_size":
        call_args = (i.value, k.value, s.value, pad.value)
    else:
        call_args = (i.value, k.value, s.value, pad.value, d.value)
    if fn != "pool_output_size":
        names["dilation"] = d
    call = combine(Call(f"arithmetic.{fn}", function, call_args, {}), names)

    def expected():
        p = pad.canonical
        pads = (
            same_pads(i.canonical, k.canonical, s.canonical, d.canonical)
            if p == "SAME"
            else (0, 0)
            if p == "VALID"
            else p
        )
        if fn == "resolve_padding":
            return pads
        return output_size(i.canonical, k.canonical, s.canonical, pads, d.canonical)

    call.expected = expected
    return call


def _conv_counts_call(draw, fn: str, function) -> Call:
    """conv2d_params and conv2d_flops."""
    k = _int_arg(draw, "kernel_size", 1)
    if draw(st.booleans(), label="kernel pair?") and k.status == VALID:
        k2 = draw(st.integers(1, 5))
        k = Arg((k.canonical, k2), VALID, (k.canonical, k2))
    elif k.status == VALID:
        k = Arg(k.value, VALID, (k.canonical, k.canonical))
    if draw(st.integers(0, 9), label="kernel garbage?") == 0:
        k = Arg(draw(st.sampled_from([None, (1, 2, 3), (1,), "ab", (1, None), (0, 1)])), INVALID)
    c_in, c_out, g = _int_arg(draw, "in_channels", 1), _int_arg(draw, "out_channels", 1), _int_arg(draw, "groups", 1)
    names = {"kernel_size": k, "in_channels": c_in, "out_channels": c_out, "groups": g}
    if fn == "conv2d_params":
        bias = (
            Arg(draw(st.sampled_from([True, False, np.True_])), VALID)
            if draw(st.integers(0, 5))
            else Arg(draw(st.sampled_from([1, "no", None])), INVALID)
        )
        names["use_bias"] = bias
        call = Call(
            f"arithmetic.{fn}",
            function,
            (k.value, c_in.value, c_out.value),
            {"use_bias": bias.value, "groups": g.value},
        )
    else:
        hw = (
            Arg((3, 4), VALID, (3, 4))
            if draw(st.integers(0, 5))
            else Arg(draw(st.sampled_from([None, (1,), (1, 2, 3), (-1, 2), (1.5, 2)])), INVALID)
        )
        names["output_hw"] = hw
        call = Call(f"arithmetic.{fn}", function, (hw.value, k.value, c_in.value, c_out.value), {"groups": g.value})
    rules = []
    if all(a.status == VALID for a in (c_in, c_out, g)):  # checkable whatever the others are
        rules.append(
            (
                c_in.canonical % g.canonical != 0 or c_out.canonical % g.canonical != 0,
                ["in_channels", "out_channels", "groups"],
            )
        )
    call = combine(call, names, rules)

    def expected():
        (kh, kw), ci, co, gg = k.canonical, c_in.canonical, c_out.canonical, g.canonical
        if fn == "conv2d_params":
            return (kh * kw * (ci // gg) + (1 if names["use_bias"].value else 0)) * co
        return 2 * 3 * 4 * kh * kw * (ci // gg) * co

    call.expected = expected
    return call


def _dense_params_call(draw, fn: str, function) -> Call:
    a, b = _int_arg(draw, "in_features", 1), _int_arg(draw, "out_features", 1)
    bias = (
        Arg(draw(st.sampled_from([True, False])), VALID)
        if draw(st.integers(0, 5))
        else Arg(draw(st.sampled_from([1, "no", None])), INVALID)
    )
    call = combine(
        Call(f"arithmetic.{fn}", function, (a.value, b.value), {"use_bias": bias.value}),
        {"in_features": a, "out_features": b, "use_bias": bias},
    )
    call.expected = lambda: (a.canonical + (1 if bias.value else 0)) * b.canonical
    return call


def _receptive_field_call(draw, fn: str, function) -> Call:
    """receptive_field and receptive_fields: size grows by (k - 1) * d * jump, jump by s."""
    n_layers = draw(st.integers(0, 4), label="layers")
    layers, ok = [], True
    for _ in range(n_layers):
        if draw(st.integers(0, 11)):
            layer = (draw(st.integers(1, 5)), draw(st.integers(1, 3)))
            if draw(st.booleans()):
                layer = layer + (draw(st.integers(1, 3)),)
        else:
            layer, ok = draw(st.sampled_from([5, None, (3,), (3, 1, 1, 1), (0, 1), (3, 0), (3.0, 1), "ab"])), False
        layers.append(layer)
    value: Any = layers if draw(st.integers(0, 9)) else draw(st.sampled_from([None, 5]))
    if value is not layers:
        ok = False
    call = combine(Call(f"arithmetic.{fn}", function, (value,), {}), {"layers": Arg(value, VALID if ok else INVALID)})

    def expected():
        size, jump, out = 1, 1, []
        for layer in layers:
            k, s = layer[0], layer[1]
            d = layer[2] if len(layer) == 3 else 1
            size, jump = size + ((k - 1) * d) * jump, jump * s
            out.append((size, jump))
        if fn == "receptive_field":
            return out[-1][0] if out else 1
        return out

    call.expected = expected
    return call


#: convops.arithmetic's functions and the draw of each one's arguments and right answer.
_ARITHMETIC_DRAWS = {
    "effective_kernel_size": _effective_kernel_call,
    "same_padding": _same_padding_call,
    "conv_output_size": _output_size_call,
    "pool_output_size": _output_size_call,
    "resolve_padding": _output_size_call,
    "conv2d_params": _conv_counts_call,
    "dense_params": _dense_params_call,
    "conv2d_flops": _conv_counts_call,
    "receptive_field": _receptive_field_call,
    "receptive_fields": _receptive_field_call,
}


# --------------------------------------------------------------------------- the tests


@FUZZ
@given(conv2d_calls())
def test_conv2d_any_arguments(call):
    check(call)


@FUZZ
@given(pool_calls("max_pool2d"))
def test_max_pool2d_any_arguments(call):
    check(call)


@FUZZ
@given(pool_calls("avg_pool2d"))
def test_avg_pool2d_any_arguments(call):
    check(call)


@FUZZ
@given(pad_calls())
def test_pad_any_arguments(call):
    check(call)


@FUZZ
@given(padding_index_calls())
def test_padding_index_any_arguments(call):
    check(call)


@FUZZ
@given(arithmetic_calls())
def test_arithmetic_any_arguments(call):
    check(call)

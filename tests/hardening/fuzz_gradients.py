# Size: one generator of valid and invalid calls per gradient.
"""Argument fuzzing of the gradient ops (the property is in ``fuzzing.py``; run by ``test_fuzz.py``
in a child process, like ``fuzz_ops.py``).

The right answers come from direct loops written here from the ops' definitions (each output
element's window, scattered back), not from convops: the conv gradients as sums of products,
max-pool's gradient by TensorFlow's CPU rule (the first cell of a window, replaced only by a
strictly greater one), avg-pool's as equal shares, pad's by padding an array of *indices* with
NumPy's ``np.pad`` and adding each gradient cell to the index it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

import checks
import convops
from hardening.fuzz_ops import FUZZ, NUMPY_MODE, nchw, side
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
    garbage_array_arg,
    mark_byte_order,
    padding_args,
    resolve_operands,
    spatial_args,
)
from tf_rules import explicit_pads, output_size

GRAD_DTYPES = ("float16", "float32", "float64")
MAX_POOL_DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16")


# --------------------------------------------------------------------------- direct oracles


def _taps(out_hw, in_hw, khw, strides, pads, dilations):
    """(oy, ox, ky, kx, iy, ix, inside) for every tap of every output position."""
    (h_out, w_out), (height, width), (kh, kw) = out_hw, in_hw, khw
    (sh, sw), ((top, _), (left, _)), (dh, dw) = strides, pads, dilations
    for oy in range(h_out):
        for ox in range(w_out):
            for ky in range(kh):
                iy = oy * sh - top + ky * dh
                for kx in range(kw):
                    ix = ox * sw - left + kx * dw
                    yield oy, ox, ky, kx, iy, ix, 0 <= iy < height and 0 <= ix < width


def direct_backprop_input(in_shape, w, dy, strides, pads, dilations) -> np.ndarray:
    """dL/dx of conv2d (float64): each tap that read x[n, iy, ix, c] sends back dy * w."""
    n, height, width, c_in = in_shape
    kh, kw, c_group, c_out = w.shape
    groups = c_in // c_group
    cog = c_out // groups
    dx = np.zeros(in_shape)
    if dx.size == 0 or dy.size == 0:
        return dx
    for oy, ox, ky, kx, iy, ix, inside in _taps(dy.shape[1:3], (height, width), (kh, kw), strides, pads, dilations):
        if inside:
            for g in range(groups):
                dx[:, iy, ix, g * c_group : (g + 1) * c_group] += (
                    dy[:, oy, ox, g * cog : (g + 1) * cog] @ w[ky, kx, :, g * cog : (g + 1) * cog].T
                )
    return dx


def direct_backprop_filter(x, filter_shape, dy, strides, pads, dilations) -> np.ndarray:
    """dL/dfilters of conv2d (float64); a tap in the padding multiplies 0 (so 0 * inf is NaN, as
    in the forward op's padded patches)."""
    n, height, width, c_in = x.shape
    kh, kw, c_group, c_out = filter_shape
    groups = c_in // c_group
    cog = c_out // groups
    dw = np.zeros(filter_shape)
    if dw.size == 0 or dy.size == 0:
        return dw
    zeros = np.zeros((n, c_group))
    for oy, ox, ky, kx, iy, ix, inside in _taps(dy.shape[1:3], (height, width), (kh, kw), strides, pads, dilations):
        if not inside and x.size == 0:
            # An empty input under explicit padding: convops returns zeros without multiplying
            # (0 * inf would be NaN); whether the all-padding patches count is left open here.
            continue
        for g in range(groups):
            patch = x[:, iy, ix, g * c_group : (g + 1) * c_group] if inside else zeros
            dw[ky, kx, :, g * cog : (g + 1) * cog] += patch.T @ dy[:, oy, ox, g * cog : (g + 1) * cog]
    return dw


def pool_windows(in_hw, out_hw, ksize, strides, pads):
    """(oy, ox, cells) with the real cells of each window in row-major order."""
    (height, width), (h_out, w_out), (kh, kw), (sh, sw), ((top, _), (left, _)) = in_hw, out_hw, ksize, strides, pads
    for oy in range(h_out):
        y0, y1 = max(oy * sh - top, 0), min(oy * sh - top + kh, height)
        for ox in range(w_out):
            x0, x1 = max(ox * sw - left, 0), min(ox * sw - left + kw, width)
            yield oy, ox, [(iy, ix) for iy in range(y0, y1) for ix in range(x0, x1)]


def direct_argmax(x, out_hw, ksize, strides, pads):
    """TF's CPU MaxPoolWithArgmax rule per (n, window, c): start at the window's first real cell,
    move only to a strictly greater value. Returns (iy, ix) arrays, -1 for a window without cells."""
    n, height, width, channels = x.shape
    best_y = np.full((n,) + tuple(out_hw) + (channels,), -1, dtype=np.int64)
    best_x = best_y.copy()
    for oy, ox, cells in pool_windows((height, width), out_hw, ksize, strides, pads):
        if not cells:
            continue
        by = np.full((n, channels), cells[0][0])
        bx = np.full((n, channels), cells[0][1])
        best = x[:, cells[0][0], cells[0][1], :].copy()
        for iy, ix in cells[1:]:
            value = x[:, iy, ix, :]
            greater = value > best
            best = np.where(greater, value, best)
            by, bx = np.where(greater, iy, by), np.where(greater, ix, bx)
        best_y[:, oy, ox, :], best_x[:, oy, ox, :] = by, bx
    return best_y, best_x


# --------------------------------------------------------------------------- shape arguments


def shape_arg(draw, name: str, shape, short_ok: bool = False) -> Arg:
    """A shape argument (input_sizes, filter_sizes, ...): list, tuple or int array, or garbage."""
    roll = draw(st.integers(0, 11), label=f"{name} roll")
    if roll < 9:
        form = draw(st.sampled_from(["list", "tuple", "numpy", "numpy32"]), label=f"{name} form")
        value: Any = {
            "list": list(shape),
            "tuple": tuple(shape),
            "numpy": np.array(shape, dtype=np.int64),
            "numpy32": np.array(shape, dtype=np.int32),
        }[form]
        return Arg(value, VALID, tuple(shape))
    if roll == 9 and len(shape) == 4:
        big = list(shape)
        big[draw(st.integers(1, 2))] = draw(st.sampled_from(HUGE_OK[2:] + HUGE_LIMIT[:2]), label=f"{name} huge")
        return Arg(big, LIMIT)  # the spatial sizes cannot match any small gradient: refused
    return Arg(
        draw(
            st.sampled_from(
                [
                    None,
                    5,
                    "NHWC",
                    list(shape)[:-1],
                    list(shape) + [1],
                    [1.0] * len(shape),
                    [-1] + list(shape)[1:],
                    [True] + list(shape)[1:],
                    np.ones((2, 2), int),
                    np.array(shape, dtype=float),
                ]
            ),
            label=f"{name} bad",
        ),
        INVALID,
    )


def grad_array(draw, name: str, shape, dtype_name: str, wild: bool):
    if wild and draw(st.integers(0, 14), label=f"{name} garbage?") == 0:
        return garbage_array_arg(draw, name)
    ok = MAX_POOL_DTYPES if dtype_name in MAX_POOL_DTYPES and dtype_name not in GRAD_DTYPES else GRAD_DTYPES
    return draw(array_args(name, ok, shape, styles=("normal", "ties", "nan"), exotic=wild, prefer=dtype_name))


# --------------------------------------------------------------------------- conv gradients


@st.composite
def conv_grad_calls(draw, op: str) -> Call:
    """conv2d_backprop_input, conv2d_transpose (the same op, TF's other argument order) and
    conv2d_backprop_filter."""
    wild = draw(st.integers(0, 9), label="wild?") >= 4
    fmt = draw(data_format_args(wild))
    layout = fmt.canonical or "NHWC"
    groups = draw(st.integers(1, 2), label="groups")
    c_group, c_out = draw(st.integers(1, 2), label="C_g"), groups * draw(st.integers(1, 2), label="C_out/g")
    n, h, w = side(draw, "N", 2), side(draw, "H"), side(draw, "W")
    kh, kw = draw(st.integers(1, 3), label="KH"), draw(st.integers(1, 3), label="KW")
    strides = draw(spatial_args("strides", layout, wild=wild))
    dilations = draw(spatial_args("dilations", layout, wild=wild))
    padding = draw(padding_args(layout, wild=wild))
    c_in = groups * c_group
    # The gradient's shape: conv2d's output for these sizes, when every argument means something.
    h_out = w_out = 1
    pads = ((0, 0), (0, 0))
    if strides.canonical and dilations.canonical and padding.canonical:
        pads = explicit_pads(padding.canonical, (h, w), (kh, kw), strides.canonical, dilations.canonical)
        h_out = output_size(h, kh, strides.canonical[0], pads[0], dilations.canonical[0])
        w_out = output_size(w, kw, strides.canonical[1], pads[1], dilations.canonical[1])
    dy_shape = (n, h_out, w_out, c_out)
    if wild and draw(st.integers(0, 7), label="gradient shape off?") == 0:
        dy_shape = (n, h_out + draw(st.integers(1, 2)), w_out, c_out)
    assume(int(np.prod([max(d, 1) for d in dy_shape], dtype=object)) <= 4096)  # huge pad, stride 1: too big
    dtype = draw(st.sampled_from(GRAD_DTYPES), label="dtype")
    dy = grad_array(draw, "out_backprop", nchw(dy_shape, layout), dtype, wild)
    kwargs: dict[str, Any] = {
        "strides": strides.value,
        "padding": padding.value,
        "data_format": fmt.value,
        "dilations": dilations.value,
    }
    args: dict[str, Arg] = {"strides": strides, "dilations": dilations, "padding": padding, "data_format": fmt}
    if op in ("conv2d_backprop_input", "conv2d_transpose"):
        wts = grad_array(draw, "filters", (kh, kw, c_group, c_out), dtype, wild)
        short = draw(st.integers(0, 5), label="short sizes?") == 0 and groups == 1
        sizes = shape_arg(draw, "input_sizes", (h, w) if short else nchw((n, h, w, c_in), layout))
        if op == "conv2d_backprop_input":
            call = Call(op, convops.conv2d_backprop_input, (sizes.value, wts.value, dy.value), kwargs)
            args.update({"input_sizes": sizes, "filters": wts, "out_backprop": dy})
            dy_name, sizes_name = "out_backprop", "input_sizes"
        else:
            call = Call(op, convops.conv2d_transpose, (dy.value, wts.value, sizes.value), kwargs)
            args.update({"output_shape": sizes, "filters": wts, "input": dy})
            dy_name, sizes_name = "input", "output_shape"
        operands = (wts, dy, "filters", dy_name)
    else:
        x = grad_array(draw, "input", nchw((n, h, w, c_in), layout), dtype, wild)
        sizes = shape_arg(draw, "filter_sizes", (kh, kw, c_group, c_out))
        call = Call(op, convops.conv2d_backprop_filter, (x.value, sizes.value, dy.value), kwargs)
        args.update({"input": x, "filter_sizes": sizes, "out_backprop": dy})
        operands = (x, dy, "input", "out_backprop")
        sizes_name, dy_name = "filter_sizes", "out_backprop"
    first, second, first_name, second_name = operands
    if first.status == INVALID or second.status == INVALID or first.canonical is None or second.canonical is None:
        return combine(call, args, [(first.is_list or second.is_list, [first_name, second_name])])
    a, b, match = resolve_operands(first, second)
    mark_byte_order(((first, a), (second, b)))
    rules = [
        (not match or a is None or b is None, [first_name, second_name]),
        (match and a is not None and a.dtype.name not in GRAD_DTYPES, [first_name, second_name]),
    ]
    rules.append((dy_shape[1:3] != (h_out, w_out), [dy_name, sizes_name]))
    call = combine(call, args, rules)
    if sizes.status == LIMIT:  # a huge size cannot match the small gradient (or filters) drawn with it
        call.names = tuple(call.names) + (dy_name, "filters")
    if call.status == INVALID or not all(arg.canonical is not None for arg in args.values() if arg.status == VALID):
        return call
    if max(max(p) for p in pads) > 2**60:
        call.status, call.names = LIMIT, tuple(set(call.names) | {"dilations", "padding"})
    if sizes.status != VALID:
        return call
    result_shape = (n, h, w, c_in) if op != "conv2d_backprop_filter" else (kh, kw, c_group, c_out)
    absurd_or_checked(call, result_shape, 4)
    geometry = (strides.canonical, pads, dilations.canonical)
    call.expected = lambda: _conv_grad_expected(op, a, b, layout, (n, h, w, c_in), result_shape, geometry)
    call.compare = lambda got, wb, repro: assert_array(got, wb[0], repro, wb[1])
    return call


def _conv_grad_expected(op: str, a: np.ndarray, b: np.ndarray, layout: str, in_shape, result_shape, geometry):
    """(want, bound) of a conv gradient from the direct scatter loops in float64. ``a`` is the
    forward input (filter gradient) or the filters (input gradient), ``b`` the upstream gradient."""
    strides, pads, dilations = geometry
    to_nhwc = (lambda t: t.transpose(0, 2, 3, 1)) if layout == "NCHW" else (lambda t: t)
    dy64 = to_nhwc(b).astype(np.float64)
    if op == "conv2d_backprop_filter":
        x64 = to_nhwc(a).astype(np.float64)
        want = direct_backprop_filter(x64, result_shape, dy64, strides, pads, dilations)
        mag = direct_backprop_filter(np.abs(x64), result_shape, np.abs(dy64), strides, pads, dilations)
        reduction = dy64.shape[0] * dy64.shape[1] * dy64.shape[2]  # N * H_out * W_out
    else:
        w64 = a.astype(np.float64)
        want = direct_backprop_input(in_shape, w64, dy64, strides, pads, dilations)
        mag = direct_backprop_input(in_shape, np.abs(w64), np.abs(dy64), strides, pads, dilations)
        reduction = w64.shape[0] * w64.shape[1] * w64.shape[3]  # KH * KW * C_out
        want, mag = (nchw_t(want), nchw_t(mag)) if layout == "NCHW" else (want, mag)
    native = a.dtype.newbyteorder("=")  # convops computes a big-endian >f4 as float32
    with np.errstate(all="ignore"):
        want_c = want.astype(native)
        bound = checks.conv_bound(want_c, mag, reduction, native)
    return want_c, bound


def nchw_t(t: np.ndarray) -> np.ndarray:
    return t.transpose(0, 3, 1, 2)


# --------------------------------------------------------------------------- pooling gradients


@dataclass
class _PoolGrad:
    """What a pooling-gradient draw shares between its operands, its rules and its right answer."""

    op: str
    wild: bool
    fmt: Arg
    layout: str
    nhwc: tuple[int, int, int, int]
    ksize: Arg
    strides: Arg
    padding: Arg
    geometry: bool  # ksize, strides and padding all mean something
    pads: tuple[tuple[int, int], tuple[int, int]]
    out_hw: tuple[int, int]
    dy_shape: tuple[int, int, int, int]
    dtype: str
    args: dict[str, Arg] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)
    rules: list[tuple[bool, list[str]]] = field(default_factory=list)


@st.composite
def pool_grad_calls(draw, op: str) -> Call:
    """max_pool2d_grad, avg_pool2d_grad and max_pool2d_with_argmax."""
    g = _draw_pool_grad_geometry(draw, op)
    operands = {
        "max_pool2d_grad": _max_pool_grad_operands,
        "avg_pool2d_grad": _avg_pool_grad_operands,
        "max_pool2d_with_argmax": _argmax_operands,
    }[op]
    call, xa, dya, done = operands(draw, g)
    if done:
        return call
    if dya is not None:
        g.rules.append((g.dy_shape[1:3] != g.out_hw, ["grad"]))
    call = combine(call, g.args, g.rules)
    if call.status == INVALID or not g.geometry or g.fmt.canonical is None:
        return call
    if op == "avg_pool2d_grad" and g.args["orig_input_shape"].status != VALID:
        call.names = tuple(call.names) + ("grad",)  # a huge size cannot match the small gradient
        return call
    absurd_or_checked(call, g.nhwc, 8)
    if op == "max_pool2d_with_argmax":
        call.expected, call.compare = (lambda: _argmax_expected(g, xa)), _argmax_compare
    else:
        call.expected = lambda: _pool_grad_expected(g, xa, dya)
        call.compare = lambda got, wb, repro: assert_array(got, wb[0], repro, wb[1])
    return call


def _draw_pool_grad_geometry(draw, op: str) -> _PoolGrad:
    """Data format, sizes, window, strides, padding and the gradient's shape (sometimes off)."""
    wild = draw(st.integers(0, 9), label="wild?") >= 4
    fmt = (
        draw(data_format_args(wild))
        if op != "max_pool2d_with_argmax"
        else (
            Arg("NHWC", VALID, "NHWC")
            if draw(st.integers(0, 5)) or not wild
            else Arg(draw(st.sampled_from(["NCHW", "nchw", None, "X"])), INVALID)
        )
    )
    layout = fmt.canonical or "NHWC"
    n, h, w, c = side(draw, "N", 2), side(draw, "H"), side(draw, "W"), side(draw, "C", 3)
    ksize = draw(spatial_args("ksize", layout, 3, wild=wild))
    strides = draw(spatial_args("strides", layout, wild=wild))
    padding = draw(padding_args(layout, wild=wild))
    if not wild and not isinstance(padding.canonical, str) and ksize.canonical is not None:
        (t, b), (l, r) = padding.canonical
        kh, kw = ksize.canonical
        fixed = ((min(t, kh - 1), min(b, kh - 1)), (min(l, kw - 1), min(r, kw - 1)))
        padding = Arg(fixed, VALID, fixed)
    h_out = w_out = 1
    pads = ((0, 0), (0, 0))
    geometry = ksize.canonical is not None and strides.canonical is not None and padding.canonical is not None
    if geometry:
        pads = explicit_pads(padding.canonical, (h, w), ksize.canonical, strides.canonical, (1, 1))
        h_out = output_size(h, ksize.canonical[0], strides.canonical[0], pads[0])
        w_out = output_size(w, ksize.canonical[1], strides.canonical[1], pads[1])
    dy_shape = (n, h_out, w_out, c)
    if wild and draw(st.integers(0, 7), label="gradient shape off?") == 0:
        dy_shape = (n, h_out, w_out + draw(st.integers(1, 2)), c)
    assume(int(np.prod([max(d, 1) for d in dy_shape], dtype=object)) <= 4096)
    dtype = draw(st.sampled_from(GRAD_DTYPES if op != "max_pool2d_with_argmax" else MAX_POOL_DTYPES), label="dtype")
    g = _PoolGrad(
        op, wild, fmt, layout, (n, h, w, c), ksize, strides, padding, geometry, pads, (h_out, w_out), dy_shape, dtype
    )
    g.args.update({"ksize": ksize, "strides": strides, "padding": padding, "data_format": fmt})
    g.kwargs.update({"padding": padding.value, "data_format": fmt.value})
    if geometry and not isinstance(padding.canonical, str):
        # Pool padding must be smaller than the window (checkable whatever the arrays are).
        (t, b), (l, r) = padding.canonical
        g.rules.append((max(t, b) >= ksize.canonical[0] or max(l, r) >= ksize.canonical[1], ["padding", "ksize"]))
    return g


# Each operands function returns (call, canonical input or None, canonical gradient or None, done):
# done means the call is already decided (an operand is refused before any relational rule).


def _max_pool_grad_operands(draw, g: _PoolGrad):
    x = grad_array(draw, "orig_input", nchw(g.nhwc, g.layout), g.dtype, g.wild)
    dy = grad_array(draw, "grad", nchw(g.dy_shape, g.layout), g.dtype, g.wild)
    g.args.update({"orig_input": x, "grad": dy})
    call = Call(g.op, convops.max_pool2d_grad, (x.value, dy.value, g.ksize.value, g.strides.value), g.kwargs)
    if x.status == INVALID or dy.status == INVALID or x.canonical is None or dy.canonical is None:
        return combine(call, g.args, g.rules + [(x.is_list or dy.is_list, ["orig_input", "grad"])]), None, None, True
    xa, dya, match = resolve_operands(x, dy)
    mark_byte_order(((x, xa), (dy, dya)))
    g.rules += [
        (not match or xa is None or dya is None, ["orig_input", "grad"]),
        (match and xa is not None and xa.dtype.name not in GRAD_DTYPES, ["orig_input", "grad"]),
    ]
    return call, xa, dya, False


def _avg_pool_grad_operands(draw, g: _PoolGrad):
    sizes = shape_arg(draw, "orig_input_shape", nchw(g.nhwc, g.layout))
    dy = grad_array(draw, "grad", nchw(g.dy_shape, g.layout), g.dtype, g.wild)
    g.args.update({"orig_input_shape": sizes, "grad": dy})
    if draw(st.booleans(), label="pass count_include_pad?"):
        cip = draw(st.sampled_from([True, False, np.True_] + ([1, "no", None] if g.wild else [])))
        g.args["count_include_pad"] = Arg(cip, VALID if isinstance(cip, (bool, np.bool_)) else INVALID)
        g.kwargs["count_include_pad"] = cip
    call = Call(g.op, convops.avg_pool2d_grad, (sizes.value, dy.value, g.ksize.value, g.strides.value), g.kwargs)
    if dy.status == INVALID or dy.canonical is None:
        return combine(call, g.args, g.rules), None, None, True
    dya = dy.canonical.astype(default_list_dtype(dy.canonical)) if dy.is_list else dy.canonical
    g.rules.append((dya.dtype.name not in GRAD_DTYPES, ["grad"]))
    return call, None, dya, False


def _argmax_operands(draw, g: _PoolGrad):
    wild = g.wild
    x = (
        draw(
            array_args(
                "input",
                MAX_POOL_DTYPES,
                g.nhwc,
                styles=("normal", "ties", "nan", "extremes"),
                exotic=wild,
                prefer=g.dtype,
            )
        )
        if not (wild and draw(st.integers(0, 14)) == 0)
        else garbage_array_arg(draw, "input")
    )
    out_dtype = (
        Arg(np.int64)
        if not wild or draw(st.integers(0, 4))
        else Arg(draw(st.sampled_from([np.int32, "int32", np.int16, float, None, "x"])))
    )
    out_dtype.status = VALID if out_dtype.value in (np.int64, np.int32, "int32") else INVALID
    batch = Arg(draw(st.sampled_from([False, True, np.True_] + ([1, "yes"] if wild else []))))
    batch.status = VALID if isinstance(batch.value, (bool, np.bool_)) else INVALID
    g.args.update({"input": x, "output_dtype": out_dtype, "include_batch_in_index": batch})
    g.kwargs.update({"output_dtype": out_dtype.value, "include_batch_in_index": batch.value})
    call = Call(g.op, convops.max_pool2d_with_argmax, (x.value, g.ksize.value, g.strides.value), g.kwargs)
    if x.status == INVALID or x.canonical is None:
        return combine(call, g.args, g.rules), None, None, True
    xa = x.canonical.astype(default_list_dtype(x.canonical)) if x.is_list else x.canonical
    g.rules.append((xa.dtype.name not in MAX_POOL_DTYPES, ["input"]))
    # An empty H or W with explicit padding: windows without any cell have no argmax (refused).
    n, h, w, c = g.nhwc
    g.rules.append((g.geometry and (h == 0 or w == 0) and n * g.out_hw[0] * g.out_hw[1] * c > 0, ["input", "padding"]))
    return call, xa, None, False


def _argmax_expected(g: _PoolGrad, xa: np.ndarray):
    """(values, indices, has_cell): TF's argmax rule from the direct loops (first maximum)."""
    n, h, w, c = g.nhwc
    x4 = xa.astype(xa.dtype.newbyteorder("="))
    compute = np.float32 if x4.dtype == np.float16 else x4.dtype
    by, bx = direct_argmax(x4.astype(compute), g.out_hw, g.ksize.canonical, g.strides.canonical, g.pads)
    index = (by * w + bx) * c + np.arange(c)
    if g.kwargs["include_batch_in_index"]:
        index = index + (np.arange(n) * h * w * c)[:, None, None, None]
    if x4.size:
        flat = np.where(by < 0, 0, (by * w + bx) * c + np.arange(c)).reshape(n, -1)
        values = np.take_along_axis(x4.reshape(n, -1), flat, axis=1).reshape(by.shape)
    else:
        values = np.zeros(by.shape, dtype=x4.dtype)
    index_dtype = np.int64 if g.kwargs["output_dtype"] is np.int64 else np.int32
    return values, index.astype(index_dtype), by >= 0


def _argmax_compare(got, wb, repro):
    values, index, has_cell = wb
    assert isinstance(got, tuple) and len(got) == 2, f"expected (output, argmax), got {got!r}\n  {repro}"
    # A window with no real cell (an empty H or W under explicit padding) has no argmax:
    # only the windows that have one are compared.
    got_values, got_index = got
    for part, want in ((got_index, index), (got_values, values)):
        assert isinstance(part, np.ndarray) and part.shape == want.shape, (
            f"got {type(part).__name__} {getattr(part, 'shape', '')}, expected shape {want.shape}\n  {repro}"
        )
    assert_array(got_index, np.where(has_cell, index, got_index).astype(index.dtype), repro)
    assert_array(got_values, np.where(has_cell, values, got_values).astype(values.dtype), repro)


def _pool_grad_expected(g: _PoolGrad, xa: np.ndarray | None, dya: np.ndarray):
    """(dx, bound): the gradient scattered by direct loops in float64, and its rounding bound."""
    to_nhwc = (lambda t: t.transpose(0, 2, 3, 1)) if g.layout == "NCHW" else (lambda t: t)
    n, h, w, c = g.nhwc
    (h_out, w_out), (kh, kw) = g.out_hw, g.ksize.canonical
    dy4 = to_nhwc(dya).astype(np.float64)
    dx = np.zeros((n, h, w, c))
    mag = np.zeros((n, h, w, c))
    if g.op == "max_pool2d_grad":
        by, bx = direct_argmax(to_nhwc(xa).astype(np.float64), g.out_hw, (kh, kw), g.strides.canonical, g.pads)
        for ni, oy, ox, ci in np.ndindex(n, h_out, w_out, c):
            if by[ni, oy, ox, ci] >= 0:
                dx[ni, by[ni, oy, ox, ci], bx[ni, oy, ox, ci], ci] += dy4[ni, oy, ox, ci]
                mag[ni, by[ni, oy, ox, ci], bx[ni, oy, ox, ci], ci] += abs(dy4[ni, oy, ox, ci])
    else:
        cip = bool(g.kwargs.get("count_include_pad", False))
        for oy, ox, cells in pool_windows((h, w), g.out_hw, (kh, kw), g.strides.canonical, g.pads):
            count = float(kh) * float(kw) if cip else len(cells)
            for iy, ix in cells:
                dx[:, iy, ix, :] += dy4[:, oy, ox, :] / count
                mag[:, iy, ix, :] += np.abs(dy4[:, oy, ox, :]) / count
    terms = max(1, -(-kh // g.strides.canonical[0]) * -(-kw // g.strides.canonical[1]))
    dtype_out = dya.dtype
    compute = np.float32 if dtype_out == np.float16 else dtype_out
    with np.errstate(all="ignore"):
        want = dx.astype(dtype_out)
        eps = float(np.finfo(compute).eps)
        bound = eps * (terms + 2) * mag + (
            float(np.finfo(np.float16).eps) * np.abs(dx) + 2.0**-24 if dtype_out == np.float16 else 0
        )
    if g.layout == "NCHW":
        want, bound = want.transpose(0, 3, 1, 2), bound.transpose(0, 3, 1, 2)
    return want, bound


# --------------------------------------------------------------------------- pad_grad


@st.composite
# Size: one flat list of every kind of bad value for each argument reads better than helpers.
def pad_grad_calls(draw) -> Call:
    wild = draw(st.integers(0, 9), label="wild?") >= 4
    rank = draw(st.sampled_from([1, 2, 3, 4] + ([0] if wild else [])), label="rank")
    in_shape = tuple(side(draw, f"dim {i}", 3) for i in range(rank))
    pairs = [(draw(st.integers(0, 3), label="before"), draw(st.integers(0, 3), label="after")) for _ in range(rank)]
    mode_word = draw(st.sampled_from(convops.PAD_MODES), label="mode")
    mode = (
        Arg(draw(st.sampled_from([mode_word, mode_word.lower()])), VALID, mode_word)
        if draw(st.integers(0, 9)) or not wild
        else Arg(draw(st.sampled_from(["WRAP", None, 1, ""])), INVALID)
    )
    out_shape = tuple(s + b + a for s, (b, a) in zip(in_shape, pairs))
    dtype = draw(st.sampled_from(GRAD_DTYPES), label="dtype")
    dy = grad_array(draw, "grad", out_shape, dtype, wild)
    roll = draw(st.integers(0, 9), label="paddings roll")
    if roll < 7 or not wild:
        paddings = Arg(
            [list(p) for p in pairs] if roll % 2 else np.array(pairs, dtype=np.int64).reshape(rank, 2),
            VALID,
            tuple(pairs),
        )
    elif roll == 7 and rank:
        big = [list(p) for p in pairs]
        big[0][0] = draw(st.sampled_from(HUGE_OK + HUGE_LIMIT))
        paddings = Arg(big, INVALID)  # larger than the gradient: impossible
    else:
        paddings = Arg(
            draw(
                st.sampled_from(
                    [
                        None,
                        [[1, 1]] * (rank + 1),
                        [[-1, 0]] * max(rank, 1),
                        "x",
                        [[1.0, 0]] * max(rank, 1),
                        np.zeros((max(rank, 1), 2)),
                    ]
                )
            ),
            INVALID,
        )
    args = {"grad": dy, "paddings": paddings, "mode": mode}
    call = Call("pad_grad", convops.pad_grad, (dy.value, paddings.value), {"mode": mode.value})
    if dy.status == INVALID or dy.canonical is None:
        return combine(call, args)
    dya = dy.canonical.astype(default_list_dtype(dy.canonical)) if dy.is_list else dy.canonical
    rules = [(dya.dtype.name not in GRAD_DTYPES, ["grad"]), (dya.ndim == 0, ["grad"])]
    if mode.canonical is not None and paddings.canonical is not None and dya.ndim == rank and rank:
        for (b, a), s in zip(pairs, in_shape):
            limit = {"REFLECT": s - 1, "SYMMETRIC": s}.get(mode.canonical)
            rules.append((limit is not None and max(b, a) > limit, ["paddings", "mode"]))
            rules.append(
                (mode.canonical in ("EDGE", "CIRCULAR", "MEAN") and s == 0 and b + a > 0, ["paddings", "mode", "grad"])
            )
    call = combine(call, args, rules)
    if call.status != VALID:
        return call

    magnitude = np.zeros(in_shape)

    def expected():
        g = dya.astype(np.float64)
        dx = np.zeros(in_shape)
        if g.size == 0 or dx.size == 0:
            return dx.astype(dya.dtype)
        if mode.canonical == "MEAN":
            inner = tuple(slice(b, b + s) for s, (b, _) in zip(in_shape, pairs))
            padded = tuple(i for i, (b, a) in enumerate(pairs) if b or a)
            border = np.ones(out_shape, dtype=bool)
            border[inner] = False
            dx += g[inner]
            if padded:
                count = float(np.prod([in_shape[i] for i in padded]))
                share = np.where(border, g, 0).sum(axis=padded, keepdims=True) / count
                # the share is per index of the unpadded axes, which the padded output keeps
                dx += share
            return dx.astype(dya.dtype)
        index = np.arange(dx.size).reshape(in_shape)
        if mode.canonical == "CONSTANT":
            source = np.pad(index, pairs, mode="constant", constant_values=-1)
        else:
            source = np.pad(index, pairs, mode=NUMPY_MODE[mode.canonical])
        keep = source >= 0
        np.add.at(dx.reshape(-1), source[keep], g[keep])
        # Σ|copies| per cell: a fold's rounding error scales with it, not with |the sum| (EDGE and
        # CIRCULAR corners add many copies that may cancel).
        np.add.at(magnitude.reshape(-1), source[keep], np.abs(g[keep]))
        return dx.astype(dya.dtype)

    def compare(got, want, repro):
        with np.errstate(all="ignore"):
            scale = np.finfo(np.float32 if want.dtype == np.float16 else want.dtype).eps
            size = np.abs(want.astype(np.float64)) + magnitude + 1
            bound = 8 * scale * size * (1 + max([b + a for b, a in pairs] + [0]))
            if want.dtype == np.float16:
                bound = bound + float(np.finfo(np.float16).eps) * np.abs(want.astype(np.float64))
        assert_array(got, want, repro, bound)

    call.expected, call.compare = expected, compare
    return call


# --------------------------------------------------------------------------- the tests


@FUZZ
@given(conv_grad_calls("conv2d_backprop_input"))
def test_conv2d_backprop_input_any_arguments(call):
    check(call)


@FUZZ
@given(conv_grad_calls("conv2d_transpose"))
def test_conv2d_transpose_any_arguments(call):
    check(call)


@FUZZ
@given(conv_grad_calls("conv2d_backprop_filter"))
def test_conv2d_backprop_filter_any_arguments(call):
    check(call)


@FUZZ
@given(pool_grad_calls("max_pool2d_grad"))
def test_max_pool2d_grad_any_arguments(call):
    check(call)


@FUZZ
@given(pool_grad_calls("avg_pool2d_grad"))
def test_avg_pool2d_grad_any_arguments(call):
    check(call)


@FUZZ
@given(pool_grad_calls("max_pool2d_with_argmax"))
def test_max_pool2d_with_argmax_any_arguments(call):
    check(call)


@FUZZ
@given(pad_grad_calls())
def test_pad_grad_any_arguments(call):
    check(call)

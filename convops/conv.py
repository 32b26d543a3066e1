# Size: one concept: conv2d, its two gradients and conv2d_transpose, with the one geometry they
# share (the kernel choice is in _conv_dispatch.py, the algorithm= argument in _algorithms.py);
# over 600 lines because the docstrings are the API reference.
"""2-D convolution (cross-correlation) with ``tf.nn.conv2d``'s contract, and its gradients.

One validation function (:func:`conv_geometry`) turns the arguments of :func:`conv2d`,
:func:`conv2d_backprop_input`, :func:`conv2d_transpose` and :func:`conv2d_backprop_filter` into
one :class:`ConvGeometry`, so that the same bad argument gets the same message in every op.
Which kernel runs each call is decided in :mod:`convops._conv_dispatch`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from convops import _algorithms, _conv_dispatch, _threads, dispatch
from convops._algorithms import Algorithm
from convops._docstrings import fill_doc
from convops._kernels import load
from convops._typing import ArrayLike, DataFormat, FiltersFormat, Padding, Pair
from convops._validation import (
    DATA_FORMATS,
    FILTERS_FORMATS,
    GRAD_DTYPES,
    MAX_EXTENT,
    _is_array,
    check_4d,
    check_data_format,
    check_dtype,
    check_name,
    check_output_size,
    check_rank,
    compute_dtype,
    from_nhwc,
    int_vector,
    parse_padding,
    promote_2d_pair,
    spatial_pair,
    to_array,
    to_nhwc,
)
from convops.arithmetic import _output_size, _same_pads, conv_output_size, input_size_range

__all__ = ["conv2d"]

CONV_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int32))

Pads = tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class ConvGeometry:
    """One convolution, validated: NHWC input ``(n, h, w, c_in)``, HWIO filters
    ``(kh, kw, c_group, c_out)`` with ``c_group = c_in / groups``, and the output size.

    The forward op and both gradients describe the *forward* convolution this way (for
    :func:`conv2d_transpose`, the conv2d it transposes), so every rule is checked once.
    """

    n: int
    h: int
    w: int
    c_in: int
    kh: int
    kw: int
    c_group: int
    c_out: int
    groups: int
    strides: tuple[int, int]
    dilations: tuple[int, int]
    #: ``((top, bottom), (left, right))``, resolved from "SAME"/"VALID" or explicit.
    pads: Pads
    #: ``(H_out, W_out)`` of the forward convolution.
    out_hw: tuple[int, int]
    dtype: np.dtype
    #: The dtype the kernels compute in (float32 for float16, as TensorFlow's CPU kernels).
    compute: np.dtype
    data_format: str
    #: conv2d's one-grayscale-image form: 2-D input, filters and result.
    image_2d: bool = False

    @property
    def reaches_padding(self) -> bool:
        """Whether any window of the forward convolution has a tap on the padding."""
        (top, _), (left, _) = self.pads
        return _conv_dispatch.reaches_padding(
            self.out_hw[0], self.h, self.kh, self.strides[0], self.dilations[0], top
        ) or _conv_dispatch.reaches_padding(self.out_hw[1], self.w, self.kw, self.strides[1], self.dilations[1], left)


class _Names(NamedTuple):
    """How an op's messages name each quantity, so every message speaks the caller's language."""

    op: str
    input: str  # what carries the forward input's size
    input_src: str  # where its channel count comes from, when that is not obvious
    filters: str  # what carries the filters' shape
    filters_ref: str  # how to refer to one entry of that shape
    filters_layout: str
    group_axis: str  # the filters' axis 2, as this op sees it
    dy: str = ""  # the gradient of the forward output (the gradients only)
    sizes: str = ""  # the shape argument that gives the batch (the gradients only)
    sizes_what: str = ""


_FORWARD = _Names("conv2d", "input", "", "filters", "`filters`.shape", "(KH, KW, C_in / groups, C_out)", "in-channels")
_INPUT_GRAD = _Names(
    "conv2d_backprop_input",
    "input",
    ", from `input_sizes`",
    "filters",
    "`filters`.shape",
    "(KH, KW, C_in/groups, C_out)",
    "in-channels",
    "out_backprop",
    "input_sizes",
    "(the shape (N, H, W, C_in), or (H, W))",
)
_TRANSPOSE = _Names(
    "conv2d_transpose",
    "output_shape",
    ", from `output_shape`",
    "filters",
    "`filters`.shape",
    "(KH, KW, C_out/groups, C_in)",
    "output channels",
    "input",
    "output_shape",
    "(the output shape (N, H, W, C), or (H, W))",
)
_FILTER_GRAD = _Names(
    "conv2d_backprop_filter",
    "input",
    "",
    "filter_sizes",
    "filter_sizes",
    "(KH, KW, C_in/groups, C_out)",
    "in-channels",
    "out_backprop",
    "input",
)


def conv_geometry(
    names: _Names,
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    dy_shape: Sequence[int] | None,
    strides: Any,
    padding: Any,
    dilations: Any,
    data_format: str,
    dtype: np.dtype,
    image_2d: bool = False,
) -> ConvGeometry:
    """Validate a convolution's geometry: NHWC ``x_shape``, HWIO ``w_shape`` and, for the
    gradients, the NHWC shape of the gradient of the forward output ``dy_shape``."""
    n, h, w, c_in = (int(v) for v in x_shape)
    kh, kw, c_group, c_out = (int(v) for v in w_shape)
    op = names.op
    sh, sw = spatial_pair(strides, "strides", data_format)
    dil_h, dil_w = spatial_pair(dilations, "dilations", data_format)
    pad = parse_padding(padding, data_format)
    if kh < 1 or kw < 1 or c_group < 1:
        raise ValueError(
            f"`{names.filters}` must have KH, KW and {names.group_axis} >= 1; got shape "
            f"{tuple(int(v) for v in w_shape)}"
        )
    if c_in < 1 or c_in % c_group:
        raise ValueError(
            f"`{names.filters}` must have shape {names.filters_layout} with C_in a positive multiple of "
            f"its in-channels: {names.input} channels ({c_in}{names.input_src}) must be a positive "
            f"multiple of {names.filters_ref}[2] = {c_group} (groups = their ratio); got C_in {c_in}, "
            f"in-channels {c_group}"
        )
    groups = c_in // c_group
    if c_out % groups:
        raise ValueError(
            f"grouped {op}: `{names.filters}` out-channels ({c_out}) must be a multiple of the number "
            f"of groups ({groups} = C_in {c_in} / {names.group_axis} {c_group})"
        )
    if pad == "SAME":
        pads = (_same_pads(h, kh, sh, dil_h), _same_pads(w, kw, sw, dil_w))
        if max(max(pads[0]), max(pads[1])) > MAX_EXTENT:  # a huge dilation or kernel size gets here
            raise ValueError(
                f"`{names.filters}` kernel size {(kh, kw)} with `dilations` {(dil_h, dil_w)} and "
                f"padding='SAME' needs padding {pads}, above the kernels' limit 2**60"
            )
    elif pad == "VALID":
        pads = ((0, 0), (0, 0))
    else:
        pads = pad
    out_hw = (_output_size(h, kh, sh, dil_h, *pads[0]), _output_size(w, kw, sw, dil_w, *pads[1]))
    if dy_shape is not None:
        if dy_shape[3] != c_out:
            raise ValueError(
                f"{op}: `{names.dy}` must have {c_out} channels ({names.filters_ref}[3]); got "
                f"{dy_shape[3]} (shape {tuple(dy_shape)})"
            )
        if dy_shape[0] != n:
            raise ValueError(f"{op}: `{names.sizes}` batch ({n}) must equal the batch of `{names.dy}` ({dy_shape[0]})")
        if (dy_shape[1], dy_shape[2]) != out_hw:
            _check_spatial(names, (h, w), (dy_shape[1], dy_shape[2]), (kh, kw), (sh, sw), (dil_h, dil_w), pad, pads)
    return ConvGeometry(
        n,
        h,
        w,
        c_in,
        kh,
        kw,
        c_group,
        c_out,
        groups,
        (sh, sw),
        (dil_h, dil_w),
        pads,
        out_hw,
        np.dtype(dtype),
        compute_dtype(np.dtype(dtype)),
        data_format,
        image_2d,
    )


def _check_spatial(
    names: _Names,
    big: tuple[int, int],
    small: tuple[int, int],
    kernel: tuple[int, int],
    strides: tuple[int, int],
    dilations: tuple[int, int],
    pad_arg: Any,
    pads: Pads,
) -> None:
    """Raise when conv2d does not map spatial size ``big`` (the conv's input) to ``small``."""
    big_name, small_name = names.input, names.dy
    for axis, name in enumerate(("height", "width")):
        mode = pad_arg if isinstance(pad_arg, str) else pads[axis]
        got = conv_output_size(big[axis], kernel[axis], strides[axis], mode, dilations[axis])
        if got == small[axis]:
            continue
        sizes = input_size_range(small[axis], kernel[axis], strides[axis], dilations[axis], mode)
        lo, hi = sizes.start, sizes.stop - 1
        if lo > hi:
            possible = f"no {big_name} {name} gives {small[axis]}"
        elif lo == hi:
            possible = f"only {big_name} {name} {lo} gives {small[axis]}"
        else:
            possible = f"{big_name} {name}s {lo} to {hi} give {small[axis]}"
        raise ValueError(
            f"{names.op}: {big_name} {name} {big[axis]} is impossible with {small_name} {name} {small[axis]}: "
            f"conv2d with kernel {kernel[axis]}, stride {strides[axis]}, dilation {dilations[axis]} and "
            f"padding {mode if isinstance(mode, str) else tuple(mode)} maps {name} {big[axis]} to {got}, not "
            f"{small[axis]}; {possible}"
        )


def _operands(
    op: str, first: Any, first_name: str, second: Any, second_name: str, dtypes: tuple[np.dtype, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Both array operands of an op, with TensorFlow's dtype rules: a list takes the dtype of the
    other operand when that is any array-like (ndarray or not); the dtypes must match."""
    first_array = to_array(first, first_name) if _is_array(first) else None
    second_array = to_array(second, second_name) if _is_array(second) else None
    # An array's own dtype first: a uint8 image with a list kernel is refused for being uint8 (with
    # the fix), not because the kernel's -1 does not fit in uint8.
    for array, name in ((first_array, first_name), (second_array, second_name)):
        if array is not None:
            check_dtype(array, name, dtypes, op)
    a = first_array if first_array is not None else to_array(first, first_name, like=second_array)
    b = second_array if second_array is not None else to_array(second, second_name, like=a)
    check_dtype(a, first_name, dtypes, op)
    if b.dtype != a.dtype:
        raise TypeError(
            f"`{second_name}` dtype must match `{first_name}` dtype (as in TensorFlow); got {first_name} "
            f"{a.dtype}, {second_name} {b.dtype}"
        )
    return a, b


def _check_tf_positional_order(data_format: Any, dilations: Any) -> None:
    """``conv2d(x, w, 1, "SAME", "NHWC", 1)`` is tf.nn.conv2d's positional order; say so."""
    if isinstance(dilations, str) and dilations.upper() in DATA_FORMATS:
        raise TypeError(
            f"conv2d: `dilations` received {dilations!r}, a data format (and `data_format` received "
            f"{data_format!r}). convops.conv2d's positional order is (input, filters, strides, padding, "
            f"dilations, data_format); tf.nn.conv2d's is (input, filters, strides, padding, data_format, "
            f"dilations). Pass them by keyword: data_format={dilations!r}, dilations={data_format!r}"
        )


def _as_hwio(w: np.ndarray, filters_format: Any, x: np.ndarray, layout: str) -> np.ndarray:
    """4-D ``filters`` as HWIO, from ``filters_format``; with no format given and NCHW data (where
    PyTorch users come from), a warning or an error when the shape reads better as OIHW."""
    if filters_format is not None:
        if not isinstance(filters_format, str) or filters_format.upper() not in FILTERS_FORMATS:
            raise ValueError(f"`filters_format` must be one of {FILTERS_FORMATS}; got {filters_format!r}")
        return w.transpose(2, 3, 1, 0) if filters_format.upper() == "OIHW" else w
    if layout != "NCHW" or x.ndim != 4:
        return w
    c_in = x.shape[1]
    kh, kw, c_group, _ = w.shape
    if min(w.shape) < 1:  # an empty filter bank: the usual checks say what is wrong
        return w
    oihw_fits = w.shape[1] >= 1 and c_in % w.shape[1] == 0 and w.shape[2] == w.shape[3]
    if not oihw_fits:
        return w
    torch_hint = (
        f"`filters` {w.shape} with data_format='NCHW' are read as HWIO (KH={kh}, KW={kw}, C_in/groups="
        f"{c_group}, C_out={w.shape[3]}), TensorFlow's layout in every data format; if they are PyTorch "
        f"OIHW weights (C_out={w.shape[0]}, C_in/groups={w.shape[1]}, {w.shape[2]}x{w.shape[3]} kernel), "
        f"pass filters_format='OIHW'; pass filters_format='HWIO' to say they are HWIO"
    )
    if c_group < 1 or c_in % c_group:
        raise ValueError(f"conv2d: input has C_in={c_in} channels: {torch_hint}")
    # Only the plain (ungrouped) PyTorch reading warns: its in-channels are exactly C_in.
    if kh != kw and w.shape[1] == c_in:
        warnings.warn(torch_hint, UserWarning, stacklevel=3)
    return w


# What convops.dispatch holds when nothing is forced (one identity check, ~30 ns, where the two
# public queries cost ~200 ns: a sixth of a small call).
_DEFAULT_ISA = _conv_dispatch.default_isa()


# The small-call fast path and what it checks first, bound once: a plain conv2d call costs ~0.6 us
# in all, so an attribute lookup or a Python call (~40 ns each) is worth saving here.
_fast_conv2d = load("fastpath").conv2d_fast
_fast_input_grad = load("fastpath").conv2d_backprop_input_fast
_memory = load("memory")  # large results from a cache of freed blocks: no new pages per call
_forced_kernels, _NOTHING_FORCED = dispatch._forced, dispatch._NOTHING
_get_num_threads = _threads.get_num_threads
# The default of `algorithm`: an identity check (a string equal to it that is another object
# takes the general path, with the same result).
_AUTO = "auto"
_ndarray, _AUTO_MAX_FAST_FILTER = np.ndarray, _algorithms.AUTO_FAST_PATH_MAX_FILTER_SIZE
_AUTO_MIN_POSITIONS = _algorithms.AUTO_WINOGRAD_MIN_POSITIONS


@fill_doc
def conv2d(
    input: ArrayLike,
    filters: ArrayLike,
    strides: Pair = 1,
    padding: Padding = "VALID",
    dilations: Pair = 1,
    data_format: DataFormat = "NHWC",
    name: str | None = None,
    *,
    filters_format: FiltersFormat | None = None,
    algorithm: Algorithm = "auto",
) -> np.ndarray:
    """2-D cross-correlation of a batch of images with a bank of filters, as ``tf.nn.conv2d``.

    ``out[n, y, x, o] = sum_{ky, kx, c} in_pad[n, y*sh + ky*dil_h, x*sw + kx*dil_w, g*C_g + c]
    * filters[ky, kx, c, o]`` where ``g = o // (C_out / groups)`` — the kernel is *not* flipped
    (this is cross-correlation, which deep-learning libraries call convolution).

    Parameters
    ----------
    input : array_like, shape (N, H, W, C_in)
        Batch of images (``(N, C_in, H, W)`` when ``data_format="NCHW"``). A 2-D ``(H, W)`` array
        is one grayscale image: pass a 2-D ``(KH, KW)`` kernel with it and get a 2-D map back.
    filters : array_like, shape (KH, KW, C_in / groups, C_out)
        Filter bank in HWIO order, in every data format (TensorFlow's rule: ``data_format`` does
        not change the filters' layout). When ``C_in`` is a multiple ``groups`` of the filters'
        in-channels the convolution is grouped, as in TensorFlow.
    %(strides)s
    %(padding)s
    %(dilations)s
    %(data_format)s
    %(name)s
    filters_format : "HWIO" or "OIHW", optional, keyword only
        The layout of ``filters``. Default: HWIO, TensorFlow's. ``"OIHW"`` takes a PyTorch weight
        ``(C_out, C_in / groups, KH, KW)`` as it is (``conv.weight.detach().numpy()``), so that
        ``conv2d(x, w, data_format="NCHW", filters_format="OIHW")`` is ``torch.nn.functional.conv2d``
        without bias. When it is not given and ``data_format="NCHW"``, 4-D filters that read
        better as OIHW than as HWIO (a non-square HWIO kernel whose last two axes are square, or
        HWIO channels that do not fit ``input``) give a warning or an error saying so.
    algorithm : {"auto", "direct", "winograd", "fft", "im2col", "naive"}, optional, keyword only
        How to compute it (same result up to rounding; see "Kernel choice" in the API
        reference). ``"auto"`` chooses only among algorithms that stay within TensorFlow's
        rounding; ``"winograd"`` (3x3, stride 1, dilation 1) and ``"fft"`` (stride 1) trade
        accuracy for speed and are for finite data. A geometry the chosen algorithm cannot
        compute raises ValueError; an explicit choice wins over :func:`convops.dispatch.force`.

    Returns
    -------
    ndarray, shape (N, H_out, W_out, C_out), dtype of ``input``
        ``H_out = floor((H + top + bottom - ((KH - 1)*dil_h + 1)) / sh) + 1`` (0 if negative);
        ``"SAME"`` gives ``ceil(H / sh)``, ``"VALID"`` gives ``ceil((H - (KH - 1)*dil_h) / sh)``.
        Same for W.

    Notes
    -----
    dtypes: float16 (computed in float32, as TensorFlow does on CPU), float32, float64, int32
    (wraps on overflow). ``input`` and ``filters`` must have the same dtype; a list takes the
    other operand's dtype. The learner's 2-D form is more lenient: an integer or bool image or
    kernel (a ``uint8`` image from PIL, ``[[-1, 0, 1]] * 3``) is computed in floating point, values
    unchanged: float32 for integers of up to 16 bits (and lists of such values), float64 for wider
    integers, the other operand's dtype when it is float. Non-native byte order (``>f4``) is the
    same dtype. When the kernel is larger than the padded input the result is an empty array
    (TensorFlow with oneDNN returns uninitialised memory there).

    The positional order is convops' own: ``(input, filters, strides, padding, dilations,
    data_format, name)``. ``tf.nn.conv2d``'s is ``(..., padding, data_format, dilations, name)``:
    pass ``data_format`` and ``dilations`` by keyword in code that must run with both.

    Examples
    --------
    A vertical-edge detector on a 4x4 image: one line, no reshaping.

    >>> import numpy as np
    >>> import convops
    >>> image = np.array([[0, 0, 1, 1]] * 4, dtype=np.float32)
    >>> convops.conv2d(image, np.array([[-1, 1]], dtype=np.float32))
    array([[0., 1., 0.],
           [0., 1., 0.],
           [0., 1., 0.],
           [0., 1., 0.]], dtype=float32)
    >>> convops.conv2d(np.ones((1, 5, 5, 3)), np.ones((3, 3, 3, 8)), strides=2, padding="SAME").shape
    (1, 3, 3, 8)
    """
    # dispatch.nothing_forced(), inlined. The fast path runs the default kernels, which are what
    # an explicit "direct" asks for at any size; under "auto", large filters skip it ("auto" may
    # choose Winograd for them, _algorithms.choose_auto).
    if (
        filters_format is None
        and _forced_kernels.get() is _NOTHING_FORCED
        and (
            (
                algorithm is _AUTO
                and (
                    type(filters) is not _ndarray
                    or filters.size < _AUTO_MAX_FAST_FILTER
                    # fewer input positions than Winograd's minimum of output positions (the fast
                    # path takes 4-D NHWC only, with VALID or SAME, whose outputs are no more)
                    or (
                        type(input) is _ndarray
                        and input.ndim == 4
                        and input.shape[0] * input.shape[1] * input.shape[2] < _AUTO_MIN_POSITIONS
                    )
                )
            )
            or (type(algorithm) is str and algorithm == "direct")
        )
    ):
        # The common call (float NHWC ndarrays, int stride, VALID/SAME) in compiled code; None for
        # anything else, including every argument the checks below would reject. It runs the
        # default kernels, so it is skipped whenever convops.dispatch.force is in effect.
        out = _fast_conv2d(input, filters, strides, padding, dilations, data_format, _DEFAULT_ISA, _get_num_threads())
        if out is not None:
            return out
    _check_tf_positional_order(data_format, dilations)
    check_name(name)
    algorithm = _algorithms.check_algorithm("conv2d", algorithm, _algorithms.ALGORITHMS)
    layout = check_data_format(data_format)
    input, filters = promote_2d_pair(input, filters, "input", "filters", CONV_DTYPES)
    x, w = _operands("conv2d", input, "input", filters, "filters", CONV_DTYPES)
    image_2d = x.ndim == 2
    if not image_2d and w.ndim == 4:
        w = _as_hwio(w, filters_format, x, layout)
    if image_2d:
        if w.ndim != 2:
            raise ValueError(
                f"a 2-D `input` (one grayscale image) needs a 2-D `filters` (KH, KW); got "
                f"`filters` with shape {w.shape}. For several filters use 4-D input "
                f"x[None, :, :, None] and HWIO filters"
            )
        x = x[None, :, :, None] if layout == "NHWC" else x[None, None, :, :]
        w = w[:, :, None, None]
    check_rank(x, "input", "conv2d", "(N, H, W, C_in)" if layout == "NHWC" else "(N, C_in, H, W)")
    if w.ndim != 4:
        raise ValueError(f"`filters` of conv2d must be 4-D (KH, KW, C_in, C_out); got {w.ndim}-D with shape {w.shape}")
    x = to_nhwc(x, layout)
    geo = conv_geometry(_FORWARD, x.shape, w.shape, None, strides, padding, dilations, layout, x.dtype, image_2d)
    _algorithms.check_supported("conv2d", algorithm, geo)
    out_shape = (geo.n, *geo.out_hw, geo.c_out)
    check_output_size(out_shape, geo.compute, "conv2d")
    out = _memory.empty(out_shape, geo.compute)
    if out.size:
        if x.size == 0 or geo.c_out == 0:
            out.fill(0)
        else:
            x_c, w_c = np.ascontiguousarray(x, dtype=geo.compute), np.ascontiguousarray(w, dtype=geo.compute)
            out = _algorithms.run_conv(algorithm, geo, x_c, w_c, out)
    if geo.compute != geo.dtype:
        with np.errstate(over="ignore"):  # float16 sums beyond 65504 become inf, as in TensorFlow
            out = out.astype(geo.dtype)
    if image_2d:
        return out[0, :, :, 0]
    return from_nhwc(out, layout)


# --------------------------------------------------------------------------- gradients
#
# conv2d is linear in its input and in its filters, so each gradient is the *transpose* of a
# linear map, and JAX derives them exactly this way (lax.conv_general_dilated's transpose rules).
# Write the forward op with taps iy = oy*sh - top + ky*dil_h, ix = ox*sw - left + kx*dil_w:
#
#   y[n, oy, ox, o] = sum_{ky, kx, c} x[n, iy, ix, g*C_g + c] * w[ky, kx, c, o]   (g: o's group)
#
# For fixed w this is y = A_w x; for fixed x it is y = B_x w. With dy = dL/dy, the chain rule
# gives dL/dx = A_w^T dy and dL/dw = B_x^T dy, i.e. each term of the sum sends dy back along the
# product it came from:
#
#   dL/dx[n, iy, ix, g*C_g + c] = sum over (oy, ox, ky, kx, o in group g) whose tap lands on
#                                 (iy, ix) of dy[n, oy, ox, o] * w[ky, kx, c, o]
#                                                                  -- conv2d_backprop_input
#   dL/dw[ky, kx, c, o]         = sum over (n, oy, ox) of x[n, iy, ix, g*C_g + c] * dy[n, oy, ox, o]
#                                                                  -- conv2d_backprop_filter
#
# Taps on the padding contribute nothing to dL/dx (there is no input cell there). Seen as a
# convolution, A_w^T is a conv of dy -- zero-inserted between rows and columns by the strides and
# padded by (KH-1)*dil_h - top above -- with the filters flipped in space and in/out channels
# swapped: the transposed convolution, conv2d_transpose. B_x^T correlates x with dy, summed over
# the batch: each filter tap learns from every position that read through it.


def _backprop_input(
    names: _Names,
    input_sizes: Any,
    filters: Any,
    out_backprop: Any,
    strides: Any,
    padding: Any,
    data_format: str,
    dilations: Any,
    algorithm: Algorithm = "auto",
) -> np.ndarray:
    """Shared body of conv2d_backprop_input and conv2d_transpose; ``names`` says what each
    argument is called in the caller."""
    op = names.op
    algorithm = _algorithms.check_algorithm(op, algorithm, _algorithms.INPUT_GRAD_ALGORITHMS)
    data_format = check_data_format(data_format)
    w, dy = _operands(op, filters, names.filters, out_backprop, names.dy, GRAD_DTYPES)
    check_4d(w, names.filters, op, names.filters_layout)
    check_4d(dy, names.dy, op, "(N, H, W, C)" if data_format == "NHWC" else "(N, C, H, W)")
    dy = to_nhwc(dy, data_format)
    sizes = int_vector(input_sizes, names.sizes, (2, 4), names.sizes_what)
    x_shape: tuple[int, ...]
    if len(sizes) == 2:
        # TF's short form: only (H, W); the batch comes from the gradient, the channels from the
        # filters (no groups).
        x_shape = (dy.shape[0], sizes[0], sizes[1], w.shape[2])
    elif data_format == "NHWC":
        x_shape = sizes
    else:
        x_shape = (sizes[0], sizes[2], sizes[3], sizes[1])
    geo = conv_geometry(names, x_shape, w.shape, dy.shape, strides, padding, dilations, data_format, w.dtype)
    _algorithms.check_supported(op, algorithm, geo)
    check_output_size(x_shape, geo.compute, op)
    dx = _memory.empty(x_shape, geo.compute)
    if not (dy.size and w.size and dx.size):
        dx.fill(0)
    else:
        _algorithms.run_input_grad(algorithm, op, geo, dy, w, dx)
    if geo.compute != geo.dtype:
        dx = dx.astype(geo.dtype)
    return from_nhwc(dx, data_format)


def conv2d_backprop_input(
    input_sizes: Sequence[int],
    filters: ArrayLike,
    out_backprop: ArrayLike,
    strides: Pair = 1,
    padding: Padding = "VALID",
    data_format: DataFormat = "NHWC",
    dilations: Pair = 1,
    algorithm: Algorithm = "auto",
) -> np.ndarray:
    """Gradient of :func:`convops.conv2d` with respect to its input, as TF's ``Conv2DBackpropInput``.

    If ``y = conv2d(x, filters, ...)`` and ``out_backprop = dL/dy``, this returns ``dL/dx``:
    every input pixel collects ``out_backprop[n, y, x, o] * filters[ky, kx, c, o]`` from every
    output position whose window tap ``(ky, kx)`` touched it. Equivalently, a convolution of the
    zero-dilated ``out_backprop`` with the flipped, transposed filters — the *transposed
    convolution* (:func:`conv2d_transpose`).

    Parameters
    ----------
    input_sizes : sequence of 4 ints, or 2
        Shape of ``x``: ``(N, H, W, C_in)`` (``(N, C_in, H, W)`` for NCHW), or just ``(H, W)``
        (TF's short form: ``N`` from ``out_backprop``, ``C_in`` = ``filters.shape[2]``).
    filters : array_like, shape (KH, KW, C_in / groups, C_out)
        The forward op's filters (HWIO).
    out_backprop : array_like, shape (N, H_out, W_out, C_out)
        ``dL/dy`` (``(N, C_out, H_out, W_out)`` for NCHW); same dtype as ``filters``.
    strides, padding, dilations, data_format
        Exactly as given to the forward :func:`convops.conv2d`.
    algorithm : {"auto", "direct", "winograd", "im2col"}, optional
        ``"direct"``: the transposed convolution by conv2d's direct kernel (stride 1, padding at
        most the dilated kernel's extent minus one); ``"im2col"``: patch gradients by BLAS, then
        col2im; ``"winograd"``: that transposed convolution by Winograd (3x3, stride 1,
        dilation 1; for finite data); ``"auto"``: the library chooses. See "Kernel choice" in
        the API reference.

    Returns
    -------
    ndarray, shape ``input_sizes``, dtype of ``filters``
        Input pixels that no window reaches (rows dropped by a VALID stride) get 0.

    Raises
    ------
    ValueError
        When conv2d would not map ``input_sizes`` to ``out_backprop``'s spatial shape; the message
        lists the input sizes that would.

    Notes
    -----
    dtypes float16 (computed in float32), float32, float64. Implemented as one matrix product
    per chunk of images, ``dP = dy . filters^T`` (patch gradients), followed by *col2im*: each
    input pixel sums the patch-gradient entries of the taps that read it. Grouped and dilated
    convolutions are supported (TensorFlow's CPU kernels refuse both).

    Examples
    --------
    A 1x2 kernel spreads each upstream value over the two pixels it read:

    >>> import numpy as np
    >>> import convops
    >>> dy = np.array([[1., 10., 100.]], dtype=np.float32).reshape(1, 1, 3, 1)
    >>> w = np.array([[2., 3.]], dtype=np.float32).reshape(1, 2, 1, 1)
    >>> convops.conv2d_backprop_input((1, 1, 4, 1), w, dy)[0, :, :, 0]
    array([[  2.,  23., 230., 300.]], dtype=float32)
    """
    # The plain call of a small layer in compiled code (fastpath.pyx): None for anything else. Like
    # conv2d's, it runs the default kernel, so it is skipped whenever convops.dispatch.force is in effect.
    if _forced_kernels.get() is _NOTHING_FORCED and (
        algorithm is _AUTO or (type(algorithm) is str and algorithm == "direct")
    ):
        dx = _fast_input_grad(
            input_sizes,
            filters,
            out_backprop,
            strides,
            padding,
            data_format,
            dilations,
            _AUTO_MAX_FAST_FILTER,
            _conv_dispatch._INPUT_GRAD_GEMM_MAX_LANE_SHARE,
            _conv_dispatch._INPUT_GRAD_GEMM_MIN_OUT_PER_IN,
            _conv_dispatch._INPUT_GRAD_GEMM_MIN_WORK,
            _conv_dispatch._SCRATCH_BYTES,
            _conv_dispatch._LANES,
            _threads.run_blas_kernel,
            _DEFAULT_ISA,
            _get_num_threads(),
        )
        if dx is not None:
            return dx
    return _backprop_input(
        _INPUT_GRAD, input_sizes, filters, out_backprop, strides, padding, data_format, dilations, algorithm
    )


@fill_doc
def conv2d_transpose(
    input: ArrayLike,
    filters: ArrayLike,
    output_shape: Sequence[int],
    strides: Pair,
    padding: Padding = "SAME",
    data_format: DataFormat = "NHWC",
    dilations: Pair = 1,
    name: str | None = None,
    *,
    algorithm: Algorithm = "auto",
) -> np.ndarray:
    """Transposed convolution ("deconvolution"), as ``tf.nn.conv2d_transpose``.

    The transpose of :func:`convops.conv2d` seen as a linear map: it takes a small map back to
    a large one, each input pixel painting ``input[n, y, x, i] * filters[:, :, o, i]`` onto the
    output at ``(y*sh, x*sw)`` (minus the padding), overlapping paints adding up. It is exactly
    the input gradient of conv2d (:func:`conv2d_backprop_input`).

    Parameters
    ----------
    input : array_like, shape (N, H, W, C_in)
        ``(N, C_in, H, W)`` for NCHW. Here ``C_in`` is the *transposed* op's input depth.
    filters : array_like, shape (KH, KW, C_out / groups, C_in)
        TF's layout ``[height, width, output_channels, in_channels]`` — the same array as the
        forward conv2d that this op transposes (which maps C_out channels to C_in).
    output_shape : sequence of 4 ints, or 2
        ``(N, H_out, W_out, C_out)`` (NCHW order for NCHW), or ``(H_out, W_out)``. Needed because
        with stride > 1 several output sizes are transposes of the same input size: a stride-2
        SAME conv maps both 5 and 6 to 3.
    %(strides)s
        The forward conv2d's strides.
    %(padding)s
        The forward conv2d's padding; ``"SAME"`` by default, as in TensorFlow.
    %(data_format)s
    %(dilations)s
        The forward conv2d's dilations (TensorFlow's CPU refuses > 1; convops computes them).
    %(name)s
    algorithm : {"auto", "direct", "winograd", "im2col"}, optional, keyword only
        As in :func:`conv2d_backprop_input` (the same op): ``"direct"`` (stride 1, padding at
        most the dilated kernel's extent minus one), ``"im2col"``, ``"winograd"`` (3x3, stride 1,
        dilation 1; for finite data) or ``"auto"``.

    Returns
    -------
    ndarray, shape ``output_shape``, dtype of ``input``

    Raises
    ------
    ValueError
        For an impossible ``output_shape``: conv2d with these strides, padding and dilations must
        map ``output_shape``'s spatial size back to ``input``'s. The message gives the possible sizes.

    Examples
    --------
    Stride 2 "unpools" a 2x2 map to 4x4 (with a 2x2 kernel of ones every pixel becomes a block):

    >>> import numpy as np
    >>> import convops
    >>> x = np.array([[1., 2.], [3., 4.]], dtype=np.float32).reshape(1, 2, 2, 1)
    >>> convops.conv2d_transpose(x, np.ones((2, 2, 1, 1), np.float32), (1, 4, 4, 1), strides=2)[0, :, :, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [3., 3., 4., 4.],
           [3., 3., 4., 4.]], dtype=float32)

    With stride 2, SAME maps both 3 and 4 to 2, so both output sizes are possible; 5 is not:

    >>> w = np.ones((3, 3, 1, 1), np.float32)
    >>> convops.conv2d_transpose(x, w, (1, 3, 3, 1), strides=2).shape
    (1, 3, 3, 1)
    >>> convops.conv2d_transpose(x, w, (1, 5, 4, 1), strides=2)
    Traceback (most recent call last):
    ...
    ValueError: conv2d_transpose: output_shape height 5 is impossible with input height 2: ... heights 3 to 4 give 2
    """
    check_name(name)
    return _backprop_input(
        _TRANSPOSE, output_shape, filters, input, strides, padding, data_format, dilations, algorithm
    )


def conv2d_backprop_filter(
    input: ArrayLike,
    filter_sizes: Sequence[int],
    out_backprop: ArrayLike,
    strides: Pair = 1,
    padding: Padding = "VALID",
    data_format: DataFormat = "NHWC",
    dilations: Pair = 1,
    *,
    algorithm: Algorithm = "auto",
) -> np.ndarray:
    """Gradient of :func:`convops.conv2d` with respect to its filters, as TF's ``Conv2DBackpropFilter``.

    ``dL/dfilters[ky, kx, c, o] = sum over n, y, x of in_pad[n, y*sh + ky*dil_h, x*sw + kx*dil_w, g*C_g + c]
    * out_backprop[n, y, x, o]`` (``g`` the group of ``o``): a correlation of the input with the
    upstream gradient, summed over the batch — the reason a filter learns from every position.

    Parameters
    ----------
    input : array_like, shape (N, H, W, C_in)
        The forward op's input (``(N, C_in, H, W)`` for NCHW).
    filter_sizes : sequence of 4 ints
        ``(KH, KW, C_in / groups, C_out)``, the filters' shape (HWIO in every data format).
    out_backprop : array_like, shape (N, H_out, W_out, C_out)
        ``dL/dy`` in ``data_format``; same dtype as ``input``.
    strides, padding, dilations, data_format
        Exactly as given to the forward :func:`convops.conv2d`.
    algorithm : {"auto", "direct", "winograd", "im2col"}, optional, keyword only
        ``"direct"``: the register-blocked kernel; ``"im2col"``: patch matrices by BLAS;
        ``"winograd"``: F(3x3, 2x2), the transpose of the forward F(2x2, 3x3) (3x3, stride 1,
        dilation 1; for finite data; a tap's error follows the magnitude of its whole 4x4 input
        tiles, so a tap whose products are all zero may get rounding residue); ``"auto"`` (the
        default): ``"direct"``, which keeps TensorFlow's rounding. See "Kernel choice" in the
        API reference.

    Returns
    -------
    ndarray, shape ``filter_sizes``, dtype of ``input``

    Notes
    -----
    A register-blocked direct kernel accumulates each block of the result over the output
    positions in order (where it does not apply -- no SIMD build, or non-finite ``out_backprop``
    whose windows reach the padding -- one matrix product per chunk of output positions and
    group, ``dW_g += P^T . dy_g`` with ``P`` the im2col patch matrix). Both accumulate in the
    input dtype (float16 in float32). Tolerance against a float64 result grows with
    ``N * H_out * W_out``, the number of products summed per element.

    Examples
    --------
    >>> import numpy as np
    >>> import convops
    >>> x = np.arange(4, dtype=np.float64).reshape(1, 1, 4, 1)      # [0, 1, 2, 3]
    >>> dy = np.ones((1, 1, 3, 1))                                   # from a 1x2 VALID conv
    >>> convops.conv2d_backprop_filter(x, (1, 2, 1, 1), dy)[0, :, 0, 0]   # [0+1+2, 1+2+3]
    array([3., 6.])
    """
    names = _FILTER_GRAD
    op = names.op
    algorithm = _algorithms.check_algorithm(op, algorithm, _algorithms.FILTER_GRAD_ALGORITHMS)
    layout = check_data_format(data_format)
    x, dy = _operands(op, input, "input", out_backprop, "out_backprop", GRAD_DTYPES)
    shape = "(N, H, W, C)" if layout == "NHWC" else "(N, C, H, W)"
    check_4d(x, "input", op, shape)
    check_4d(dy, "out_backprop", op, shape)
    x, dy = to_nhwc(x, layout), to_nhwc(dy, layout)
    w_shape = int_vector(filter_sizes, "filter_sizes", (4,), "(KH, KW, C_in/groups, C_out)")
    geo = conv_geometry(names, x.shape, w_shape, dy.shape, strides, padding, dilations, layout, x.dtype)
    _algorithms.check_supported(op, algorithm, geo)
    check_output_size(w_shape, geo.compute, op)
    d_filters = np.empty(w_shape, dtype=geo.compute)
    if dy.size and x.size and d_filters.size:
        _algorithms.run_filter_grad(algorithm, op, geo, x, dy, d_filters)
    else:
        d_filters.fill(0)
    return d_filters.astype(geo.dtype) if geo.compute != geo.dtype else d_filters

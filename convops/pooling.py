# Size: one concept: the two pools, their three gradients and the one geometry they share.
"""Max and average pooling with ``tf.nn.max_pool2d`` / ``tf.nn.avg_pool2d``'s contract, and their
gradients (``MaxPoolGrad``, ``MaxPoolWithArgmax``, ``AvgPoolGrad``).

Every op validates its window, strides and padding with :func:`pool_geometry` (one
:class:`PoolGeometry`, the same message for the same bad argument in every op), chooses exactly
one kernel and calls it once.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from convops import _threads, dispatch
from convops._docstrings import fill_doc
from convops._kernels import load
from convops._typing import ArrayLike, DataFormat, Int, Padding, Pair
from convops._validation import (
    GRAD_DTYPES,
    _describe,
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
    promote_2d_image,
    spatial_pair,
    to_array,
    to_nhwc,
)
from convops.arithmetic import _output_size, _same_pads
from convops.dispatch import forced_isa, forced_method

__all__ = ["max_pool2d", "avg_pool2d", "max_pool2d_grad", "max_pool2d_with_argmax", "avg_pool2d_grad"]

_kernels = load("pool")
_grad_kernels = load("pool_grad")
_memory = load("memory")  # large results from a cache of freed blocks: no new pages per call

MAX_POOL_DTYPES = tuple(
    np.dtype(t)
    for t in (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16)
)
AVG_POOL_DTYPES = tuple(np.dtype(t) for t in (np.float16, np.float32, np.float64))

Shape4 = tuple[int, int, int, int]

# Float outputs of at least this many bytes are written with non-temporal stores (pool_ukernel.h):
# a normal store first reads each output line into the cache (write-allocate) and evicts input
# lines on the way; an output this large leaves a core's L2 (0.5-2 MiB on current x86) anyway.
# Measured, 1 core, 2x2/2 pools, AVX2: 8x112x112x64 float32 (6.4 MB out) avg 0.73 -> 0.61 ms,
# max 0.94 -> 0.71; 64x26x26x32 (1.4 MB out) 0.092 -> 0.087. Smaller outputs are usually read
# again soon (by the next layer) and stay cached.
STREAM_BYTES = 1 << 20

# --------------------------------------------------------------------------- kernel choice

# The float pools' instruction set when none is forced: AVX2 where available, else the widest.
# Why not AVX-512: pooling is memory-bound, and large NumPy arrays usually start 16 bytes past a
# 64-byte cache line, so every 64-byte load spans two lines (half of the 32-byte loads do).
# Measured, 1 core, 2x2/2 pools with streaming stores: 8x112x112x64 float32 avg 0.61 ms with AVX2
# vs 0.68 with AVX-512, max 0.71 vs 0.75; 64x26x26x32 0.087 vs 0.099 ms.
_simd = load("simd")
_ISAS: tuple[str, ...] = tuple(_simd.supported_isas())
_DEFAULT_ISA = "avx2" if "avx2" in _ISAS else _ISAS[-1] if _ISAS else _kernels.SCALAR


def _float_isa(widest: bool = False) -> int:
    """The float pools' variant for this call, as the kernels' index (-1: the Cython loops):
    the one forced with ``convops.dispatch.force(isa=...)`` if this CPU runs it, else the default
    -- or, with ``widest``, the widest this CPU runs: for convops.nn's kernels, whose arrays come
    from the step allocator on 64-byte boundaries (the reason above for AVX2 does not hold there),
    and whose max pool computes more per window (its training pass: 0.36 instead of 0.63 ms for
    64x26x26x32 with AVX-512, Intel Emerald Rapids, 1 thread)."""
    name = forced_isa()
    if name != _kernels.SCALAR and name not in _ISAS:
        name = _ISAS[-1] if widest and _ISAS else _DEFAULT_ISA
    return -1 if name == _kernels.SCALAR else int(_simd.ISA_NAMES.index(name))


# The plain forward call (float NHWC ndarray, int window and stride, VALID/SAME) in compiled code
# (fastpath.pyx), and what it checks first, bound once: it saves ~13 us of argument handling, most
# of a small pool's cost. It runs the default variant, so it is skipped while anything is forced.
# The gradients' plain calls likewise (float NHWC ndarrays, `grad` of the output's shape): ~10 us.
_fastpath = load("fastpath")
_pool2d_fast = _fastpath.pool2d_fast
_max_pool2d_grad_fast = _fastpath.max_pool2d_grad_fast
_avg_pool2d_grad_fast = _fastpath.avg_pool2d_grad_fast
_forced, _NOTHING_FORCED = dispatch._forced, dispatch._NOTHING
_PLAIN_ISA = _float_isa()
_get_num_threads = _threads.get_num_threads


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class PoolGeometry:
    """A pooling call's window, validated and resolved: what every pooling kernel needs.

    ``out_shape = (N, H_out, W_out, C)`` with ``H_out = floor((H + top + bottom - KH) / sh) + 1``
    (0 if negative); shapes are NHWC whatever the caller's ``data_format``.
    """

    ksize: tuple[int, int]  #: (KH, KW)
    strides: tuple[int, int]  #: (sh, sw)
    padding: tuple[tuple[int, int], tuple[int, int]]  #: ((top, bottom), (left, right)), explicit
    in_shape: Shape4  #: (N, H, W, C)
    out_shape: Shape4  #: (N, H_out, W_out, C)

    @property
    def pad_before(self) -> tuple[int, int]:
        """(top, left): where the first window starts, above and left of the input."""
        return self.padding[0][0], self.padding[1][0]


def pool_geometry(
    op: str, shape_nhwc: Sequence[int], ksize: Any, strides: Any, padding: Any, data_format: str = "NHWC"
) -> PoolGeometry:
    """Validate ``ksize``, ``strides`` and ``padding`` for an input of NHWC shape ``shape_nhwc``.

    The one check of a pooling window, shared by the forward ops and their gradients. Explicit
    padding must be smaller than the window on each side (TensorFlow's rule: a window may never
    lie entirely in the padding). ``op`` names the caller in messages.
    """
    kh, kw = spatial_pair(ksize, "ksize", data_format)
    sh, sw = spatial_pair(strides, "strides", data_format)
    pad = parse_padding(padding, data_format)
    n, height, width, channels = (int(size) for size in shape_nhwc)
    if pad == "SAME":  # (the unchecked formulas: spatial_pair has checked the window and strides)
        (top, bottom), (left, right) = _same_pads(height, kh, sh, 1), _same_pads(width, kw, sw, 1)
    elif pad == "VALID":
        top = bottom = left = right = 0
    else:
        (top, bottom), (left, right) = pad
        if max(top, bottom) >= kh or max(left, right) >= kw:
            raise ValueError(
                f"explicit `padding` of {op} must be smaller than the window `ksize` {(kh, kw)} "
                f"on each side; got ((top, bottom), (left, right)) = {((top, bottom), (left, right))}"
            )
    h_out = _output_size(height, kh, sh, 1, top, bottom)
    w_out = _output_size(width, kw, sw, 1, left, right)
    return PoolGeometry(
        (kh, kw), (sh, sw), ((top, bottom), (left, right)), (n, height, width, channels), (n, h_out, w_out, channels)
    )


def _pool_geometry(
    op: str, shape_nhwc: Sequence[int], ksize: Any, strides: Any, padding: Any, data_format: str
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], Shape4]:
    """:func:`pool_geometry` as the tuple ``(ksize, strides, pad_before, out_shape)`` (convops.nn's
    MaxPooling2D calls this)."""
    geometry = pool_geometry(op, shape_nhwc, ksize, strides, padding, data_format)
    return geometry.ksize, geometry.strides, geometry.pad_before, geometry.out_shape


def _layout(data_format: str) -> str:
    return "(N, H, W, C)" if data_format == "NHWC" else "(N, C, H, W)"


def _shape_in(shape_nhwc: Sequence[int], data_format: str) -> tuple[int, ...]:
    n, h, w, c = shape_nhwc
    return (n, h, w, c) if data_format == "NHWC" else (n, c, h, w)


def _check_bool(value: Any, name: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a bool; got {_describe(value)}")


def _empty_output(shape: Shape4, dtype: np.dtype) -> tuple[np.ndarray, bool]:
    """``np.empty(shape, dtype)`` and whether the kernel should stream it: a large float output,
    64-byte aligned as streaming stores require (the result cache's blocks are)."""
    out = _memory.empty(shape, dtype)
    return out, out.dtype.kind == "f" and out.nbytes >= STREAM_BYTES and out.ctypes.data % 64 == 0


# --------------------------------------------------------------------------- forward


def _prepare(
    input: Any, ksize: Any, strides: Any, padding: Any, data_format: Any, op: str, dtypes: tuple[np.dtype, ...]
) -> tuple[np.ndarray, bool, str, PoolGeometry]:
    """The forward ops' argument handling: (NHWC array, whether it was one 2-D image, the data
    format, the geometry)."""
    fmt = check_data_format("NHWC" if data_format is None else data_format)
    # Only the average needs float: a maximum of integers is exact in their own dtype.
    x = to_array(promote_2d_image(input, "input", dtypes) if op == "avg_pool2d" else input, "input")
    check_dtype(x, "input", dtypes, op)
    image_2d = x.ndim == 2
    if image_2d:
        x = x[None, :, :, None]
    check_rank(x, "input", op, _layout(fmt))
    if data_format is None:
        _warn_if_nchw(x.shape, op)
    if fmt == "NCHW" and not image_2d:
        x = x.transpose(0, 2, 3, 1)
    return x, image_2d, fmt, pool_geometry(op, x.shape, ksize, strides, padding, fmt)


def _warn_if_nchw(shape: tuple[int, ...], op: str) -> None:
    """PyTorch's ``(N, C, H, W)`` passed without ``data_format`` pools over C and H: no error can
    catch it, so warn where the shape can hardly be NHWC (1, 3 or 4 rows, as wide as it has
    channels: an RGB(A) or grayscale batch in NCHW)."""
    _, h, w, c = shape
    if h in (1, 3, 4) and w == c and w >= 8:
        warnings.warn(
            f"{op}: `input` of shape {tuple(shape)} is read as NHWC (H={h}, W={w}, C={c}), the default; "
            f"it looks like NCHW (C={h}, H={w}, W={c}), PyTorch's layout. Pass data_format='NCHW' for that, "
            f"or data_format='NHWC' to say it is NHWC",
            UserWarning,
            stacklevel=4,
        )


def _finish(out: np.ndarray, image_2d: bool, data_format: str) -> np.ndarray:
    if image_2d:
        return out[0, :, :, 0]
    return from_nhwc(out, data_format)


@fill_doc
def max_pool2d(
    input: ArrayLike,
    ksize: Pair,
    strides: Pair,
    padding: Padding = "VALID",
    data_format: DataFormat | None = None,
    name: str | None = None,
) -> np.ndarray:
    """Maximum over each ``KH x KW`` window, as ``tf.nn.max_pool2d``.

    Parameters
    ----------
    %(pool_input)s
    %(ksize)s
    %(strides)s
    %(pool_padding)s
        Padded cells never win: they act as -inf.
    %(data_format)s
        Not given: NHWC, with a warning when the shape looks like PyTorch's NCHW, such as
        ``(N, 3, 64, 64)``; pass it to silence the warning.
    %(name)s

    Returns
    -------
    ndarray, shape (N, H_out, W_out, C), dtype of ``input``
        ``H_out = floor((H + top + bottom - KH) / sh) + 1`` (0 if negative), e.g.
        26 x 26 -> 13 x 13 for a 2 x 2 window with stride 2.

    Notes
    -----
    NaN follows TensorFlow's CPU (x86-64) rule: NaN is ignored; a window with no number in it
    gives the dtype's lowest finite value (the running maximum starts there, so a window of only
    ``-inf`` also gives it). dtypes: float16/32/64, int8/16/32/64, uint8/16.

    Examples
    --------
    >>> import numpy as np
    >>> import convops
    >>> x = np.array([[1, 2, 5, 0], [3, 4, 1, 1], [0, 0, 2, 2], [9, 0, 2, 7]], dtype=np.float32)
    >>> convops.max_pool2d(x, ksize=2, strides=2)
    array([[4., 5.],
           [9., 7.]], dtype=float32)
    """
    if name is None and _forced.get() is _NOTHING_FORCED:
        out = _pool2d_fast(
            input, ksize, strides, padding, data_format, True, False, _PLAIN_ISA, _get_num_threads(), STREAM_BYTES
        )
        if out is not None:
            return out
    check_name(name)
    x, image_2d, fmt, geometry = _prepare(input, ksize, strides, padding, data_format, "max_pool2d", MAX_POOL_DTYPES)
    compute = compute_dtype(x.dtype)
    shape = geometry.out_shape
    check_output_size(shape, compute, "max_pool2d")
    # float16 is narrowed after the call: no point streaming its float32 temporary.
    out, stream = _empty_output(shape, compute) if x.dtype == compute else (_memory.empty(shape, compute), False)
    if out.size:
        (kh, kw), (sh, sw), (top, left) = geometry.ksize, geometry.strides, geometry.pad_before
        _kernels.max_pool(
            np.ascontiguousarray(x, dtype=compute),
            out,
            kh,
            kw,
            sh,
            sw,
            top,
            left,
            _lowest(x.dtype),
            _threads.get_num_threads(),
            _float_isa(),
            stream,
        )
    if compute != x.dtype:
        out = out.astype(x.dtype)
    return _finish(out, image_2d, fmt)


def _lowest(dtype: np.dtype) -> Any:
    """Where a running maximum starts (max_pool2d's value for a window without a number): the
    dtype's lowest finite value, in the compute dtype. float16 is widened exactly to float32
    and the maximum narrowed back exactly, so it starts from float16's own lowest value."""
    compute = compute_dtype(dtype)
    if dtype == np.float16:
        return np.float32(np.finfo(np.float16).min)
    return compute.type(np.finfo(compute).min if compute.kind == "f" else np.iinfo(compute).min)


@fill_doc
def avg_pool2d(
    input: ArrayLike,
    ksize: Pair,
    strides: Pair,
    padding: Padding = "VALID",
    data_format: DataFormat | None = None,
    count_include_pad: bool = False,
    name: str | None = None,
) -> np.ndarray:
    """Mean over each ``KH x KW`` window, as ``tf.nn.avg_pool2d``.

    Parameters
    ----------
    %(pool_input)s
    %(ksize)s
    %(strides)s
    %(pool_padding)s
        Explicit padding is a convops extension: ``tf.nn.avg_pool2d`` accepts only the two strings.
    %(data_format)s
        Not given: NHWC, with a warning when the shape looks like PyTorch's NCHW, such as
        ``(N, 3, 64, 64)``; pass it to silence the warning.
    count_include_pad : bool, default False
        False (TensorFlow): divide by the number of real cells in the window. True (PyTorch's
        default): divide by ``KH * KW``, as if padded cells were zeros.
    %(name)s

    Returns
    -------
    ndarray, shape (N, H_out, W_out, C), floating dtype of ``input``
        Output size as for :func:`max_pool2d`.

    Notes
    -----
    The sum runs over the window's real cells in row-major order in the input dtype, then is
    divided — TensorFlow's order, so results are bit-identical (except subnormal results, which
    TensorFlow flushes to zero, and float16 windows of more than 2048 cells, where its float16
    count is wrong). NaN propagates.

    Examples
    --------
    >>> import numpy as np
    >>> import convops
    >>> x = np.arange(9, dtype=np.float32).reshape(3, 3)
    >>> convops.avg_pool2d(x, 2, 2, padding="SAME")           # 2 x 2, 2 x 1, 1 x 2, 1 x 1 cells
    array([[2. , 3.5],
           [6.5, 8. ]], dtype=float32)
    >>> convops.avg_pool2d(x, 2, 2, padding="SAME", count_include_pad=True)
    array([[2.  , 1.75],
           [3.25, 2.  ]], dtype=float32)
    """
    if name is None and _forced.get() is _NOTHING_FORCED:
        out = _pool2d_fast(
            input,
            ksize,
            strides,
            padding,
            data_format,
            False,
            count_include_pad,
            _PLAIN_ISA,
            _get_num_threads(),
            STREAM_BYTES,
        )
        if out is not None:
            return out
    check_name(name)
    x, image_2d, fmt, geometry = _prepare(input, ksize, strides, padding, data_format, "avg_pool2d", AVG_POOL_DTYPES)
    _check_bool(count_include_pad, "count_include_pad")
    check_output_size(geometry.out_shape, x.dtype, "avg_pool2d")
    if x.dtype == np.float16:
        out = _avg_pool_float16(x, geometry, bool(count_include_pad))
    else:
        out, stream = _empty_output(geometry.out_shape, x.dtype)
        if out.size:
            (kh, kw), (sh, sw), (top, left) = geometry.ksize, geometry.strides, geometry.pad_before
            _kernels.avg_pool(
                np.ascontiguousarray(x),
                out,
                kh,
                kw,
                sh,
                sw,
                top,
                left,
                bool(count_include_pad),
                _threads.get_num_threads(),
                _float_isa(),
                stream,
            )
    return _finish(out, image_2d, fmt)


@np.errstate(over="ignore", invalid="ignore")  # overflow to inf and inf - inf are results, as in float32
def _avg_pool_float16(x: np.ndarray, geometry: PoolGeometry, count_include_pad: bool) -> np.ndarray:
    """float16 average pooling, accumulated in float16 one cell at a time as TensorFlow's CPU
    kernel does (each addition rounds to half precision). Summing in float32 instead differs
    from TensorFlow in the last bit, so this path is plain NumPy over window offsets."""
    (kh, kw), (sh, sw), (top, left) = geometry.ksize, geometry.strides, geometry.pad_before
    shape = geometry.out_shape
    n, h_out, w_out, channels = shape
    out = np.zeros(shape, dtype=np.float16)
    if out.size == 0:
        return out
    height, width = x.shape[1], x.shape[2]
    # The count is exact in float32: a float16 count rounds above 2048 (2051 cells became 2052).
    # TensorFlow counts in float16 one cell at a time, so its count stops at 2048 and its mean of
    # a window of more than 2048 cells is wrong; convops divides by the true count there.
    count = np.zeros((h_out, w_out), dtype=np.float32)
    for oy in range(h_out):
        y0, y1 = max(oy * sh - top, 0), min(oy * sh - top + kh, height)
        for ox in range(w_out):
            x0, x1 = max(ox * sw - left, 0), min(ox * sw - left + kw, width)
            acc = np.zeros((n, channels), dtype=np.float16)
            for iy in range(y0, y1):
                for ix in range(x0, x1):
                    acc = acc + x[:, iy, ix, :]
            out[:, oy, ox, :] = acc
            count[oy, ox] = kh * kw if count_include_pad else (y1 - y0) * (x1 - x0)
    with np.errstate(invalid="ignore"):  # a window with no real cell (H or W is 0) is 0/0 = NaN
        # float16 / float32 in float32, rounded once to half: what TF's half division does too.
        return (out / count[None, :, :, None]).astype(np.float16)


# --------------------------------------------------------------------------- gradients


def _argmax(
    x: np.ndarray,
    ksize: tuple[int, int],
    strides: tuple[int, int],
    pad_before: tuple[int, int],
    out_shape: Shape4,
    values_from_argmax: bool,
    index_dtype: npt.DTypeLike = np.int64,
    name: str = "input",
) -> tuple[np.ndarray, np.ndarray]:
    """Run the argmax kernel on NHWC ``x``: (values, argmax within each image) in the compute dtype.
    ``index_dtype`` int32 halves the indices' memory; ``name`` is the argument ``x`` came from (messages)."""
    compute = compute_dtype(x.dtype)
    image = x.shape[1] * x.shape[2] * x.shape[3]
    if image > np.iinfo(np.int32).max:
        # The kernel scans with 32-bit positions: that is what lets the compiler vectorise it.
        raise ValueError(
            f"`{name}` images must have at most 2**31 - 1 elements (H*W*C) for the argmax; "
            f"got (H, W, C) = {x.shape[1:]}, {image} elements"
        )
    out = _memory.empty(out_shape, compute)
    argmax = _memory.empty(out_shape, index_dtype)
    lowest = _lowest(x.dtype)
    if out.size and x.size == 0:
        # An empty H or W under explicit padding: every window lies in the padding and has no
        # first cell for the kernel to start from (it read past the empty input: found by
        # tests/hardening under AddressSanitizer). max_pool2d's value for a window without a
        # number, and no argmax (-1): the input gradient is empty anyway, and
        # max_pool2d_with_argmax refuses such calls.
        out.fill(lowest)
        argmax.fill(-1)
    elif out.size:
        _grad_kernels.max_pool_argmax(
            np.ascontiguousarray(x, dtype=compute),
            out,
            argmax,
            ksize[0],
            ksize[1],
            strides[0],
            strides[1],
            pad_before[0],
            pad_before[1],
            lowest,
            values_from_argmax,
            _threads.get_num_threads(),
        )
    return out, argmax


def _scatter_argmax(dy: np.ndarray, argmax: np.ndarray, in_shape: tuple[int, ...]) -> np.ndarray:
    """dx (``in_shape``, NHWC) with every dy element added at its argmax (same compute dtype as dy)."""
    dx = _memory.empty(in_shape, dy.dtype)
    n = in_shape[0]
    if dx.size == 0:
        return dx
    if dy.size == 0:
        dx.fill(0)
        return dx
    _grad_kernels.max_pool_grad_scatter(
        np.ascontiguousarray(dy).reshape(n, -1), argmax.reshape(n, -1), dx.reshape(n, -1), _threads.get_num_threads()
    )
    return dx


def max_pool2d_grad(
    orig_input: ArrayLike,
    grad: ArrayLike,
    ksize: Pair,
    strides: Pair,
    padding: Padding = "VALID",
    data_format: DataFormat = "NHWC",
) -> np.ndarray:
    """Gradient of :func:`convops.max_pool2d` with respect to its input, as TF's ``MaxPoolGrad``.

    Each window's whole upstream gradient goes to **one** cell: the first maximum of the window
    in row-major order (TensorFlow's CPU rule, so ties do not share). Overlapping windows add
    up where they pick the same cell; padding never receives gradient; cells that are never a
    maximum get 0.

    Parameters
    ----------
    orig_input : array_like, shape (N, H, W, C)
        The forward op's input (``(N, C, H, W)`` for NCHW), a floating dtype. The maxima are
        found again from it (TF's raw op also takes the forward output, which its CPU kernel
        ignores for the same reason).
    grad : array_like, shape (N, H_out, W_out, C)
        ``dL/dy``, same dtype as ``orig_input``.
    ksize, strides, padding, data_format
        As given to :func:`convops.max_pool2d`.

    Returns
    -------
    ndarray, shape of ``orig_input``, its dtype

    Notes
    -----
    NaN (TensorFlow's CPU rule, checked with TF 2.21): the argmax starts at the window's first
    cell and moves only to a strictly greater value, so a NaN in the *first* cell keeps the
    gradient even though the forward max skips NaN, a later NaN never gets it, and an all-NaN
    or all ``-inf`` window sends it to its first cell. float16 is accumulated in float32.

    Examples
    --------
    >>> import numpy as np
    >>> import convops
    >>> x = np.array([[1., 3.], [3., 2.]])            # two maxima: the first (row-major) wins
    >>> convops.max_pool2d_grad(x[None, :, :, None], np.ones((1, 1, 1, 1)), 2, 2)[0, :, :, 0]
    array([[0., 1.],
           [0., 0.]])
    """
    if _forced.get() is _NOTHING_FORCED:
        dx = _max_pool2d_grad_fast(orig_input, grad, ksize, strides, padding, data_format, _get_num_threads())
        if dx is not None:
            return dx
    op = "max_pool2d_grad"
    fmt = check_data_format(data_format)
    x = to_array(orig_input, "orig_input", like=to_array(grad, "grad") if _is_array(grad) else None)
    dy = to_array(grad, "grad", like=x)
    check_dtype(x, "orig_input", GRAD_DTYPES, op)
    if dy.dtype != x.dtype:
        raise TypeError(f"`grad` dtype must match `orig_input` dtype; got grad {dy.dtype}, orig_input {x.dtype}")
    check_4d(x, "orig_input", op, _layout(fmt))
    check_4d(dy, "grad", op, _layout(fmt))
    x, dy = to_nhwc(x, fmt), to_nhwc(dy, fmt)
    geometry = pool_geometry(op, x.shape, ksize, strides, padding, fmt)
    _check_grad_shape(op, "max-pool", dy, geometry, fmt)
    # int32 positions within each image (the kernel's own width; half the memory of int64).
    _, argmax = _argmax(
        x,
        geometry.ksize,
        geometry.strides,
        geometry.pad_before,
        geometry.out_shape,
        values_from_argmax=False,
        index_dtype=np.int32,
        name="orig_input",
    )
    compute = compute_dtype(x.dtype)
    dx = _scatter_argmax(np.ascontiguousarray(dy, dtype=compute), argmax, x.shape)
    if compute != x.dtype:
        dx = dx.astype(x.dtype)
    return from_nhwc(dx, fmt)


def _check_grad_shape(op: str, pool: str, dy: np.ndarray, geometry: PoolGeometry, data_format: str) -> None:
    if dy.shape != geometry.out_shape:
        raise ValueError(
            f"{op}: `grad` must have the {pool} output's shape "
            f"{_shape_in(geometry.out_shape, data_format)} for an input of shape "
            f"{_shape_in(geometry.in_shape, data_format)}; got {_shape_in(dy.shape, data_format)}"
        )


@fill_doc
def max_pool2d_with_argmax(
    input: ArrayLike,
    ksize: Pair,
    strides: Pair,
    padding: Padding = "VALID",
    data_format: DataFormat = "NHWC",
    output_dtype: npt.DTypeLike = np.int64,
    include_batch_in_index: bool = False,
    name: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling that also says where each maximum came from, as ``tf.nn.max_pool_with_argmax``.

    Parameters
    ----------
    input : array_like, shape (N, H, W, C)
        NHWC only, as in TensorFlow (the index formula is NHWC's).
    %(ksize)s
    %(strides)s
    %(pool_padding)s
        Explicit padding is a convops extension: ``tf.nn.max_pool_with_argmax`` accepts only the
        two strings.
    data_format : "NHWC"
    output_dtype : int64 (default) or int32
    include_batch_in_index : bool
        Whether the flat index counts the earlier images of the batch.
    %(name)s

    Returns
    -------
    output : ndarray, shape (N, H_out, W_out, C), dtype of ``input``
    argmax : ndarray, shape (N, H_out, W_out, C), ``output_dtype``
        ``(y * W + x) * C + c`` — the flat index of the maximum in its (H, W, C) image — or
        ``((n * H + y) * W + x) * C + c`` with ``include_batch_in_index``.

    Notes
    -----
    The argmax is the cell :func:`max_pool2d_grad` sends the gradient to (first maximum in
    row-major order). The values follow TF's MaxPoolWithArgmax, which differs from
    :func:`convops.max_pool2d` only on NaN and ``-inf``: the value is the one at the argmax,
    so a window starting with NaN gives NaN and an all ``-inf`` window gives ``-inf`` (where
    max_pool2d skips NaN and gives the lowest finite value).

    Examples
    --------
    >>> import numpy as np
    >>> import convops
    >>> x = np.array([[1, 2, 5, 0], [3, 4, 1, 1]], dtype=np.float32)[None, :, :, None]
    >>> out, argmax = convops.max_pool2d_with_argmax(x, 2, 2)
    >>> out[0, :, :, 0], argmax[0, :, :, 0]            # 4 is at (1, 1): 1*4 + 1; 5 at (0, 2)
    (array([[4., 5.]], dtype=float32), array([[5, 2]]))
    """
    check_name(name)
    op = "max_pool2d_with_argmax"
    fmt = check_data_format(data_format)
    if fmt != "NHWC":
        raise ValueError(
            f"`data_format` of {op} must be 'NHWC' (as in TensorFlow: the argmax index formula "
            f"(y*W + x)*C + c is NHWC's); got {data_format!r}"
        )
    try:
        index_dtype = np.dtype(output_dtype)
    except TypeError:
        index_dtype = None
    if index_dtype not in (np.dtype(np.int64), np.dtype(np.int32)):
        raise TypeError(f"`output_dtype` must be int64 or int32; got {_describe(output_dtype)}")
    _check_bool(include_batch_in_index, "include_batch_in_index")
    x = to_array(input, "input")
    check_dtype(x, "input", MAX_POOL_DTYPES, op)
    check_4d(x, "input", op, "(N, H, W, C)")
    geometry = pool_geometry(op, x.shape, ksize, strides, padding, fmt)
    out_shape = geometry.out_shape
    check_output_size(out_shape, np.dtype(np.int64), op)
    n, height, width, channels = x.shape
    if (height == 0 or width == 0) and np.prod(out_shape) > 0:
        raise ValueError(
            f"{op}: `input` of shape {x.shape} has an empty spatial dimension, and the explicit "
            f"`padding` leaves windows that hold no input cell: they have no argmax"
        )
    limit = (n if include_batch_in_index else 1) * height * width * channels
    if index_dtype == np.int32 and limit - 1 > np.iinfo(np.int32).max:
        raise ValueError(f"{op}: indices up to {limit - 1} do not fit `output_dtype` int32; use int64")
    out, argmax = _argmax(
        x,
        geometry.ksize,
        geometry.strides,
        geometry.pad_before,
        out_shape,
        values_from_argmax=True,
        index_dtype=index_dtype,
    )
    if include_batch_in_index and argmax.size:
        argmax += (np.arange(n, dtype=index_dtype) * (height * width * channels))[:, None, None, None]
    if out.dtype != x.dtype:
        out = out.astype(x.dtype)
    return out, argmax


def avg_pool2d_grad(
    orig_input_shape: Sequence[Int] | np.ndarray,
    grad: ArrayLike,
    ksize: Pair,
    strides: Pair,
    padding: Padding = "VALID",
    data_format: DataFormat = "NHWC",
    count_include_pad: bool = False,
) -> np.ndarray:
    """Gradient of :func:`convops.avg_pool2d` with respect to its input, as TF's ``AvgPoolGrad``.

    Each window hands every one of its real cells an equal share ``grad / count`` (``count`` =
    real cells in the window, TensorFlow's divisor; ``KH * KW`` with ``count_include_pad``);
    overlapping windows add up. Padding gets nothing.

    Parameters
    ----------
    orig_input_shape : sequence of 4 ints
        Shape of the forward op's input, in ``data_format`` order.
    grad : array_like, shape (N, H_out, W_out, C)
        ``dL/dy`` (``(N, C, H_out, W_out)`` for NCHW), floating.
    ksize, strides, padding, data_format, count_include_pad
        As given to :func:`convops.avg_pool2d`.

    Returns
    -------
    ndarray, shape ``orig_input_shape``, dtype of ``grad``

    Notes
    -----
    The share is ``1/count`` computed in double and rounded to the dtype, and each cell adds its
    shares in row-major window order — TensorFlow's AvgPoolGrad does both, so float32/float64
    results are bit-identical to it (subnormal shares aside: TensorFlow flushes them to zero), with
    one exception where TensorFlow is wrong: some SAME
    windows wider than the input (a 5-row window on 4 rows, stride 1: TF 2.21's shares do not
    match its own forward windows), where convops gives the derivative of :func:`convops.avg_pool2d`.
    float16 is computed in float32.

    Examples
    --------
    >>> import numpy as np
    >>> import convops
    >>> g = convops.avg_pool2d_grad((1, 3, 3, 1), np.ones((1, 2, 2, 1)), 2, 2, padding="SAME")
    >>> g[0, :, :, 0]                                 # windows of 4, 2, 2 and 1 real cells
    array([[0.25, 0.25, 0.5 ],
           [0.25, 0.25, 0.5 ],
           [0.5 , 0.5 , 1.  ]])
    """
    if _forced.get() is _NOTHING_FORCED:
        dx = _avg_pool2d_grad_fast(
            orig_input_shape, grad, ksize, strides, padding, data_format, count_include_pad, _get_num_threads()
        )
        if dx is not None:
            return dx
    op = "avg_pool2d_grad"
    fmt = check_data_format(data_format)
    _check_bool(count_include_pad, "count_include_pad")
    dy = to_array(grad, "grad")
    check_dtype(dy, "grad", GRAD_DTYPES, op)
    check_4d(dy, "grad", op, _layout(fmt))
    sizes = int_vector(orig_input_shape, "orig_input_shape", (4,), f"(the input shape {_layout(fmt)})")
    in_shape = sizes if fmt == "NHWC" else (sizes[0], sizes[2], sizes[3], sizes[1])
    dy = to_nhwc(dy, fmt)
    geometry = pool_geometry(op, in_shape, ksize, strides, padding, fmt)
    _check_grad_shape(op, "avg-pool", dy, geometry, fmt)
    compute = compute_dtype(dy.dtype)
    check_output_size(geometry.in_shape, compute, op)
    if all(in_shape) and dy.size:
        dx = _memory.empty(geometry.in_shape, compute)  # the kernel writes every cell
        (kh, kw), (sh, sw), (top, left) = geometry.ksize, geometry.strides, geometry.pad_before
        readable = forced_method("avg_pool2d_grad") == "readable"
        _grad_kernels.avg_pool_grad(
            np.ascontiguousarray(dy, dtype=compute),
            dx,
            kh,
            kw,
            sh,
            sw,
            top,
            left,
            bool(count_include_pad),
            _threads.get_num_threads(),
            readable,
        )
    else:
        dx = _memory.zeros(geometry.in_shape, compute)
    if compute != dy.dtype:
        dx = dx.astype(dy.dtype)
    return from_nhwc(dx, fmt)

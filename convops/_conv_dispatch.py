"""Which kernel runs a convolution call, and the call into it.

Private to :mod:`convops.conv`, which has validated every argument into a
:class:`~convops.conv.ConvGeometry`. A module of its own so that ``conv.py`` reads as the API
(signatures, docstrings, validation) and this one as the rule "Python chooses exactly one kernel":
each ``choose_*`` function decides from facts known here -- dtype, shapes, whether a window
reaches the padding, whether the values multiplied by that padding are finite -- and
:mod:`convops.dispatch` (``force(conv2d="gemm", isa="avx2")``); the kernels never decline. A
forced method that cannot run a call falls back to the default choice.

Why finiteness matters: the fast kernels skip taps that fall on the padding, which equals adding
``0 * value`` only for finite values; TensorFlow multiplies the padding zeros (``0 * inf = NaN``),
and so does the im2col + BLAS kernel, chosen for those calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from convops import _autotune, _threads, dispatch
from convops._kernels import load

if TYPE_CHECKING:  # conv.py imports this module: no import cycle at run time
    from convops.conv import ConvGeometry

# BLAS takes C ints: every GEMM dimension must stay below 2**31.
BLAS_INT_MAX = 2**31 - 1
# Rows of the patch matrix built per GEMM call (forward fallback): big enough for BLAS to run at
# full speed, small enough (~1 MiB of patches) to stay in cache while it is consumed.
_PATCH_BYTES = 1 << 20
# Bytes of out_backprop the direct filter-gradient kernel streams per pass: None = the autotuner's
# choice (convops/_autotune.py); tests set a tiny value to force one output row per chunk.
_D_FILTERS_CHUNK_BYTES: int | None = None
# Scratch per task for the gradients' patch matrices (patches for the filter gradient, patch
# gradients for the input gradient; at most one task per thread at a time): enough for BLAS calls
# of a few hundred rows, small next to a training step's activations.
_SCRATCH_BYTES = 2 << 20
# The gradients' work is cut into at most this many independent pieces (chunks of images for the
# input gradient, "lanes" of partial sums for the filter gradient), whatever the thread count, so
# the summation order -- and the result -- never depends on the number of threads.
_LANES = 8
# The input gradient runs im2col + BLAS + col2im, not the direct kernel, for one group of few
# input channels and many output channels. The direct kernel vectorises over its output channels,
# the forward C_in, so it costs as much for C_in = 1 as for a whole vector (AVX2's 8 float32 lanes:
# it runs AVX2 for C_in <= 8); GEMM's cost grows with C_in and pays off with C_out (its reduction
# is over C_out, and col2im's gathers do not grow with it). So im2col for
#   C_in at most (SIMD lanes of the direct kernel's set, block_isa) / _INPUT_GRAD_GEMM_MAX_LANE_SHARE,
#   C_out at least _INPUT_GRAD_GEMM_MIN_OUT_PER_IN * C_in, and
#   at least _INPUT_GRAD_GEMM_MIN_WORK = N * H * W * C_out * KH * KW (the direct kernel's vector
#   multiply-adds; below it im2col's fixed costs weigh more: BLAS pinned, ~3 us).
# AMD Zen 4, float32, 3x3 VALID unless said, both by the compiled fast path, direct vs GEMM (us,
# best of 5; 1 thread, and 2 threads where they differ):
#   C_in 1: 1x28x28 -> 4 (28,224) 11.0 vs 11.4; 1x20x20 -> 8 SAME 9.3 vs 9.4; 1x12x12 -> 16 SAME
#     (20,736) 7.1 vs 7.2; 1x16x16 -> 16 SAME (36,864) 10.1 vs 8.6; 1x12x12 -> 32 SAME (41,472)
#     11.8 vs 8.1; 1x28x28 -> 32 43.5 vs 18.3; 8x28x28 -> 32 313 vs 112 / 168 vs 112
#   C_in 2: 1x12x12 -> 16 SAME 7.3 vs 11.4; 1x28x28 -> 8 15.3 vs 34.0; 1x16x16 -> 32 SAME 17.5
#     vs 18.2; 1x28x28 -> 32 43.4 vs 41.3; 8x28x28 -> 32 317 vs 293 / 172 vs 151; 1x13x13 -> 64
#     26.0 vs 14.5; 4x13x13 -> 64 61.5 vs 41.2
#   C_in 3: 1x28x28 -> 32 43.7 vs 49.6; 8x28x28 -> 32 319 vs 357 / 223 vs 206; 13x13 -> 64,
#     1 / 4 / 64 images: 26.1 vs 17.4, 62.3 vs 52.8, 887 vs 718
#   C_in 4: 1x28x28 -> 32 44.2 vs 50.4; 8x28x28 -> 32 320 vs 362; 13x13 -> 64, 1 / 4 / 64 images:
#     26.6 vs 18.2, 63.0 vs 54.2, 887 vs 731; 64x28x28 -> 64 (ms) 6.63 vs 4.81
#   C_in 8: 64x28x28 -> 32 (ms) 3.47 vs 4.72; float64 C_in 4 (a whole AVX2 vector) -> 32: 4.25 vs
#     4.65. Grouped convolutions keep the direct kernel (depthwise 64x28x28x32: 31 vs 71 ms).
_INPUT_GRAD_GEMM_MAX_LANE_SHARE = 2
_INPUT_GRAD_GEMM_MIN_OUT_PER_IN = 16
_INPUT_GRAD_GEMM_MIN_WORK = 1 << 15


def input_grad_gemm_pays(compute: np.dtype, c_in: int, c_out: int, groups: int, work: int) -> bool:
    """Whether a stride-1 input gradient the direct kernel could run is im2col's by default: one
    group, few input channels, many output channels and enough work (N * H * W * C_out * KH *
    KW; the constants above say why; the compiled fast path, fastpath.pyx, applies the same rule)."""
    if groups != 1 or c_out < _INPUT_GRAD_GEMM_MIN_OUT_PER_IN * c_in or work < _INPUT_GRAD_GEMM_MIN_WORK:
        return False
    return c_in * _INPUT_GRAD_GEMM_MAX_LANE_SHARE <= _autotune.simd_lanes(compute, block_isa(compute, c_in))


# Lanes of the filter gradient keep one partial filter gradient each: cap their total size.
_PARTIALS_BYTES = 16 << 20

_simd = load("simd")
_ISA_NAMES: tuple[str, ...] = _simd.ISA_NAMES
_SUPPORTED_ISAS: tuple[str, ...] = _simd.supported_isas()
_SIMD_BUILD: bool = _simd.simd_build()
# The widest instruction set this CPU runs (index into ISA_NAMES; 0 = the portable build).
_WIDEST_ISA = _ISA_NAMES.index(_SUPPORTED_ISAS[-1]) if _SUPPORTED_ISAS else 0

_conv = load("conv")


def isa_index() -> int:
    """The instruction set of this call's SIMD kernels: the forced one if the conv kernels run it
    here, else the widest this CPU runs."""
    forced = dispatch.forced_isa()
    if forced is not None and forced in _SUPPORTED_ISAS:
        return _ISA_NAMES.index(forced)
    return _WIDEST_ISA


def block_isa(compute: np.dtype, channels: int) -> int:
    """The instruction set of a register-blocked kernel whose groups have ``channels`` output
    channels -- conv2d's direct kernel (the forward convolution and the input gradient, which
    runs it on flipped filters) or the filter gradient's: the forced one if the conv kernels run
    it here, else the widest, with AVX2 in place of AVX-512 where it leaves fewer lanes idle: for
    channels that fit one AVX2 vector, and for 17..24 float32 channels (say) on CPUs that run a
    512-bit FMA as two halves (the same bits; src/simd_isa.h, convops_block_isa, says where and why)."""
    forced = dispatch.forced_isa()
    if forced is not None and forced in _SUPPORTED_ISAS:
        return _ISA_NAMES.index(forced)
    return _simd.block_isa(_WIDEST_ISA, channels * compute.itemsize)


def default_isa() -> int:
    """The widest instruction set (the fast path's, which runs only when nothing is forced)."""
    return _WIDEST_ISA


def reaches_padding(out: int, size: int, k: int, s: int, d: int, before: int) -> bool:
    """Whether any of ``out`` windows along one axis (taps at ``o*s - before + t*d``, t < k) has
    a tap outside ``[0, size)``: the first starts there, or the last ends there."""
    return out > 0 and (before > 0 or (out - 1) * s - before + (k - 1) * d >= size)


def _window_reaches_padding(out: int, size: int, k: int, s: int, d: int, before: int) -> np.ndarray:
    """Boolean mask over ``out`` output positions along one axis: True where the window has a tap
    outside ``[0, size)``."""
    start = np.arange(out) * s - before
    return (start < 0) | (start + (k - 1) * d >= size)


def check_blas(op: str, k: int, c_out: int) -> None:
    if k > BLAS_INT_MAX or c_out > BLAS_INT_MAX:
        raise ValueError(
            f"{op}: the reduction length KH*KW*C_in/groups ({k}) and C_out ({c_out}) must each be below 2**31"
        )


def _flops(geo: ConvGeometry) -> int:
    """Multiply-adds x 2 of the convolution (and of each of its gradients)."""
    h_out, w_out = geo.out_hw
    return 2 * geo.n * h_out * w_out * geo.c_out * geo.kh * geo.kw * geo.c_group


# --------------------------------------------------------------------------- forward


def choose_conv_kernel(geo: ConvGeometry, w: np.ndarray) -> str:
    """The kernel of a conv2d call: "int32", "naive", "image", "direct" or "gemm".

    - int32: a direct integer loop (BLAS has no integer GEMM).
    - one-channel images (C_in = C_out = 1, horizontal stride 1): "image", vectorised over
      output pixels -- vectorising over channels would use 1 lane of 16.
    - everything else: "direct", register-blocked and vectorised over output channels.
    - "gemm" (im2col + BLAS) when the filters hold inf/NaN and a window reaches the padding.
    """
    if geo.compute == np.int32:
        return "int32"
    if geo.reaches_padding and not np.isfinite(w).all():
        return "gemm"  # the only float kernel that multiplies the padding
    image = geo.c_in == 1 and geo.c_out == 1 and geo.strides[1] == 1
    forced = dispatch.forced_method("conv2d")
    if forced in ("naive", "direct", "gemm") or (forced == "image" and image):
        return forced
    return "image" if image else "direct"


def run_conv(
    geo: ConvGeometry,
    x: np.ndarray,
    w: np.ndarray,
    out: np.ndarray,
    bias: np.ndarray | None = None,
    relu: bool = False,
) -> bool:
    """Fill ``out`` (non-empty, compute dtype) with the one kernel chosen for this call.

    With ``bias`` ((C_out,), compute dtype) or ``relu``: a Keras Conv2D's epilogue, max(out + bias,
    0), which the direct kernel applies as it stores each sum (bit for bit what
    ``nn.bias_act_forward`` does afterwards). Returns whether it was applied: only by the direct
    kernel; the caller applies it otherwise."""
    (sh, sw), (dil_h, dil_w), top, left = geo.strides, geo.dilations, geo.pads[0][0], geo.pads[1][0]
    method = choose_conv_kernel(geo, w)
    threads = _threads.get_num_threads()
    if method == "int32":
        _conv.conv2d_direct_int32(x, w, out, sh, sw, dil_h, dil_w, top, left, geo.groups, threads)
    elif method == "naive":
        _conv.conv2d_naive(x, w, out, sh, sw, dil_h, dil_w, top, left, geo.groups)
    elif method == "image":
        _conv.conv2d_image(x, w, out, sh, dil_h, dil_w, top, left, isa_index(), threads)
    elif method == "direct":
        isa = block_isa(geo.compute, geo.c_out // geo.groups)
        blocking = _autotune.direct_blocking(
            geo.compute,
            isa,
            geo.c_group,
            geo.c_out // geo.groups,
            geo.kh,
            geo.kw,
            (sh, sw) == (1, 1),
            _flops(geo),
            out_hw=geo.out_hw,
        )
        _conv.conv2d_direct(
            x, w, out, sh, sw, dil_h, dil_w, top, left, geo.groups, isa, threads, *blocking, bias=bias, relu=relu
        )
        return True
    else:
        k = geo.kh * geo.kw * geo.c_group
        check_blas("conv2d", k, geo.c_out)
        m_total = out.shape[0] * out.shape[1] * out.shape[2]
        chunk = max(1, min(m_total, _PATCH_BYTES // (k * x.itemsize), BLAS_INT_MAX // k))
        chunk = max(chunk, min(m_total, 64))
        # BLAS pinned to one thread, as in the gradients: OpenBLAS's bits depend on its thread
        # count, a process-wide setting that concurrent gradient calls change (tests/hardening).
        # (call, not `with limit(1)`: no contextlib frame a Ctrl-C could land in, _threads.py)
        _threads.blas_threads.call(
            1, load("conv_gemm").conv2d_gemm, x, w, out, sh, sw, dil_h, dil_w, top, left, geo.groups, chunk
        )
    return False


# --------------------------------------------------------------------------- input gradient


def choose_input_grad_kernel(geo: ConvGeometry, w: np.ndarray) -> str:
    """The kernel of an input gradient: "direct" or "gemm".

    "direct" computes the stride-1 input gradient as a forward convolution of ``dy`` (padded by
    ``(KH-1)*dil_h - top`` above and ``(KH-1)*dil_h - bottom`` below, likewise across) with the
    filters flipped in space and in/out channels swapped, by conv2d's register-blocked kernel:
    ~95% of one core's matmul, where im2col + BLAS + col2im reached ~60% (8x56x56x64->64 SAME,
    1 core: 12.0 -> 8.0 ms, TF 8.1; 64x13x13x32->64 VALID: 2.0 -> 1.3 ms, TF 1.6). It does not
    apply to strides > 1 (zero insertion would waste most of the work), to a forward pad larger
    than the dilated kernel (``dy`` rows no input cell reaches), or to non-finite filters when
    that forward convolution reaches its padding.

    It is not chosen for few input channels and many output channels either (one group:
    input_grad_gemm_pays): that kernel vectorises over its output channels, the forward C_in, so
    it takes as long for C_in = 1 as for a whole vector of channels -- unless the call is small,
    where im2col's fixed costs weigh more.
    """
    (top, bottom), (left, right) = geo.pads
    extent_h, extent_w = (geo.kh - 1) * geo.dilations[0], (geo.kw - 1) * geo.dilations[1]
    direct = geo.strides == (1, 1) and max(top, bottom) <= extent_h and max(left, right) <= extent_w
    if direct and not np.isfinite(w).all():
        h_out, w_out = geo.out_hw
        direct = not (
            reaches_padding(geo.h, h_out, geo.kh, 1, geo.dilations[0], extent_h - top)
            or reaches_padding(geo.w, w_out, geo.kw, 1, geo.dilations[1], extent_w - left)
        )
    forced = dispatch.forced_method("conv2d_backprop_input")
    if not direct or forced == "gemm":
        return "gemm"
    if forced == "direct":
        return "direct"
    work = geo.n * geo.h * geo.w * geo.c_out * geo.kh * geo.kw
    return "gemm" if input_grad_gemm_pays(geo.compute, geo.c_in, geo.c_out, geo.groups, work) else "direct"


def run_input_grad(op: str, geo: ConvGeometry, dy: np.ndarray, w: np.ndarray, dx: np.ndarray) -> None:
    """Fill ``dx`` (NHWC, compute dtype, non-empty) with the input gradient."""
    (sh, sw), (dil_h, dil_w), top, left = geo.strides, geo.dilations, geo.pads[0][0], geo.pads[1][0]
    dy = np.ascontiguousarray(dy, dtype=geo.compute)
    w = np.asarray(w, dtype=geo.compute)
    if choose_input_grad_kernel(geo, w) == "direct":
        extent_h, extent_w = (geo.kh - 1) * dil_h, (geo.kw - 1) * dil_w
        # flipped[ky, kx, o, g*C_g + c] = w[KH-1-ky, KW-1-kx, c, g*C_out_g + o]
        c_out_group = geo.c_out // geo.groups
        isa = block_isa(geo.compute, geo.c_group)  # the transposed convolution's outputs: C_in / groups
        blocking = _autotune.direct_blocking(
            geo.compute, isa, c_out_group, geo.c_group, geo.kh, geo.kw, True, _flops(geo), out_hw=(geo.h, geo.w)
        )
        flipped = (
            w[::-1, ::-1]
            .reshape(geo.kh, geo.kw, geo.c_group, geo.groups, c_out_group)
            .transpose(0, 1, 4, 3, 2)
            .reshape(geo.kh, geo.kw, c_out_group, geo.groups * geo.c_group)
        )
        _conv.conv2d_direct(
            dy,
            np.ascontiguousarray(flipped),
            dx,
            1,
            1,
            dil_h,
            dil_w,
            extent_h - top,
            extent_w - left,
            geo.groups,
            isa,
            _threads.get_num_threads(),
            *blocking,
        )
        return
    k = geo.kh * geo.kw * geo.c_group
    check_blas(op, k, geo.c_out)
    per_image = dy.shape[1] * dy.shape[2]
    if per_image > BLAS_INT_MAX:
        raise ValueError(f"{op}: {per_image} positions per image is too many for one BLAS call (2**31 - 1)")
    # The kernel cuts the images into chunks (at most _LANES, each within the scratch) and runs
    # one thread for one chunk.
    _threads.run_blas_kernel(
        load("conv_grad").conv2d_backprop_input,
        True,
        dy,
        np.ascontiguousarray(w),
        dx,
        sh,
        sw,
        dil_h,
        dil_w,
        top,
        left,
        geo.groups,
        _SCRATCH_BYTES,
        _LANES,
    )


# --------------------------------------------------------------------------- filter gradient


def choose_filter_grad_kernel(geo: ConvGeometry, dy: np.ndarray) -> str:
    """The kernel of a filter gradient: "direct" or "gemm".

    "direct" keeps a block of ``d_filters`` (R input channels of one tap x up to 4 SIMD vectors
    of output channels) in registers while the output positions stream past. im2col + BLAS spent
    a third of its time building and packing the patch matrix, and OpenBLAS ran at ~65% of
    matmul on this shape (K x C_out output, the long reduction over N*H_out*W_out); the direct
    kernel runs at ~matmul speed (8x56x56x64->64 SAME, 1 core: 12.1 -> 7.7 ms). It was faster on
    every shape measured, 1 and 2 threads, float32 and float64: C_out/groups from 1 (depthwise:
    0.7x the time) to 128, C_in/groups from 1 to 64, strides 1 and 2, down to a 1x6x6x2 call
    (equal). It does not apply to a build without the SIMD kernels, or to non-finite ``dy`` at
    positions whose window reaches the padding (TF multiplies those by the padding zeros).
    """
    if not _SIMD_BUILD or dispatch.forced_method("conv2d_backprop_filter") == "gemm":
        return "gemm"
    (top, _), (left, _) = geo.pads
    h_out, w_out = geo.out_hw
    (sh, sw), (dil_h, dil_w) = geo.strides, geo.dilations
    if not (
        reaches_padding(h_out, geo.h, geo.kh, sh, dil_h, top) or reaches_padding(w_out, geo.w, geo.kw, sw, dil_w, left)
    ):
        return "direct"  # no window reaches the padding (VALID): no mask to build, nothing to check
    rows = _window_reaches_padding(h_out, geo.h, geo.kh, geo.strides[0], geo.dilations[0], top)
    cols = _window_reaches_padding(w_out, geo.w, geo.kw, geo.strides[1], geo.dilations[1], left)
    if (rows.any() and not np.isfinite(dy[:, rows]).all()) or (cols.any() and not np.isfinite(dy[:, :, cols]).all()):
        return "gemm"
    return "direct"


def run_filter_grad(op: str, geo: ConvGeometry, x: np.ndarray, dy: np.ndarray, d_filters: np.ndarray) -> None:
    """Fill ``d_filters`` (HWIO, compute dtype, non-empty) with the filter gradient."""
    (sh, sw), (dil_h, dil_w), top, left = geo.strides, geo.dilations, geo.pads[0][0], geo.pads[1][0]
    x = np.ascontiguousarray(x, dtype=geo.compute)
    dy = np.ascontiguousarray(dy, dtype=geo.compute)
    kernels = load("conv_grad")
    if choose_filter_grad_kernel(geo, dy) == "direct":
        isa = block_isa(geo.compute, geo.c_out // geo.groups)
        blocking = _autotune.filter_blocking(
            geo.compute,
            isa,
            geo.c_group,
            geo.c_out // geo.groups,
            geo.kh,
            geo.kw,
            (sh, sw) == (1, 1),
            _flops(geo),
            out_hw=geo.out_hw,
        )
        kernels.conv2d_backprop_filter_direct(
            x,
            dy,
            d_filters,
            sh,
            sw,
            dil_h,
            dil_w,
            top,
            left,
            geo.groups,
            isa,
            blocking.chunk_bytes if _D_FILTERS_CHUNK_BYTES is None else _D_FILTERS_CHUNK_BYTES,
            _threads.get_num_threads(),
            blocking.max_vectors,
        )
        return
    k = geo.kh * geo.kw * geo.c_group
    check_blas(op, k, geo.c_out)
    m_total = dy.shape[0] * dy.shape[1] * dy.shape[2]
    # Chunks of output positions: big enough for an efficient BLAS call (>= 64 rows), at least
    # _LANES of them when there are enough rows, within the scratch budget.
    budget = max(1, min(_SCRATCH_BYTES // (k * geo.compute.itemsize), BLAS_INT_MAX // k))
    chunk = max(min(64, m_total, budget), min(budget, -(-m_total // _LANES)))
    n_chunks = -(-m_total // chunk)
    lanes = max(1, min(_LANES, n_chunks, _PARTIALS_BYTES // (k * geo.c_out * geo.compute.itemsize)))
    _threads.run_blas_kernel(
        kernels.conv2d_backprop_filter,
        lanes > 1,
        x,
        dy,
        d_filters,
        sh,
        sw,
        dil_h,
        dil_w,
        top,
        left,
        geo.groups,
        chunk,
        lanes,
    )

"""The ``algorithm=`` argument of :func:`convops.conv2d` and its gradients (and conv2d_transpose).

Six ways to compute one convolution, all with the same result up to rounding:

- ``"direct"``: the register-blocked SIMD kernels (the one-channel image kernel for a single
  channel in and out). Sums each output's ``K = KH*KW*C_in/groups`` products in order.
- ``"im2col"``: the patch matrix times the filters, by BLAS (GEMM).
- ``"naive"``: the seven nested loops, the readable kernel.
- ``"winograd"``: Winograd's minimal filtering F(m x m, 3 x 3) (Lavin & Gray 2016): 3x3 filters,
  stride 1, dilation 1. Fewer multiplications, more additions, larger rounding error.
- ``"fft"``: the convolution theorem (:mod:`convops._fft_conv`): stride 1, any kernel size.
- ``"auto"`` (the default): the library chooses (:func:`choose_auto`), only among algorithms
  whose measured error stays inside the bound the TensorFlow-parity tests use.

An explicit choice is never silently replaced: a geometry it cannot run raises ValueError
saying why. Two rules keep TensorFlow's non-finite semantics and are not replacements of the
algorithm's arithmetic but of its treatment of the padding: the direct and naive kernels skip
taps on the padding (adding ``0 * value`` only for finite values), so when the filters hold
inf/NaN and a window reaches the padding, ``"direct"`` and ``"naive"`` run the im2col kernel,
which multiplies the padding zeros as TensorFlow does (``0 * inf = NaN``) -- see
:mod:`convops._conv_dispatch`. ``"winograd"`` and ``"fft"`` mix every value of a tile (of the
whole image, for FFT) into each output, so one inf or NaN spreads to its neighbours: they are
for finite data, and ``"auto"`` never picks them for anything else.

:func:`convops.dispatch.force` (``force(conv2d="gemm")``) overrides only ``"auto"``: an
explicit ``algorithm=`` is what the caller asked for and wins over a forced kernel; under a
forced kernel ``"auto"`` runs that kernel (as it did before this argument existed) and never
chooses winograd or FFT. A forced instruction set (``force(isa="avx2")``) applies to every
algorithm that has SIMD kernels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, cast

import numpy as np

from convops import _conv_dispatch, _threads, dispatch

if TYPE_CHECKING:  # conv.py imports this module: no import cycle at run time
    from convops.conv import ConvGeometry

#: The type of conv2d's ``algorithm`` argument (conv2d_backprop_input takes the first four).
Algorithm = Literal["auto", "direct", "winograd", "fft", "im2col", "naive"]
#: The values of conv2d's ``algorithm`` argument.
ALGORITHMS: tuple[str, ...] = ("auto", "direct", "winograd", "fft", "im2col", "naive")
#: The values of conv2d_backprop_input's ``algorithm`` argument (its kernels: the direct
#: transposed convolution, im2col + BLAS + col2im, and Winograd for stride-1 3x3).
INPUT_GRAD_ALGORITHMS: tuple[str, ...] = ("auto", "direct", "winograd", "im2col")

# The dispatch method that runs each explicit algorithm through _conv_dispatch. "direct" forces
# "image", which _conv_dispatch runs for one channel in and out and otherwise falls back to its
# default, "direct": both are the direct SIMD kernels.
_FORWARD_KERNEL = {"direct": "image", "im2col": "gemm", "naive": "naive"}
_INPUT_GRAD_KERNEL = {"direct": "direct", "im2col": "gemm"}


def check_algorithm(op: str, algorithm: object, allowed: tuple[str, ...]) -> Algorithm:
    """``algorithm`` if it is one of ``allowed``; else ValueError naming the argument."""
    if type(algorithm) is not str or algorithm not in allowed:
        raise ValueError(f"{op}: `algorithm` must be one of {allowed}; got {algorithm!r}")
    return cast(Algorithm, algorithm)


def _why_not_winograd(geo: ConvGeometry) -> str | None:
    if (geo.kh, geo.kw) != (3, 3):
        return f"it computes 3x3 filters only; got {geo.kh}x{geo.kw}"
    if geo.strides != (1, 1):
        return f"it computes stride 1 only; got strides {geo.strides}"
    if geo.dilations != (1, 1):
        return f"it computes dilation 1 only; got dilations {geo.dilations}"
    return None


def why_not(op: str, algorithm: str, geo: ConvGeometry) -> str | None:
    """Why ``algorithm`` cannot compute this call of ``op``, or None when it can."""
    if algorithm == "auto":
        return None
    if geo.compute == np.int32 and algorithm != "direct":
        return "int32 convolutions run only the exact integer kernel, algorithm='direct'"
    if algorithm == "winograd":
        return _why_not_winograd(geo)
    if algorithm == "fft" and geo.strides != (1, 1):
        return f"it computes stride 1 only (a strided FFT conv computes every output); got strides {geo.strides}"
    if op in ("conv2d_backprop_input", "conv2d_transpose") and algorithm == "direct":
        (top, bottom), (left, right) = geo.pads
        extent_h, extent_w = (geo.kh - 1) * geo.dilations[0], (geo.kw - 1) * geo.dilations[1]
        if geo.strides != (1, 1):
            return f"the direct input gradient computes stride 1 only; got strides {geo.strides}"
        if max(top, bottom) > extent_h or max(left, right) > extent_w:
            return (
                f"the direct input gradient needs each padding at most the dilated kernel's extent "
                f"minus one ({extent_h}, {extent_w}); got padding {geo.pads}"
            )
    return None


def check_supported(op: str, algorithm: str, geo: ConvGeometry) -> None:
    reason = why_not(op, algorithm, geo)
    if reason is not None:
        raise ValueError(f"{op}: algorithm={algorithm!r} cannot compute this convolution: {reason}")


# --------------------------------------------------------------------------- auto


# The "auto" policy, from benchmarks/results/algorithm-error.json (float32, 3x3 SAME, C_in 1 to
# 512, six kinds of data; ratio = max |error| / (eps * sum|x||w|) per output, the TF-parity bound
# allows K + 1 = 9*C_in + 1):
# - F(2x2, 3x3) keeps all-zero windows exactly 0 (each output's transforms read only its own
#   window). Its worst ratio (4 draws of 2x16x16 images per cell) is 1680 against a bound of 10
#   at C_in = 1 (ReLU-like data) and 103 against 19 at C_in = 2: outside. Inside from C_in = 4
#   (18 of 37), 7% of the bound at C_in = 8, 0.19% at C_in = 64 (1.08 of 577: a 500x margin).
# - F(4x4, 3x3) and FFT leave rounding residue (up to 2.7e-6 for F(4x4) in float32, 7e-16 for
#   FFT's float64 transforms) in all-zero windows, whose TF-parity bound is 0: outside the bound
#   on image-like and ReLU data at every C_in, so "auto" never runs them (elsewhere FFT in float64
#   uses under half an eps: only the final rounding).
# - Speed (float32, SAME, F(2x2) through "auto" with all its costs -- the scan below, the filter
#   transform, the transforms and the GEMMs -- against the direct kernels; AMD EPYC (Zen 4),
#   2 cores shared with other work; 1 thread timed by thread_time, 2 threads by wall time;
#   runs interleaved in pairs, the median of 7 to 21 pairs' ratios direct/F(2x2); two sweeps of
#   channels 16..256, output sides 3..56, batch 1..64). The direct kernels run near the core's
#   peak, so F(2x2)'s 2.25x fewer multiplications pay only where its GEMMs are large enough:
#   - channels (per group): never at 16 in or out (<= 0.92x) nor at 32 -> 32 (<= 1.04x, mostly
#     0.9-1.0x); never with 256 in or out (128 -> 256: <= 1.02x, mostly 0.6-0.8x; 256 -> 256:
#     <= 0.6x: its GEMMs, in chunks of 32 to 64 tiles there, reach about half the direct
#     kernels' rate, and the filter transform grows as C_in C_out: 1.8 ms at 256 -> 256).
#   - size: with 32..128 channels (32 -> 64 and up) F(2x2) wins from output sides of 14 and
#     N * H_out * W_out >= ~3000 positions: 64 -> 64 at 8x20x20 1.16x (2 threads 1.15x), 8x56x56
#     1.33x (1.29x), 1x56x56 1.23x; 32 -> 64 at 8x20x20 1.08x (0.99x), 64x28x28 1.24x; 128 -> 128
#     at 8x20x20 1.13x (1.10x), 1x56x56 1.03x (0.99x). Below it loses or ties: sides of 7..11
#     (64x11x11 64 -> 128 1.14x but 64 -> 64 1.04x, 32 -> 64 0.90x; 64x9x9 64 -> 128 1.00x),
#     fewer positions (64 -> 64 at 1x20x20 0.88x, 8x14x14 1.13x but 0.99x on 2 threads;
#     128 -> 128 at 8x14x14 0.98x; 32 -> 64 at 8x14x14 0.99x).
#   Timings on these shared cores vary by up to 2x between sweeps (the ratios by ~10%). Inside
#   the rule below F(2x2) was faster at 1 thread in the second sweep (1.03x to 1.40x) and at
#   least 0.98x in the first; on 2 threads within 3% or better, but for two pairs disturbed by
#   other work (0.58x, 0.82x where the same shape gave 1.08x, 1.19x at 1 thread). Outside it a
#   few shapes win too (64 -> 128 at 8x14x14: 1.09x, 1.13x): the rule is on the safe side.
# - Re-measured below the size rule once the transforms ran a whole tile per call (VALID, output
#   sides 9, 11, 13 and 14, batch 8 and 64, 11 pairs each), on two kinds of CPU:
#   - AMD EPYC (Zen 4, AVX-512): batch 64 wins from side 11 at every channel pair, by 1.14-1.52x
#     on 1 thread and 1.02-1.49x on 2 (the tutorial's conv2, 64x11x11 32 -> 64: 1.14x, 1.15x);
#     batch 8 loses on 2 threads below side 13 (0.45-0.89x, 32 -> 64 still 0.91x at 14).
#   - Intel Xeon (Emerald Rapids): 64 -> 128 wins at sides 9..14 (1.10-1.25x), but 64 -> 64 at 11
#     gave 0.92x on 1 thread, 32 -> 64 at 11 0.88x on 2 and 128 -> 128 at 9..11 0.80-0.95x.
#   Where the two disagree the rule stays as it is: "auto" must not pick by CPU (its results would
#   then differ between machines), and a rule for 64 -> 128 alone would fit one benchmark case.
#   What bounded F(2x2) at 128 -> 128 (Zen 4, perf, 64x11x11): packing the GEMMs' operands took
#   16% of the call. Its chunks of 64 tiles made products of 64 x 128 x 128 multiply-adds, just
#   above the 100**3 below which OpenBLAS runs unpacked small-matrix kernels; _winograd.chunk_tiles
#   now keeps every product below it (61 tiles there, the same bits).
# - The sweep is a command now: `python -m benchmarks.winograd_rule` (17 s) times this grid and
#   keeps one table per kind of CPU in benchmarks/results/winograd-rule.json. Zen 4 after the
#   change above: batch 64 wins from side 11 at every channel pair (1.12-1.58x on 1 and 2
#   threads; 128 -> 128 1.36-1.85x from side 9); batch 8 loses at 32 -> 64 on 2 threads up to
#   side 13 (0.62-0.86x). The Emerald Rapids figures above predate the change: run it there too
#   before moving the rule.
# Channels in and out per group, each at least (the error rule alone needs C_in >= 4) ...
AUTO_WINOGRAD_MIN_CHANNELS = 32
# ... with C_in * C_out at least this (32 -> 64 yes, 32 -> 32 no) ...
AUTO_WINOGRAD_MIN_CHANNEL_PRODUCT = 2048
# ... and each at most this.
AUTO_WINOGRAD_MAX_CHANNELS = 128
# Output rows and columns (input rows and columns for the input gradient, whose transposed conv
# has outputs of that size) below which ragged tiles and the transforms' fixed costs are not repaid.
AUTO_WINOGRAD_MIN_SIDE = 14
# N * H_out * W_out (N * H * W for the input gradient): the rows of the GEMMs, in tiles of 4.
AUTO_WINOGRAD_MIN_POSITIONS = 3000
# conv2d's small-call fast path runs the direct kernels: calls with filters of at least this many
# entries (3 * 3 * 32 * 64) skip it, so that "auto" can consider Winograd for them.
AUTO_FAST_PATH_MAX_FILTER_SIZE = 9 * AUTO_WINOGRAD_MIN_CHANNEL_PRODUCT
# Explicit "winograd" runs F(4x4, 3x3) from this many input channels per group and F(2x2, 3x3)
# below. F(4x4) was the faster of the two on every shape above (8x56x56x64->64: 19.6 vs
# 22.6 ms; 8x28x28x16->16: 0.23 vs 0.46 ms); its worst error is inside the TF-parity bound from
# C_in = 16 (94 of 145; outside at 8: 198 of 73, and 2.3e4 of 10 at C_in = 1), all-zero
# windows apart (a residue of ~3e-6 where the bound is 0).
WINOGRAD_F4_MIN_CHANNELS = 16


def _finite_and_small(a: np.ndarray) -> float | None:
    """max |a| if every value is finite, else None: one compiled pass, no temporary array (a
    copy only for an operand not yet in the compute dtype or not contiguous)."""
    from convops._kernels import load  # noqa: PLC0415 - the Winograd kernels load on first use only

    if a.dtype not in (np.float32, np.float64) or not a.flags.c_contiguous:
        a = np.ascontiguousarray(a, dtype=np.float64 if a.dtype == np.float64 else np.float32)
    top = load("winograd").max_abs(a.reshape(-1))
    return None if top < 0 else top


def _winograd_pays(forced_op: str, geo: ConvGeometry, sides: tuple[int, int], a: np.ndarray, b: np.ndarray) -> bool:
    """The "auto" policy (constants above) for a 3x3 stride-1 call whose transformed conv reads
    ``a`` and ``b`` and has outputs of ``sides``: channels, size, finiteness, nothing forced."""
    if dispatch.forced_method(forced_op) is not None or geo.compute == np.int32 or _why_not_winograd(geo):
        return False
    c_in, c_out = geo.c_group, geo.c_out // geo.groups
    if not _winograd_channels_pay(c_in, c_out) or min(sides) < AUTO_WINOGRAD_MIN_SIDE:
        return False
    if geo.n * sides[0] * sides[1] < AUTO_WINOGRAD_MIN_POSITIONS:
        return False
    # Finite data only (Winograd spreads an inf or NaN over its tile), and far from overflow: the
    # transforms add up to 16 inputs and 9 filter taps before the channel sum.
    a_max, b_max = _finite_and_small(a), _finite_and_small(b)
    if a_max is None or b_max is None:
        return False
    return a_max * b_max * 256.0 * (max(geo.c_group, geo.c_out) + 1) < float(np.finfo(geo.compute).max)


def _winograd_channels_pay(c_in: int, c_out: int) -> bool:
    """Channels per group (either direction: the input gradient swaps them) where F(2x2) can win."""
    low, high = min(c_in, c_out), max(c_in, c_out)
    return (
        low >= AUTO_WINOGRAD_MIN_CHANNELS
        and high <= AUTO_WINOGRAD_MAX_CHANNELS
        and low * high >= AUTO_WINOGRAD_MIN_CHANNEL_PRODUCT
    )


def choose_auto(geo: ConvGeometry, x: np.ndarray, w: np.ndarray) -> str:
    """What ``algorithm="auto"`` runs for a conv2d call: "winograd" (F(2x2, 3x3)) where its
    measured error is inside the TF-parity bound with margin and it is faster (the constants
    above), else "direct" -- meaning the default kernel choice of :mod:`convops._conv_dispatch`,
    which is also what runs under a kernel forced by :func:`convops.dispatch.force`."""
    return "winograd" if _winograd_pays("conv2d", geo, geo.out_hw, x, w) else "direct"


def choose_auto_input_grad(geo: ConvGeometry, dy: np.ndarray, w: np.ndarray) -> str:
    """The same policy for conv2d_backprop_input, whose transposed conv has C_out channels in
    and C_in out: "winograd" or "default" (_conv_dispatch's choice). Only paddings up to 2, where
    that transposed conv reads every row of ``dy``."""
    (top, bottom), (left, right) = geo.pads
    if max(top, bottom, left, right) > 2:
        return "default"
    return "winograd" if _winograd_pays("conv2d_backprop_input", geo, (geo.h, geo.w), dy, w) else "default"


# --------------------------------------------------------------------------- forward


def _padded(geo: ConvGeometry, x: np.ndarray) -> np.ndarray:
    (top, bottom), (left, right) = geo.pads
    if top or bottom or left or right:
        return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    return x


def _winograd_forward(geo: ConvGeometry, x: np.ndarray, w: np.ndarray, out: np.ndarray, auto: bool) -> np.ndarray:
    from convops import _winograd  # noqa: PLC0415 - its kernels load on first use only

    # The kernel reads x in place (its channel slice for a group) with the padding as offsets.
    threads, tile = _threads.get_num_threads(), winograd_tile(geo, auto)
    if geo.groups == 1:  # the kernel's own result: no copy into `out`
        return _winograd.conv2d_winograd(x, w, geo.pads, tile, threads)
    c_out_group = geo.c_out // geo.groups
    for g in range(geo.groups):
        xs = x[..., g * geo.c_group : (g + 1) * geo.c_group]
        ws = np.ascontiguousarray(w[..., g * c_out_group : (g + 1) * c_out_group])
        out[..., g * c_out_group : (g + 1) * c_out_group] = _winograd.conv2d_winograd(xs, ws, geo.pads, tile, threads)
    return out


def winograd_tile(geo: ConvGeometry, auto: bool) -> int:
    """The output tile: F(2x2, 3x3) for "auto" (the one inside the TF-parity bound), and for an
    explicit "winograd" F(4x4, 3x3) from WINOGRAD_F4_MIN_CHANNELS input channels per group."""
    return 4 if not auto and geo.c_group >= WINOGRAD_F4_MIN_CHANNELS else 2


def _fft_forward(geo: ConvGeometry, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    from convops._fft_conv import conv2d_fft_valid, dilate_kernel  # noqa: PLC0415

    # BLAS (the per-frequency complex products) pinned to one thread: its bits depend on its
    # thread count, and results must not (_threads.py).
    return _threads.blas_threads.call(1, conv2d_fft_valid, _padded(geo, x), dilate_kernel(w, geo.dilations), geo.groups)


def run_conv(algorithm: str, geo: ConvGeometry, x: np.ndarray, w: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The conv by ``algorithm`` (checked by :func:`check_supported`): ``out`` (non-empty, compute
    dtype) filled, or a new array of its shape and dtype (Winograd and FFT return their own)."""
    if algorithm == "auto":
        return run_conv_auto(geo, x, w, out)[0]
    if algorithm == "winograd":
        return _winograd_forward(geo, x, w, out, auto=False)
    elif algorithm == "fft":
        return _fft_forward(geo, x, w)
    else:
        with dispatch.force(conv2d=_FORWARD_KERNEL[algorithm]):
            _conv_dispatch.run_conv(geo, x, w, out)
    return out


def run_conv_auto(
    geo: ConvGeometry, x: np.ndarray, w: np.ndarray, out: np.ndarray, bias: np.ndarray | None = None, relu: bool = False
) -> tuple[np.ndarray, bool]:
    """``run_conv("auto", ...)``, with a Keras Conv2D's epilogue (``bias``, ``relu``) for the kernel
    that can apply it as it stores each sum (_conv_dispatch.run_conv): the result, and whether the
    epilogue was applied (the caller applies it otherwise)."""
    if choose_auto(geo, x, w) == "winograd":
        return _winograd_forward(geo, x, w, out, auto=True), False
    return out, _conv_dispatch.run_conv(geo, x, w, out, bias=bias, relu=relu)  # forced kernels included


# --------------------------------------------------------------------------- input gradient


def run_input_grad(algorithm: str, op: str, geo: ConvGeometry, dy: np.ndarray, w: np.ndarray, dx: np.ndarray) -> None:
    """Fill ``dx`` (NHWC, compute dtype, non-empty) with the input gradient by ``algorithm``."""
    if algorithm == "auto":
        if choose_auto_input_grad(geo, dy, w) == "winograd":
            _winograd_input_grad(geo, dy, w, dx, auto=True)
        else:
            _conv_dispatch.run_input_grad(op, geo, dy, w, dx)
    elif algorithm == "winograd":
        _winograd_input_grad(geo, dy, w, dx, auto=False)
    else:
        with dispatch.force(conv2d_backprop_input=_INPUT_GRAD_KERNEL[algorithm]):
            _conv_dispatch.run_input_grad(op, geo, dy, w, dx)


def _winograd_input_grad(geo: ConvGeometry, dy: np.ndarray, w: np.ndarray, dx: np.ndarray, auto: bool) -> None:
    """The stride-1 input gradient as a forward VALID conv of ``dy`` padded by ``2 - pad`` on each
    side, with the filters flipped in space and in/out channels swapped (_conv_dispatch's direct
    input gradient, computed by the Winograd forward kernel)."""
    (top, bottom), (left, right) = geo.pads
    dy = np.ascontiguousarray(dy, dtype=geo.compute)
    w = np.asarray(w, dtype=geo.compute)
    c_out_group = geo.c_out // geo.groups
    flipped = (
        w[::-1, ::-1]
        .reshape(3, 3, geo.c_group, geo.groups, c_out_group)
        .transpose(0, 1, 4, 3, 2)
        .reshape(3, 3, c_out_group, geo.groups * geo.c_group)
    )
    # dy padded by 2 - pad on each side; a forward pad above 2 leaves dy rows no input reads,
    # which the negative amount skips. The kernel reads dy in place with these offsets.
    pads = ((2 - top, 2 - bottom), (2 - left, 2 - right))
    from convops import _winograd  # noqa: PLC0415

    threads = _threads.get_num_threads()
    # The transposed conv's input channels are the forward C_out.
    tile = 4 if not auto and c_out_group >= WINOGRAD_F4_MIN_CHANNELS else 2
    for g in range(geo.groups):
        ys = dy[..., g * c_out_group : (g + 1) * c_out_group]
        ws = np.ascontiguousarray(flipped[..., g * geo.c_group : (g + 1) * geo.c_group])
        dx[..., g * geo.c_group : (g + 1) * geo.c_group] = _winograd.conv2d_winograd(ys, ws, pads, tile, threads)


# --------------------------------------------------------------------------- filter gradient

#: The values of conv2d_backprop_filter's ``algorithm`` argument: the direct filter-gradient
#: kernel, im2col + BLAS, and Winograd F(3x3, 2x2) for stride-1 3x3 (the transpose of F(2x2, 3x3)).
FILTER_GRAD_ALGORITHMS: tuple[str, ...] = ("auto", "direct", "winograd", "im2col")
_FILTER_GRAD_KERNEL = {"direct": "direct", "im2col": "gemm"}

# "auto" runs the direct kernel (_conv_dispatch's default choice). Winograd's filter gradient is
# not inside the TF-parity bound everywhere: a tap whose products are all zero (an input that is
# nonzero only in a row that tap never reads) gets rounding residue from the tile's other rows,
# where the bound is 0. Nor was it faster (float32, 1 thread, thread_time, min of 7 interleaved
# runs, NumPy transforms + BLAS): 8x56x56x64->64 SAME 20.0 vs 16.8 ms, 64x13x13x32->64 VALID 4.9
# vs 2.8 ms, 64x11x11x64->128 VALID 11.7 vs 7.7 ms, 64x5x5x64->128 VALID 2.8 vs 0.9 ms.


def run_filter_grad(
    algorithm: str, op: str, geo: ConvGeometry, x: np.ndarray, dy: np.ndarray, d_filters: np.ndarray
) -> None:
    """Fill ``d_filters`` (HWIO, compute dtype, non-empty) with the filter gradient by ``algorithm``
    (checked by :func:`check_supported`)."""
    if algorithm == "auto":
        _conv_dispatch.run_filter_grad(op, geo, x, dy, d_filters)
    elif algorithm == "winograd":
        _winograd_filter_grad(geo, x, dy, d_filters)
    else:
        # "direct" keeps the direct kernel's rule for non-finite dy on windows reaching the padding.
        with dispatch.force(conv2d_backprop_filter=_FILTER_GRAD_KERNEL[algorithm]):
            _conv_dispatch.run_filter_grad(op, geo, x, dy, d_filters)


def _winograd_filter_grad(geo: ConvGeometry, x: np.ndarray, dy: np.ndarray, d_filters: np.ndarray) -> None:
    """F(3x3, 2x2) on the padded input, one call per group."""
    from convops import _winograd  # noqa: PLC0415 - its kernels load on first use only

    xp = _padded(geo, np.asarray(x, dtype=geo.compute))
    dy = np.asarray(dy, dtype=geo.compute)
    threads = _threads.get_num_threads()
    c_out_group = geo.c_out // geo.groups
    for g in range(geo.groups):
        xs = np.ascontiguousarray(xp[..., g * geo.c_group : (g + 1) * geo.c_group])
        ys = np.ascontiguousarray(dy[..., g * c_out_group : (g + 1) * c_out_group])
        d_filters[..., g * c_out_group : (g + 1) * c_out_group] = _winograd.conv2d_backprop_filter_winograd(
            xs, ys, threads
        )

"""The ``algorithm=`` argument of :func:`convops.conv2d` and :func:`convops.conv2d_backprop_input`.

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
_FORWARD_METHOD = {"direct": "image", "im2col": "gemm", "naive": "naive"}
_INPUT_GRAD_METHOD = {"direct": "direct", "im2col": "gemm"}


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
    if op != "conv2d" and algorithm == "direct":
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
# - Speed (float32, 1 thread, min of 7 interleaved runs; the machine was shared, load ~10 on 2
#   cores, so ~20% noise): F(2x2) beats the direct kernels from ~64 channels in and out on images
#   of 10x10 and up (8x56x56x64->64: 22.6 vs 39.8 ms; 4x28x28x128->128: 11.4 vs 20.8 ms;
#   8x28x28x64->64: 3.1 vs 8.4 ms), not on small images (1x8x8x64->64: 0.11 vs 0.09 ms;
#   64x5x5x64->128: 2.2 vs 1.8 ms: ragged tiles) nor clearly at 32 channels (64x13x13x32->64:
#   7.6 vs 8.0 ms; 8x28x28x32->32: 1.16 vs 1.34 ms).
AUTO_WINOGRAD_MIN_CHANNELS = 64
# Output rows and columns (input rows and columns for the input gradient) below which ragged
# tiles and the transforms' fixed costs are not repaid.
AUTO_WINOGRAD_MIN_SIDE = 10
# conv2d's small-call fast path runs the direct kernels: calls with filters of at least this many
# entries (3 * 3 * 64 * 64) skip it, so that "auto" can consider Winograd for them.
AUTO_FAST_PATH_MAX_FILTER_SIZE = 9 * AUTO_WINOGRAD_MIN_CHANNELS * AUTO_WINOGRAD_MIN_CHANNELS
# Explicit "winograd" runs F(4x4, 3x3) from this many input channels per group and F(2x2, 3x3)
# below. F(4x4) was the faster of the two on every shape above (8x56x56x64->64: 19.6 vs
# 22.6 ms; 8x28x28x16->16: 0.23 vs 0.46 ms); its worst error is inside the TF-parity bound from
# C_in = 16 (94 of 145; outside at 8: 198 of 73, and 2.3e4 of 10 at C_in = 1), all-zero
# windows apart (a residue of ~3e-6 where the bound is 0).
WINOGRAD_F4_MIN_CHANNELS = 16


def _finite_and_small(a: np.ndarray) -> float | None:
    """max |a| if every value is finite, else None (two passes, no temporary array)."""
    if a.size == 0:
        return 0.0
    top, bottom = float(a.max()), float(a.min())
    if not (np.isfinite(top) and np.isfinite(bottom)):
        return None
    return max(top, -bottom)


def _winograd_pays(forced_op: str, geo: ConvGeometry, sides: tuple[int, int], a: np.ndarray, b: np.ndarray) -> bool:
    """The "auto" policy (constants above) for a 3x3 stride-1 call whose transformed conv reads
    ``a`` and ``b`` and has outputs of ``sides``: channels, size, finiteness, nothing forced."""
    if dispatch.forced_method(forced_op) is not None or geo.compute == np.int32 or _why_not_winograd(geo):
        return False
    if min(geo.c_group, geo.c_out // geo.groups) < AUTO_WINOGRAD_MIN_CHANNELS or min(sides) < AUTO_WINOGRAD_MIN_SIDE:
        return False
    # Finite data only (Winograd spreads an inf or NaN over its tile), and far from overflow: the
    # transforms add up to 16 inputs and 9 filter taps before the channel sum.
    a_max, b_max = _finite_and_small(a), _finite_and_small(b)
    if a_max is None or b_max is None:
        return False
    return a_max * b_max * 256.0 * (max(geo.c_group, geo.c_out) + 1) < float(np.finfo(geo.compute).max)


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

    xp = np.ascontiguousarray(_padded(geo, x))
    threads = _threads.get_num_threads()
    if geo.groups == 1:  # the kernel's own result: no copy into `out`
        return _winograd.conv2d_winograd_valid(xp, w, winograd_tile(geo, auto), threads)
    c_out_group = geo.c_out // geo.groups
    for g in range(geo.groups):
        xs = xp if geo.groups == 1 else np.ascontiguousarray(xp[..., g * geo.c_group : (g + 1) * geo.c_group])
        ws = w if geo.groups == 1 else np.ascontiguousarray(w[..., g * c_out_group : (g + 1) * c_out_group])
        y = _winograd.conv2d_winograd_valid(xs, ws, winograd_tile(geo, auto), threads)
        out[..., g * c_out_group : (g + 1) * c_out_group] = y
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
        if choose_auto(geo, x, w) == "winograd":
            return _winograd_forward(geo, x, w, out, auto=True)
        _conv_dispatch.run_conv(geo, x, w, out)  # the default choice, forced kernels included
    elif algorithm == "winograd":
        return _winograd_forward(geo, x, w, out, auto=False)
    elif algorithm == "fft":
        return _fft_forward(geo, x, w)
    else:
        with dispatch.force(conv2d=_FORWARD_METHOD[algorithm]):
            _conv_dispatch.run_conv(geo, x, w, out)
    return out


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
        with dispatch.force(conv2d_backprop_input=_INPUT_GRAD_METHOD[algorithm]):
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
    # A forward pad above 2 leaves dy rows no input reads: crop them (negative padding).
    pads = [(2 - top, 2 - bottom), (2 - left, 2 - right)]
    crop = [(max(0, -a), max(0, -b)) for a, b in pads]
    dy = dy[:, crop[0][0] : dy.shape[1] - crop[0][1], crop[1][0] : dy.shape[2] - crop[1][1]]
    padded = np.pad(dy, ((0, 0), *[(max(0, a), max(0, b)) for a, b in pads], (0, 0)))
    from convops import _winograd  # noqa: PLC0415

    threads = _threads.get_num_threads()
    # The transposed conv's input channels are the forward C_out.
    tile = 4 if not auto and c_out_group >= WINOGRAD_F4_MIN_CHANNELS else 2
    for g in range(geo.groups):
        ys = np.ascontiguousarray(padded[..., g * c_out_group : (g + 1) * c_out_group])
        ws = np.ascontiguousarray(flipped[..., g * geo.c_group : (g + 1) * geo.c_group])
        dx[..., g * geo.c_group : (g + 1) * geo.c_group] = _winograd.conv2d_winograd_valid(ys, ws, tile, threads)

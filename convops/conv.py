"""2-D convolution (cross-correlation) with ``tf.nn.conv2d``'s contract."""

from __future__ import annotations

from typing import Any, Sequence, Tuple

import numpy as np

from convops import _threads
from convops._kernels import load
from convops._validation import (
    check_4d,
    check_data_format,
    check_dtype,
    check_output_size,
    check_rank,
    compute_dtype,
    from_nhwc,
    GRAD_DTYPES,
    int_vector,
    _is_array,
    MAX_EXTENT,
    parse_padding,
    spatial_pair,
    to_array,
    to_nhwc,
)
from convops.arithmetic import conv_output_size, resolve_padding

__all__ = ["conv2d"]

CONV_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int32))
# BLAS takes C ints: every GEMM dimension must stay below 2**31.
_BLAS_INT_MAX = 2**31 - 1
# Rows of the patch matrix built per GEMM call (fallback path): big enough for BLAS to run at
# full speed, small enough (~1 MiB of patches) to stay in cache while it is consumed.
_PATCH_BYTES = 1 << 20
# Which kernel runs (see _run_kernel): None = choose by shape; tests force each one in turn.
_FORCE_METHOD = None
METHODS = ("direct", "image", "gemm", "naive")

def conv2d(input: Any, filters: Any, strides: Any = 1, padding: Any = "VALID", dilations: Any = 1,
           data_format: str = "NHWC") -> np.ndarray:
    """2-D cross-correlation of a batch of images with a bank of filters, as ``tf.nn.conv2d``.

    ``out[n, y, x, o] = sum_{ky, kx, c} in_pad[n, y*sh + ky*dh, x*sw + kx*dw, g*C_g + c]
    * filters[ky, kx, c, o]`` where ``g = o // (C_out / groups)`` — the kernel is *not* flipped
    (this is cross-correlation, which deep-learning libraries call convolution).

    Parameters
    ----------
    input : array_like, shape (N, H, W, C_in)
        Batch of images (``(N, C_in, H, W)`` when ``data_format="NCHW"``). A 2-D ``(H, W)`` array
        is one grayscale image: pass a 2-D ``(KH, KW)`` kernel with it and get a 2-D map back.
    filters : array_like, shape (KH, KW, C_in / groups, C_out)
        Filter bank in HWIO order. When ``C_in`` is a multiple ``groups`` of the filters'
        in-channels the convolution is grouped, as in TensorFlow.
    strides : int, (sh, sw) or TF's 4-list ``[1, sh, sw, 1]``
        Step of the window, each >= 1.
    padding : "VALID", "SAME" (any case), or explicit
        ``((top, bottom), (left, right))`` or TF's ``[[0, 0], [top, bottom], [left, right], [0, 0]]``.
        ``"SAME"`` puts the odd padding pixel at the bottom/right, as TensorFlow does.
    dilations : int, (dh, dw) or TF's 4-list
        Spacing between kernel taps (1 = none). Allowed together with strides > 1.
    data_format : "NHWC" or "NCHW"

    Returns
    -------
    ndarray, shape (N, H_out, W_out, C_out), dtype of ``input``
        ``H_out = floor((H + top + bottom - ((KH - 1)*dh + 1)) / sh) + 1`` (0 if negative);
        ``"SAME"`` gives ``ceil(H / sh)``, ``"VALID"`` gives ``ceil((H - (KH - 1)*dh) / sh)``.
        Same for W.

    Notes
    -----
    dtypes: float16 (computed in float32, as TensorFlow does on CPU), float32, float64, int32
    (wraps on overflow). ``input`` and ``filters`` must have the same dtype; a list takes the
    other operand's dtype. When the kernel is larger than the padded input the result is an
    empty array (TensorFlow with oneDNN returns uninitialised memory there).

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
    if _FORCE_METHOD is None:
        # The common call (float NHWC ndarrays, int stride, VALID/SAME) in compiled code; None for
        # anything else, including every argument the checks below would reject.
        # Thread count 0 = the default, which the kernel looks up only for calls big enough to
        # use threads (reading it here would cost half of a small call's fixed cost).
        out = _fast()(input, filters, strides, padding, dilations, data_format, _threads._num_threads or 0)
        if out is not None:
            return out
    data_format = check_data_format(data_format)
    # A list takes the dtype of the other operand when that is any array-like (ndarray or not).
    x = to_array(input, "input", like=to_array(filters, "filters") if _is_array(filters) else None)
    w = to_array(filters, "filters", like=x)
    check_dtype(x, "input", CONV_DTYPES, "conv2d")
    if w.dtype != x.dtype:
        raise TypeError(f"`filters` dtype must match `input` dtype (as in TensorFlow); got input {x.dtype}, "
                        f"filters {w.dtype}")

    image_2d = x.ndim == 2
    if image_2d:
        if w.ndim != 2:
            raise ValueError(f"a 2-D `input` (one grayscale image) needs a 2-D `filters` (KH, KW); got "
                             f"`filters` with shape {w.shape}. For several filters use 4-D input "
                             f"x[None, :, :, None] and HWIO filters")
        x = x[None, :, :, None] if data_format == "NHWC" else x[None, None, :, :]
        w = w[:, :, None, None]
    check_rank(x, "input", "conv2d", "(N, H, W, C_in)" if data_format == "NHWC" else "(N, C_in, H, W)")
    if w.ndim != 4:
        raise ValueError(f"`filters` of conv2d must be 4-D (KH, KW, C_in, C_out); got {w.ndim}-D with "
                         f"shape {w.shape}")
    if data_format == "NCHW":
        x = x.transpose(0, 2, 3, 1)

    sh, sw = spatial_pair(strides, "strides", data_format)
    dh, dw = spatial_pair(dilations, "dilations", data_format)
    pad = parse_padding(padding, data_format)

    n, height, width, c_in = x.shape
    kh, kw, c_group, c_out = w.shape
    if kh < 1 or kw < 1 or c_group < 1:
        raise ValueError(f"`filters` must have KH, KW and in-channels >= 1; got shape {w.shape}")
    if c_in < 1 or c_in % c_group:
        raise ValueError(f"`filters` must have shape (KH, KW, C_in / groups, C_out) where C_in = "
                         f"input.shape[-1] = {c_in} is a positive multiple of the filters' in-channels; "
                         f"got filters in-channels {c_group}")
    groups = c_in // c_group
    if c_out % groups:
        raise ValueError(f"grouped conv2d: `filters` out-channels ({c_out}) must be a multiple of the number of "
                         f"groups ({groups} = C_in {c_in} / filters in-channels {c_group})")

    if pad in ("SAME", "VALID"):
        top, bottom = resolve_padding(pad, height, kh, sh, dh)
        left, right = resolve_padding(pad, width, kw, sw, dw)
        if max(top, bottom, left, right) > MAX_EXTENT:  # only a huge dilation gets here
            raise ValueError(f"`dilations` {(dh, dw)} with padding='SAME' needs padding "
                             f"{((top, bottom), (left, right))}, above the kernels' limit 2**60")
    else:
        (top, bottom), (left, right) = pad
    h_out = conv_output_size(height, kh, sh, (top, bottom), dh)
    w_out = conv_output_size(width, kw, sw, (left, right), dw)

    compute = np.dtype(np.float32) if x.dtype == np.float16 else x.dtype
    check_output_size((n, h_out, w_out, c_out), compute, "conv2d")
    out = np.empty((n, h_out, w_out, c_out), dtype=compute)
    if out.size:
        if x.size == 0 or c_out == 0:
            out.fill(0)
        else:
            _run_kernel(np.ascontiguousarray(x, dtype=compute), np.ascontiguousarray(w, dtype=compute), out,
                        (sh, sw), (dh, dw), (top, left), groups)
    if compute != x.dtype:
        with np.errstate(over="ignore"):  # float16 sums beyond 65504 become inf, as in TensorFlow
            out = out.astype(x.dtype)
    if image_2d:
        return out[0, :, :, 0]
    if data_format == "NCHW":
        out = np.ascontiguousarray(out.transpose(0, 3, 1, 2))
    return out


_kernels = None


def _conv_kernels():
    # Imported on first use (the im2col + BLAS fallback, which needs scipy.linalg, is in
    # _conv_gemm and imported only when a call needs it).
    global _kernels
    if _kernels is None:
        _kernels = load("conv")
    return _kernels


def _fast():
    global _fast_path
    if _fast_path is None:
        _fast_path = _conv_kernels().conv2d_fast
    return _fast_path


_fast_path = None


def _run_kernel(x: np.ndarray, w: np.ndarray, out: np.ndarray, strides, dilations, pad_before, groups) -> None:
    """Fill ``out`` with the kernel this shape runs best on (all give TensorFlow's results).

    - int32: a direct integer loop (BLAS has no integer GEMM).
    - one-channel images (C_in = C_out = 1, horizontal stride 1): ``conv2d_image``, vectorised
      over output pixels — vectorising over channels would use 1 lane of 16.
    - everything else: ``conv2d_direct``, register-blocked and vectorised over output channels.
    - ``conv2d_gemm`` (im2col + BLAS) only when the filters hold inf/NaN and the padding is used:
      the direct kernels skip padded taps, but TensorFlow multiplies their zeros (0 * inf = NaN).
    """
    (sh, sw), (dh, dw), (top, left) = strides, dilations, pad_before
    kernels = _conv_kernels()
    threads = _threads.get_num_threads()
    if x.dtype == np.int32:
        kernels.conv2d_direct_int32(x, w, out, sh, sw, dh, dw, top, left, groups, threads)
        return
    method = _FORCE_METHOD
    if method is None:
        method = "image" if (x.shape[3] == 1 and w.shape[3] == 1 and sw == 1) else "direct"
    if method == "image" and kernels.conv2d_image(x, w, out, sh, dh, dw, top, left, threads):
        return
    if method == "direct" and kernels.conv2d_direct(x, w, out, sh, sw, dh, dw, top, left, groups, threads):
        return
    if method == "naive":
        kernels.conv2d_naive(x, w, out, sh, sw, dh, dw, top, left, groups)
        return
    k = w.shape[0] * w.shape[1] * w.shape[2]
    if k > _BLAS_INT_MAX or out.shape[3] > _BLAS_INT_MAX:
        raise ValueError(f"conv2d: the reduction length KH*KW*C_in/groups ({k}) and C_out ({out.shape[3]}) "
                         f"must each be below 2**31")
    m_total = out.shape[0] * out.shape[1] * out.shape[2]
    chunk = max(1, min(m_total, _PATCH_BYTES // (k * x.itemsize), _BLAS_INT_MAX // k))
    chunk = max(chunk, min(m_total, 64))
    # BLAS pinned to one thread, as in the gradients: OpenBLAS's bits depend on its thread count,
    # a process-wide setting that concurrent gradient calls change (tests/hardening).
    with _threads.blas_threads.limit(1):
        load("conv_gemm").conv2d_gemm(x, w, out, sh, sw, dh, dw, top, left, groups, chunk,
                                                         threads)


# --------------------------------------------------------------------------- gradients
#
# conv2d is linear in its input and in its filters, so both gradients are transposes of the
# forward map (JAX derives them the same way): with dy = dL/dy,
#   dL/dx[n, iy, ix, c] = sum over (oy, ox, ky, kx, o) with iy = oy*sh - top + ky*dil_h (ix alike)
#                         of dy[n, oy, ox, o] * w[ky, kx, c, o]      -- conv2d_backprop_input
#   dL/dw[ky, kx, c, o] = sum over (n, oy, ox) of x[n, iy, ix, c] * dy[n, oy, ox, o]
#                                                                      -- conv2d_backprop_filter
# The input gradient is a convolution of dy (zero-inserted by the strides) with the flipped
# filters: conv2d_transpose.

# Scratch per task for the patch matrices (patches for the filter gradient, patch gradients for
# the input gradient; at most one task per thread at a time): enough for BLAS calls of a few
# hundred rows, small next to a training step's activations.
_SCRATCH_BYTES = 2 << 20
# The work is cut into at most this many independent pieces (chunks of images for the input
# gradient, "lanes" of partial sums for the filter gradient), whatever the thread count, so the
# summation order -- and the result -- never depends on the number of threads.
_LANES = 8
# Lanes of the filter gradient keep one partial filter gradient each: cap their total size.
_PARTIALS_BYTES = 16 << 20
# How the input gradient is computed (_backprop_input): None = by shape ("direct" for stride 1,
# else "gemm"); tests force each in turn.
_INPUT_GRAD_METHOD = None
# How the filter gradient is computed (conv2d_backprop_filter): None = "direct" where
# _filter_grad_direct applies, else "gemm" (the readable im2col + BLAS path); tests force each.
_FILTER_GRAD_METHOD = None
# Bytes of out_backprop the direct filter-gradient kernel streams per pass (its chunk of output
# rows stays in L2 while every block of the filter gradient reads it). Measured on 8x56x56x64,
# 64x13x13x32 and 4x112x112x32 (1 core): 8 KiB to 1 MiB within ~10%, 128 KiB best.
_DW_CHUNK_BYTES = 128 << 10


def _sizes_giving(out: int, k: int, s: int, d: int, pad: Any) -> Tuple[int, int]:
    """The range [lo, hi] of input sizes that a conv maps to output size ``out`` (lo > hi: none),
    from the output-size formulas solved for the input size (no search: sizes may be huge)."""
    k_eff = (k - 1) * d + 1
    if pad == "SAME":                            # out = ceil(i / s)
        return (0, 0) if out == 0 else ((out - 1) * s + 1, out * s)
    total = 0 if pad == "VALID" else pad[0] + pad[1]
    if out == 0:                                 # the padded input is shorter than the kernel
        return 0, k_eff - total - 1
    # out = floor((i + total - k_eff) / s) + 1 with i + total >= k_eff
    return max(0, (out - 1) * s + k_eff - total), out * s - 1 + k_eff - total


def _check_spatial(op: str, big_name: str, small_name: str, big: Tuple[int, int], small: Tuple[int, int],
                   kernel: Tuple[int, int], strides: Tuple[int, int], dilations: Tuple[int, int], pad_arg: Any,
                   pads: Tuple[Tuple[int, int], Tuple[int, int]]) -> None:
    """Raise when conv2d does not map spatial size ``big`` (the conv's input) to ``small``."""
    for axis, name in enumerate(("height", "width")):
        mode = pad_arg if isinstance(pad_arg, str) else pads[axis]
        got = conv_output_size(big[axis], kernel[axis], strides[axis], mode, dilations[axis])
        if got == small[axis]:
            continue
        lo, hi = _sizes_giving(small[axis], kernel[axis], strides[axis], dilations[axis], mode)
        if lo > hi:
            possible = f"no {big_name} {name} gives {small[axis]}"
        elif lo == hi:
            possible = f"only {big_name} {name} {lo} gives {small[axis]}"
        else:
            possible = f"{big_name} {name}s {lo} to {hi} give {small[axis]}"
        raise ValueError(
            f"{op}: {big_name} {name} {big[axis]} is impossible with {small_name} {name} {small[axis]}: "
            f"conv2d with kernel {kernel[axis]}, stride {strides[axis]}, dilation {dilations[axis]} and "
            f"padding {mode if isinstance(mode, str) else tuple(mode)} maps {name} {big[axis]} to {got}, not "
            f"{small[axis]}; {possible}")


def _conv_pads(pad: Any, hw: Tuple[int, int], kernel: Tuple[int, int], strides, dilations):
    if pad in ("SAME", "VALID"):
        return (resolve_padding(pad, hw[0], kernel[0], strides[0], dilations[0]),
                resolve_padding(pad, hw[1], kernel[1], strides[1], dilations[1]))
    return pad


def _check_blas(op: str, k: int, c_out: int) -> None:
    if k > _BLAS_INT_MAX or c_out > _BLAS_INT_MAX:
        raise ValueError(f"{op}: the reduction length KH*KW*C_in/groups ({k}) and C_out ({c_out}) must each "
                         f"be below 2**31")


def _input_grad_direct(dy: np.ndarray, w: np.ndarray, dx: np.ndarray, strides, dilations, pads, groups: int,
                       compute: np.dtype) -> bool:
    """The stride-1 input gradient as a forward convolution, by conv2d's register-blocked kernel.

    With stride 1, ``dx[n, iy, ix, c] = sum dy[n, iy + top - ky*dh, ix + left - kx*dw, o] *
    w[ky, kx, c, o]``: the cross-correlation of ``dy`` (padded by ``(KH-1)*dh - top`` above and
    ``(KH-1)*dh - bottom`` below, likewise across) with the filters flipped in space and with
    in/out channels swapped (per group). The direct kernel runs at ~95% of one core's matmul;
    im2col + BLAS + col2im here reached ~60% (8x56x56x64->64 SAME, 1 core: 12.0 -> 8.0 ms, TF 8.1;
    64x13x13x32->64 VALID: 2.0 -> 1.3 ms, TF 1.6). The kernel skips taps on the padding of dy,
    which is exactly the gradient's sum (no padding terms). Returns False, having written
    nothing, where it does not apply: strides > 1 (zero insertion would waste most of the work;
    the GEMM path handles them), a forward pad larger than the dilated kernel (dy rows no input
    cell reaches), or non-finite filters with padding (the kernel refuses them: its forward
    contract multiplies padding zeros by the filters)."""
    method = _INPUT_GRAD_METHOD or ("direct" if strides == (1, 1) else "gemm")
    if method != "direct" or strides != (1, 1):
        return False
    kh, kw, c_group, c_out = w.shape
    (dh, dw), ((top, bottom), (left, right)) = dilations, pads
    extent_h, extent_w = (kh - 1) * dh, (kw - 1) * dw
    if max(top, bottom) > extent_h or max(left, right) > extent_w:
        return False
    # flipped[ky, kx, o, g*C_g + c] = w[KH-1-ky, KW-1-kx, c, g*C_out_g + o]
    c_out_group = c_out // groups
    flipped = (np.asarray(w, dtype=compute)[::-1, ::-1].reshape(kh, kw, c_group, groups, c_out_group)
               .transpose(0, 1, 4, 3, 2).reshape(kh, kw, c_out_group, groups * c_group))
    kernels = _conv_kernels()
    return bool(kernels.conv2d_direct(np.ascontiguousarray(dy, dtype=compute), np.ascontiguousarray(flipped), dx,
                                      1, 1, dh, dw, extent_h - top, extent_w - left, groups,
                                      _threads.get_num_threads()))


def _window_reaches_padding(out: int, size: int, k: int, s: int, d: int, before: int) -> np.ndarray:
    """Boolean mask over ``out`` output positions along one axis: True where the window (taps at
    ``o*s - before + t*d``, t < k) has a tap outside ``[0, size)``."""
    start = np.arange(out) * s - before
    return (start < 0) | (start + (k - 1) * d >= size)


def _filter_grad_direct(x: np.ndarray, dy: np.ndarray, dwts: np.ndarray, strides, dilations, pads, groups: int,
                        compute: np.dtype) -> bool:
    """The filter gradient by the register-blocked direct kernel (no patch matrix, no BLAS).

    A block of ``dwts`` (R input channels of one tap x up to 4 SIMD vectors of output channels)
    stays in registers while the output positions stream past, in the instruction set conv2d's
    direct kernels use. im2col + BLAS spent a third of its time building and packing the patch
    matrix, and OpenBLAS's kernel ran at ~65% of matmul on this shape (K x C_out output, the long
    reduction over N*H_out*W_out); the direct kernel runs at ~matmul speed (8x56x56x64->64 SAME,
    1 core: 12.1 -> 7.7 ms). It was faster than GEMM on every shape measured, 1 and 2 threads,
    float32 and float64: C_out/groups from 1 (depthwise: 0.7x the time) to 128, C_in/groups from
    1 to 64, strides 1 and 2, down to a 1x6x6x2 call (equal). Returns False, having written
    nothing, where it does not apply: a build without the SIMD kernels, or non-finite
    ``out_backprop`` at positions whose window reaches the padding: the kernel skips padding
    taps, but TF (and the GEMM path) multiply those dy values by the padding zeros, so inf there
    must give NaN."""
    if _FILTER_GRAD_METHOD == "gemm":
        return False
    kernels = _conv_kernels()
    isa = kernels.ISA_NAMES.index(kernels.get_isa())
    if isa == 0 and not kernels.cpu_features()["simd_build"]:
        return False
    kh, kw = dwts.shape[:2]
    dy = np.ascontiguousarray(dy, dtype=compute)
    rows = _window_reaches_padding(dy.shape[1], x.shape[1], kh, strides[0], dilations[0], pads[0][0])
    cols = _window_reaches_padding(dy.shape[2], x.shape[2], kw, strides[1], dilations[1], pads[1][0])
    if (rows.any() and not np.isfinite(dy[:, rows]).all()) or \
            (cols.any() and not np.isfinite(dy[:, :, cols]).all()):
        return False
    load("conv_grad").conv2d_backprop_filter_direct(
        np.ascontiguousarray(x, dtype=compute), dy, dwts, strides[0], strides[1], dilations[0], dilations[1],
        pads[0][0], pads[1][0], groups, isa, _DW_CHUNK_BYTES, _threads.get_num_threads())
    return True


def _backprop_input(op: str, input_sizes: Any, filters: Any, out_backprop: Any, strides: Any, padding: Any,
                    data_format: str, dilations: Any, names: dict) -> np.ndarray:
    """Shared body of conv2d_backprop_input and conv2d_transpose; ``names`` maps roles to the
    caller's argument names so that every message speaks the caller's language."""
    data_format = check_data_format(data_format)
    w = to_array(filters, names["filters"],
                 like=to_array(out_backprop, names["dy"]) if _is_array(out_backprop) else None)
    dy = to_array(out_backprop, names["dy"], like=w)
    check_dtype(w, names["filters"], GRAD_DTYPES, op)
    if dy.dtype != w.dtype:
        raise TypeError(f"`{names['dy']}` dtype must match `{names['filters']}` dtype (as in TensorFlow); got "
                        f"{names['dy']} {dy.dtype}, {names['filters']} {w.dtype}")
    layout = "(N, H, W, C)" if data_format == "NHWC" else "(N, C, H, W)"
    check_4d(w, names["filters"], op, names["filters_layout"])
    check_4d(dy, names["dy"], op, layout)
    dy = to_nhwc(dy, data_format)
    kh, kw, c_group, c_out = w.shape
    sizes = int_vector(input_sizes, names["sizes"], (2, 4), names["sizes_what"])
    if len(sizes) == 2:
        # TF's short form: only (H, W); the batch comes from the gradient, the channels from the
        # filters (no groups).
        n, height, width, c_in = dy.shape[0], sizes[0], sizes[1], c_group
    elif data_format == "NHWC":
        n, height, width, c_in = sizes
    else:
        n, c_in, height, width = sizes
    sh, sw = spatial_pair(strides, "strides", data_format)
    dh, dw = spatial_pair(dilations, "dilations", data_format)
    pad = parse_padding(padding, data_format)
    if kh < 1 or kw < 1 or c_group < 1:
        raise ValueError(f"`{names['filters']}` must have KH, KW and {names['group_axis']} >= 1; got shape {w.shape}")
    if c_in < 1 or c_in % c_group:
        raise ValueError(f"{op}: the {names['big']} channels ({c_in}, from `{names['sizes']}`) must be a positive "
                         f"multiple of `{names['filters']}`.shape[2] = {c_group} (groups = their ratio)")
    groups = c_in // c_group
    if c_out % groups:
        raise ValueError(f"{op}: grouped convolution needs `{names['filters']}`.shape[3] ({c_out}) to be a multiple "
                         f"of groups = {groups}")
    if dy.shape[3] != c_out:
        raise ValueError(f"{op}: `{names['dy']}` must have {c_out} channels (`{names['filters']}`.shape[3]); got "
                         f"{dy.shape[3]} (shape {dy.shape})")
    if dy.shape[0] != n:
        raise ValueError(f"{op}: `{names['sizes']}` batch ({n}) must equal the batch of `{names['dy']}` "
                         f"({dy.shape[0]})")
    pads = _conv_pads(pad, (height, width), (kh, kw), (sh, sw), (dh, dw))
    _check_spatial(op, names["big"], names["small"], (height, width), dy.shape[1:3], (kh, kw), (sh, sw),
                   (dh, dw), pad, pads)
    compute = compute_dtype(w.dtype)
    check_output_size((n, height, width, c_in), compute, op)
    dx = np.empty((n, height, width, c_in), dtype=compute)
    if not (dy.size and w.size and dx.size):
        dx.fill(0)
    elif not _input_grad_direct(dy, w, dx, (sh, sw), (dh, dw), pads, groups, compute):
        k = kh * kw * c_group
        _check_blas(op, k, c_out)
        per_image = dy.shape[1] * dy.shape[2]
        if per_image > _BLAS_INT_MAX:
            raise ValueError(f"{op}: {per_image} positions per image is too many for one BLAS call (2**31 - 1)")
        # Whole images per chunk, at least _LANES chunks when the batch allows, within the scratch.
        budget = max(1, _SCRATCH_BYTES // max(1, per_image * k * compute.itemsize))
        chunk = max(1, min(budget, -(-n // _LANES), _BLAS_INT_MAX // per_image))
        _threads.run_blas_kernel(load("conv_grad").conv2d_backprop_input, -(-n // chunk) > 1,
                         np.ascontiguousarray(dy, dtype=compute), np.ascontiguousarray(w, dtype=compute), dx,
                         sh, sw, dh, dw, pads[0][0], pads[1][0], groups, chunk)
    if compute != w.dtype:
        dx = dx.astype(w.dtype)
    return from_nhwc(dx, data_format)


def conv2d_backprop_input(input_sizes: Any, filters: Any, out_backprop: Any, strides: Any = 1,
                          padding: Any = "VALID", data_format: str = "NHWC", dilations: Any = 1) -> np.ndarray:
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
    names = {"filters": "filters", "dy": "out_backprop", "sizes": "input_sizes", "big": "input",
             "small": "out_backprop", "group_axis": "in-channels", "filters_layout": "(KH, KW, C_in/groups, C_out)",
             "sizes_what": "(the shape (N, H, W, C_in), or (H, W))"}
    return _backprop_input("conv2d_backprop_input", input_sizes, filters, out_backprop, strides, padding,
                           data_format, dilations, names)


def conv2d_transpose(input: Any, filters: Any, output_shape: Any, strides: Any, padding: Any = "SAME",
                     data_format: str = "NHWC", dilations: Any = 1) -> np.ndarray:
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
    strides : int, (sh, sw) or TF's 4-list
    padding : "SAME" (default, as in TF), "VALID" or explicit ``((top, bottom), (left, right))``
        The padding of the forward conv2d.
    data_format : "NHWC" or "NCHW"
    dilations : int, (dh, dw) or TF's 4-list
        Dilation of the forward conv2d (TensorFlow's CPU refuses > 1; convops computes it).

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
    ValueError: conv2d_transpose: output_shape height 5 is impossible with input height 2: conv2d with kernel 3, stride 2, dilation 1 and padding SAME maps height 5 to 3, not 2; output_shape heights 3 to 4 give 2
    """
    names = {"filters": "filters", "dy": "input", "sizes": "output_shape", "big": "output_shape",
             "small": "input", "group_axis": "output channels",
             "filters_layout": "(KH, KW, C_out/groups, C_in)",
             "sizes_what": "(the output shape (N, H, W, C), or (H, W))"}
    return _backprop_input("conv2d_transpose", output_shape, filters, input, strides, padding, data_format,
                           dilations, names)


def conv2d_backprop_filter(input: Any, filter_sizes: Any, out_backprop: Any, strides: Any = 1,
                           padding: Any = "VALID", data_format: str = "NHWC", dilations: Any = 1) -> np.ndarray:
    """Gradient of :func:`convops.conv2d` with respect to its filters, as TF's ``Conv2DBackpropFilter``.

    ``dL/dfilters[ky, kx, c, o] = sum over n, y, x of in_pad[n, y*sh + ky*dh, x*sw + kx*dw, g*C_g + c]
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
    op = "conv2d_backprop_filter"
    data_format = check_data_format(data_format)
    x = to_array(input, "input", like=to_array(out_backprop, "out_backprop") if _is_array(out_backprop) else None)
    dy = to_array(out_backprop, "out_backprop", like=x)
    check_dtype(x, "input", GRAD_DTYPES, op)
    if dy.dtype != x.dtype:
        raise TypeError(f"`out_backprop` dtype must match `input` dtype (as in TensorFlow); got out_backprop "
                        f"{dy.dtype}, input {x.dtype}")
    layout = "(N, H, W, C)" if data_format == "NHWC" else "(N, C, H, W)"
    check_4d(x, "input", op, layout)
    check_4d(dy, "out_backprop", op, layout)
    x, dy = to_nhwc(x, data_format), to_nhwc(dy, data_format)
    kh, kw, c_group, c_out = int_vector(filter_sizes, "filter_sizes", (4,), "(KH, KW, C_in/groups, C_out)")
    sh, sw = spatial_pair(strides, "strides", data_format)
    dh, dw = spatial_pair(dilations, "dilations", data_format)
    pad = parse_padding(padding, data_format)
    n, height, width, c_in = x.shape
    if kh < 1 or kw < 1 or c_group < 1:
        raise ValueError(f"`filter_sizes` must have KH, KW and in-channels >= 1; got {(kh, kw, c_group, c_out)}")
    if c_in < 1 or c_in % c_group:
        raise ValueError(f"{op}: input channels ({c_in}) must be a positive multiple of filter_sizes[2] = {c_group} "
                         f"(groups = their ratio)")
    groups = c_in // c_group
    if c_out % groups:
        raise ValueError(f"{op}: grouped convolution needs filter_sizes[3] ({c_out}) to be a multiple of groups = "
                         f"{groups}")
    if dy.shape[3] != c_out:
        raise ValueError(f"{op}: `out_backprop` must have {c_out} channels (filter_sizes[3]); got {dy.shape[3]}")
    if dy.shape[0] != n:
        raise ValueError(f"{op}: `out_backprop` batch ({dy.shape[0]}) must equal `input` batch ({n})")
    pads = _conv_pads(pad, (height, width), (kh, kw), (sh, sw), (dh, dw))
    _check_spatial(op, "input", "out_backprop", (height, width), dy.shape[1:3], (kh, kw), (sh, sw), (dh, dw),
                   pad, pads)
    compute = compute_dtype(x.dtype)
    check_output_size((kh, kw, c_group, c_out), compute, op)
    dwts = np.empty((kh, kw, c_group, c_out), dtype=compute)
    if dy.size and x.size and dwts.size:
        if not _filter_grad_direct(x, dy, dwts, (sh, sw), (dh, dw), pads, groups, compute):
            k = kh * kw * c_group
            _check_blas(op, k, c_out)
            m_total = dy.shape[0] * dy.shape[1] * dy.shape[2]
            # Chunks of output positions: big enough for an efficient BLAS call (>= 64 rows), at
            # least _LANES of them when there are enough rows, within the scratch budget.
            budget = max(1, min(_SCRATCH_BYTES // (k * compute.itemsize), _BLAS_INT_MAX // k))
            chunk = max(min(64, m_total, budget), min(budget, -(-m_total // _LANES)))
            n_chunks = -(-m_total // chunk)
            lanes = max(1, min(_LANES, n_chunks, _PARTIALS_BYTES // (k * c_out * compute.itemsize)))
            _threads.run_blas_kernel(load("conv_grad").conv2d_backprop_filter, lanes > 1, np.ascontiguousarray(x, dtype=compute),
                             np.ascontiguousarray(dy, dtype=compute), dwts, sh, sw, dh, dw, pads[0][0],
                             pads[1][0], groups, chunk, lanes)
    else:
        dwts.fill(0)
    return dwts.astype(x.dtype) if compute != x.dtype else dwts

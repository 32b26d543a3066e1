"""2-D convolution (cross-correlation) with ``tf.nn.conv2d``'s contract."""

from __future__ import annotations

from typing import Any

import numpy as np

from convops import _config
from convops._validation import (
    MAX_EXTENT,
    _is_array,
    check_data_format,
    check_dtype,
    check_output_size,
    check_rank,
    parse_padding,
    spatial_pair,
    to_array,
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
        out = _fast()(input, filters, strides, padding, dilations, data_format, _config._num_threads or 0)
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
        _kernels = _config.load_extension("_conv_kernels")
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
    threads = _config.get_num_threads()
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
    from convops.gradients import _blas_threads
    with _blas_threads.limit(1):
        _config.load_extension("_conv_gemm").conv2d_gemm(x, w, out, sh, sw, dh, dw, top, left, groups, chunk,
                                                         threads)

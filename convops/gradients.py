"""Gradients of every op, with TensorFlow's names, shapes and conventions.

Backpropagation through a layer needs two things: how the loss changes with the layer's input
(to keep going backwards) and with its parameters (to learn). For an op ``y = f(x)`` and an
upstream gradient ``dy = dL/dy`` of ``y``'s shape, each function here returns ``dL/dx`` (or
``dL/dfilters``) — the vector-Jacobian product, as ``tf.GradientTape`` computes it.

==============================  =================================  ================================
op                              gradient w.r.t. input              gradient w.r.t. parameters
==============================  =================================  ================================
:func:`convops.conv2d`          :func:`conv2d_backprop_input`      :func:`conv2d_backprop_filter`
:func:`convops.max_pool2d`      :func:`max_pool2d_grad`            —
:func:`convops.avg_pool2d`      :func:`avg_pool2d_grad`            —
:func:`convops.pad`             :func:`pad_grad`                   —
==============================  =================================  ================================

:func:`conv2d_transpose` is :func:`conv2d_backprop_input` under the name (and argument order)
of ``tf.nn.conv2d_transpose``, and :func:`max_pool2d_with_argmax` is
``tf.nn.max_pool_with_argmax``.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator, Optional, Sequence, Tuple

import numpy as np

from convops import _config
from convops._validation import (
    _describe,
    _is_array,
    as_int,
    check_data_format,
    check_dtype,
    check_output_size,
    parse_padding,
    spatial_pair,
    to_array,
)
from convops.arithmetic import conv_output_size, resolve_padding
from convops.padding import PAD_MODES, _parse_paddings, padding_index


class _LazyKernel:
    """A kernel of convops._grad_kernels, imported on first call: the module cimports SciPy's BLAS,
    and importing scipy.linalg (~0.15 s) at `import convops` would double its cost."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any) -> Any:
        return getattr(_config.load_extension("_grad_kernels"), self.name)(*args)


_avg_pool_grad_kernel = _LazyKernel("avg_pool_grad")
_backprop_filter_kernel = _LazyKernel("conv2d_backprop_filter")
_backprop_input_kernel = _LazyKernel("conv2d_backprop_input")
_max_pool_argmax_kernel = _LazyKernel("max_pool_argmax")
_max_pool_scatter_kernel = _LazyKernel("max_pool_grad_scatter")
_pad_fold_kernel = _LazyKernel("pad_fold_axis")

__all__ = [
    "conv2d_backprop_input",
    "conv2d_backprop_filter",
    "conv2d_transpose",
    "max_pool2d_grad",
    "max_pool2d_with_argmax",
    "avg_pool2d_grad",
    "pad_grad",
]

#: dtypes that have gradients: float16 is computed in float32 and rounded once, as TF's CPU does
#: for its float16 convolutions.
GRAD_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
_MAX_POOL_DTYPES = tuple(np.dtype(t) for t in (np.float16, np.float32, np.float64, np.int8, np.int16,
                                               np.int32, np.int64, np.uint8, np.uint16))
_BLAS_INT_MAX = 2**31 - 1
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
# avg_pool2d_grad runs the readable gather loop instead of the fast one when True (tests compare
# both with TensorFlow; _grad_kernels.pyx, _avg_grad_rows / _avg_grad_rows_fast).
AVG_POOL_GRAD_READABLE = False


class _BlasThreads:
    """Run NumPy's and SciPy's BLAS with a given number of threads inside a ``with`` block.

    The conv-gradient kernels call BLAS from their own threads, each on its own chunk; OpenBLAS's
    threads on top of those would fight over the cores (measured on 2 cores: a tutorial-sized
    filter gradient took 50-110 ms instead of 3 ms). threadpoolctl sets OpenBLAS's thread count
    (~10 us). The limit is shared: the first ``with`` (in any Python thread) sets it, nested and
    concurrent ones keep it, the last one out restores the original counts -- so concurrent
    callers can never leave BLAS limited. Without threadpoolctl the kernels run their chunks one
    after the other and leave BLAS's threading alone."""

    def __init__(self) -> None:
        self._libs: list = []
        self.available: Optional[bool] = None
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: list = []

    def _load(self) -> None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            self.available = False
            return
        # After _grad_kernels is imported: SciPy's OpenBLAS must be loaded to be found.
        _config.load_extension("_grad_kernels")
        self._libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        self.available = bool(self._libs)

    @contextlib.contextmanager
    def limit(self, threads: int) -> Iterator[None]:
        if self.available is None:
            with self._lock:
                if self.available is None:
                    self._load()
        if not self.available:
            yield
            return
        with self._lock:
            if self._depth == 0:
                self._saved = [(lib, lib.num_threads) for lib in self._libs]
                for lib in self._libs:
                    self._set(lib, threads)
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    for lib, count in self._saved:
                        self._set(lib, count)
                        # Let go: another Python thread (or the user's own threadpoolctl) may set it next.
                        if hasattr(type(lib), "clear_controlling_thread"):
                            type(lib).clear_controlling_thread()

    @staticmethod
    def _set(lib: Any, threads: int) -> None:
        # threadpoolctl (>= 3.6) lets only one Python thread -- the first to call set_num_threads
        # on a pthreads OpenBLAS -- change its thread count; calls from any other thread silently
        # do nothing. Found by tests/hardening: a gradient called from a second Python thread ran
        # with OpenBLAS's own threads under ours, and OpenBLAS's results depend on its thread
        # count (different bits than the same call from the main thread). Our lock and depth
        # count already serialise the changes, so take control when another thread holds it.
        lib.set_num_threads(threads)
        if lib.num_threads != threads and hasattr(type(lib), "clear_controlling_thread"):
            type(lib).clear_controlling_thread(force=True)
            lib.set_num_threads(threads)


_blas_threads = _BlasThreads()


def _run_blas_kernel(kernel: Any, parallel: bool, *args: Any) -> None:
    """Call a BLAS-using kernel: our threads over its chunks (``parallel``: more than one), BLAS
    single-threaded in every case."""
    # BLAS always runs single-threaded, even for a single chunk: OpenBLAS's results depend on its
    # own thread count (a batch-1 input gradient differed in the last bits between
    # convops.num_threads(1) and (2)), and every concurrent caller must ask for the same count
    # for the limit to be shared (tests/hardening). The parallelism is ours, over chunks.
    threads = _config.get_num_threads()
    with _blas_threads.limit(1):
        kernel(*args, threads if parallel and _blas_threads.available else 1)


# --------------------------------------------------------------------------- shared helpers

def _compute_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _to_nhwc(array: np.ndarray, data_format: str) -> np.ndarray:
    return array.transpose(0, 2, 3, 1) if data_format == "NCHW" else array


def _from_nhwc(array: np.ndarray, data_format: str) -> np.ndarray:
    return np.ascontiguousarray(array.transpose(0, 3, 1, 2)) if data_format == "NCHW" else array


def _check_4d(array: np.ndarray, name: str, op: str, layout: str) -> None:
    if array.ndim != 4:
        raise ValueError(f"`{name}` of {op} must be 4-D {layout}; got {array.ndim}-D with shape {array.shape}")


def _int_vector(value: Any, name: str, lengths: Sequence[int], what: str) -> Tuple[int, ...]:
    """A shape argument (list, tuple or integer array) as a tuple of non-negative ints."""
    if isinstance(value, np.ndarray):
        if value.ndim != 1 or value.dtype.kind not in "iu":
            raise TypeError(f"`{name}` must be a 1-D sequence of integers {what}; got an array of dtype "
                            f"{value.dtype} and shape {value.shape}")
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"`{name}` must be a sequence of integers {what}; got {_describe(value)}")
    items = tuple(as_int(v, name) for v in value)
    if len(items) not in lengths:
        raise ValueError(f"`{name}` must have {' or '.join(map(str, lengths))} entries {what}; got "
                         f"{len(items)}: {list(items)}")
    if any(v < 0 for v in items):
        raise ValueError(f"`{name}` must be non-negative; got {list(items)}")
    return items


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


# --------------------------------------------------------------------------- conv2d

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
    kernels = _config.load_extension("_conv_kernels")
    return bool(kernels.conv2d_direct(np.ascontiguousarray(dy, dtype=compute), np.ascontiguousarray(flipped), dx,
                                      1, 1, dh, dw, extent_h - top, extent_w - left, groups,
                                      _config.get_num_threads()))


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
    kernels = _config.load_extension("_conv_kernels")
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
    _config.load_extension("_grad_kernels").conv2d_backprop_filter_direct(
        np.ascontiguousarray(x, dtype=compute), dy, dwts, strides[0], strides[1], dilations[0], dilations[1],
        pads[0][0], pads[1][0], groups, isa, _DW_CHUNK_BYTES, _config.get_num_threads())
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
    _check_4d(w, names["filters"], op, names["filters_layout"])
    _check_4d(dy, names["dy"], op, layout)
    dy = _to_nhwc(dy, data_format)
    kh, kw, c_group, c_out = w.shape
    sizes = _int_vector(input_sizes, names["sizes"], (2, 4), names["sizes_what"])
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
    compute = _compute_dtype(w.dtype)
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
        _run_blas_kernel(_backprop_input_kernel, -(-n // chunk) > 1,
                         np.ascontiguousarray(dy, dtype=compute), np.ascontiguousarray(w, dtype=compute), dx,
                         sh, sw, dh, dw, pads[0][0], pads[1][0], groups, chunk)
    if compute != w.dtype:
        dx = dx.astype(w.dtype)
    return _from_nhwc(dx, data_format)


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
    _check_4d(x, "input", op, layout)
    _check_4d(dy, "out_backprop", op, layout)
    x, dy = _to_nhwc(x, data_format), _to_nhwc(dy, data_format)
    kh, kw, c_group, c_out = _int_vector(filter_sizes, "filter_sizes", (4,), "(KH, KW, C_in/groups, C_out)")
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
    compute = _compute_dtype(x.dtype)
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
            _run_blas_kernel(_backprop_filter_kernel, lanes > 1, np.ascontiguousarray(x, dtype=compute),
                             np.ascontiguousarray(dy, dtype=compute), dwts, sh, sw, dh, dw, pads[0][0],
                             pads[1][0], groups, chunk, lanes)
    else:
        dwts.fill(0)
    return dwts.astype(x.dtype) if compute != x.dtype else dwts


# --------------------------------------------------------------------------- pooling

def _pool_geometry(op: str, shape_nhwc: Tuple[int, int, int, int], ksize: Any, strides: Any, padding: Any,
                   data_format: str, explicit_ok: bool = True):
    kh, kw = spatial_pair(ksize, "ksize", data_format)
    sh, sw = spatial_pair(strides, "strides", data_format)
    pad = parse_padding(padding, data_format)
    _, height, width, _ = shape_nhwc
    if pad in ("SAME", "VALID"):
        (top, bottom), (left, right) = resolve_padding(pad, height, kh, sh), resolve_padding(pad, width, kw, sw)
    else:
        if not explicit_ok:
            raise ValueError(f"`padding` of {op} must be 'SAME' or 'VALID' (as in TensorFlow); got {padding!r}")
        (top, bottom), (left, right) = pad
        if max(top, bottom) >= kh or max(left, right) >= kw:
            raise ValueError(f"explicit `padding` of {op} must be smaller than the window `ksize` {(kh, kw)} "
                             f"on each side; got ((top, bottom), (left, right)) = {((top, bottom), (left, right))}")
    h_out = conv_output_size(height, kh, sh, (top, bottom))
    w_out = conv_output_size(width, kw, sw, (left, right))
    return (kh, kw), (sh, sw), (top, left), (shape_nhwc[0], h_out, w_out, shape_nhwc[3])


def _argmax(x: np.ndarray, ksize, strides, pad_before, out_shape, values_from_argmax: bool,
            index_dtype: Any = np.int64):
    """Run the argmax kernel on NHWC ``x``: (values, argmax within each image) in the compute dtype.
    ``index_dtype`` int32 halves the indices' memory (images must have < 2**31 elements)."""
    compute = _compute_dtype(x.dtype)
    out = np.empty(out_shape, dtype=compute)
    argmax = np.empty(out_shape, dtype=index_dtype)
    lowest = np.finfo(compute).min if compute.kind == "f" else np.iinfo(compute).min
    if x.dtype == np.float16:
        lowest = np.float32(np.finfo(np.float16).min)
    if out.size and x.size == 0:
        # An empty H or W under explicit padding: every window lies in the padding and has no
        # first cell for the kernel to start from (it read past the empty input: found by
        # tests/hardening under AddressSanitizer). max_pool2d's value for a window without a
        # number, and no argmax (-1): the input gradient is empty anyway, and
        # max_pool2d_with_argmax refuses such calls.
        out.fill(lowest)
        argmax.fill(-1)
    elif out.size:
        _max_pool_argmax_kernel(np.ascontiguousarray(x, dtype=compute), out, argmax, ksize[0], ksize[1], strides[0],
                                strides[1], pad_before[0], pad_before[1], compute.type(lowest), values_from_argmax,
                                _config.get_num_threads())
    return out, argmax


def _scatter_argmax(dy: np.ndarray, argmax: np.ndarray, in_shape: Tuple[int, ...]) -> np.ndarray:
    """dx (``in_shape``, NHWC) with every dy element added at its argmax (same compute dtype as dy)."""
    dx = np.empty(in_shape, dtype=dy.dtype)
    n = in_shape[0]
    if dx.size == 0:
        return dx
    if dy.size == 0:
        dx.fill(0)
        return dx
    _max_pool_scatter_kernel(np.ascontiguousarray(dy).reshape(n, -1), argmax.reshape(n, -1), dx.reshape(n, -1),
                             _config.get_num_threads())
    return dx


def max_pool2d_grad(orig_input: Any, grad: Any, ksize: Any, strides: Any, padding: Any = "VALID",
                    data_format: str = "NHWC") -> np.ndarray:
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
    op = "max_pool2d_grad"
    data_format = check_data_format(data_format)
    x = to_array(orig_input, "orig_input", like=to_array(grad, "grad") if _is_array(grad) else None)
    dy = to_array(grad, "grad", like=x)
    check_dtype(x, "orig_input", GRAD_DTYPES, op)
    if dy.dtype != x.dtype:
        raise TypeError(f"`grad` dtype must match `orig_input` dtype; got grad {dy.dtype}, orig_input {x.dtype}")
    layout = "(N, H, W, C)" if data_format == "NHWC" else "(N, C, H, W)"
    _check_4d(x, "orig_input", op, layout)
    _check_4d(dy, "grad", op, layout)
    x, dy = _to_nhwc(x, data_format), _to_nhwc(dy, data_format)
    ksize_, strides_, pad_before, out_shape = _pool_geometry(op, x.shape, ksize, strides, padding, data_format)
    if dy.shape != out_shape:
        raise ValueError(f"{op}: `grad` must have the max-pool output's shape {_shape_in(out_shape, data_format)} "
                         f"for `orig_input` of shape {_shape_in(x.shape, data_format)}; got "
                         f"{_shape_in(dy.shape, data_format)}")
    # int32 positions within each image (the kernel's own width; half the memory of int64).
    _, argmax = _argmax(x, ksize_, strides_, pad_before, out_shape, values_from_argmax=False,
                        index_dtype=np.int32)
    compute = _compute_dtype(x.dtype)
    dx = _scatter_argmax(np.ascontiguousarray(dy, dtype=compute), argmax, x.shape)
    if compute != x.dtype:
        dx = dx.astype(x.dtype)
    return _from_nhwc(dx, data_format)


def _shape_in(shape_nhwc: Tuple[int, ...], data_format: str) -> Tuple[int, ...]:
    n, h, w, c = shape_nhwc
    return (n, h, w, c) if data_format == "NHWC" else (n, c, h, w)


def max_pool2d_with_argmax(input: Any, ksize: Any, strides: Any, padding: Any = "VALID",
                           data_format: str = "NHWC", output_dtype: Any = np.int64,
                           include_batch_in_index: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Max pooling that also says where each maximum came from, as ``tf.nn.max_pool_with_argmax``.

    Parameters
    ----------
    input : array_like, shape (N, H, W, C)
        NHWC only, as in TensorFlow (the index formula is NHWC's).
    ksize, strides : int, (h, w) or TF's 4-list
    padding : "VALID", "SAME" or explicit ``((top, bottom), (left, right))``
        Explicit padding (smaller than the window) is a convops extension.
    data_format : "NHWC"
    output_dtype : int64 (default) or int32
    include_batch_in_index : bool
        Whether the flat index counts the earlier images of the batch.

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
    op = "max_pool2d_with_argmax"
    data_format = check_data_format(data_format)
    if data_format != "NHWC":
        raise ValueError(f"`data_format` of {op} must be 'NHWC' (as in TensorFlow: the argmax index formula "
                         f"(y*W + x)*C + c is NHWC's); got {data_format!r}")
    try:
        index_dtype = np.dtype(output_dtype)
    except TypeError:
        index_dtype = None
    if index_dtype not in (np.dtype(np.int64), np.dtype(np.int32)):
        raise TypeError(f"`output_dtype` must be int64 or int32; got {_describe(output_dtype)}")
    if not isinstance(include_batch_in_index, (bool, np.bool_)):
        raise TypeError(f"`include_batch_in_index` must be a bool; got {_describe(include_batch_in_index)}")
    x = to_array(input, "input")
    check_dtype(x, "input", _MAX_POOL_DTYPES, op)
    _check_4d(x, "input", op, "(N, H, W, C)")
    ksize_, strides_, pad_before, out_shape = _pool_geometry(op, x.shape, ksize, strides, padding, data_format)
    check_output_size(out_shape, np.int64, op)
    n, height, width, channels = x.shape
    if (height == 0 or width == 0) and np.prod(out_shape) > 0:
        raise ValueError(f"{op}: `input` of shape {x.shape} has an empty spatial dimension, and the explicit "
                         f"`padding` leaves windows that hold no input cell: they have no argmax")
    limit = (n if include_batch_in_index else 1) * height * width * channels
    if index_dtype == np.int32 and limit - 1 > np.iinfo(np.int32).max:
        raise ValueError(f"{op}: indices up to {limit - 1} do not fit `output_dtype` int32; use int64")
    out, argmax = _argmax(x, ksize_, strides_, pad_before, out_shape, values_from_argmax=True,
                          index_dtype=index_dtype)
    if include_batch_in_index and argmax.size:
        argmax += (np.arange(n, dtype=index_dtype) * (height * width * channels))[:, None, None, None]
    if out.dtype != x.dtype:
        out = out.astype(x.dtype)
    return out, argmax


def avg_pool2d_grad(orig_input_shape: Any, grad: Any, ksize: Any, strides: Any, padding: Any = "VALID",
                    data_format: str = "NHWC", count_include_pad: bool = False) -> np.ndarray:
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
    results are bit-identical to it. float16 is computed in float32.

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
    op = "avg_pool2d_grad"
    data_format = check_data_format(data_format)
    if not isinstance(count_include_pad, (bool, np.bool_)):
        raise TypeError(f"`count_include_pad` must be a bool; got {_describe(count_include_pad)}")
    dy = to_array(grad, "grad")
    check_dtype(dy, "grad", GRAD_DTYPES, op)
    layout = "(N, H, W, C)" if data_format == "NHWC" else "(N, C, H, W)"
    _check_4d(dy, "grad", op, layout)
    sizes = _int_vector(orig_input_shape, "orig_input_shape", (4,), f"(the input shape {layout})")
    in_shape = sizes if data_format == "NHWC" else (sizes[0], sizes[2], sizes[3], sizes[1])
    dy = _to_nhwc(dy, data_format)
    ksize_, strides_, pad_before, out_shape = _pool_geometry(op, in_shape, ksize, strides, padding, data_format)
    if dy.shape != out_shape:
        raise ValueError(f"{op}: `grad` must have the avg-pool output's shape {_shape_in(out_shape, data_format)} "
                         f"for an input of shape {tuple(sizes)}; got {_shape_in(dy.shape, data_format)}")
    compute = _compute_dtype(dy.dtype)
    check_output_size(in_shape, compute, op)
    if all(in_shape) and dy.size:
        dx = np.empty(in_shape, dtype=compute)      # the kernel writes every cell
        _avg_pool_grad_kernel(np.ascontiguousarray(dy, dtype=compute), dx, ksize_[0], ksize_[1], strides_[0],
                              strides_[1], pad_before[0], pad_before[1], bool(count_include_pad),
                              _config.get_num_threads(), AVG_POOL_GRAD_READABLE)
    else:
        dx = np.zeros(in_shape, dtype=compute)
    if compute != dy.dtype:
        dx = dx.astype(dy.dtype)
    return _from_nhwc(dx, data_format)


# --------------------------------------------------------------------------- pad

def pad_grad(grad: Any, paddings: Any, mode: str = "CONSTANT") -> np.ndarray:
    """Gradient of :func:`convops.pad` with respect to its input.

    Every output cell of ``pad`` is a copy of one input cell (or a constant), so the gradient
    sends each cell of ``grad`` back to the input cell it copied and adds up the copies:

    ============  ===================================================================
    CONSTANT      crop: the border came from the constant, not from the input
    REFLECT,      fold the border back onto the cells it mirrors (TF's MirrorPadGrad)
    SYMMETRIC
    EDGE          the whole border row/column goes to the edge cell
    CIRCULAR      the border wraps around onto the opposite side
    MEAN          crop, plus each border cell's gradient shared equally (``1/count``) by all the
                  cells its mean was taken over
    ============  ===================================================================

    Parameters
    ----------
    grad : array_like
        ``dL/d(pad(x))``, shape ``x.shape[i] + before_i + after_i``, floating dtype.
    paddings : sequence of ``(before, after)`` pairs, shape (rank, 2)
        As given to :func:`convops.pad`.
    mode : str, any case
        As given to :func:`convops.pad`.

    Returns
    -------
    ndarray of shape ``x.shape``, dtype of ``grad``

    Notes
    -----
    Implemented axis by axis with the inverse of :func:`convops.padding_index`'s map (padding
    is separable, so the gradient is too). float16 is computed in float32.

    Examples
    --------
    >>> import numpy as np
    >>> import convops
    >>> convops.pad_grad(np.ones(7), [[2, 2]], "REFLECT")      # pad [a b c] -> c b a b c b a
    array([2., 3., 2.])
    >>> convops.pad_grad(np.ones(7), [[2, 2]], "EDGE")         # a a a b c c c
    array([3., 1., 3.])
    >>> convops.pad_grad(np.arange(5.), [[1, 1]], "CONSTANT")
    array([1., 2., 3.])
    """
    op = "pad_grad"
    dy = to_array(grad, "grad")
    check_dtype(dy, "grad", GRAD_DTYPES, op)
    if dy.ndim == 0:
        raise ValueError(f"`grad` of {op} must have rank >= 1; got a scalar")
    if not isinstance(mode, str):
        raise TypeError(f"`mode` must be a string, one of {PAD_MODES}; got {_describe(mode)}")
    mode_upper = mode.upper()
    if mode_upper not in PAD_MODES:
        raise ValueError(f"`mode` must be one of {PAD_MODES} (any case); got {mode!r}")
    pairs = _parse_paddings(paddings, dy.ndim, "grad")
    in_shape = []
    for axis, ((before, after), size) in enumerate(zip(pairs, dy.shape)):
        n_in = size - before - after
        if n_in < 0:
            raise ValueError(f"{op}: `paddings` {(before, after)} in dimension {axis} exceed the size of `grad` "
                             f"there ({size}); `grad` must have the padded shape")
        limit = {"REFLECT": n_in - 1, "SYMMETRIC": n_in}.get(mode_upper)
        if limit is not None and max(before, after) > limit:
            rule = "size - 1" if mode_upper == "REFLECT" else "size"
            raise ValueError(f"`paddings` for {mode_upper} mode must be <= {rule} = {limit} in dimension {axis} "
                             f"(input size {n_in}); got {(before, after)}")
        if mode_upper in ("EDGE", "CIRCULAR", "MEAN") and n_in == 0 and before + after > 0:
            raise ValueError(f"{mode_upper} padding needs a non-empty dimension to copy from; `paddings` "
                             f"{(before, after)} leave dimension {axis} of `grad` an input size of 0")
        in_shape.append(n_in)
    compute = _compute_dtype(dy.dtype)
    if mode_upper == "MEAN":
        dx = _mean_pad_grad(dy.astype(compute, copy=False), pairs, tuple(in_shape))
    else:
        dx = np.ascontiguousarray(dy, dtype=compute)
        for axis, ((before, after), n_in) in enumerate(zip(pairs, in_shape)):
            if before == 0 and after == 0:
                continue
            dx = _fold_axis(dx, axis, n_in, before, after, mode_upper)
        if dx is dy or np.shares_memory(dx, dy):
            dx = dx.copy()
    return dx.astype(dy.dtype) if compute != dy.dtype else dx


def _fold_axis(dy: np.ndarray, axis: int, n_in: int, before: int, after: int, mode: str) -> np.ndarray:
    """Sum the copies along ``axis``: input index j gets every output index i with map[i] == j."""
    source = padding_index(n_in, before, after, mode)
    order = np.argsort(source, kind="stable")                # output indices grouped by source, ascending i
    order = order[source[order] >= 0]                         # constants feed no input cell
    indptr = np.zeros(n_in + 1, dtype=np.intp)
    np.cumsum(np.bincount(source[source >= 0], minlength=n_in), out=indptr[1:])
    outer = int(np.prod(dy.shape[:axis], dtype=np.int64))
    inner = int(np.prod(dy.shape[axis + 1:], dtype=np.int64))
    out_shape = dy.shape[:axis] + (n_in,) + dy.shape[axis + 1:]
    dx = np.empty(out_shape, dtype=dy.dtype)
    if dx.size:
        _pad_fold_kernel(dy.reshape(outer, dy.shape[axis], inner), dx.reshape(outer, n_in, inner),
                         indptr, np.ascontiguousarray(order, dtype=np.intp), _config.get_num_threads())
    return dx


def _mean_pad_grad(dy: np.ndarray, pairs, in_shape: Tuple[int, ...]) -> np.ndarray:
    """MEAN mode: border = mean of x over the padded axes (one mean per index of the others)."""
    interior = tuple(slice(before, before + n) for (before, _), n in zip(pairs, in_shape))
    dx = np.array(dy[interior], dtype=dy.dtype, order="C")
    padded_axes = tuple(axis for axis, (before, after) in enumerate(pairs) if before or after)
    if not padded_axes or dx.size == 0:
        return dx
    count = int(np.prod([in_shape[axis] for axis in padded_axes]))
    # The border's total gradient per fibre, summed over the border cells themselves: "everything
    # minus the interior" gave NaN for an infinite interior cell (inf - inf) next to a finite border.
    outside = np.ones(dy.shape, dtype=bool)
    outside[interior] = False
    with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf within the border is NaN, rightly
        border = np.where(outside, dy, 0).sum(axis=padded_axes, keepdims=True, dtype=np.float64)
        dx += (border / count).astype(dy.dtype)
    return dx

"""2-D cross-correlation by the fast Fourier transform (``conv2d(..., algorithm="fft")``).

The convolution theorem: a *circular* convolution of two ``H x W`` arrays is an element-wise
product of their discrete Fourier transforms,

    DFT(a (*) b)[u, v] = DFT(a)[u, v] * DFT(b)[u, v],   (a (*) b)[i, j] = sum_{p, q} a[p, q] b[(i-p) % H, (j-q) % W].

conv2d is a cross-correlation, ``y[i, j] = sum_{ky, kx} x[i + ky, j + kx] w[ky, kx]``, which is a
convolution with the kernel flipped in both axes: with ``f[KH-1-ky, KW-1-kx] = w[ky, kx]``
zero-filled to ``H x W``, ``(x (*) f)[i + KH - 1, j + KW - 1] = y[i, j]``, and for those indices no
term wraps around the edge. So a VALID cross-correlation of an (already padded) ``H x W`` image
is the bottom-right ``(H - KH + 1) x (W - KW + 1)`` corner of one circular convolution: two
forward real FFTs, one product per frequency and one inverse FFT. Over channels the product is a
sum, so at each of the ``H * (W//2 + 1)`` frequencies it is one small complex matrix product
``(N x C_in) . (C_in x C_out)``.

Cost: ``O(N C_in H W log(H W))`` for the transforms plus ``8 N C_in C_out H (W/2 + 1)`` real
flops for the products, against ``2 N C_in C_out H_out W_out KH KW`` for a direct convolution: the
products do not depend on the kernel size, so FFT wins for large enough kernels on large images,
and never for 3x3. Measured (benchmarks/algorithm_error.py --speed, float32, 1 thread, a shared
machine): the direct kernels were still faster at 11x11 (2x128x128x8->8: 14 vs 18 ms) and 15x15
(1x256x256x3->8: 20 vs 25 ms).

Accuracy: the transform's rounding error is spread over the whole image, ``~ eps * log2(H W) *
||x|| ||w||`` (norms over the image), not confined to each output's own window as a direct sum's
is. An output whose window is small next to the rest of the image (a dark patch of a bright
image, a zero window) therefore carries error from far away: FFT results are close in norm, not
element by element. Both float32 and float64 inputs are transformed in float64 (complex128), and
a float32 result is rounded once at the end. Measured by benchmarks/algorithm_error.py (float32
data, 3x3, C_in 1 to 512, max |error| / (eps32 * sum|x||w|) per output; the TF-parity tests
allow K + 1 = 9 C_in + 1): float64 transforms stay below 0.5 (the final rounding) everywhere but
in all-zero windows (a residue of ~1e-15); float32 transforms reach 3.9e4 at C_in = 1 and 114 at
C_in = 4 (bound 37), so conv2d never computes FFTs in single precision.

The transforms are SciPy's (``scipy.fft``, the same pocketfft as ``numpy.fft``): over the
H and W axes of an NHWC array -- strided, channels last -- it was ~5x faster than ``numpy.fft``
(2 x 138 x 138 x 8 images: 2.5 ms vs 13 ms), and it runs one worker (deterministic). The
transform size is the next "fast" length at or above the image size (a larger circle keeps the
VALID corner free of wrap-around: the extra entries are zeros).

Dilation is handled by zero-stuffing the kernel (a dilated kernel is a larger, sparse one), groups
by slicing the channels. Only stride 1: a strided conv would compute every output and keep a few.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from convops._kernels import load

_memory = load("memory")  # large results from a cache of freed blocks: no new pages per call

# Images transformed per batch of work: bounds the complex128 temporaries (the transforms of a
# chunk of images and of its output) to a few tens of MiB whatever the batch size.
_CHUNK_BYTES = 32 << 20


def dilate_kernel(w: np.ndarray, dilations: tuple[int, int]) -> np.ndarray:
    """The dilated kernel as a dense one: ``(KH-1)*dh + 1`` rows with zeros between the taps."""
    dh, dw = dilations
    if dh == 1 and dw == 1:
        return w
    kh, kw = w.shape[:2]
    dense = np.zeros(((kh - 1) * dh + 1, (kw - 1) * dw + 1, *w.shape[2:]), dtype=w.dtype)
    dense[::dh, ::dw] = w
    return dense


def conv2d_fft_valid(x: np.ndarray, w: np.ndarray, groups: int = 1, compute: type = np.float64) -> np.ndarray:
    """VALID, stride-1 cross-correlation of an already padded batch by FFT.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C_in)
        float32 or float64, padded by the caller (the padding is part of the image here).
    w : ndarray, shape (KH, KW, C_in / groups, C_out)
        Same dtype; dilate it with :func:`dilate_kernel` first.
    groups : int
        ``C_in / w.shape[2]``; each group's channels are transformed and multiplied on their own.
    compute : np.float64 or np.float32
        The precision of the transforms and products. conv2d always passes float64; float32 is
        here so that the error study can measure what single precision would cost.

    Returns
    -------
    ndarray, shape (N, H - KH + 1, W - KW + 1, C_out), dtype of ``x``
        Computed in ``compute`` precision and rounded once to the input dtype.
    """
    n, h, width, c_in = x.shape
    kh, kw, c_group, c_out = w.shape
    out = _memory.empty((n, h - kh + 1, width - kw + 1, c_out), x.dtype)
    c_out_group = c_out // groups
    size = (scipy.fft.next_fast_len(h, real=True), scipy.fft.next_fast_len(width, real=True))
    freq_w = size[1] // 2 + 1
    # The flipped kernel, zero-filled to the transform size, transformed once per call.
    flipped = np.zeros((*size, c_group, c_out), dtype=compute)
    flipped[:kh, :kw] = w[::-1, ::-1]
    kernel_hat = scipy.fft.rfft2(flipped, axes=(0, 1))  # (H', W'//2+1, C_g, C_out)
    per_image = 2 * np.dtype(compute).itemsize * size[0] * freq_w * (c_in + c_out)
    chunk = max(1, min(n, _CHUNK_BYTES // max(1, per_image)))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        x_hat = scipy.fft.rfft2(x[start:stop].astype(compute), s=size, axes=(1, 2))  # (n, H', W'//2+1, C_in)
        for g in range(groups):
            # One (n x C_g) . (C_g x C_out_g) product per frequency: put the frequencies first.
            xs = x_hat[..., g * c_group : (g + 1) * c_group].transpose(1, 2, 0, 3)
            ks = kernel_hat[..., g * c_out_group : (g + 1) * c_out_group]
            y_hat = np.matmul(xs, ks).transpose(2, 0, 1, 3)  # (n, H', W'//2+1, C_out_g)
            y = scipy.fft.irfft2(y_hat, s=size, axes=(1, 2))
            out[start:stop, ..., g * c_out_group : (g + 1) * c_out_group] = y[:, kh - 1 : h, kw - 1 : width]
    return out

"""Conv2D's three convolutions (forward, filter gradient, input gradient) without the public ops'
argument checks, which a layer has already made: the same internal calls, on a geometry
validated once per input shape.

:func:`convops.conv2d` and its gradients spend 30-50 us per call validating and normalising
arguments (about 0.3 ms of a tutorial training step, eight calls); a layer knows its arrays are
float32/float64 NHWC of its own shapes. Each function here is the body the public op runs after
its checks, with ``algorithm="auto"``, so the results are the same bits (tests/test_nn_layer_kernels.py
compares them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convops import _algorithms
from convops.conv import _FORWARD, ConvGeometry, conv_geometry

_FILTER_GRAD_OP = "conv2d_backprop_filter"
_INPUT_GRAD_OP = "conv2d_backprop_input"


def geometry(
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    strides: tuple[int, int],
    padding: str,
    dilations: tuple[int, int],
    dtype: np.dtype,
) -> ConvGeometry:
    """The NHWC convolution's validated geometry (``padding`` "SAME" or "VALID")."""
    return conv_geometry(_FORWARD, x_shape, w_shape, None, strides, padding, dilations, "NHWC", dtype)


def forward(geo: ConvGeometry, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``conv2d(x, w)``: ``(N, H_out, W_out, C_out)`` in ``x``'s dtype (float32 or float64)."""
    return forward_fused(geo, x, w, None, False)[0]


def forward_fused(
    geo: ConvGeometry, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, relu: bool
) -> tuple[np.ndarray, bool]:
    """``conv2d(x, w)``, and ``+ bias`` then ``max(., 0)`` (with ``relu``) where "auto" runs the
    direct kernel, which applies them as it stores each sum: the layer's output is written once,
    with the bits of the conv then ``nn.bias_act_forward`` (tests compare them). Returns the output
    and whether the bias and ReLU were applied; where not (Winograd, the one-channel image filter,
    im2col for non-finite filters at the padding, empty arrays) the caller applies them."""
    out = np.empty((geo.n, *geo.out_hw, geo.c_out), dtype=geo.compute)
    if not out.size:
        return out, False
    if x.size == 0:
        out.fill(0)
        return out, False
    return _algorithms.run_conv_auto(geo, np.ascontiguousarray(x), np.ascontiguousarray(w), out, bias, relu)


def filter_grad(geo: ConvGeometry, x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """``conv2d_backprop_filter(x, w.shape, dy)``: ``(KH, KW, C_in / groups, C_out)``."""
    d_filters = np.empty((geo.kh, geo.kw, geo.c_group, geo.c_out), dtype=geo.compute)
    if dy.size and x.size and d_filters.size:
        _algorithms.run_filter_grad("auto", _FILTER_GRAD_OP, geo, x, dy, d_filters)
    else:
        d_filters.fill(0)
    return d_filters


def input_grad(geo: ConvGeometry, w: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """``conv2d_backprop_input(x.shape, w, dy)``: ``(N, H, W, C_in)``."""
    dx = np.empty((geo.n, geo.h, geo.w, geo.c_in), dtype=geo.compute)
    if dy.size and w.size and dx.size:
        _algorithms.run_input_grad("auto", _INPUT_GRAD_OP, geo, dy, w, dx)
    else:
        dx.fill(0)
    return dx

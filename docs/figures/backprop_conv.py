"""Backpropagation through a convolution: where each gradient goes (backprop-conv.rst).

The pool and pad figures are in ``backprop_pool_pad.py``, which shares this module's helpers.
Gradients live on the grid of the array they belong to: ``dy`` on the output's grid (drawn in the
output colour), ``dx`` on the input's (input colour), the filter gradient on the kernel's (kernel
colour). Signed gradients use the diverging map with a colour key. Every number is computed by
convops' gradient ops, and each figure checks its own construction against them.
"""

import numpy as np
from matplotlib.patches import Rectangle

import convops

from . import grammar as g
from .i18n import _

KERNEL = np.arange(1, 10, dtype=np.float64).reshape(3, 3)  # distinct taps: a flip is visible
DY3 = np.array([[1, 2, 0], [0, 1, 3], [2, 0, 1]], dtype=np.float64)
PIXEL = (1, 2)  # the input pixel followed on the conv backprop page


def check(got, want, what: str) -> None:
    """A figure's own construction must agree with convops' gradient op."""
    if not np.allclose(got, want, rtol=1e-12, atol=1e-12):
        raise AssertionError(f"{what}: the figure's construction {got} != convops {want}")


def frame(ax, x0, y0, h, w, colour, lw=2.0):
    ax.add_patch(Rectangle((x0, y0), w, h, fill=False, edgecolor=colour, linewidth=lw, zorder=4))


def fit(fig, width, height, scale=0.42):
    """Size the figure for a `width` x `height` cell diagram, at most MAX_WIDTH wide."""
    scale = min(scale, g.MAX_WIDTH / width)
    fig.set_size_inches(width * scale, height * scale)
    return fig


# ------------------------------------------------------------------ backprop-conv.rst
def pixel_collects():
    """One input pixel's gradient collects from every output whose window read it, each through
    the tap that read it: conv2d of a one-hot input gives exactly those weights."""
    i, j = PIXEL
    one_hot = np.zeros((5, 5))
    one_hot[i, j] = 1.0
    weights = convops.conv2d(one_hot, KERNEL)  # out[y, x] = the weight that read (i, j)
    # The same weights are what conv2d_backprop_input adds up: dx[i, j] = sum(dy * weights).
    dx = convops.conv2d_backprop_input((1, 5, 5, 1), KERNEL[:, :, None, None], DY3[None, :, :, None])
    check(float((DY3 * weights).sum()), dx[0, i, j, 0], "dx[i, j]")
    reached = weights != 0
    fig = g.figure(7.0, 3.4)
    ax = fig.add_axes([0, 0, 1, 1])
    top, xk, xo = 1.1, 6.6, 11.6
    width, height = 15.4, top + 5 + 1.3  # room for the caption centred under the outputs
    g.setup_axes(ax, width, height)
    g.grid(ax, one_hot, 0, top, g.INPUT_CMAP, 0, 1, numbers=False)
    g.window(ax, 0, 0, 3, 3, 0, top, lw=2.0)  # the window of output (0, 0)
    g.label(ax, 2.5, top - 0.3, _("input: pixel ({i}, {j})").format(i=i, j=j), g.INPUT)
    g.grid(ax, KERNEL, xk, top + 1, g.KERNEL_CMAP, 0, 9)
    frame(ax, xk, top + 1, 3, 3, g.WINDOW)
    g.label(ax, xk + 1.5, top + 0.7, _("kernel w"), g.WINDOW)
    g.grid(ax, weights, xo, top + 1, g.KERNEL_CMAP, 0, 9, blank=~reached)
    frame(ax, xo, top + 1, 3, 3, g.OUTPUT)
    g.highlight(ax, 0, 0, xo, top + 1)
    g.label(ax, xo + 1.5, top + 0.7, _("outputs that read it"), g.OUTPUT)
    g.symbol(ax, xo - 1.0, top + 2.5, "→")
    terms = " + ".join(f"{g._fmt(weights[a, b])}·dy[{a},{b}]" for a, b in zip(*np.nonzero(reached)))
    ax.text(0, top + 5.45, f"dx[{i},{j}] = {terms}", ha="left", va="top", fontsize=9.5, color=g.TEXT)
    ax.text(xo + 1.5, top + 4.2, _("(weight that read the pixel)"), ha="center", va="top", fontsize=9, color=g.TEXT)
    return fit(fig, width, height)


def _zero_inserted(dy: np.ndarray, stride: int) -> np.ndarray:
    """dy with stride - 1 zeros between neighbouring cells (the positions the strided conv skipped)."""
    out = np.zeros(((dy.shape[0] - 1) * stride + 1, (dy.shape[1] - 1) * stride + 1))
    out[::stride, ::stride] = dy
    return out


def full_correlation(stride: int = 1):
    """dx = full correlation of dy (zero-inserted for stride > 1, padded by KH - 1) with the kernel
    rotated by 180 degrees, checked against convops.conv2d_backprop_input."""
    kh, kw = KERNEL.shape
    dy = DY3 if stride == 1 else DY3[:2, :2]
    size = (dy.shape[0] - 1) * stride + kh  # the VALID conv's input side
    spread = _zero_inserted(dy, stride)
    pads = [[kh - 1, kh - 1], [kw - 1, kw - 1]]
    dyp = convops.pad(spread, pads)
    mask = convops.pad(np.zeros(spread.shape, bool), pads, constant_values=True)
    mask[kh - 1 : kh - 1 + spread.shape[0], kw - 1 : kw - 1 + spread.shape[1]] = _zero_inserted(
        np.zeros(dy.shape), stride
    ) != _zero_inserted(np.ones(dy.shape), stride)  # the inserted zeros
    rotated = KERNEL[::-1, ::-1]
    dx = convops.conv2d(dyp, rotated)
    want = convops.conv2d_backprop_input(
        (1, size, size, 1), KERNEL[:, :, None, None], dy[None, :, :, None], strides=stride
    )
    check(dx, want[0, :, :, 0], "full correlation with the rotated kernel")
    hp = dyp.shape[0]
    top = 1.1
    xk = hp + 1.6
    xo = xk + kw + 1.9
    width, height = xo + size + 0.2, top + hp + 1.1
    fig = g.figure(7.0, 3.5)
    ax = fig.add_axes([0, 0, 1, 1])
    g.setup_axes(ax, width, height)
    g.grid(ax, dyp, 0, top, g.OUTPUT_CMAP, 0, max(dy.max(), 1), pad_mask=mask)
    frame(ax, kh - 1, top + kh - 1, spread.shape[0], spread.shape[1], g.OUTPUT)
    name = _("dy, padded by 2") if stride == 1 else _("dy, zeros between, padded by 2")
    g.label(ax, hp / 2, top - 0.3, name, g.OUTPUT)
    g.grid(ax, rotated, xk, top, g.KERNEL_CMAP, 0, 9)
    frame(ax, xk, top, kh, kw, g.WINDOW)
    g.label(ax, xk + kw / 2, top - 0.3, _("w rotated 180°"), g.WINDOW)
    g.symbol(ax, xk - 0.8, top + kh / 2, "⋆", 20)
    g.symbol(ax, xo - 0.95, top + kh / 2, "=")
    g.grid(ax, dx, xo, top, g.INPUT_CMAP, 0, dx.max())
    frame(ax, xo, top, size, size, g.INPUT)
    g.label(ax, xo + size / 2, top - 0.3, f"dx {size}×{size}", g.INPUT)
    i, j = PIXEL
    g.window(ax, i, j, kh, kw, 0, top)
    g.highlight(ax, i, j, xo, top)
    patch = dyp[i : i + kh, j : j + kw]
    terms = " + ".join(f"{g._fmt(a)}·{g._fmt(b)}" for a, b in zip(patch.ravel(), rotated.ravel()) if a != 0)
    ax.text(
        0,
        top + hp + 0.35,
        f"dx[{i},{j}] = {terms} = {g._fmt(dx[i, j])}",
        ha="left",
        va="top",
        fontsize=9.5,
        color=g.TEXT,
    )
    return fit(fig, width, height)


X4 = np.array([[1, 0, 2, 1], [0, 3, 1, 0], [2, 1, 0, 2], [1, 2, 1, 0]], dtype=np.float64)
DY2 = np.array([[1, 2], [0, 1]], dtype=np.float64)


def filter_gradient():
    """dW = correlation of the input with dy (dy slides over x like a kernel)."""
    kh, kw = 3, 3
    dw = convops.conv2d(X4, DY2)  # dy used as the window
    want = convops.conv2d_backprop_filter(X4[None, :, :, None], (kh, kw, 1, 1), DY2[None, :, :, None])
    check(dw, want[:, :, 0, 0], "filter gradient as a correlation")
    top, xk = 1.5, 5.6
    xo = xk + 2 + 1.9
    width, height = xo + kw + 1.0, top + 4 + 1.4
    fig = g.figure(6.0, 3.0)
    ax = fig.add_axes([0, 0, 1, 1])
    g.setup_axes(ax, width, height)
    g.grid(ax, X4, 0, top, g.INPUT_CMAP, 0, 3)
    frame(ax, 0, top, 4, 4, g.INPUT)
    g.label(ax, 2, top - 0.3, _("input x"), g.INPUT)
    g.grid(ax, DY2, xk, top, g.OUTPUT_CMAP, 0, 2)
    frame(ax, xk, top, 2, 2, g.OUTPUT)
    g.label(ax, xk + 1, top - 0.3, "dy", g.OUTPUT)
    g.symbol(ax, xk - 0.8, top + 1, "⋆", 20)
    g.symbol(ax, xo - 0.95, top + 1, "=")
    g.grid(ax, dw, xo, top, g.KERNEL_CMAP, 0, dw.max())
    frame(ax, xo, top, kh, kw, g.WINDOW)
    g.label(ax, xo + kw / 2, top - 0.3, "dW (3×3)", g.WINDOW)
    a, b = 0, 1
    g.window(ax, a, b, 2, 2, 0, top, colour=g.OUTPUT)
    g.highlight(ax, a, b, xo, top)
    patch = X4[a : a + 2, b : b + 2]
    terms = " + ".join(f"{g._fmt(p)}·{g._fmt(d)}" for p, d in zip(patch.ravel(), DY2.ravel()))
    ax.text(
        0, top + 4.35, f"dW[{a},{b}] = {terms} = {g._fmt(dw[a, b])}", ha="left", va="top", fontsize=9.5, color=g.TEXT
    )
    return fit(fig, width, height)

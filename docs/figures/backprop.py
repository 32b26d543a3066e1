"""Backpropagation through a convolution, a pool and a pad: where each gradient goes.

Gradients live on the grid of the array they belong to: ``dy`` on the output's grid (drawn in the
output colour), ``dx`` on the input's (input colour), the filter gradient on the kernel's (kernel
colour). Signed gradients use the diverging map with a colour key. Every number is computed by
convops' gradient ops, and each figure checks its own construction against them.
"""

import numpy as np
from matplotlib.patches import FancyArrowPatch, Rectangle

import convops

from . import grammar as g

KERNEL = np.arange(1, 10, dtype=np.float64).reshape(3, 3)          # distinct taps: a flip is visible
DY3 = np.array([[1, 2, 0],
                [0, 1, 3],
                [2, 0, 1]], dtype=np.float64)
PIXEL = (1, 2)                                       # the input pixel followed on the conv backprop page


def _check(got, want, what: str) -> None:
    """A figure's own construction must agree with convops' gradient op."""
    if not np.allclose(got, want, rtol=1e-12, atol=1e-12):
        raise AssertionError(f"{what}: the figure's construction {got} != convops {want}")


def _frame(ax, x0, y0, h, w, colour, lw=2.0):
    ax.add_patch(Rectangle((x0, y0), w, h, fill=False, edgecolor=colour, linewidth=lw, zorder=4))


def _fit(fig, width, height, scale=0.42):
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
    weights = convops.conv2d(one_hot, KERNEL)                        # out[y, x] = the weight that read (i, j)
    # The same weights are what conv2d_backprop_input adds up: dx[i, j] = sum(dy * weights).
    dx = convops.conv2d_backprop_input((1, 5, 5, 1), KERNEL[:, :, None, None], DY3[None, :, :, None])
    _check(float((DY3 * weights).sum()), dx[0, i, j, 0], "dx[i, j]")
    reached = weights != 0
    fig = g.figure(7.0, 3.4)
    ax = fig.add_axes([0, 0, 1, 1])
    top, xk, xo = 1.1, 6.6, 11.6
    width, height = 15.0, top + 5 + 1.3
    g.setup_axes(ax, width, height)
    g.grid(ax, one_hot, 0, top, g.INPUT_CMAP, 0, 1, numbers=False)
    g.window(ax, 0, 0, 3, 3, 0, top, lw=2.0)                         # the window of output (0, 0)
    g.label(ax, 2.5, top - 0.3, f"input: pixel ({i}, {j})", g.INPUT)
    g.grid(ax, KERNEL, xk, top + 1, g.KERNEL_CMAP, 0, 9)
    _frame(ax, xk, top + 1, 3, 3, g.WINDOW)
    g.label(ax, xk + 1.5, top + 0.7, "kernel w", g.WINDOW)
    g.grid(ax, weights, xo, top + 1, g.KERNEL_CMAP, 0, 9, blank=~reached)
    _frame(ax, xo, top + 1, 3, 3, g.OUTPUT)
    g.highlight(ax, 0, 0, xo, top + 1)
    g.label(ax, xo + 1.5, top + 0.7, "outputs that read it", g.OUTPUT)
    g.symbol(ax, xo - 1.0, top + 2.5, "→")
    terms = " + ".join(f"{g._fmt(weights[a, b])}·dy[{a},{b}]" for a, b in zip(*np.nonzero(reached)))
    ax.text(0, top + 5.45, f"dx[{i},{j}] = {terms}", ha="left", va="top", fontsize=9.5, color=g.TEXT)
    ax.text(xo + 1.5, top + 4.2, "(weight that read the pixel)", ha="center", va="top", fontsize=9, color=g.TEXT)
    return _fit(fig, width, height)


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
    size = (dy.shape[0] - 1) * stride + kh                           # the VALID conv's input side
    spread = _zero_inserted(dy, stride)
    pads = [[kh - 1, kh - 1], [kw - 1, kw - 1]]
    dyp = convops.pad(spread, pads)
    mask = convops.pad(np.zeros(spread.shape, bool), pads, constant_values=True)
    mask[kh - 1:kh - 1 + spread.shape[0], kw - 1:kw - 1 + spread.shape[1]] = _zero_inserted(
        np.zeros(dy.shape), stride) != _zero_inserted(np.ones(dy.shape), stride)    # the inserted zeros
    rotated = KERNEL[::-1, ::-1]
    dx = convops.conv2d(dyp, rotated)
    want = convops.conv2d_backprop_input((1, size, size, 1), KERNEL[:, :, None, None], dy[None, :, :, None],
                                         strides=stride)
    _check(dx, want[0, :, :, 0], "full correlation with the rotated kernel")
    hp = dyp.shape[0]
    top = 1.1
    xk = hp + 1.6
    xo = xk + kw + 1.9
    width, height = xo + size + 0.2, top + hp + 1.1
    fig = g.figure(7.0, 3.5)
    ax = fig.add_axes([0, 0, 1, 1])
    g.setup_axes(ax, width, height)
    g.grid(ax, dyp, 0, top, g.OUTPUT_CMAP, 0, max(dy.max(), 1), pad_mask=mask)
    _frame(ax, kh - 1, top + kh - 1, spread.shape[0], spread.shape[1], g.OUTPUT)
    name = "dy, padded by 2" if stride == 1 else "dy, zeros between, padded by 2"
    g.label(ax, hp / 2, top - 0.3, name, g.OUTPUT)
    g.grid(ax, rotated, xk, top, g.KERNEL_CMAP, 0, 9)
    _frame(ax, xk, top, kh, kw, g.WINDOW)
    g.label(ax, xk + kw / 2, top - 0.3, "w rotated 180°", g.WINDOW)
    g.symbol(ax, xk - 0.8, top + kh / 2, "⋆", 20)
    g.symbol(ax, xo - 0.95, top + kh / 2, "=")
    g.grid(ax, dx, xo, top, g.INPUT_CMAP, 0, dx.max())
    _frame(ax, xo, top, size, size, g.INPUT)
    g.label(ax, xo + size / 2, top - 0.3, f"dx {size}×{size}", g.INPUT)
    i, j = PIXEL
    g.window(ax, i, j, kh, kw, 0, top)
    g.highlight(ax, i, j, xo, top)
    patch = dyp[i:i + kh, j:j + kw]
    terms = " + ".join(f"{g._fmt(a)}·{g._fmt(b)}" for a, b in zip(patch.ravel(), rotated.ravel()) if a != 0)
    ax.text(0, top + hp + 0.35, f"dx[{i},{j}] = {terms} = {g._fmt(dx[i, j])}", ha="left", va="top",
            fontsize=9.5, color=g.TEXT)
    return _fit(fig, width, height)


X4 = np.array([[1, 0, 2, 1],
               [0, 3, 1, 0],
               [2, 1, 0, 2],
               [1, 2, 1, 0]], dtype=np.float64)
DY2 = np.array([[1, 2],
                [0, 1]], dtype=np.float64)


def filter_gradient():
    """dW = correlation of the input with dy (dy slides over x like a kernel)."""
    kh, kw = 3, 3
    dw = convops.conv2d(X4, DY2)                                    # dy used as the window
    want = convops.conv2d_backprop_filter(X4[None, :, :, None], (kh, kw, 1, 1), DY2[None, :, :, None])
    _check(dw, want[:, :, 0, 0], "filter gradient as a correlation")
    top, xk = 1.5, 5.6
    xo = xk + 2 + 1.9
    width, height = xo + kw + 1.0, top + 4 + 1.4
    fig = g.figure(6.0, 3.0)
    ax = fig.add_axes([0, 0, 1, 1])
    g.setup_axes(ax, width, height)
    g.grid(ax, X4, 0, top, g.INPUT_CMAP, 0, 3)
    _frame(ax, 0, top, 4, 4, g.INPUT)
    g.label(ax, 2, top - 0.3, "input x", g.INPUT)
    g.grid(ax, DY2, xk, top, g.OUTPUT_CMAP, 0, 2)
    _frame(ax, xk, top, 2, 2, g.OUTPUT)
    g.label(ax, xk + 1, top - 0.3, "dy", g.OUTPUT)
    g.symbol(ax, xk - 0.8, top + 1, "⋆", 20)
    g.symbol(ax, xo - 0.95, top + 1, "=")
    g.grid(ax, dw, xo, top, g.KERNEL_CMAP, 0, dw.max())
    _frame(ax, xo, top, kh, kw, g.WINDOW)
    g.label(ax, xo + kw / 2, top - 0.3, "dW (3×3)", g.WINDOW)
    a, b = 0, 1
    g.window(ax, a, b, 2, 2, 0, top, colour=g.OUTPUT)
    g.highlight(ax, a, b, xo, top)
    patch = X4[a:a + 2, b:b + 2]
    terms = " + ".join(f"{g._fmt(p)}·{g._fmt(d)}" for p, d in zip(patch.ravel(), DY2.ravel()))
    ax.text(0, top + 4.35, f"dW[{a},{b}] = {terms} = {g._fmt(dw[a, b])}", ha="left", va="top", fontsize=9.5,
            color=g.TEXT)
    return _fit(fig, width, height)


# -------------------------------------------------------------- backprop-pool-pad.rst
POOL4 = np.array([[1, 3, 2, 0],
                  [4, 6, 1, 1],
                  [0, 2, 5, 7],
                  [3, 1, 8, 2]], dtype=np.float64)
POOL_DY = np.array([[1, -2],
                    [3, -1]], dtype=np.float64)


def _argmax_cells(x, ksize, strides, padding="VALID"):
    """(row, col) of the cell each window's gradient goes to, from convops.max_pool2d_with_argmax."""
    _, argmax = convops.max_pool2d_with_argmax(x[None, :, :, None], ksize, strides, padding)
    return [divmod(int(k), x.shape[1]) for k in argmax.ravel()]


def max_pool_routing():
    """A 4x4 input, its 2x2 max-pool, an upstream dy, and dx: each dy value lands on its window's
    maximum. Two rows (forward, backward) so that the cells stay large on a phone."""
    y = convops.max_pool2d(POOL4, 2, 2)
    dx = convops.max_pool2d_grad(POOL4[None, :, :, None], POOL_DY[None, :, :, None], 2, 2)[0, :, :, 0]
    winners = _argmax_cells(POOL4, 2, 2)
    lim = g.limit(POOL_DY)
    top, x_right = 1.1, 6.6
    row2 = top + 4 + 1.9
    width, height = x_right + 4.3, row2 + 4 + 1.3
    fig = g.figure(4.6, 5.0)
    ax = fig.add_axes([0, 0, 1, 1])
    g.setup_axes(ax, width, height)
    # forward: the input, its windows and their maxima, and the pooled output
    g.grid(ax, POOL4, 0, top, g.INPUT_CMAP, 0, 8)
    for a in range(2):
        for b in range(2):
            ax.add_patch(Rectangle((2 * b, top + 2 * a), 2, 2, fill=False, edgecolor=g.WINDOW, linewidth=1.6,
                                   zorder=5))
    for r, c in winners:
        g.highlight(ax, r, c, 0, top, lw=3)
    g.label(ax, 2, top - 0.3, "input x", g.INPUT)
    g.symbol(ax, x_right - 1.3, top + 2, "→")
    g.grid(ax, y, x_right, top + 1, g.OUTPUT_CMAP, 0, 8)
    _frame(ax, x_right, top + 1, 2, 2, g.OUTPUT)
    g.label(ax, x_right + 1, top + 0.7, "max_pool2d", g.OUTPUT)
    # backward: dy on the output's grid, dx on the input's
    g.grid(ax, POOL_DY, x_right, row2 + 1, g.SIGNED_CMAP, -lim, lim)
    _frame(ax, x_right, row2 + 1, 2, 2, g.OUTPUT)
    g.label(ax, x_right + 1, row2 + 0.7, "dy", g.OUTPUT)
    g.colour_key(ax, x_right - 0.5, row2 + 3.3, 3, lim)
    g.symbol(ax, x_right - 1.3, row2 + 2, "←")
    g.grid(ax, dx, 0, row2, g.SIGNED_CMAP, -lim, lim)
    _frame(ax, 0, row2, 4, 4, g.INPUT)
    for r, c in winners:
        g.highlight(ax, r, c, 0, row2, lw=3)
    g.label(ax, 0, row2 - 0.3, "dx = max_pool2d_grad", g.INPUT, ha="left")
    ax.text(0, row2 + 4.3, "each dy goes to its window's maximum;\nthe other cells get 0", ha="left", va="top",
            fontsize=9.5, color=g.TEXT)
    return _fit(fig, width, height)


OVERLAP5 = np.array([[1, 3, 2, 0, 4],
                     [4, 6, 1, 1, 2],
                     [0, 2, 9, 7, 1],
                     [3, 1, 8, 2, 6],
                     [2, 5, 0, 3, 11]], dtype=np.float64)
OVERLAP_DY = np.array([[1, 2],
                       [3, 4]], dtype=np.float64)


def overlapping_windows():
    """3x3 windows at stride 2 overlap: a cell that is the maximum of three windows collects three dy values."""
    dx = convops.max_pool2d_grad(OVERLAP5[None, :, :, None], OVERLAP_DY[None, :, :, None], 3, 2)[0, :, :, 0]
    cells = _argmax_cells(OVERLAP5, 3, 2)
    top = 1.5
    x_dy, x_dx = 7.4, 11.2
    width, height = x_dx + 5.2, top + 5 + 1.5
    fig = g.figure(7.0, 3.2)
    ax = fig.add_axes([0, 0, 1, 1])
    g.setup_axes(ax, width, height)
    g.grid(ax, OVERLAP5, 0, top, g.INPUT_CMAP, 0, 11)
    styles = ["-", "--", ":", "-."]
    for k, (a, b) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        inset = 0.06 + 0.07 * k
        ax.add_patch(Rectangle((2 * b + inset, top + 2 * a + inset), 3 - 2 * inset, 3 - 2 * inset, fill=False,
                               edgecolor=g.WINDOW, linewidth=1.8, linestyle=styles[k], zorder=5))
    for r, c in set(cells):
        g.highlight(ax, r, c, 0, top, colour=g.TEXT, lw=2.4)
    g.label(ax, 2.5, top - 0.3, "input x: four 3×3 windows", g.INPUT)
    g.grid(ax, OVERLAP_DY, x_dy, top + 1.5, g.OUTPUT_CMAP, 0, 4)
    _frame(ax, x_dy, top + 1.5, 2, 2, g.OUTPUT)
    g.label(ax, x_dy + 1, top + 1.2, "dy", g.OUTPUT)
    g.symbol(ax, x_dx - 0.9, top + 2.5, "→")
    g.grid(ax, dx, x_dx, top, g.INPUT_CMAP, 0, dx.max())
    _frame(ax, x_dx, top, 5, 5, g.INPUT)
    for r, c in set(cells):
        g.highlight(ax, r, c, x_dx, top, colour=g.TEXT, lw=2.4)
    g.label(ax, x_dx + 2.5, top - 0.3, "dx", g.INPUT)
    shared = max(set(cells), key=cells.count)
    names = [f"dy[{k // 2},{k % 2}]" for k, cell in enumerate(cells) if cell == shared]
    ax.text(0, top + 5.35, f"x[{shared[0]},{shared[1]}] = {g._fmt(OVERLAP5[shared])} wins {len(names)} windows: "
            f"dx[{shared[0]},{shared[1]}] = {' + '.join(names)} = {g._fmt(dx[shared])}",
            ha="left", va="top", fontsize=9.5, color=g.TEXT)
    return _fit(fig, width, height)


def avg_pool_spread():
    """Average pooling, 2x2 windows, stride 2, SAME on 3x3: each window spreads dy over its *real* cells."""
    dy = np.full((2, 2), 4.0)
    dx = convops.avg_pool2d_grad((1, 3, 3, 1), dy[None, :, :, None], 2, 2, "SAME")[0, :, :, 0]
    pads = convops.arithmetic.resolve_padding("SAME", 3, 2, 2)
    dxp = convops.pad(dx, [pads, pads])
    mask = convops.pad(np.zeros((3, 3), bool), [pads, pads], constant_values=True)
    top = 1.5
    x_dx = 4.2
    width, height = x_dx + 4.4 + 9.2, top + 4 + 0.3
    fig = g.figure(6.5, 2.9)
    ax = fig.add_axes([0, 0, 1, 1])
    g.setup_axes(ax, width, height)
    g.grid(ax, dy, 0, top + 1, g.OUTPUT_CMAP, 0, 4)
    _frame(ax, 0, top + 1, 2, 2, g.OUTPUT)
    g.label(ax, 1, top + 0.7, "dy", g.OUTPUT)
    g.symbol(ax, x_dx - 1.0, top + 2, "→")
    g.grid(ax, dxp, x_dx, top, g.INPUT_CMAP, 0, dx.max(), pad_mask=mask, pad_text="")
    for a in range(2):
        for b in range(2):
            ax.add_patch(Rectangle((x_dx + 2 * b, top + 2 * a), 2, 2, fill=False, edgecolor=g.WINDOW,
                                   linewidth=1.6, zorder=5))
    g.label(ax, x_dx + 1.5, top - 0.3, "dx (padding hatched)", g.INPUT)
    # the number of real cells of each window, from convops: the share of a dy of 1 is 1/count
    share = convops.avg_pool2d_grad((1, 3, 3, 1), np.ones((1, 2, 2, 1)), 2, 2, "SAME")[0, :, :, 0]
    lines = []
    for cell, what in [((0, 0), "window of {n} real cells"), ((0, 2), "windows of {n}"), ((2, 2), "window of {n}")]:
        n = round(1 / share[cell])
        lines.append(f"{what.format(n=n)}: {g._fmt(dy[0, 0])}/{n} = {g._fmt(dx[cell])} each")
    for k, text in enumerate(lines + ["padding gets nothing"]):
        ax.text(x_dx + 4.4, top + 0.5 + k * 1.0, text, ha="left", va="center", fontsize=9, color=g.TEXT)
    return _fit(fig, width, height)


def _arrow(ax, start, end, colour):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8, linewidth=1.0, color=colour,
                                 shrinkA=0, shrinkB=0, zorder=3))


def pad_fold():
    """pad_grad on a row of 3 padded by 2 on each side, three modes: every cell of dy is sent back to
    the input cell it was copied from (CONSTANT: the border was no copy, it is dropped)."""
    dy = np.arange(1, 8, dtype=np.float64)
    modes = ["CONSTANT", "REFLECT", "SYMMETRIC"]
    row_h = 4.2
    width, height = 8.0, row_h * len(modes) + 0.1
    fig = g.figure(3.6, 6.0)
    ax = fig.add_axes([0, 0, 1, 1])
    g.setup_axes(ax, width, height)
    for m, mode in enumerate(modes):
        y0 = m * row_h + 1.0
        dx = convops.pad_grad(dy, [[2, 2]], mode)
        # where each padded cell came from: pad the indices 0, 1, 2 themselves (-1 marks the constant)
        source = convops.pad(np.arange(3), [[2, 2]], mode, constant_values=-1)
        border = np.zeros(7, bool)
        border[[0, 1, 5, 6]] = True
        g.grid(ax, dy[None, :], 0.5, y0, g.OUTPUT_CMAP, 0, 7, pad_mask=border[None, :])
        g.grid(ax, dx[None, :], 2.5, y0 + 2.2, g.INPUT_CMAP, 0, 12)
        _frame(ax, 2.5, y0 + 2.2, 1, 3, g.INPUT)
        g.label(ax, 0.5, y0 - 0.15, f"{mode}: dy", g.OUTPUT, ha="left")
        for i, j in enumerate(source):
            if j < 0:
                ax.text(0.5 + i + 0.5, y0 + 1.35, "×", ha="center", va="center", fontsize=10, color=g.TEXT)
                continue
            _arrow(ax, (0.5 + i + 0.5, y0 + 1.0), (2.5 + j + 0.5, y0 + 2.2), g.WINDOW if border[i] else g.GRID_EDGE)
        ax.text(5.7, y0 + 2.7, "dx", ha="left", va="center", fontsize=9.5, color=g.INPUT, fontweight="bold")
    return _fit(fig, width, height, scale=0.45)


def pad_reflect_2d():
    """REFLECT by 1 on a 3x3 input: a dy of ones shows how many copies of each input cell the padded array holds."""
    dy = np.ones((5, 5))
    dx = convops.pad_grad(dy, [[1, 1], [1, 1]], "REFLECT")
    mask = convops.pad(np.zeros((3, 3), bool), [[1, 1], [1, 1]], constant_values=True)
    x = np.arange(1, 10, dtype=np.float64).reshape(3, 3)
    xp = convops.pad(x, [[1, 1], [1, 1]], "REFLECT")
    top = 1.5
    x_dx = 12.8
    width, height = x_dx + 3.2, top + 5 + 0.2
    fig = g.figure(6.5, 2.9)
    ax = fig.add_axes([0, 0, 1, 1])
    g.setup_axes(ax, width, height)
    g.grid(ax, xp, 0, top, g.INPUT_CMAP, 0, 9, pad_mask=mask)
    _frame(ax, 1, top + 1, 3, 3, g.INPUT)
    g.label(ax, 2.5, top - 0.3, "pad(x, 1, REFLECT)", g.INPUT)
    g.grid(ax, dy, 6.4, top, g.OUTPUT_CMAP, 0, 2, pad_mask=mask)
    g.label(ax, 8.9, top - 0.3, "dy = ones", g.OUTPUT)
    g.symbol(ax, x_dx - 0.9, top + 2.5, "→")
    g.grid(ax, dx, x_dx, top + 1, g.INPUT_CMAP, 0, dx.max())
    _frame(ax, x_dx, top + 1, 3, 3, g.INPUT)
    g.label(ax, x_dx + 1.5, top + 0.7, "dx", g.INPUT)
    return _fit(fig, width, height)

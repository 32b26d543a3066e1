"""Backpropagation through a pool and a pad: where each gradient goes (backprop-pool-pad.rst).

Max-pool routes each gradient to its window's first maximum, average-pool spreads it over the
window's real cells, pad folds the border's gradient back onto the cells it copied. Every number
is computed by convops' gradient ops, and each figure checks its own construction against them.
"""

import numpy as np
from matplotlib.patches import FancyArrowPatch, Rectangle

import convops

from . import grammar as g
from .backprop_conv import fit, frame  # one drawing style for both backprop pages
from .i18n import _

# -------------------------------------------------------------- backprop-pool-pad.rst
POOL4 = np.array([[1, 3, 2, 0], [4, 6, 1, 1], [0, 2, 5, 7], [3, 1, 8, 2]], dtype=np.float64)
POOL_DY = np.array([[1, -2], [3, -1]], dtype=np.float64)


def _argmax_cells(x, ksize, strides, padding="VALID"):
    """(row, col) of the cell each window's gradient goes to, from convops.max_pool2d_with_argmax."""
    _pooled, argmax = convops.max_pool2d_with_argmax(x[None, :, :, None], ksize, strides, padding)
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
            ax.add_patch(Rectangle((2 * b, top + 2 * a), 2, 2, fill=False, edgecolor=g.WINDOW, linewidth=1.6, zorder=5))
    for r, c in winners:
        g.highlight(ax, r, c, 0, top, lw=3)
    g.label(ax, 2, top - 0.3, _("input x"), g.INPUT)
    g.symbol(ax, x_right - 1.3, top + 2, "→")
    g.grid(ax, y, x_right, top + 1, g.OUTPUT_CMAP, 0, 8)
    frame(ax, x_right, top + 1, 2, 2, g.OUTPUT)
    g.label(ax, x_right + 1, top + 0.7, "max_pool2d", g.OUTPUT)
    # backward: dy on the output's grid, dx on the input's
    g.grid(ax, POOL_DY, x_right, row2 + 1, g.SIGNED_CMAP, -lim, lim)
    frame(ax, x_right, row2 + 1, 2, 2, g.OUTPUT)
    g.label(ax, x_right + 1, row2 + 0.7, "dy", g.OUTPUT)
    g.colour_key(ax, x_right - 0.5, row2 + 3.3, 3, lim)
    g.symbol(ax, x_right - 1.3, row2 + 2, "←")
    g.grid(ax, dx, 0, row2, g.SIGNED_CMAP, -lim, lim)
    frame(ax, 0, row2, 4, 4, g.INPUT)
    for r, c in winners:
        g.highlight(ax, r, c, 0, row2, lw=3)
    g.label(ax, 0, row2 - 0.3, "dx = max_pool2d_grad", g.INPUT, ha="left")
    ax.text(
        0,
        row2 + 4.3,
        _("each dy goes to its window's maximum;\nthe other cells get 0"),
        ha="left",
        va="top",
        fontsize=9.5,
        color=g.TEXT,
    )
    return fit(fig, width, height)


OVERLAP5 = np.array(
    [[1, 3, 2, 0, 4], [4, 6, 1, 1, 2], [0, 2, 9, 7, 1], [3, 1, 8, 2, 6], [2, 5, 0, 3, 11]], dtype=np.float64
)
OVERLAP_DY = np.array([[1, 2], [3, 4]], dtype=np.float64)


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
        ax.add_patch(
            Rectangle(
                (2 * b + inset, top + 2 * a + inset),
                3 - 2 * inset,
                3 - 2 * inset,
                fill=False,
                edgecolor=g.WINDOW,
                linewidth=1.8,
                linestyle=styles[k],
                zorder=5,
            )
        )
    for r, c in set(cells):
        g.highlight(ax, r, c, 0, top, colour=g.TEXT, lw=2.4)
    g.label(ax, 2.5, top - 0.3, _("input x: four 3×3 windows"), g.INPUT)
    g.grid(ax, OVERLAP_DY, x_dy, top + 1.5, g.OUTPUT_CMAP, 0, 4)
    frame(ax, x_dy, top + 1.5, 2, 2, g.OUTPUT)
    g.label(ax, x_dy + 1, top + 1.2, "dy", g.OUTPUT)
    g.symbol(ax, x_dx - 0.9, top + 2.5, "→")
    g.grid(ax, dx, x_dx, top, g.INPUT_CMAP, 0, dx.max())
    frame(ax, x_dx, top, 5, 5, g.INPUT)
    for r, c in set(cells):
        g.highlight(ax, r, c, x_dx, top, colour=g.TEXT, lw=2.4)
    g.label(ax, x_dx + 2.5, top - 0.3, "dx", g.INPUT)
    shared = max(set(cells), key=cells.count)
    names = [f"dy[{k // 2},{k % 2}]" for k, cell in enumerate(cells) if cell == shared]
    ax.text(
        0,
        top + 5.35,
        _("x[{r},{c}] = {value} wins {count} windows: dx[{r},{c}] = {terms} = {total}").format(
            r=shared[0],
            c=shared[1],
            value=g._fmt(OVERLAP5[shared]),
            count=len(names),
            terms=" + ".join(names),
            total=g._fmt(dx[shared]),
        ),
        ha="left",
        va="top",
        fontsize=9.5,
        color=g.TEXT,
    )
    return fit(fig, width, height)


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
    frame(ax, 0, top + 1, 2, 2, g.OUTPUT)
    g.label(ax, 1, top + 0.7, "dy", g.OUTPUT)
    g.symbol(ax, x_dx - 1.0, top + 2, "→")
    g.grid(ax, dxp, x_dx, top, g.INPUT_CMAP, 0, dx.max(), pad_mask=mask, pad_text="")
    for a in range(2):
        for b in range(2):
            ax.add_patch(
                Rectangle((x_dx + 2 * b, top + 2 * a), 2, 2, fill=False, edgecolor=g.WINDOW, linewidth=1.6, zorder=5)
            )
    g.label(ax, x_dx + 1.5, top - 0.3, _("dx (padding hatched)"), g.INPUT)
    # the number of real cells of each window, from convops: the share of a dy of 1 is 1/count
    share = convops.avg_pool2d_grad((1, 3, 3, 1), np.ones((1, 2, 2, 1)), 2, 2, "SAME")[0, :, :, 0]
    lines = []
    for cell, what in [
        ((0, 0), _("window of {n} real cells")),
        ((0, 2), _("windows of {n}")),
        ((2, 2), _("window of {n}")),
    ]:
        n = round(1 / share[cell])
        each = _("{what}: {dy}/{n} = {dx} each")
        lines.append(each.format(what=what.format(n=n), dy=g._fmt(dy[0, 0]), n=n, dx=g._fmt(dx[cell])))
    for k, text in enumerate(lines + [_("padding gets nothing")]):
        ax.text(x_dx + 4.4, top + 0.5 + k * 1.0, text, ha="left", va="center", fontsize=9, color=g.TEXT)
    return fit(fig, width, height)


def _arrow(ax, start, end, colour):
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=8, linewidth=1.0, color=colour, shrinkA=0, shrinkB=0, zorder=3
        )
    )


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
        frame(ax, 2.5, y0 + 2.2, 1, 3, g.INPUT)
        g.label(ax, 0.5, y0 - 0.15, f"{mode}: dy", g.OUTPUT, ha="left")
        for i, j in enumerate(source):
            if j < 0:
                ax.text(0.5 + i + 0.5, y0 + 1.35, "×", ha="center", va="center", fontsize=10, color=g.TEXT)
                continue
            _arrow(ax, (0.5 + i + 0.5, y0 + 1.0), (2.5 + j + 0.5, y0 + 2.2), g.WINDOW if border[i] else g.GRID_EDGE)
        ax.text(5.7, y0 + 2.7, "dx", ha="left", va="center", fontsize=9.5, color=g.INPUT, fontweight="bold")
    return fit(fig, width, height, scale=0.45)


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
    frame(ax, 1, top + 1, 3, 3, g.INPUT)
    g.label(ax, 2.5, top - 0.3, "pad(x, 1, REFLECT)", g.INPUT)
    g.grid(ax, dy, 6.4, top, g.OUTPUT_CMAP, 0, 2, pad_mask=mask)
    g.label(ax, 8.9, top - 0.3, _("dy = ones"), g.OUTPUT)
    g.symbol(ax, x_dx - 0.9, top + 2.5, "→")
    g.grid(ax, dx, x_dx, top + 1, g.INPUT_CMAP, 0, dx.max())
    frame(ax, x_dx, top + 1, 3, 3, g.INPUT)
    g.label(ax, x_dx + 1.5, top + 0.7, "dx", g.INPUT)
    return fit(fig, width, height)

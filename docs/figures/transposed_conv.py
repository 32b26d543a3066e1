"""docs/concepts/transposed-conv.rst: scatter, zero insertion, the output-size ambiguity, checkerboards.

Every output is computed by :func:`convops.conv2d_transpose` (and checked against the equivalent
views it is drawn as: the sum of scattered kernel copies, and the convolution of the zero-inserted,
padded input with the flipped kernel). The diagrams follow the conventions of Dumoulin and Visin,
*A guide to convolution arithmetic for deep learning* (arXiv:1603.07285); they are drawn here, not
copied.
"""

from __future__ import annotations

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.animation import PillowWriter
from matplotlib.patches import Rectangle

import convops
from convops import arithmetic

from . import grammar as g
from .i18n import _

#: The running example: a 3x3 input, a 3x3 kernel, stride 2, VALID: a 7x7 output.
X = np.array([[1, 2, 0], [0, 1, 3], [2, 0, 1]], dtype=np.float32)
W = np.array([[1, 2, 1], [0, 1, 0], [1, 0, 1]], dtype=np.float32)
S = 2


def transpose(x, w, size, stride=S, padding="VALID") -> np.ndarray:
    """conv2d_transpose of one 2-D map with one 2-D kernel, as a 2-D map."""
    out = convops.conv2d_transpose(
        np.asarray(x, np.float32)[None, :, :, None],
        np.asarray(w, np.float32)[:, :, None, None],
        (1, size, size, 1),
        strides=stride,
        padding=padding,
    )
    return out[0, :, :, 0]


def _size(i: int, k: int, stride: int = S) -> int:
    """The smallest VALID output size whose conv2d gives back `i`: s(i - 1) + k."""
    sizes = [o for o in range(1, stride * i + k + 1) if arithmetic.conv_output_size(o, k, stride=stride) == i]
    return sizes[0]


# ----------------------------------------------------------------------------------------------
# the scatter view, animated
def _scatter_frame(ax, done: int) -> tuple[float, float]:
    """Input cells 0 .. done-1 (row-major) have scattered their scaled kernel into the output;
    cell `done` is the one being scattered now (none when done == X.size)."""
    h, w = X.shape
    kh, kw = W.shape
    size = _size(h, kh)
    mask = (np.arange(X.size) <= done).reshape(X.shape)
    partial = transpose(np.where(mask, X, 0), W, size)  # convops, with the later cells zeroed
    top = 1.5
    xk = w + 1.4
    xc = xk + kw + 1.4
    xo = xc + kw + 1.4
    width, height = xo + size + 0.1, top + size + 1.3
    g.setup_axes(ax, width, height)
    g.grid(ax, X, 0, top, g.INPUT_CMAP, 0, float(X.max()))
    g.label(ax, w / 2, top - 0.3, _("input 3×3"), g.INPUT)
    g.grid(ax, W, xk, top, g.KERNEL_CMAP, 0, float(W.max()))
    ax.add_patch(Rectangle((xk, top), kw, kh, fill=False, edgecolor=g.WINDOW, linewidth=2.2, zorder=5))
    g.label(ax, xk + kw / 2, top - 0.3, _("kernel"), g.WINDOW)
    vmax = float(transpose(X, W, size).max())
    if done < X.size:
        i, j = divmod(done, w)
        g.highlight(ax, i, j, 0, top)
        copy = X[i, j] * W
        g.grid(ax, copy, xc, top, g.KERNEL_CMAP, 0, float(W.max() * X.max()))
        g.label(ax, xc + kw / 2, top - 0.3, _("{v} × kernel").format(v=g._fmt(X[i, j])), g.WINDOW)
        g.symbol(ax, xc - 0.7, top + kh / 2, "→")
        g.grid(ax, partial, xo, top, g.OUTPUT_CMAP, 0, vmax)
        g.window(ax, i * S, j * S, kh, kw, xo, top)
        caption = _("input[{i},{j}] = {v} adds {v} × kernel to output rows {r0}–{r1}, columns {c0}–{c1}").format(
            i=i, j=j, v=g._fmt(X[i, j]), r0=i * S, r1=i * S + kh - 1, c0=j * S, c1=j * S + kw - 1
        )
    else:
        g.grid(ax, partial, xo, top, g.OUTPUT_CMAP, 0, vmax)
        caption = _("every input cell has added its copy: overlapping copies add up")
    g.label(ax, xo + size / 2, top - 0.3, _("output {size}×{size}").format(size=size), g.OUTPUT)
    ax.text(0, top + size + 0.45, caption, ha="left", va="top", fontsize=10, color=g.TEXT)
    ax.text(
        0,
        0.05,
        _("transposed convolution, stride {s}: each input cell paints a scaled kernel").format(s=S),
        ha="left",
        va="top",
        fontsize=11,
        fontweight="bold",
        color=g.TEXT,
    )
    return width, height


def anim_scatter(path) -> None:
    """GIF: each of the 9 input cells scatters its scaled kernel into the 7x7 output, then the sum."""
    # the scatter view must be what conv2d_transpose computes: sum of shifted, scaled kernels
    size = _size(X.shape[0], W.shape[0])
    by_hand = np.zeros((size, size), np.float32)
    for (i, j), v in np.ndenumerate(X):
        by_hand[i * S : i * S + W.shape[0], j * S : j * S + W.shape[1]] += v * W
    if not np.array_equal(by_hand, transpose(X, W, size)):
        raise AssertionError("conv2d_transpose differs from the sum of scattered kernels")
    fig = plt.figure()
    ax = fig.add_axes([0, 0, 1, 1])
    width, height = _scatter_frame(ax, 0)
    scale = min(0.42, g.MAX_WIDTH / width)
    fig.set_size_inches(width * scale, height * scale)
    writer = PillowWriter(fps=1.2)
    with writer.saving(fig, str(path), dpi=90):
        for done in range(X.size + 1):
            ax.clear()
            _scatter_frame(ax, done)
            writer.grab_frame()
    plt.close(fig)


# ----------------------------------------------------------------------------------------------
# the same thing as a convolution: zero insertion, padding, flipped kernel
def zero_insertion():
    """Insert s - 1 zeros between input cells, pad k - 1 on every side, slide the flipped kernel."""
    h, w = X.shape
    kh, kw = W.shape
    size = _size(h, kh)
    spread = np.zeros(((h - 1) * S + 1, (w - 1) * S + 1), np.float32)
    spread[::S, ::S] = X
    padded, pad_mask = g.padded(spread, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    flipped = W[::-1, ::-1]
    out = convops.conv2d(padded, flipped)
    if not np.array_equal(out, transpose(X, W, size)):
        raise AssertionError("zero insertion + padding + flipped kernel differs from conv2d_transpose")
    inserted = np.zeros(padded.shape, bool)
    inserted[kh - 1 : kh - 1 + spread.shape[0], kw - 1 : kw - 1 + spread.shape[1]] = True
    inserted[kh - 1 :: S, kw - 1 :: S][:h, :w] = False
    top = 1.9
    n = padded.shape[0]
    xk = n + 1.5
    xo = xk + kw + 1.6
    width, height = xo + size + 0.1, top + n + 0.3
    scale = min(0.42, g.MAX_WIDTH / width)
    fig = plt.figure(figsize=(width * scale, height * scale))
    ax = fig.add_axes([0, 0, 1, 1])
    g.setup_axes(ax, width, height)
    g.grid(ax, padded, 0, top, g.INPUT_CMAP, 0, float(X.max()), pad_mask=pad_mask)
    for i, j in zip(*np.nonzero(inserted)):  # the inserted zeros: dotted, so they read as "new"
        ax.add_patch(
            Rectangle(
                (j + 0.1, top + i + 0.1),
                0.8,
                0.8,
                fill=False,
                edgecolor=g.INPUT,
                linestyle=":",
                linewidth=1.2,
                zorder=4,
            )
        )
    g.label(ax, 0, top - 0.3, _("input, spread out and padded"), g.INPUT, size=10, ha="left")
    g.grid(ax, flipped, xk, top, g.KERNEL_CMAP, 0, float(W.max()))
    ax.add_patch(Rectangle((xk, top), kw, kh, fill=False, edgecolor=g.WINDOW, linewidth=2.2, zorder=5))
    g.label(ax, xk + kw / 2, top - 0.3, _("flipped"), g.WINDOW)
    g.symbol(ax, xk - 0.8, top + kh / 2, "⋆", 22)
    g.symbol(ax, xo - 0.9, top + kh / 2, "=")
    g.grid(ax, out, xo, top, g.OUTPUT_CMAP, 0, float(out.max()))
    g.label(ax, xo + size / 2, top - 0.3, _("output {size}×{size}").format(size=size), g.OUTPUT)
    i, j = 2, 3  # one window, and the output cell it gives
    g.window(ax, i, j, kh, kw, 0, top)
    g.highlight(ax, i, j, xo, top)
    ax.text(
        0,
        0.05,
        _("the same {size}×{size} result as an ordinary stride-1 convolution").format(size=size),
        ha="left",
        va="top",
        fontsize=11,
        fontweight="bold",
        color=g.TEXT,
    )
    return fig


# ----------------------------------------------------------------------------------------------
# why output_shape is needed
def output_shape_ambiguity():
    """conv2d maps 5x5 and 6x6 to 2x2 (kernel 3, stride 2): its transpose must be told which."""
    x = np.array([[1, 2], [3, 4]], np.float32)
    k = np.ones((3, 3), np.float32)
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.6))
    for ax, size in zip(axes, (5, 6)):
        back = arithmetic.conv_output_size(size, 3, stride=S)
        out = transpose(x, k, size)
        unread = np.zeros((size, size), bool)
        last = (back - 1) * S + 3  # rows and columns any window reaches
        unread[last:, :] = True
        unread[:, last:] = True
        g.setup_axes(ax, size, size)
        g.grid(ax, out, 0, 0, g.OUTPUT_CMAP, 0, 10)
        for i, j in zip(*np.nonzero(unread)):
            ax.add_patch(
                Rectangle(
                    (j, i), 1, 1, fill=False, edgecolor=g.PAD_EDGE, hatch=g.CHANGED_HATCH, linewidth=0.6, zorder=3
                )
            )
        ax.set_title(
            _("output_shape {size}×{size}\nconv2d maps {size} → {back}").format(size=size, back=back), fontsize=10
        )
        ax.set_xlim(-0.1, 6.1)
        ax.set_ylim(6.1, -0.1)
    fig.suptitle(_("conv2d_transpose of the same 2×2 input, kernel 3×3 of ones, stride 2, VALID"), fontsize=10.5)
    fig.text(
        0.5,
        0.03,
        _("Cross-hatched: the row and column that no window of the forward conv2d reads; they get nothing back."),
        ha="center",
        fontsize=9,
    )
    fig.subplots_adjust(left=0.02, right=0.98, top=0.8, bottom=0.1, wspace=0.1)
    return fig


# ----------------------------------------------------------------------------------------------
# checkerboard artefacts
def checkerboard():
    """A constant 5x5 input, a constant kernel, stride 2, SAME: the overlap counts for k = 3 and 4."""
    ones = np.ones((5, 5), np.float32)
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 4.0))
    for ax, k in zip(axes, (3, 4)):
        out = transpose(ones, np.ones((k, k), np.float32), 10, padding="SAME")
        g.setup_axes(ax, 10, 10)
        g.grid(ax, out, 0, 0, g.OUTPUT_CMAP, 0, 4)
        if k % S:
            title = _("kernel {k}×{k}, stride {s}: {k} is not a multiple of {s}")
        else:
            title = _("kernel {k}×{k}, stride {s}: {k} is a multiple of {s}")
        ax.set_title(title.format(k=k, s=S), fontsize=10)
    fig.suptitle(_("conv2d_transpose of a 5×5 input of ones with a kernel of ones (SAME): 10×10"), fontsize=10.5)
    fig.text(
        0.5,
        0.02,
        _("Each number: how many scattered kernel copies overlap on that output pixel."),
        ha="center",
        fontsize=9,
    )
    fig.subplots_adjust(left=0.02, right=0.98, top=0.86, bottom=0.07, wspace=0.08)
    return fig


def checkerboard_digit():
    """Upsampling a real MNIST digit 14x14 -> 28x28 with stride 2: kernel 3 (uneven) vs 4 (even)."""
    small = convops.avg_pool2d(g.digit(3), 2, 2)  # 28x28 -> 14x14
    fig, axes = plt.subplots(1, 3, figsize=(7.2, 2.9))
    axes[0].imshow(small, cmap=g.INPUT_CMAP, vmin=0, vmax=1)
    axes[0].set_title(_("input 14×14"), fontsize=10, color=g.INPUT)
    # kernels of equal weights summing to 4 (= stride²): on average each output pixel gets 1 x input
    ups = {k: transpose(small, np.full((k, k), 4 / k**2, np.float32), 28, padding="SAME") for k in (3, 4)}
    top = max(float(up.max()) for up in ups.values())
    for ax, (k, up) in zip(axes[1:], ups.items()):
        image = ax.imshow(up, cmap=g.OUTPUT_CMAP, vmin=0, vmax=top)
        ax.set_title(_("28×28, kernel {k}×{k}").format(k=k), fontsize=10, color=g.OUTPUT)
    for ax in axes:
        g.plain(ax)
    fig.subplots_adjust(left=0.01, right=0.9, top=0.88, bottom=0.03, wspace=0.06)
    bar = fig.colorbar(image, cax=fig.add_axes([0.92, 0.08, 0.02, 0.75]))
    bar.ax.tick_params(labelsize=g.MIN_FONT, length=2)
    return fig

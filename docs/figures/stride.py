"""docs/concepts/stride.rst: stride: skipped positions, the output size formula, rows floored away."""

import numpy as np
from matplotlib import pyplot as plt

import convops
from convops import arithmetic

from . import grammar as g
from .i18n import _

# Digits whose nine stride-2 windows all give different outputs, so that the animation shows
# which window makes which cell (an arithmetic pattern, i * 7 % 10, gave 20 in every one).
X7 = np.random.default_rng(14).integers(0, 10, (7, 7)).astype(np.float32)
BOX = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], np.float32)


def used_pixels(height: int, width: int, k: int, stride: int) -> np.ndarray:
    """Which input pixels any output depends on, found by conv2d on a batch of one-hot images."""
    eye = np.eye(height * width, dtype=np.float32).reshape(height * width, height, width, 1)
    out = convops.conv2d(eye, np.ones((k, k, 1, 1), np.float32), strides=stride)
    return out.reshape(height * width, -1).sum(axis=1).reshape(height, width)


def stride_windows():
    """Stride 1 vs 2 on 7 x 7 (every pixel used), and stride 2 on 8 x 8 (the last row is dropped)."""
    fig, axes = plt.subplots(1, 3, figsize=(g.MAX_WIDTH, 3.9), gridspec_kw={"width_ratios": [7, 7, 8]})
    for ax, (size, s) in zip(axes, [(7, 1), (7, 2), (8, 2)]):
        count = used_pixels(size, size, 3, s)
        out = arithmetic.conv_output_size(size, 3, stride=s)
        g.setup_axes(ax, size, size)
        g.grid(ax, count, 0, 0, g.INPUT_CMAP, 0, 9, numbers=True)
        for i in range(size):
            for j in range(size):
                if count[i, j] == 0:  # read by no window: white, crossed out
                    ax.add_patch(
                        plt.Rectangle((j, i), 1, 1, facecolor="white", edgecolor=g.TEXT, hatch="xx", linewidth=0.6)
                    )
        for i in range(out):  # the windows on the diagonal, alternately solid and dashed
            g.window(ax, i * s, i * s, 3, 3, lw=2)
            ax.patches[-1].set_linestyle("-" if i % 2 == 0 else "--")
        ax.set_title(
            _("{size}×{size}, stride {s}\n→ {out}×{out}:  ⌊({size} − 3) / {s}⌋ + 1").format(size=size, s=s, out=out),
            fontsize=9.5,
        )
        ax.set_anchor("N")
    fig.text(
        0.5,
        0.02,
        _(
            "Numbers: how many windows read each pixel (3×3 kernel). Windows drawn: the diagonal\n"
            "ones. Crossed-out cells: pixels no window reads."
        ),
        ha="center",
        fontsize=9.5,
    )
    fig.subplots_adjust(left=0.01, right=0.99, top=0.86, bottom=0.13, wspace=0.1)
    return fig


def anim_stride(path):
    info = g.sliding_window(X7, kernel=BOX, strides=(2, 2))
    g.animate(info, path, _("stride 2: the window jumps two cells; 7×7 → 3×3"), fps=1.4)


def output_sizes():
    """Output size against input size for stride 1, 2, 3 (kernel 3, VALID), from convops.arithmetic."""
    sizes = np.arange(3, 21)
    fig, ax = plt.subplots(figsize=(g.MAX_WIDTH, 3.4))
    for s, colour, style in zip((1, 2, 3), (g.OUTPUT, g.WINDOW, g.INPUT), ("-", "--", ":")):
        ax.step(
            sizes,
            [arithmetic.conv_output_size(int(i), 3, stride=s) for i in sizes],
            where="mid",
            color=colour,
            label=_("stride {s}").format(s=s),
            lw=2.2,
            linestyle=style,
        )
    ax.set_xlabel(_("input size i (kernel k = 3, VALID)"))
    ax.set_ylabel(_("output size o"))
    ax.set_xticks(sizes[::1])
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    ax.set_title(_("o = ⌊(i − k) / s⌋ + 1: flat steps are input sizes\nwhose last rows are floored away"), fontsize=10)
    fig.tight_layout()
    return fig

"""Page 6: stride: skipped positions, the output size formula, rows floored away."""

import numpy as np
from matplotlib import pyplot as plt

import convops
from convops import arithmetic

from . import grammar as g

X7 = (np.arange(49).reshape(7, 7) * 7 % 10).astype(np.float32)
BOX = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], np.float32)


def used_pixels(height: int, width: int, k: int, stride: int) -> np.ndarray:
    """Which input pixels any output depends on, found by conv2d on a batch of one-hot images."""
    eye = np.eye(height * width, dtype=np.float32).reshape(height * width, height, width, 1)
    out = convops.conv2d(eye, np.ones((k, k, 1, 1), np.float32), strides=stride)
    return out.reshape(height * width, -1).sum(axis=1).reshape(height, width)


def stride_windows():
    """Stride 1 vs 2 on 7 x 7 (every pixel used), and stride 2 on 8 x 8 (the last row is dropped)."""
    fig, axes = plt.subplots(1, 3, figsize=(8.4, 3.9))
    for ax, (size, s) in zip(axes, [(7, 1), (7, 2), (8, 2)]):
        count = used_pixels(size, size, 3, s)
        out = arithmetic.conv_output_size(size, 3, stride=s)
        g.setup_axes(ax, size, size)
        g.grid(ax, count, 0, 0, g.INPUT_CMAP, 0, 9, numbers=True, fontsize=8)
        for i in range(size):
            for j in range(size):
                if count[i, j] == 0:
                    ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor="#fde0dd", edgecolor="#c51b7d",
                                               hatch="xx", linewidth=0.6))
        colours = ["#e8710a", "#7b3294", "#1b7837", "#c51b7d"]
        for i in range(out):
            g.window(ax, i * s, i * s, 3, 3, colour=colours[i % 4], lw=2)
        ax.set_title(f"{size}×{size}, 3×3 kernel, stride {s} → {out}×{out}\n"
                     f"⌊({size} − 3) / {s}⌋ + 1 = {out}", fontsize=9.5)
    fig.text(0.5, 0.02, "Numbers: how many windows read each pixel. Windows drawn: the diagonal ones. "
             "Pink ×: pixels no window reads.", ha="center", fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.84, bottom=0.08, wspace=0.08)
    return fig


def anim_stride(path):
    info = g.sliding_window(X7, kernel=BOX, strides=(2, 2))
    g.animate(info, path, "stride 2: the window jumps two cells; 7×7 → 3×3", fps=1.4)


def output_sizes():
    """Output size against input size for stride 1, 2, 3 (kernel 3, VALID), from convops.arithmetic."""
    sizes = np.arange(3, 21)
    fig, ax = plt.subplots(figsize=(7, 3))
    for s, colour in zip((1, 2, 3), (g.OUTPUT, g.WINDOW, "#7b3294")):
        ax.step(sizes, [arithmetic.conv_output_size(int(i), 3, stride=s) for i in sizes], where="mid",
                color=colour, label=f"stride {s}", lw=2)
    ax.set_xlabel("input size i (kernel k = 3, VALID)")
    ax.set_ylabel("output size o")
    ax.set_xticks(sizes[::1])
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    ax.set_title("o = ⌊(i − k) / s⌋ + 1: flat steps are input sizes whose last rows are floored away",
                 fontsize=9.5)
    fig.tight_layout()
    return fig

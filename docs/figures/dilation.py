"""Page 7: dilation: a kernel with holes, k_eff = (k - 1)·d + 1."""

import numpy as np
from matplotlib import pyplot as plt

import convops
from convops import arithmetic

from . import grammar as g

X7 = (np.arange(49).reshape(7, 7) * 3 % 10).astype(np.float32)
CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.float32)


def taps():
    fig, axes = plt.subplots(1, 3, figsize=(8.4, 3.8))
    for ax, d in zip(axes, (1, 2, 3)):
        k_eff = arithmetic.effective_kernel_size(3, d)
        out = arithmetic.conv_output_size(7, 3, dilation=d)
        result = convops.conv2d(X7, np.ones((3, 3), np.float32), dilations=d)
        g.setup_axes(ax, 7, 7)
        g.grid(ax, X7, 0, 0, g.INPUT_CMAP, 0, 9, fontsize=8)
        g.window(ax, 0, 0, 3, 3, dilation=(d, d))
        assert result.shape == (out, out)   # the op and the arithmetic agree
        ax.set_title(f"dilations={d}: k_eff = {k_eff}\noutput {out}×{out}, 9 weights", fontsize=9.5)
    fig.text(0.5, 0.02, "Orange squares: the 9 taps of a 3×3 kernel; the outline: the span it covers.",
             ha="center", fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.84, bottom=0.08, wspace=0.08)
    return fig


def anim_dilation(path):
    info = g.sliding_window(X7, kernel=CROSS, dilations=(2, 2))
    g.animate(info, path, "dilation 2: the 3×3 kernel spans 5×5; 7×7 → 3×3", fps=1.4)


def digit_dilated():
    """A vertical-edge kernel at dilation 1, 2, 3 on a digit: wider context, same 9 weights."""
    x = g.digit(0)
    kernel = np.array([[-1, 0, 1]] * 3, np.float32)
    fig, axes = plt.subplots(1, 4, figsize=(8.4, 2.5))
    axes[0].imshow(x, cmap=g.INPUT_CMAP, vmin=0, vmax=1)
    axes[0].set_title("digit 28×28", fontsize=9.5, color=g.INPUT)
    for ax, d in zip(axes[1:], (1, 2, 3)):
        out = convops.conv2d(x, kernel, dilations=d)
        lim = np.abs(out).max()
        ax.imshow(out, cmap=g.SIGNED_OUTPUT_CMAP, vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_title(f"dilations={d}: {out.shape[0]}×{out.shape[1]}", fontsize=9.5, color=g.OUTPUT)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig

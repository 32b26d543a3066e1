"""Page 4: response maps of hand-made filters on real handwritten digits."""

import numpy as np
from matplotlib import pyplot as plt

import convops

from . import grammar as g

# name: (integer weights, scale) — written as integers so the figure can print them
FILTERS = {
    "vertical edge": ([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], 1),
    "horizontal edge": ([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], 1),
    "diagonal ↘": ([[0, 1, 1], [-1, 0, 1], [-1, -1, 0]], 1),
    "diagonal ↗": ([[1, 1, 0], [1, 0, -1], [0, -1, -1]], 1),
    "box blur": ([[1, 1, 1], [1, 1, 1], [1, 1, 1]], 9),
    "Gaussian blur": ([[1, 2, 1], [2, 4, 2], [1, 2, 1]], 16),
    "sharpen": ([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], 1),
    "outline": ([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], 1),
}


def bank() -> np.ndarray:
    """The filters above as one HWIO bank (3, 3, 1, 8)."""
    return np.stack([np.asarray(w, np.float32) / scale for w, scale in FILTERS.values()], axis=-1)[:, :, None, :]


def response_maps(label: int = 7):
    """Eight hand-made 3 x 3 filters on one digit: one conv2d call with a (3, 3, 1, 8) bank."""
    x = g.digit(label)
    maps = convops.conv2d(x[None, :, :, None], bank())[0]          # (26, 26, 8)
    fig = plt.figure(figsize=(8.4, 5.8))
    gs = fig.add_gridspec(4, 5, height_ratios=[0.55, 1, 0.55, 1], width_ratios=[1.3, 1, 1, 1, 1], hspace=0.35,
                          wspace=0.15, left=0.01, right=0.99, top=0.85, bottom=0.02)
    fig.suptitle("Rows 1 and 3: each 3×3 kernel (purple < 0 < orange).\nRows 2 and 4: its 26×26 response map "
                 "(pink < 0 < green).", fontsize=10)
    ax0 = fig.add_subplot(gs[1:3, 0])
    ax0.imshow(x, cmap=g.INPUT_CMAP, vmin=0, vmax=1)
    ax0.set_title(f"digit {label}, 28×28", fontsize=9.5, color=g.INPUT)
    ax0.set_xticks([])
    ax0.set_yticks([])
    for c, (name, (weights, scale)) in enumerate(FILTERS.items()):
        row, col = 2 * (c // 4), 1 + c % 4
        kax = fig.add_subplot(gs[row, col])
        weights = np.asarray(weights, np.float32)
        g.setup_axes(kax, 3, 3)
        klim = np.abs(weights).max()
        g.grid(kax, weights, 0, 0, g.SIGNED_KERNEL_CMAP, -klim, klim, fontsize=8)
        kax.set_title(name + (f" (÷{scale})" if scale != 1 else ""), fontsize=9, color=g.WINDOW)
        rax = fig.add_subplot(gs[row + 1, col])
        lim = np.abs(maps[..., c]).max()
        rax.imshow(maps[..., c], cmap=g.SIGNED_OUTPUT_CMAP, vmin=-lim, vmax=lim, interpolation="nearest")
        rax.set_xticks([])
        rax.set_yticks([])
    return fig


def same_filter_everywhere():
    """One filter (horizontal edge, then ReLU) on ten different digits: it fires on the same pattern."""
    kernel = np.asarray(FILTERS["horizontal edge"][0], np.float32)[:, :, None, None]
    digits = np.stack([g.digit(d, 1) for d in range(10)])[..., None]        # (10, 28, 28, 1)
    maps = np.maximum(convops.conv2d(digits, kernel), 0)[..., 0]          # ReLU keeps the positive part
    fig, axes = plt.subplots(2, 10, figsize=(8.4, 2.2))
    for d in range(10):
        axes[0, d].imshow(digits[d, ..., 0], cmap=g.INPUT_CMAP, vmin=0, vmax=1)
        axes[1, d].imshow(maps[d], cmap=g.OUTPUT_CMAP, vmin=0, vmax=maps.max())
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("input", fontsize=9, color=g.INPUT)
    axes[1, 0].set_ylabel("ReLU(response)", fontsize=9, color=g.OUTPUT)
    fig.suptitle("The 'top edge of a stroke' filter on ten digits: one batch, one conv2d call", fontsize=10)
    fig.tight_layout()
    return fig

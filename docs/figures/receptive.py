"""Page 9: receptive-field growth in the tutorial's network, computed and checked empirically."""

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.patches import Rectangle

import convops
from convops import arithmetic

from . import grammar as g

# The tutorial's network along one axis: conv 3, pool 2, conv 3, pool 2, conv 3.
LAYERS = [(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)]
NAMES = ["conv1", "pool1", "conv2", "pool2", "conv3"]
UNITS = [13, 6, 5, 2, 1]   # a unit near the middle of each layer's output (26, 13, 11, 5, 3)
COLOURS = ["#e8710a", "#7b3294", "#1b7837", "#c51b7d", "#2166ac"]


def field_box(layer: int) -> tuple[int, int]:
    """(first input row, size) of the field of unit UNITS[layer], from convops.arithmetic."""
    rf = arithmetic.receptive_fields(LAYERS)[layer]
    centre = rf.start + UNITS[layer] * rf.jump
    return int(centre - (rf.size - 1) / 2), rf.size


def influence(base: np.ndarray, bump: float = 100.0) -> list[np.ndarray]:
    """For each layer, the input pixels whose change changes that layer's middle unit.

    One forward pass of a batch of 1 + 784 images (the base, then the base with one pixel
    raised) through the real ops with all-ones 3 x 3 kernels: with positive weights a large
    bump anywhere in a unit's field wins every max-pool on its way and reaches the unit, and a
    bump outside the field cannot."""
    h, w = base.shape
    batch = np.repeat(base[None, :, :, None].astype(np.float64), h * w + 1, axis=0)
    batch[1:, :, :, 0] += bump * np.eye(h * w).reshape(h * w, h, w)
    ones = np.ones((3, 3, 1, 1))
    masks = []
    act = batch
    for (k, s), unit in zip(LAYERS, UNITS):
        act = convops.conv2d(act, ones) if s == 1 else convops.max_pool2d(act, k, s)
        value = act[:, unit, unit, 0]
        masks.append((value[1:] != value[0]).reshape(h, w))
    return masks


def growth():
    x = g.digit(8)
    fields = arithmetic.receptive_fields(LAYERS)
    fig = plt.figure(figsize=(8.4, 3.9))
    ax = fig.add_axes([0.0, 0.02, 0.5, 0.9])
    g.setup_axes(ax, 40, 28)
    g.image(ax, x, 0, 0, g.INPUT_CMAP, 0, 1)
    for layer in range(5):
        first, size = field_box(layer)
        ax.add_patch(Rectangle((first, first), size, size, fill=False, edgecolor=COLOURS[layer], lw=2.2))
        label_y = 4 + 4.5 * layer
        ax.plot([first + size, 29.5], [first, label_y], color=COLOURS[layer], lw=1)
        ax.text(29.8, label_y, f"{NAMES[layer]}: {size}×{size}", color=COLOURS[layer], fontsize=9, va="center",
                fontweight="bold")
    ax.set_title("Field of each layer's middle unit, on the input", fontsize=9.5, loc="left")
    tab = fig.add_axes([0.53, 0.1, 0.46, 0.75])
    tab.axis("off")
    rows = [["layer", "kernel/stride", "output", "size r", "jump j"]]
    size = 28
    for (k, s), name, rf in zip(LAYERS, NAMES, fields):
        size = arithmetic.conv_output_size(size, k, s)
        rows.append([name, f"{k} / {s}", f"{size}×{size}", f"{rf.size}", f"{rf.jump}"])
    table = tab.table(cellText=rows[1:], colLabels=rows[0], loc="center", cellLoc="center")
    table.scale(1, 1.6)
    table.set_fontsize(9.5)
    tab.set_title("r_out = r_in + (k − 1)·j_in,   j_out = j_in·s\n(convops.arithmetic.receptive_fields)",
                  fontsize=9.5)
    return fig


def empirical():
    x = g.digit(8)
    masks = influence(x + 0.5)
    fig, axes = plt.subplots(1, 5, figsize=(8.4, 2.6))
    for layer, (ax, mask) in enumerate(zip(axes, masks)):
        first, size = field_box(layer)
        ax.imshow(x, cmap=g.INPUT_CMAP, vmin=0, vmax=1.6, interpolation="nearest")
        overlay = np.zeros((28, 28, 4))
        overlay[mask] = (0.91, 0.44, 0.04, 0.55)
        ax.imshow(overlay, interpolation="nearest")
        ax.add_patch(Rectangle((first - 0.5, first - 0.5), size, size, fill=False, edgecolor=COLOURS[layer], lw=2))
        if NAMES[layer] == "conv2":
            ax.add_patch(Rectangle((first - 0.5 + 0.5, first - 0.5 + 0.5), 7, 7, fill=False, edgecolor="black",
                                   lw=1.2, linestyle="--"))
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        ax.set_title(f"{NAMES[layer]}: {mask.sum()} pixels\n= {rows.size}×{cols.size}", fontsize=9.5)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Orange: input pixels that change the unit when raised (measured through the real ops).\n"
                 "Outline: the field predicted by convops.arithmetic. Dashed: the tutorial's 7×7.", fontsize=9.5)
    fig.tight_layout(rect=(0, 0, 1, 0.88))
    return fig

"""docs/concepts/receptive-field.rst: receptive-field growth in the tutorial's network, computed and checked."""

import matplotlib
import numpy as np
from matplotlib import pyplot as plt
from matplotlib.patches import Rectangle

import convops
from convops import arithmetic

from . import grammar as g
from .i18n import _

# The tutorial's network along one axis: conv 3, pool 2, conv 3, pool 2, conv 3.
LAYERS = [(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)]
NAMES = ["conv1", "pool1", "conv2", "pool2", "conv3"]
UNITS = [13, 6, 5, 2, 1]  # a unit near the middle of each layer's output (26, 13, 11, 5, 3)
# every field is a window of the input: the kernel's colour, told apart by dash and direct labels
STYLES = ["-", "--", "-.", ":", "-"]


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
    fig = plt.figure(figsize=(g.MAX_WIDTH, 6.6))
    ax = fig.add_axes([0.01, 0.4, 0.7, 0.53])
    g.setup_axes(ax, 44, 28)
    g.image(ax, x, 0, 0, g.INPUT_CMAP, 0, 1.8)  # a light digit: the fields' outlines stand out
    for layer in range(5):
        first, size = field_box(layer)
        ax.add_patch(
            Rectangle(
                (first, first),
                size,
                size,
                fill=False,
                edgecolor=g.WINDOW,
                lw=1.4 + 0.4 * layer,
                linestyle=STYLES[layer],
            )
        )
        label_y = 3 + 5.2 * (4 - layer)  # largest field on top: the leader lines do not cross
        ax.plot([first + size, 30.5], [first, label_y], color=g.WINDOW, lw=0.8)
        ax.text(
            31, label_y, f"{NAMES[layer]}: {size}×{size}", color=g.TEXT, fontsize=10, va="center", fontweight="bold"
        )
    fig.text(
        0.01, 0.985, _("Field of each layer's middle unit, on the input"), fontsize=10.5, fontweight="bold", va="top"
    )
    tab = fig.add_axes([0.02, 0.02, 0.96, 0.3])
    tab.axis("off")
    rows = [[_("layer"), _("kernel / stride"), _("output"), _("field size r"), _("jump j")]]
    size = 28
    for (k, s), name, rf in zip(LAYERS, NAMES, fields):
        size = arithmetic.conv_output_size(size, k, s)
        rows.append([name, f"{k} / {s}", f"{size}×{size}", f"{rf.size}", f"{rf.jump}"])
    table = tab.table(cellText=rows[1:], colLabels=rows[0], loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    table.scale(1, 1.5)
    tab.set_title("r_out = r_in + (k − 1)·j_in,   j_out = j_in·s   (convops.arithmetic.receptive_fields)", fontsize=10)
    return fig


def empirical():
    x = g.digit(8)
    masks = influence(x + 0.5)
    fig, axes = plt.subplots(1, 5, figsize=(g.MAX_WIDTH, 2.75))
    for layer, (ax, mask) in enumerate(zip(axes, masks)):
        first, size = field_box(layer)
        ax.imshow(x, cmap=g.INPUT_CMAP, vmin=0, vmax=1.6)
        overlay = np.zeros((28, 28, 4))
        overlay[mask] = (*matplotlib.colors.to_rgb(g.WINDOW), 0.6)
        ax.imshow(overlay)
        ax.add_patch(Rectangle((first - 0.5, first - 0.5), size, size, fill=False, edgecolor="black", lw=1.6))
        if NAMES[layer] == "conv2":
            ax.add_patch(
                Rectangle(
                    (first - 0.5 + 0.5, first - 0.5 + 0.5), 7, 7, fill=False, edgecolor="black", lw=1.2, linestyle="--"
                )
            )
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        ax.set_title(f"{NAMES[layer]}: {mask.sum()} px\n= {rows.size}×{cols.size}", fontsize=9.5)
        g.plain(ax)
    fig.suptitle(
        _(
            "Vermillion: input pixels that change the unit when raised (measured through the real ops).\n"
            "Outline: the field predicted by convops.arithmetic. Dashed: the tutorial's 7×7."
        ),
        fontsize=9.5,
    )
    fig.subplots_adjust(left=0.01, right=0.99, top=0.68, bottom=0.03, wspace=0.08)
    return fig

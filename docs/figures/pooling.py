"""docs/concepts/pooling.rst: pooling: max and average, 26 x 26 -> 13 x 13, borders, NaN, no parameters."""

import numpy as np
from matplotlib import pyplot as plt

import convops

from . import grammar as g
from .i18n import _

X4 = np.array([[1, 3, 2, 0], [4, 6, 1, 1], [0, 2, 5, 7], [3, 1, 8, 2]], np.float32)
X5 = np.array([[1, 3, 2, 0, 4], [4, 6, 1, 1, 2], [0, 2, 5, 7, 1], [3, 1, 8, 2, 6], [2, 9, 0, 3, 5]], np.float32)


def _stacked(infos, step: int, scale: float = 0.42):
    """Sliding-window diagrams one above the other, all at the same cell size (so sizes compare)."""
    fig = plt.figure()
    sizes = []
    for index, (info, title) in enumerate(infos):
        ax = fig.add_axes([0, 0, 1, 1], label=str(index))
        sizes.append((ax, *g.draw_step(ax, info, step, title)))
    width = max(w for _, w, _ in sizes)
    height = sum(h for _, _, h in sizes) + 0.4 * (len(sizes) - 1)
    scale = min(scale, g.MAX_WIDTH / width)
    fig.set_size_inches(width * scale, height * scale)
    y = height
    for ax, w, h in sizes:
        y -= h
        ax.set_position([0, y / height, w / width, h / height])
        y -= 0.4
    return fig


def max_vs_avg():
    infos = [
        (g.sliding_window(X4, ksize=(2, 2), strides=(2, 2), pool="max"), "max_pool2d(x, 2, 2)"),
        (g.sliding_window(X4, ksize=(2, 2), strides=(2, 2), pool="avg"), "avg_pool2d(x, 2, 2)"),
    ]
    return _stacked(infos, 3)


def anim_max_pool(path):
    info = g.sliding_window(X4, ksize=(2, 2), strides=(2, 2), pool="max")
    g.animate(info, path, _("max pooling 2×2, stride 2: keep the largest value"), fps=1.2)


def borders():
    """SAME pooling on 5 x 5: padded cells never win the max and are not counted by the mean."""
    infos = [
        (
            g.sliding_window(X5, ksize=(2, 2), strides=(2, 2), padding="SAME", pool="max"),
            _("max, SAME: the last window holds 1 real cell"),
        ),
        (
            g.sliding_window(X5, ksize=(2, 2), strides=(2, 2), padding="SAME", pool="avg"),
            _("avg, SAME: divide by the real cells only"),
        ),
    ]
    return _stacked(infos, 8)


def digit_pooling():
    """The tutorial's step: a 26 x 26 feature map max-pooled to 13 x 13 (and average-pooled), every
    map drawn to the same pixel size so that the halving shows."""
    x = g.digit(3, 2)
    kernel = np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], np.float32)
    fmap = np.maximum(convops.conv2d(x, kernel), 0)  # conv + ReLU: 26 x 26
    pooled_max = convops.max_pool2d(fmap, 2, 2)
    pooled_avg = convops.avg_pool2d(fmap, 2, 2)
    top = float(fmap.max())
    panels = [
        (x, _("digit") + "\n28×28", g.INPUT_CMAP, 1.0, g.INPUT),
        (fmap, f"ReLU(conv)\n{fmap.shape[0]}×{fmap.shape[1]}", g.OUTPUT_CMAP, top, g.OUTPUT),
        (pooled_max, f"max_pool2d\n→ {pooled_max.shape[0]}×{pooled_max.shape[1]}", g.OUTPUT_CMAP, top, g.OUTPUT),
        (pooled_avg, f"avg_pool2d\n→ {pooled_avg.shape[0]}×{pooled_avg.shape[1]}", g.OUTPUT_CMAP, top, g.OUTPUT),
    ]
    fig, axes = plt.subplots(
        1, 4, figsize=(g.MAX_WIDTH, 2.7), gridspec_kw={"width_ratios": [d.shape[1] for d, *_ in panels], "wspace": 0.12}
    )
    for ax, (data, title, cmap, vmax, colour) in zip(axes, panels):
        ax.imshow(data, cmap=cmap, vmin=0, vmax=vmax)
        ax.set_title(title, fontsize=9.5, color=colour)
        ax.set_anchor("S")
        g.plain(ax)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.78, bottom=0.03)
    return fig

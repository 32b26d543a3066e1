"""Page 8: pooling: max and average, 26 x 26 -> 13 x 13, borders, NaN, no parameters."""

import numpy as np
from matplotlib import pyplot as plt

import convops

from . import grammar as g

X4 = np.array([[1, 3, 2, 0],
               [4, 6, 1, 1],
               [0, 2, 5, 7],
               [3, 1, 8, 2]], np.float32)
X5 = np.array([[1, 3, 2, 0, 4],
               [4, 6, 1, 1, 2],
               [0, 2, 5, 7, 1],
               [3, 1, 8, 2, 6],
               [2, 9, 0, 3, 5]], np.float32)


def max_vs_avg():
    infos = [(g.sliding_window(X4, ksize=(2, 2), strides=(2, 2), pool="max"), "max_pool2d(x, 2, 2)"),
             (g.sliding_window(X4, ksize=(2, 2), strides=(2, 2), pool="avg"), "avg_pool2d(x, 2, 2)")]
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 2.9))
    for ax, (info, title) in zip(axes, infos):
        g.draw_step(ax, info, 3, title)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01, wspace=0.1)
    return fig


def anim_max_pool(path):
    info = g.sliding_window(X4, ksize=(2, 2), strides=(2, 2), pool="max")
    g.animate(info, path, "max pooling 2×2, stride 2: keep the largest value", fps=1.2)


def borders():
    """SAME pooling on 5 x 5: padded cells never win the max and are not counted by the mean."""
    infos = [(g.sliding_window(X5, ksize=(2, 2), strides=(2, 2), padding="SAME", pool="max"),
              "max, SAME: the last window holds 1 real cell"),
             (g.sliding_window(X5, ksize=(2, 2), strides=(2, 2), padding="SAME", pool="avg"),
              "avg, SAME: divide by the real cells only")]
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.1))
    for ax, (info, title) in zip(axes, infos):
        g.draw_step(ax, info, 8, title)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01, wspace=0.1)
    return fig


def digit_pooling():
    """The tutorial's step: a 26 x 26 feature map max-pooled to 13 x 13 (and average-pooled)."""
    x = g.digit(3, 2)
    kernel = np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], np.float32)
    fmap = np.maximum(convops.conv2d(x, kernel), 0)                     # conv + ReLU: 26 x 26
    pooled_max = convops.max_pool2d(fmap, 2, 2)
    pooled_avg = convops.avg_pool2d(fmap, 2, 2)
    fig, axes = plt.subplots(1, 4, figsize=(8.4, 2.5), gridspec_kw={"width_ratios": [28, 26, 26, 26]})
    top = fmap.max()
    for ax, data, title, cmap, vmax in [
            (axes[0], x, "digit 28×28", g.INPUT_CMAP, 1),
            (axes[1], fmap, f"ReLU(conv) {fmap.shape[0]}×{fmap.shape[1]}", g.OUTPUT_CMAP, top),
            (axes[2], pooled_max, f"max_pool2d → {pooled_max.shape[0]}×{pooled_max.shape[1]}", g.OUTPUT_CMAP, top),
            (axes[3], pooled_avg, f"avg_pool2d → {pooled_avg.shape[0]}×{pooled_avg.shape[1]}", g.OUTPUT_CMAP, top)]:
        ax.imshow(data, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=9.5)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig

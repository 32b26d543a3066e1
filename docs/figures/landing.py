"""The landing page's one picture: what convops is."""

import numpy as np
from matplotlib import pyplot as plt

import convops

from . import grammar as g


def overview():
    x = g.digit(7, 1)
    kernel = np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], np.float32)   # "top edge of a stroke"
    padded = convops.pad(x, [[2, 2], [2, 2]])
    fmap = convops.conv2d(padded, kernel)
    relu = np.maximum(fmap, 0)
    pooled = convops.max_pool2d(relu, 2, 2)
    fig = plt.figure(figsize=(8.4, 3.2))
    steps = [(x, "a real MNIST digit", f"{x.shape[0]}×{x.shape[1]}", g.INPUT_CMAP, 0, None),
             (padded, "convops.pad", f"{padded.shape[0]}×{padded.shape[1]}", g.INPUT_CMAP, 0, None),
             (fmap, "convops.conv2d", f"{fmap.shape[0]}×{fmap.shape[1]}", g.SIGNED_OUTPUT_CMAP, None, None),
             (pooled, "convops.max_pool2d\n(after ReLU)", f"{pooled.shape[0]}×{pooled.shape[1]}", g.OUTPUT_CMAP, 0, None)]
    width = 0.2
    for i, (data, title, shape, cmap, vmin, _) in enumerate(steps):
        ax = fig.add_axes([0.02 + i * 0.25, 0.1, width, 0.6])
        lim = np.abs(data).max()
        ax.imshow(data, cmap=cmap, vmin=-lim if vmin is None else vmin, vmax=lim, interpolation="nearest")
        if i == 1:
            ax.add_patch(plt.Rectangle((-0.5, -0.5), data.shape[1], data.shape[0], fill=False, hatch="////",
                                       edgecolor=g.PAD_EDGE, lw=0))
            ax.add_patch(plt.Rectangle((1.5, 1.5), 28, 28, facecolor="none", edgecolor=g.INPUT, lw=1))
            ax.imshow(x, cmap=cmap, vmin=0, vmax=1, extent=(1.5, 29.5, 29.5, 1.5), interpolation="nearest")
            ax.set_xlim(-0.5, 31.5)
            ax.set_ylim(31.5, -0.5)
        if i == 2:
            g.window(ax, 9.5, 11.5, 3, 3, 0, 0, lw=1.8)
        ax.set_title(title, fontsize=9.5, fontweight="bold",
                     color=[g.INPUT, g.TEXT, g.OUTPUT, g.OUTPUT][i], family="monospace" if i else None)
        ax.set_xlabel(shape, fontsize=9.5)
        ax.set_xticks([])
        ax.set_yticks([])
        if i < 3:
            fig.text(0.02 + i * 0.25 + width + 0.025, 0.45, "→", fontsize=22, ha="center", va="center")
    fig.text(0.5, 0.985, "convops: a CNN's operations in Cython, with TensorFlow's numbers —\n"
             "and every picture on this site is drawn by them", ha="center", va="top", fontsize=10.5)
    return fig


def legend():
    """The visual grammar used by every figure of the site, drawn with the same helpers."""
    fig, ax = g.canvas(27, 2.6, scale=0.32, title_space=0.05)
    items = [
        (lambda x: g.grid(ax, np.array([[1, 5]]), x, 0.6, g.INPUT_CMAP, 0, 6), "input"),
        (lambda x: g.grid(ax, np.array([[-1, 1]]), x, 0.6, g.KERNEL_CMAP, -1, 1), "kernel"),
        (lambda x: (g.grid(ax, np.array([[2, 3]]), x, 0.6, g.INPUT_CMAP, 0, 6),
                    g.window(ax, 0, 0, 1, 2, x, 0.6)), "kernel window"),
        (lambda x: g.grid(ax, np.array([[0, 0]]), x, 0.6, pad_mask=np.ones((1, 2), bool)), "padding"),
        (lambda x: g.grid(ax, np.array([[2, 7]]), x, 0.6, g.OUTPUT_CMAP, 0, 8), "output"),
    ]
    x = 0.2
    for draw, name in items:
        draw(x)
        ax.text(x + 1, 2.3, name, ha="center", va="center", fontsize=9.5)
        x += 4.2
    g.grid(ax, np.array([[-2, 2]]), x, 0.6, g.SIGNED_OUTPUT_CMAP, -2, 2)
    ax.text(x + 1, 2.3, "signed map", ha="center", va="center", fontsize=9.5)
    return fig

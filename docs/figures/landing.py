"""The landing page's one picture: what convops is."""

import numpy as np
from matplotlib import pyplot as plt

import convops

from . import grammar as g
from .i18n import _


def overview():
    x = g.digit(7, 1)
    kernel = np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], np.float32)  # "top edge of a stroke"
    padded = convops.pad(x, [[2, 2], [2, 2]])
    fmap = convops.conv2d(padded, kernel)
    relu = np.maximum(fmap, 0)
    pooled = convops.max_pool2d(relu, 2, 2)
    steps = [
        (x, _("a real\nMNIST digit"), g.INPUT_CMAP, g.INPUT),
        (padded, "convops.\npad", g.INPUT_CMAP, g.INPUT),
        (fmap, "convops.\nconv2d", g.SIGNED_CMAP, g.OUTPUT),
        (pooled, "convops.\nmax_pool2d", g.OUTPUT_CMAP, g.OUTPUT),
    ]
    # drawn to scale: one pixel is the same size in every panel
    fig, axes = plt.subplots(
        1, 4, figsize=(g.MAX_WIDTH, 3.3), gridspec_kw={"width_ratios": [d.shape[1] for d, *_ in steps], "wspace": 0.35}
    )
    for i, (ax, (data, title, cmap, colour)) in enumerate(zip(axes, steps)):
        if cmap == g.SIGNED_CMAP:
            lim = g.limit(data)
            im = ax.imshow(data, cmap=cmap, vmin=-lim, vmax=lim)
        else:
            ax.imshow(data, cmap=cmap, vmin=0, vmax=max(float(data.max()), 1e-9))
        if i == 1:  # the padding: hatched, around the digit
            h, w = data.shape
            ax.add_patch(
                plt.Rectangle((-0.5, -0.5), w, h, facecolor=g.PAD_FACE, hatch=g.PAD_HATCH, edgecolor=g.PAD_EDGE, lw=0)
            )
            ax.imshow(x, cmap=cmap, vmin=0, vmax=1, extent=(1.5, 29.5, 29.5, 1.5), zorder=2)
            ax.add_patch(plt.Rectangle((1.5, 1.5), 28, 28, facecolor="none", edgecolor=g.INPUT, lw=1, zorder=3))
            ax.set_xlim(-0.5, w - 0.5)
            ax.set_ylim(h - 0.5, -0.5)
        if i == 2:
            g.window(ax, 9.5, 11.5, 3, 3, 0, 0, lw=1.8)
        ax.set_title(title, fontsize=9.5, fontweight="bold", color=colour)
        ax.set_xlabel(f"{data.shape[0]}×{data.shape[1]}" + ("\n" + _("after ReLU") if i == 3 else ""), fontsize=9.5)
        ax.set_anchor("N")
        g.plain(ax)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.72, bottom=0.2)
    for i in range(3):  # arrows between the panels
        left, right = axes[i].get_position().x1, axes[i + 1].get_position().x0
        fig.text((left + right) / 2, 0.48, "→", fontsize=18, ha="center", va="center")
    box = axes[2].get_position()
    g.colorbar(
        im,
        axes[2],
        orientation="horizontal",
        ticks=[-lim, 0, lim],
        format=g._tick,
        cax=fig.add_axes([box.x0, 0.06, box.width, 0.03]),
    )
    fig.text(
        0.5,
        0.985,
        _(
            "convops: a CNN's operations in Cython, with TensorFlow's numbers;\n"
            "every concept diagram on this site is drawn by them"
        ),
        ha="center",
        va="top",
        fontsize=10.5,
    )
    return fig


def legend():
    """The visual grammar used by every figure of the site, drawn with the same helpers. Narrow (two
    rows of three, then the signed map) so that it stays legible on a phone."""
    fig, ax = g.canvas(14.2, 9.4, scale=0.33, title_space=0.05)
    items = [
        (lambda x, y: g.grid(ax, np.array([[1, 5]]), x, y, g.INPUT_CMAP, 0, 6), _("input")),
        (
            lambda x, y: (
                g.grid(ax, np.array([[1, 3]]), x, y, g.KERNEL_CMAP, 0, 3),
                ax.add_patch(plt.Rectangle((x, y), 2, 1, fill=False, edgecolor=g.WINDOW, lw=2.2)),
            ),
            _("kernel"),
        ),
        (
            lambda x, y: (g.grid(ax, np.array([[2, 3]]), x, y, g.INPUT_CMAP, 0, 6), g.window(ax, 0, 0, 1, 2, x, y)),
            _("kernel window"),
        ),
        (lambda x, y: g.grid(ax, np.array([[0, 0]]), x, y, pad_mask=np.ones((1, 2), bool)), _("padding")),
        (lambda x, y: g.grid(ax, np.array([[2, 7]]), x, y, g.OUTPUT_CMAP, 0, 8), _("output")),
        (
            lambda x, y: (
                ax.add_patch(plt.Rectangle((x, y), 1, 1, facecolor=g.SAME, edgecolor="white")),
                ax.add_patch(
                    plt.Rectangle(
                        (x + 1, y), 1, 1, facecolor=g.CHANGED, edgecolor=g.CHANGED_EDGE, hatch=g.CHANGED_HATCH
                    )
                ),
            ),
            _("same / changed"),
        ),
    ]
    for index, (draw, name) in enumerate(items):
        x, y = 0.6 + 5.0 * (index % 3), 0.3 + 2.9 * (index // 3)
        draw(x, y)
        ax.text(x + 1, y + 1.45, name, ha="center", va="center", fontsize=10)
    # the signed map: any array with negative values (a kernel, a response), with its colour key
    g.grid(ax, np.array([[-2, -1, 0, 1, 2]]), 0.6, 6.0, g.SIGNED_CMAP, -2, 2)
    g.colour_key(ax, 6.6, 6.3, 5, 2)
    ax.text(
        0.6,
        7.5,
        _("signed values, kernels and outputs alike:\npurple < 0 < green, always with a colour bar"),
        ha="left",
        va="top",
        fontsize=10,
    )
    return fig

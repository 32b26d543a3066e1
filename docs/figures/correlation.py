"""docs/concepts/correlation.rst: cross-correlation (what conv2d computes) vs convolution (the kernel flipped)."""

import numpy as np
from matplotlib import pyplot as plt

import convops

from . import grammar as g
from .i18n import _

IMPULSE = np.zeros((5, 5), np.float32)
IMPULSE[2, 2] = 1
KERNEL = np.arange(1, 10, dtype=np.float32).reshape(3, 3)


def impulse():
    """An impulse shows the difference: correlation stamps the kernel upside down."""
    corr = convops.conv2d(IMPULSE, KERNEL, padding="SAME")
    conv = convops.conv2d(IMPULSE, KERNEL[::-1, ::-1].copy(), padding="SAME")  # convolution = flipped kernel
    fig, ax = g.canvas(30, 8.4, scale=0.25, title_space=0.05)
    top = 2.1
    g.grid(ax, IMPULSE, 0, top, g.INPUT_CMAP, 0, 1)
    g.label(ax, 2.5, top - 0.3, _("input:\none bright pixel"), g.INPUT)
    g.grid(ax, KERNEL, 7, top + 1, g.KERNEL_CMAP, 0, 9)
    g.label(ax, 8.5, top + 0.7, _("kernel w"), g.WINDOW)
    g.grid(ax, corr, 13, top, g.OUTPUT_CMAP, 0, 9)
    g.label(ax, 15.5, top - 0.3, _("conv2d:\ncross-correlation"), g.OUTPUT)
    ax.text(15.5, top + 5.3, _("kernel appears flipped"), ha="center", va="top", fontsize=9.5)
    g.grid(ax, conv, 22.5, top, g.OUTPUT_CMAP, 0, 9)
    g.label(ax, 25, top - 0.3, _("true convolution\n(flip w first)"), g.OUTPUT)
    ax.text(25, top + 5.3, _("kernel appears as written"), ha="center", va="top", fontsize=9.5)
    return fig


def digit_flip():
    """On a real digit an antisymmetric kernel changes sign under flipping."""
    x = g.digit(4)
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
    corr = convops.conv2d(x, sobel)
    conv = convops.conv2d(x, sobel[::-1, ::-1].copy())
    lim = g.limit(corr)
    fig, axes = plt.subplots(1, 3, figsize=(g.MAX_WIDTH, 3.1))
    axes[0].imshow(x, cmap=g.INPUT_CMAP, vmin=0, vmax=1)
    axes[0].set_title(_("digit 28×28"), fontsize=9.5, color=g.INPUT)
    g.plain(axes[0])
    for ax, data, title in [
        (axes[1], corr, _("cross-correlation\n(convops.conv2d)")),
        (axes[2], conv, _("convolution\n(flipped kernel)")),
    ]:
        im = g.signed_image(ax, data, lim, bar=False)
        ax.set_title(title, fontsize=9.5, color=g.OUTPUT)
    g.colorbar(im, list(axes[1:]), _("response"), ticks=[-lim, 0, lim], format=g._tick, shrink=0.85)
    fig.suptitle(_("Sobel x kernel: flipping it negates the response (purple < 0 < green)"), fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.9, top=0.76, bottom=0.03, wspace=0.08)
    return fig

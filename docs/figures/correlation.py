"""Page 2: cross-correlation (what conv2d computes) vs convolution (the kernel flipped)."""

import numpy as np
from matplotlib import pyplot as plt

import convops

from . import grammar as g

IMPULSE = np.zeros((5, 5), np.float32)
IMPULSE[2, 2] = 1
KERNEL = np.arange(1, 10, dtype=np.float32).reshape(3, 3)


def impulse():
    """An impulse shows the difference: correlation stamps the kernel upside down."""
    corr = convops.conv2d(IMPULSE, KERNEL, padding="SAME")
    conv = convops.conv2d(IMPULSE, KERNEL[::-1, ::-1].copy(), padding="SAME")  # convolution = flipped kernel
    fig, ax = g.canvas(31, 8.2, scale=0.28)
    top = 1.6
    g.grid(ax, IMPULSE, 0, top, g.INPUT_CMAP, 0, 1)
    g.label(ax, 2.5, top - 0.25, "input: one bright pixel", g.INPUT, size=9)
    g.grid(ax, KERNEL, 7, top + 1, g.KERNEL_CMAP, 0, 9)
    g.label(ax, 8.5, top + 0.75, "kernel w", g.WINDOW, size=9)
    g.grid(ax, corr, 13, top, g.OUTPUT_CMAP, 0, 9)
    g.label(ax, 15.5, top - 0.25, "conv2d: cross-correlation", g.OUTPUT, size=9)
    ax.text(15.5, top + 5.3, "kernel appears flipped", ha="center", va="top", fontsize=9)
    g.grid(ax, conv, 22, top, g.OUTPUT_CMAP, 0, 9)
    g.label(ax, 24.5, top - 0.25, "true convolution (flip w first)", g.OUTPUT, size=9)
    ax.text(24.5, top + 5.3, "kernel appears as written", ha="center", va="top", fontsize=9)
    return fig


def digit_flip():
    """On a real digit an antisymmetric kernel changes sign under flipping."""
    x = g.digit(4)
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
    corr = convops.conv2d(x, sobel)
    conv = convops.conv2d(x, sobel[::-1, ::-1].copy())
    lim = np.abs(corr).max()
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.9))
    for ax, data, title, cmap in [(axes[0], x, "digit 28×28", g.INPUT_CMAP),
                                  (axes[1], corr, "cross-correlation\n(convops.conv2d)", g.SIGNED_OUTPUT_CMAP),
                                  (axes[2], conv, "convolution\n(flipped kernel)", g.SIGNED_OUTPUT_CMAP)]:
        ax.imshow(data, cmap=cmap, vmin=-lim if data is not x else 0, vmax=lim if data is not x else 1)
        ax.set_title(title, fontsize=9.5)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Sobel x kernel: flipping it negates the response (pink = negative, green = positive)",
                 fontsize=10)
    fig.tight_layout()
    return fig

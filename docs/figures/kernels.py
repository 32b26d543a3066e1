"""docs/concepts/kernels.rst: kernels, the receptive field of one output, parameter sharing."""

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.patches import Rectangle

import convops
from convops import arithmetic

from . import grammar as g
from .i18n import _

# A 5 x 5 image with a vertical stroke, and a detector of "dark on the left, bright on the right".
STROKE = np.array(
    [[0, 1, 8, 9, 1], [0, 2, 9, 8, 0], [1, 1, 9, 9, 1], [0, 2, 8, 9, 0], [0, 1, 9, 8, 1]], dtype=np.float32
)
EDGE = np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], dtype=np.float32)


def one_position():
    """The window at one position: nine products summed into one output number."""
    info = g.sliding_window(STROKE, kernel=EDGE)
    return g.static_step(info, 3, _("One output = the kernel laid on one window, multiplied and summed"))


def anim_conv(path):
    info = g.sliding_window(STROKE, kernel=EDGE)
    g.animate(info, path, _("conv2d, 3×3 kernel, VALID: the window visits every position"))


def dense_vs_conv():
    """One conv unit sees a 3 x 3 patch; one dense unit sees all 784 pixels; parameter counts."""
    x = g.digit(3)
    kernel = np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], np.float32)  # a horizontal edge
    response = convops.conv2d(x, kernel)
    fig = plt.figure(figsize=(g.MAX_WIDTH, 6.1))
    fig.text(
        0.01,
        0.99,
        _(
            "Convolution: each output sees a 3×3 window; all outputs share 9 weights + 1 bias.\n"
            "Dense: each output sees every pixel, with weights of its own."
        ),
        fontsize=10,
        va="top",
    )
    # convolution: the unit at (9, 12) of the 26 x 26 map sees input rows 9..11, cols 12..14
    ax = fig.add_axes([0.01, 0.37, 0.67, 0.51])
    width = 28 + 6 + 26 + 1
    g.setup_axes(ax, width, 30)
    top = 1.8
    g.image(ax, x, 0, top, g.INPUT_CMAP, 0, 1)
    g.window(ax, 9, 12, 3, 3, 0, top, lw=2)
    xo = 28 + 6
    lim = g.limit(response)
    im = g.image(ax, response, xo, top + 1, g.SIGNED_CMAP, -lim, lim)
    g.highlight(ax, 9, 12, xo, top + 1, lw=2)
    ax.annotate(
        "",
        xy=(xo + 12.5, top + 1 + 9.5),
        xytext=(13.5, top + 10.5),
        arrowprops=dict(arrowstyle="->", color=g.WINDOW, lw=1.8, connectionstyle="arc3,rad=-0.25"),
    )
    g.label(ax, 14, top - 0.6, _("input 28×28"), g.INPUT)
    g.label(ax, xo + 13, top + 0.4, _("conv output 26×26"), g.OUTPUT)
    g.colorbar(im, ax, ticks=[-lim, 0, lim], format=g._tick, cax=fig.add_axes([0.69, 0.43, 0.015, 0.3]))
    # dense: one unit sees every pixel
    ax2 = fig.add_axes([0.77, 0.38, 0.22, 0.5])
    g.setup_axes(ax2, 30, 34)
    g.image(ax2, x, 1, top + 2.6, g.INPUT_CMAP, 0, 1)
    ax2.add_patch(Rectangle((1, top + 2.6), 28, 28, fill=False, edgecolor=g.WINDOW, linewidth=2))
    g.label(ax2, 15, top + 2.0, _("dense: 784 weights\nper output unit"), g.WINDOW)
    # bar chart of parameter counts, from convops.arithmetic
    conv = arithmetic.conv2d_params(3, 1, 32)
    dense = arithmetic.dense_params(28 * 28, 26 * 26 * 32)
    ax3 = fig.add_axes([0.2, 0.08, 0.62, 0.2])
    bars = ax3.barh(
        [_("Conv2D 3×3, 32"), _("Dense, same outputs")], [conv, dense], color=[g.OUTPUT, g.WINDOW], log=True
    )
    for bar, value in zip(bars, [conv, dense]):
        ax3.text(value * 1.3, bar.get_y() + bar.get_height() / 2, f"{value:,}", va="center", fontsize=10)
    ax3.set_xlim(100, dense * 40)
    g.log_axis(ax3, "x")
    ax3.set_xlabel(_("parameters (log scale), for 26·26·32 outputs"))
    ax3.invert_yaxis()
    ax3.spines[["top", "right"]].set_visible(False)
    return fig

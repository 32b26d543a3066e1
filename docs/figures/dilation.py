"""docs/concepts/dilation.rst: dilation: a kernel with holes, k_eff = (k - 1)·d + 1."""

import numpy as np
from matplotlib import pyplot as plt

import convops
from convops import arithmetic

from . import grammar as g
from .i18n import _

# Digits whose nine windows of the dilated cross all give different outputs, so that the
# animation shows which window makes which cell (an arithmetic pattern, i * 3 % 10, gave only 20
# and 25).
X7 = np.random.default_rng(17).integers(0, 10, (7, 7)).astype(np.float32)
CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.float32)


def taps():
    """One row per dilation: the nine taps on a 7 x 7 input and the output, drawn to the same scale
    (so the output visibly shrinks as the span grows)."""
    row_height = 8.4
    fig, ax = g.canvas(24.5, 3 * row_height, scale=0.29, title_space=0.05)
    ones = np.ones((3, 3), np.float32)
    for r, d in enumerate((1, 2, 3)):
        k_eff = arithmetic.effective_kernel_size(3, d)
        size = arithmetic.conv_output_size(7, 3, dilation=d)
        result = convops.conv2d(X7, ones, dilations=d)
        assert result.shape == (size, size)  # the op and the arithmetic agree
        y0 = r * row_height + 1.0
        g.grid(ax, X7, 0, y0, g.INPUT_CMAP, 0, 9)
        g.window(ax, 0, 0, 3, 3, 0, y0, dilation=(d, d))
        ax.annotate(
            "", xy=(8.9, y0 + 1.5), xytext=(7.3, y0 + 1.5), arrowprops=dict(arrowstyle="->", color=g.TEXT, lw=1.4)
        )
        g.grid(ax, result, 9.2, y0, g.OUTPUT_CMAP, 0, 81)
        g.highlight(ax, 0, 0, 9.2, y0)
        g.label(
            ax,
            0,
            y0 - 0.2,
            _("dilations={d}: the 3×3 kernel spans {k}×{k}").format(d=d, k=k_eff),
            g.WINDOW,
            ha="left",
            size=10,
        )
        g.label(ax, 15.0, y0 + 0.1, _("output {h}×{w}").format(h=size, w=size), g.OUTPUT, ha="left", va="top")
        ax.text(
            15.0,
            y0 + 1.1,
            _("k_eff = (3 − 1)·{d} + 1 = {k}\noutput = 7 − {k} + 1 = {size}\nstill 9 weights").format(
                d=d, k=k_eff, size=size
            ),
            ha="left",
            va="top",
            fontsize=10,
            color=g.TEXT,
            linespacing=1.5,
        )
    ax.text(
        0,
        3 * row_height + 0.05,
        _(
            "Thick squares: the 9 taps the kernel reads; dashed: the span it covers.\n"
            "Output cells: the sum of the input under the taps (kernel of ones)."
        ),
        ha="left",
        va="top",
        fontsize=9.5,
        color=g.TEXT,
    )
    g.setup_axes(ax, 24.5, 3 * row_height + 1.6)
    fig.set_size_inches(24.5 * 0.29, (3 * row_height + 1.6) * 0.29)
    return fig


def anim_dilation(path):
    info = g.sliding_window(X7, kernel=CROSS, dilations=(2, 2))
    g.animate(info, path, _("dilation 2: the 3×3 kernel spans 5×5; 7×7 → 3×3"), fps=1.4)


def digit_dilated():
    """A vertical-edge kernel at dilation 1, 2, 3 on a digit: wider context, same 9 weights. The
    maps are drawn to scale (28, 26, 24, 22 pixels wide) with one shared colour bar."""
    x = g.digit(0)
    kernel = np.array([[-1, 0, 1]] * 3, np.float32)
    outs = [convops.conv2d(x, kernel, dilations=d) for d in (1, 2, 3)]
    lim = max(g.limit(out) for out in outs)
    fig, axes = plt.subplots(
        1,
        4,
        figsize=(g.MAX_WIDTH, 2.55),
        gridspec_kw={"width_ratios": [28] + [out.shape[1] for out in outs], "wspace": 0.08},
    )
    axes[0].imshow(x, cmap=g.INPUT_CMAP, vmin=0, vmax=1)
    axes[0].set_title(_("digit 28×28"), fontsize=9.5, color=g.INPUT)
    for ax, d, out in zip(axes[1:], (1, 2, 3), outs):
        im = g.signed_image(ax, out, lim, bar=False)
        ax.set_title(f"dilations={d}\n{out.shape[0]}×{out.shape[1]}", fontsize=9.5, color=g.OUTPUT)
    for ax in axes:
        g.plain(ax)
        ax.set_anchor("S")  # same pixel size in every panel: bottoms aligned, smaller maps lower tops
    fig.subplots_adjust(left=0.01, right=0.865, top=0.8, bottom=0.04)
    g.colorbar(
        im, axes[-1], _("response"), ticks=[-lim, 0, lim], format=g._tick, cax=fig.add_axes([0.885, 0.08, 0.018, 0.6])
    )
    return fig

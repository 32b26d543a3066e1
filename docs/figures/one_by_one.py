"""docs/concepts/one-by-one.rst: 1x1 convolutions: channel mixing at every pixel, RGB to grayscale, bottleneck counts.

The photograph is scikit-learn's sample image ``flower.jpg`` (by vultilion on Flickr, CC BY 2.0,
shipped inside scikit-learn: ``sklearn/datasets/images/README.txt``), read from disk, no network.
"""

from __future__ import annotations

import functools

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.patches import Rectangle

import convops
from convops import arithmetic

from . import grammar as g
from .i18n import _

#: The channel-mixing example: 3 input channels of 3x3, a 1x1 filter bank 3 -> 2.
MIX_X = np.array(
    [[[1, 0, 2], [0, 3, 1], [2, 1, 0]], [[0, 1, 1], [2, 0, 1], [1, 2, 0]], [[1, 1, 0], [0, 1, 2], [3, 0, 1]]],
    dtype=np.float32,
).transpose(1, 2, 0)  # (3, 3, 3)
MIX_W = np.array([[1, 0], [1, 2], [1, 1]], dtype=np.float32)  # (C_in, C_out)
PIXEL = (1, 2)

GRAY = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601 luma weights
RED_MINUS_GREEN = np.array([1.0, -1.0, 0.0], np.float32)


@functools.cache
def flower() -> np.ndarray:
    """scikit-learn's flower.jpg, every 3rd pixel: (143, 214, 3) float32 in [0, 1]."""
    from sklearn.datasets import load_sample_image

    return (load_sample_image("flower.jpg")[::3, ::3] / 255.0).astype(np.float32)


def channel_mixing():
    """Three 3x3 input channels, a 1x1 bank (3 in, 2 out) as a 3x2 matrix, two output maps; one
    pixel followed through: its channel vector times the matrix is its output vector."""
    out = convops.conv2d(MIX_X[None], MIX_W[None, None])[0]  # (3, 3, 2)
    i, j = PIXEL
    if not np.allclose(out[i, j], MIX_X[i, j] @ MIX_W):
        raise AssertionError("conv2d with a 1x1 kernel is not a per-pixel matrix product")
    top, gap = 0.9, 0.9
    xw = 3 + 2.6
    xo = xw + 2 + 2.6
    rows = 3 * 3 + 2 * gap
    width, height = xo + 3 + 0.2, top + rows + 1.5
    scale = min(0.42, g.MAX_WIDTH / width)
    fig = plt.figure(figsize=(width * scale, height * scale))
    ax = fig.add_axes([0, 0, 1, 1])
    g.setup_axes(ax, width, height)
    vmax_in = float(MIX_X.max())
    for c in range(3):
        y0 = top + c * (3 + gap)
        g.grid(ax, MIX_X[:, :, c], 0, y0, g.INPUT_CMAP, 0, vmax_in)
        g.highlight(ax, i, j, 0, y0)
        g.label(ax, 1.5, y0 - 0.12, _("input channel {c}").format(c=c), g.INPUT, size=9)
    # the 1x1 filter bank: one row per input channel, one column per output channel
    yw = top + rows / 2 - 1.5
    g.grid(ax, MIX_W, xw, yw, g.KERNEL_CMAP, 0, float(MIX_W.max()))
    ax.add_patch(Rectangle((xw, yw), 2, 3, fill=False, edgecolor=g.WINDOW, linewidth=2.2, zorder=5))
    g.label(ax, xw + 1, yw - 0.5, _("1×1 filters"), g.WINDOW, size=9)
    g.label(ax, xw + 1, yw - 0.12, _("out 0   out 1"), g.WINDOW, size=9, weight="normal")
    for c in range(3):
        ax.text(xw - 0.15, yw + c + 0.5, _("in {c}").format(c=c), ha="right", va="center", fontsize=9, color=g.TEXT)
    g.symbol(ax, xw - 1.5, top + rows / 2, "×")
    g.symbol(ax, xo - 1.2, top + rows / 2, "=")
    vmax_out = float(out.max())
    for o in range(2):
        y0 = top + 1.2 + o * (3 + gap + 0.8)
        g.grid(ax, out[:, :, o], xo, y0, g.OUTPUT_CMAP, 0, vmax_out)
        g.highlight(ax, i, j, xo, y0)
        g.label(ax, xo + 1.5, y0 - 0.12, _("output channel {o}").format(o=o), g.OUTPUT, size=9)
    vec = ", ".join(g._fmt(v) for v in MIX_X[i, j])
    res = ", ".join(g._fmt(v) for v in out[i, j])
    ax.text(
        0,
        top + rows + 0.5,
        _("pixel ({i}, {j}): channel vector [{vec}] × the 3×2 matrix = [{res}]").format(i=i, j=j, vec=vec, res=res),
        ha="left",
        va="top",
        fontsize=10,
        color=g.TEXT,
    )
    ax.text(
        0,
        top + rows + 1.05,
        _("every pixel the same matrix; no neighbour is read"),
        ha="left",
        va="top",
        fontsize=10,
        color=g.TEXT,
    )
    return fig


def colour_filters():
    """A photograph through two 1x1 filters: luma grayscale, and red minus green (signed)."""
    rgb = flower()
    bank = np.stack([GRAY, RED_MINUS_GREEN], axis=1)[None, None]  # (1, 1, 3, 2)
    out = convops.conv2d(rgb[None], bank)[0]  # (H, W, 2)
    fig, axes = plt.subplots(1, 3, figsize=(7.3, 2.5))
    axes[0].imshow(rgb)
    axes[0].set_title(_("input {h}×{w}×3").format(h=rgb.shape[0], w=rgb.shape[1]), fontsize=10, color=g.INPUT)
    axes[1].imshow(out[:, :, 0], cmap="gray", vmin=0, vmax=1)
    gray = ", ".join(f"{v:g}" for v in GRAY)
    axes[1].set_title(_("weights {w}\n= grayscale").format(w=gray), fontsize=10, color=g.OUTPUT)
    image = g.signed_image(axes[2], out[:, :, 1], bar=False)
    axes[2].set_title(
        _("weights {w}\n= red − green").format(w=", ".join(f"{v:g}" for v in RED_MINUS_GREEN).replace("-", "−")),
        fontsize=10,
        color=g.OUTPUT,
    )
    for ax in axes[:2]:
        g.plain(ax)
    fig.subplots_adjust(left=0.01, right=0.9, top=0.8, bottom=0.02, wspace=0.06)
    bar = fig.colorbar(image, cax=fig.add_axes([0.915, 0.06, 0.018, 0.7]))
    bar.ax.tick_params(labelsize=g.MIN_FONT, length=2)
    return fig


def bottleneck_counts():
    """Parameters of a 3x3 conv 256 -> 256 vs the bottleneck 1x1 256->64, 3x3 64->64, 1x1 64->256."""
    layers = [
        ("3×3, 256 → 256", 3, 256, 256, g.WINDOW),
        ("1×1, 256 → 64", 1, 256, 64, g.OUTPUT),
        ("3×3, 64 → 64", 3, 64, 64, g.WINDOW),
        ("1×1, 64 → 256", 1, 64, 256, g.OUTPUT),
    ]
    counts = [arithmetic.conv2d_params(k, c_in, c_out) for _name, k, c_in, c_out, _colour in layers]
    fig, ax = plt.subplots(figsize=(7.0, 2.6))
    ax.barh([1], [counts[0]], color=layers[0][4], height=0.55)
    ax.text(counts[0] * 1.01, 1, f"{counts[0]:,}  ({layers[0][0]})", va="center", fontsize=9)
    left = 0
    for (*_rest, colour), n in zip(layers[1:], counts[1:]):
        ax.barh(
            [0],
            [n],
            left=left,
            color=colour,
            height=0.55,
            edgecolor="white",
            hatch="///" if colour == g.OUTPUT else None,
        )
        left += n
    ax.text(
        left * 1.03 + counts[0] * 0.01,
        0,
        f"{left:,}  (1×1 → 3×3 → 1×1: {counts[1]:,} + {counts[2]:,} + {counts[3]:,})",
        va="center",
        fontsize=9,
    )
    ax.set_yticks([1, 0], [_("one 3×3 conv"), _("bottleneck")])
    ax.legend(
        handles=[
            Rectangle((0, 0), 1, 1, facecolor=g.WINDOW, edgecolor="white", label=_("3×3 layer")),
            Rectangle((0, 0), 1, 1, facecolor=g.OUTPUT, edgecolor="white", hatch="///", label=_("1×1 layer")),
        ],
        loc="lower right",
        frameon=False,
    )
    ax.set_xlim(0, counts[0] * 1.65)
    ax.set_ylim(-0.6, 1.6)
    ax.set_xlabel(_("parameters (weights + biases), from convops.arithmetic.conv2d_params"))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{int(v):,}"))
    ax.spines[["top", "right"]].set_visible(False)
    # over the figure, not the axes: centred over the axes, it would run past the right edge
    fig.suptitle(
        _("256 channels in and out: 1×1 convolutions shrink the channels the 3×3 sees"), fontsize=10, fontweight="bold"
    )
    fig.tight_layout()
    return fig

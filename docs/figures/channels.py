"""docs/concepts/channels.rst: feature maps and channels: grayscale vs RGB, NHWC and HWIO, one map per filter."""

import numpy as np
from matplotlib import pyplot as plt

import convops
from convops import arithmetic

from . import grammar as g
from .i18n import _


def rgb_digit() -> np.ndarray:
    """A colour image (28, 28, 3): a red-orange digit on a light blue sheet."""
    d = g.digit(2)
    paper = np.array([0.55, 0.80, 0.95], np.float32)
    ink = np.array([0.85, 0.25, 0.10], np.float32)
    return (paper * (1 - d[..., None]) + ink * d[..., None]).astype(np.float32)


def grayscale_vs_rgb():
    """A grayscale image has one channel; a colour image is three planes on the last axis (NHWC)."""
    gray = g.digit(2)
    rgb = rgb_digit()
    fig, axes = plt.subplots(
        1, 6, figsize=(g.MAX_WIDTH, 2.3), gridspec_kw={"width_ratios": [1, 1, 0.28, 1, 1, 1], "wspace": 0.12}
    )
    axes[0].imshow(gray, cmap="gray_r", vmin=0, vmax=1)
    axes[0].set_title(_("grayscale\n(28, 28, 1)"), fontsize=9.5, color=g.INPUT)
    axes[1].imshow(rgb)
    axes[1].set_title(_("colour\n(28, 28, 3)"), fontsize=9.5, color=g.INPUT)
    axes[2].axis("off")
    axes[2].text(0.5, 0.5, "=", ha="center", va="center", fontsize=18, transform=axes[2].transAxes)
    # the three planes, each the same size as the image it comes from
    for c, name in enumerate([_("red"), _("green"), _("blue")]):
        axes[3 + c].imshow(rgb[..., c], cmap="gray", vmin=0, vmax=1)
        axes[3 + c].set_title(f"x[..., {c}]\n{name}", fontsize=9.5, color=g.INPUT)
    for ax in axes:
        g.plain(ax)
    fig.suptitle(_("Each plane is one channel: white where that colour is strong"), fontsize=10)
    fig.subplots_adjust(left=0.015, right=0.985, top=0.74, bottom=0.03)
    return fig


def one_filter_per_map():
    """An RGB image, a (3, 3, 3, 4) filter bank: each filter spans all 3 channels and gives ONE map."""
    rgb = rgb_digit()
    rng = np.random.default_rng(3)
    filters = np.zeros((3, 3, 3, 4), np.float32)
    filters[:, :, :, 0] = np.array([[-1, 0, 1]] * 3)[:, :, None]  # vertical edges, any colour
    filters[:, :, :, 1] = np.array([[-1, 0, 1]] * 3).T[:, :, None]  # horizontal edges
    filters[1, 1, :, 2] = [1.0, -0.5, -0.5]  # "redness"
    filters[:, :, :, 3] = rng.normal(size=(3, 3, 3))  # a random filter
    out = convops.conv2d(rgb[None], filters)[0]  # (26, 26, 4)
    fig = plt.figure(figsize=(g.MAX_WIDTH, 5.2))
    gs = fig.add_gridspec(
        2, 3, width_ratios=[1.1, 1, 1], left=0.01, right=0.92, top=0.84, bottom=0.02, wspace=0.5, hspace=0.4
    )
    ax_in = fig.add_subplot(gs[0, 0])
    ax_in.imshow(rgb)
    ax_in.set_title(_("input (1, 28, 28, 3)"), fontsize=9.5, color=g.INPUT)
    g.plain(ax_in)
    note = fig.add_subplot(gs[1, 0])
    note.axis("off")
    note.text(
        0.5,
        0.6,
        _("⋆ filters (3, 3, 3, 4)\n→ 4 maps"),
        ha="center",
        va="center",
        fontsize=10,
        color=g.WINDOW,
        fontweight="bold",
        transform=note.transAxes,
    )
    names = [_("vertical edges"), _("horizontal edges"), _("red − (green+blue)/2"), _("random weights")]
    for c in range(4):
        ax = fig.add_subplot(gs[c // 2, 1 + c % 2])
        g.signed_image(ax, out[..., c])
        ax.set_title(_("map {c}:\n{name}").format(c=c, name=names[c]), fontsize=9.5, color=g.OUTPUT)
    fig.suptitle(
        _("output {shape} × 4 channels: one feature map per filter, {n} parameters\n(purple < 0 < green)").format(
            shape=out.shape[:2], n=arithmetic.conv2d_params(3, 3, 4)
        ),
        fontsize=10,
    )
    return fig


def parameter_formula():
    """(k²·C_in + 1)·C_out for a few layers, computed by convops.arithmetic."""
    rows = [(3, 1, 32), (3, 3, 32), (3, 32, 64), (3, 64, 128), (5, 3, 16), (1, 64, 32)]
    counts = [arithmetic.conv2d_params(k, ci, co) for k, ci, co in rows]
    fig, ax = plt.subplots(figsize=(g.MAX_WIDTH, 3.0))
    labels = [f"k={k}, C_in={ci}, C_out={co}" for k, ci, co in rows]
    bars = ax.barh(labels[::-1], counts[::-1], color=g.OUTPUT)
    for bar, (k, ci, co), n in zip(bars, rows[::-1], counts[::-1]):
        ax.text(
            bar.get_width() * 1.02 + 200,
            bar.get_y() + bar.get_height() / 2,
            f"({k}²·{ci} + 1)·{co} = {n:,}",
            va="center",
            fontsize=9,
        )
    ax.set_xlim(0, max(counts) * 1.75)
    ax.set_xlabel(_("parameters (weights + biases)"))
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(_("Parameters of a Conv2D layer do not depend on the image size"), fontsize=10)
    fig.tight_layout()
    return fig

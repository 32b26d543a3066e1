"""Page 3: feature maps and channels: grayscale vs RGB, NHWC and HWIO, one map per filter."""

import numpy as np
from matplotlib import pyplot as plt

import convops
from convops import arithmetic

from . import grammar as g


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
    fig, axes = plt.subplots(1, 6, figsize=(8.4, 2.3), gridspec_kw={"width_ratios": [1, 0.25, 1, 0.25, 1, 2.2]})
    axes[0].imshow(gray, cmap="gray_r", vmin=0, vmax=1)
    axes[0].set_title("grayscale\n(28, 28, 1)", fontsize=9, color=g.INPUT)
    axes[2].imshow(rgb, interpolation="nearest")
    axes[2].set_title("colour\n(28, 28, 3)", fontsize=9, color=g.INPUT)
    for ax, text in [(axes[1], ""), (axes[3], "=")]:
        ax.axis("off")
        ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=18)
    axes[4].imshow(rgb[..., 0], cmap="gray", vmin=0, vmax=1)
    axes[4].set_title("x[..., 0]  red", fontsize=9, color=g.INPUT)
    # the green and blue planes share the last axes, side by side
    axes[5].imshow(np.concatenate([rgb[..., 1], np.ones((28, 3)), rgb[..., 2]], axis=1), cmap="gray", vmin=0, vmax=1)
    axes[5].set_title("x[..., 1]  green        x[..., 2]  blue", fontsize=9, color=g.INPUT)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in (axes[1], axes[3]):
        ax.axis("off")
    fig.suptitle("Each plane is one channel: white where that colour is strong", fontsize=10)
    fig.tight_layout()
    return fig


def one_filter_per_map():
    """An RGB image, a (3, 3, 3, 4) filter bank: each filter spans all 3 channels and gives ONE map."""
    rgb = rgb_digit()
    rng = np.random.default_rng(3)
    filters = np.zeros((3, 3, 3, 4), np.float32)
    filters[:, :, :, 0] = np.array([[-1, 0, 1]] * 3)[:, :, None]                   # vertical edges, any colour
    filters[:, :, :, 1] = np.array([[-1, 0, 1]] * 3).T[:, :, None]                 # horizontal edges
    filters[1, 1, :, 2] = [1.0, -0.5, -0.5]                                        # "redness"
    filters[:, :, :, 3] = rng.normal(size=(3, 3, 3))                               # a random filter
    out = convops.conv2d(rgb[None], filters)[0]                                    # (26, 26, 4)
    fig, axes = plt.subplots(1, 6, figsize=(8.4, 2.4), gridspec_kw={"width_ratios": [1.05, 0.5, 1, 1, 1, 1]})
    axes[0].imshow(rgb, interpolation="nearest")
    axes[0].set_title("input (1, 28, 28, 3)", fontsize=9, color=g.INPUT)
    axes[1].axis("off")
    axes[1].text(0.5, 0.5, "⋆ filters\n(3, 3, 3, 4)\n→", ha="center", va="center", fontsize=10, color=g.WINDOW)
    names = ["vertical edges", "horizontal edges", "red − (green+blue)/2", "random weights"]
    for c in range(4):
        lim = np.abs(out[..., c]).max()
        axes[c + 2].imshow(out[..., c], cmap=g.SIGNED_OUTPUT_CMAP, vmin=-lim, vmax=lim, interpolation="nearest")
        axes[c + 2].set_title(f"map {c}:\n{names[c]}", fontsize=8.5, color=g.OUTPUT)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"output {out.shape[:2]} × 4 channels — one feature map per filter, "
                 f"{arithmetic.conv2d_params(3, 3, 4)} parameters", fontsize=10)
    fig.tight_layout()
    return fig


def parameter_formula():
    """(k²·C_in + 1)·C_out for a few layers, computed by convops.arithmetic."""
    rows = [(3, 1, 32), (3, 3, 32), (3, 32, 64), (3, 64, 128), (5, 3, 16), (1, 64, 32)]
    counts = [arithmetic.conv2d_params(k, ci, co) for k, ci, co in rows]
    fig, ax = plt.subplots(figsize=(7.5, 2.8))
    labels = [f"k={k}, C_in={ci}, C_out={co}" for k, ci, co in rows]
    bars = ax.barh(labels[::-1], counts[::-1], color=g.OUTPUT)
    for bar, (k, ci, co), n in zip(bars, rows[::-1], counts[::-1]):
        ax.text(bar.get_width() * 1.02 + 200, bar.get_y() + bar.get_height() / 2,
                f"({k}²·{ci} + 1)·{co} = {n:,}", va="center", fontsize=8.5)
    ax.set_xlim(0, max(counts) * 1.6)
    ax.set_xlabel("parameters (weights + biases)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title("Parameters of a Conv2D layer do not depend on the image size", fontsize=10)
    fig.tight_layout()
    return fig

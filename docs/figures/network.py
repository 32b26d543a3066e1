"""Page 11: the tutorial's MNIST convnet: shapes, parameters, receptive fields, feature maps."""

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.patches import Polygon, Rectangle

import convops
from convops import arithmetic

from . import grammar as g
from .responses import bank

# (name, kind, kernel, C_out)
LAYERS = [("Conv2D 32", "conv", 3, 32), ("MaxPool 2", "pool", 2, None), ("Conv2D 64", "conv", 3, 64),
          ("MaxPool 2", "pool", 2, None), ("Conv2D 128", "conv", 3, 128)]


def summary():
    """Per layer: output (H, W, C), parameters, receptive field — all from convops.arithmetic."""
    size, channels, rows = 28, 1, []
    fields = arithmetic.receptive_fields([(k, 1 if kind == "conv" else k) for _, kind, k, _ in LAYERS])
    for (name, kind, k, c_out), rf in zip(LAYERS, fields):
        if kind == "conv":
            params = arithmetic.conv2d_params(k, channels, c_out)
            size, channels = arithmetic.conv_output_size(size, k), c_out
        else:
            params = 0
            size = arithmetic.pool_output_size(size, k, k)
        rows.append((name, size, channels, params, rf.size))
    flat = size * size * channels
    rows.append(("Flatten", 1, flat, 0, None))
    rows.append(("Dense 10", 1, 10, arithmetic.dense_params(flat, 10), None))
    return rows


def weights(seed: int = 0):
    """Conv weights for the feature-map figure: layer 1 starts with the 8 hand-made filters of the
    response-map page; the rest is random (He-normal), i.e. an *untrained* network."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, np.sqrt(2 / 9), (3, 3, 1, 32)).astype(np.float32)
    w1[..., :8] = bank()
    w2 = rng.normal(0, np.sqrt(2 / (9 * 32)), (3, 3, 32, 64)).astype(np.float32)
    w3 = rng.normal(0, np.sqrt(2 / (9 * 64)), (3, 3, 64, 128)).astype(np.float32)
    return w1, w2, w3


def forward(x: np.ndarray, seed: int = 0):
    """x: (N, 28, 28, 1) float32 -> the activations of the five spatial layers."""
    w1, w2, w3 = weights(seed)
    c1 = np.maximum(convops.conv2d(x, w1), 0)
    p1 = convops.max_pool2d(c1, 2, 2)
    c2 = np.maximum(convops.conv2d(p1, w2), 0)
    p2 = convops.max_pool2d(c2, 2, 2)
    c3 = np.maximum(convops.conv2d(p2, w3), 0)
    return [c1, p1, c2, p2, c3]


def shapes():
    rows = summary()
    acts = forward(g.digit(5)[None, :, :, None])
    fig = plt.figure(figsize=(9, 3.6))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, 148)
    ax.set_ylim(44, -4)
    ax.set_aspect("equal")
    ax.axis("off")
    x0 = 1
    items = [("input", 28, 1, None, None)] + rows
    for index, (name, size, channels, params, rf) in enumerate(items):
        if name.startswith("Flatten") or name.startswith("Dense"):
            height = 26 if name.startswith("Flatten") else 10
            colour = g.OUTPUT
            ax.add_patch(Rectangle((x0, 20 - height / 2), 2.2, height, facecolor=colour, alpha=0.35,
                                   edgecolor=colour))
            width = 2.2
            ax.text(x0 + width / 2, 20 - height / 2 - 0.6, f"{name}\n{channels:,}", ha="center", va="bottom",
                    fontsize=8.5, fontweight="bold", color=colour)
            if params:
                ax.text(x0 + width / 2, 20 + height / 2 + 0.6, f"{params:,}\nparams", ha="center", va="top",
                        fontsize=8, color=g.TEXT)
            x0 += width + 5
            continue
        else:
            depth = 0 if channels == 1 else 1.1 * np.log2(channels)
            colour = g.INPUT if index == 0 else g.OUTPUT
            top = 20 - size / 2
            ax.add_patch(Polygon([(x0, top), (x0 + depth, top - depth * 0.6), (x0 + depth + size, top - depth * 0.6),
                                  (x0 + depth + size, top + size - depth * 0.6), (x0 + size, top + size),
                                  (x0, top + size)], closed=True, facecolor=colour, alpha=0.18, edgecolor=colour))
            ax.add_patch(Rectangle((x0, top), size, size, facecolor="white", edgecolor=colour, lw=1.2))
            # a real activation on the front face (the first channel)
            data = g.digit(5) if index == 0 else acts[index - 1][0, :, :, 0]
            ax.imshow(data, cmap=g.INPUT_CMAP if index == 0 else g.OUTPUT_CMAP, extent=(x0, x0 + size, top + size, top),
                      interpolation="nearest", vmin=0, vmax=max(float(data.max()), 1e-9), zorder=3)
            label = f"{name}\n{size}×{size}×{channels}"
            width = size + depth
        ax.text(x0 + width / 2, 36.5, label, ha="center", va="top", fontsize=8, fontweight="bold", color=colour)
        if params is not None:
            extra = f"{params:,} params" if params else "0 params"
            if rf:
                extra += f"\nRF {rf}×{rf}"
            ax.text(x0 + width / 2, 40.6, extra, ha="center", va="top", fontsize=7.5, color=g.TEXT)
        x0 += width + 2.6
    total = sum(r[3] for r in rows)
    ax.text(1, -1, f"28 → 26 → 13 → 11 → 5 → 3: the tutorial's network, {total:,} parameters in total\n"
            "(front faces: channel 0 of a real digit's activations)", fontsize=9.5, va="top")
    return fig


def feature_maps(channels: int = 8):
    x = g.digit(5)[None, :, :, None]
    acts = forward(x)
    names = ["conv1 + ReLU", "pool1", "conv2 + ReLU", "pool2", "conv3 + ReLU"]
    fig, axes = plt.subplots(5, channels + 1, figsize=(8.4, 5.8),
                             gridspec_kw={"width_ratios": [1.3] + [1] * channels})
    for row, (act, name) in enumerate(zip(acts, names)):
        axes[row, 0].axis("off")
        axes[row, 0].text(0.95, 0.5, f"{name}\n{act.shape[1]}×{act.shape[2]}×{act.shape[3]}", ha="right",
                          va="center", fontsize=9, transform=axes[row, 0].transAxes)
        for c in range(channels):
            ax = axes[row, c + 1]
            ax.imshow(act[0, :, :, c], cmap=g.OUTPUT_CMAP, vmin=0, vmax=max(float(act[0].max()), 1e-9),
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("A real '5' through the network (first 8 channels of each layer). conv1's first 8 filters are the "
                 "hand-made ones;\nthe rest are random: these are the shapes of a trained network's maps, "
                 "not learned patterns.", fontsize=9.5)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return fig

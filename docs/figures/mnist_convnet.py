"""docs/concepts/mnist-convnet.rst: the tutorial's MNIST convnet: shapes, parameters, receptive fields, feature maps."""

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.patches import Polygon, Rectangle

from convops import arithmetic

from . import grammar as g
from .i18n import _

# (name, kind, kernel, C_out)
LAYERS = [
    ("Conv2D 32", "conv", 3, 32),
    ("MaxPool 2", "pool", 2, None),
    ("Conv2D 64", "conv", 3, 64),
    ("MaxPool 2", "pool", 2, None),
    ("Conv2D 128", "conv", 3, 128),
]


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


def _test_digit(label: int = 5) -> np.ndarray:
    """The first `label` of the test split of real MNIST (a digit the trained network never saw),
    as (28, 28) float32 in [0, 1]."""
    from . import mnist

    _train, (x_test, y_test) = mnist.load_split()
    return mnist.as_input(x_test[np.flatnonzero(y_test == label)[0]][None])[0, :, :, 0]


def trained_activations(x: np.ndarray):
    """The activations of the five spatial layers of the tutorial's network trained on real MNIST
    (figures.mnist.trained_model: the one model every page shows), for x: (N, 28, 28, 1)."""
    from . import mnist

    model = mnist.trained_model()
    acts, act = [], np.asarray(x, np.float32)
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in ("Conv2D", "MaxPooling2D"):
            break
        act = layer.forward(act)
        acts.append(act)
    if len(acts) != len(LAYERS):
        raise RuntimeError(f"expected the tutorial's {len(LAYERS)} spatial layers, found {len(acts)}")
    return acts


def _block(ax, x0: float, base: float, size: int, channels: int, data, cmap, colour: str) -> float:
    """A layer's output as a block standing on the line y = base: the front face is channel 0 of a
    real activation (one unit per pixel, so sizes compare), the slanted depth grows with log2(C).
    Returns the block's width."""
    depth = 0 if channels == 1 else 0.9 * np.log2(channels)
    top = base - size
    lift = depth * 0.6
    ax.add_patch(
        Polygon(
            [
                (x0, top),
                (x0 + depth, top - lift),
                (x0 + depth + size, top - lift),
                (x0 + depth + size, base - lift),
                (x0 + size, base),
                (x0, base),
            ],
            closed=True,
            facecolor=colour,
            alpha=0.18,
            edgecolor=colour,
        )
    )
    ax.imshow(data, cmap=cmap, extent=(x0, x0 + size, base, top), vmin=0, vmax=max(float(np.max(data)), 1e-9), zorder=3)
    ax.add_patch(Rectangle((x0, top), size, size, fill=False, edgecolor=colour, lw=1.2, zorder=4))
    return size + depth


def shapes():
    """The network as blocks drawn to scale, in two rows that fit the column."""
    rows = summary()
    x = _test_digit()
    acts = trained_activations(x[None, :, :, None])
    items = [(_("input"), 28, 1, None, None)] + rows
    fig = plt.figure(figsize=(g.MAX_WIDTH, 6.4))
    ax = fig.add_axes([0, 0, 1, 1])
    width = 104.0
    height = width * 6.4 / g.MAX_WIDTH
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    total = sum(r[3] for r in rows)
    ax.text(
        1,
        1,
        _(
            "28 → 26 → 13 → 11 → 5 → 3: the tutorial's network, {total} parameters.\n"
            "Front faces: channel 0 of the trained network's activations for a test digit."
        ).format(total=f"{total:,}"),
        fontsize=10,
        va="top",
    )
    # two rows: input, conv1, pool1 | conv2, pool2, conv3, flatten, dense
    layout = [(items[:3], 44.0, 3.0, 8.0), (items[3:], 77.0, 3.0, 12.0)]
    for group, base, x0, gap in layout:
        for name, size, channels, params, rf in group:
            index = items.index((name, size, channels, params, rf))
            if name.startswith(("Flatten", "Dense")):
                bar = 18 if name.startswith("Flatten") else 7
                colour = g.OUTPUT
                ax.add_patch(Rectangle((x0, base - bar), 2.0, bar, facecolor=colour, alpha=0.35, edgecolor=colour))
                w = 2.0
                lines = [name, f"{channels:,}", _("{n} params").format(n=f"{params:,}")]
            else:
                colour = g.INPUT if index == 0 else g.OUTPUT
                data = x if index == 0 else acts[index - 1][0, :, :, 0]
                w = _block(ax, x0, base, size, channels, data, g.INPUT_CMAP if index == 0 else g.OUTPUT_CMAP, colour)
                lines = [name, f"{size}×{size}×{channels}"]
                if params is not None:
                    lines.append(_("{n} params").format(n=f"{params:,}"))
                if rf:
                    lines.append(_("RF {rf}×{rf}").format(rf=rf))
            centre = x0 + w / 2
            ax.text(centre, base + 1.2, lines[0], ha="center", va="top", fontsize=9.5, fontweight="bold", color=colour)
            ax.text(
                centre,
                base + 3.4,
                "\n".join(lines[1:]),
                ha="center",
                va="top",
                fontsize=9.5,
                color=g.TEXT,
                linespacing=1.3,
            )
            x0 += w + gap
            if (name, size) != (group[-1][0], group[-1][1]):
                ax.text(x0 - gap / 2, base - min(size, 10) / 2, "→", fontsize=14, ha="center", va="center")
    return fig


def feature_maps(channels: int = 8):
    """A test digit through the trained network: the first `channels` maps of each layer, one row
    per layer, each row's title above it (so the maps use the column's whole width)."""
    x = _test_digit()
    acts = trained_activations(x[None, :, :, None])
    names = ["conv1 + ReLU", "pool1", "conv2 + ReLU", "pool2", "conv3 + ReLU"]
    fig = plt.figure(figsize=(g.MAX_WIDTH, 6.6))
    gs = fig.add_gridspec(
        len(acts),
        channels + 1,
        width_ratios=[1.15] + [1] * channels,
        left=0.01,
        right=0.99,
        top=0.88,
        bottom=0.01,
        wspace=0.08,
        hspace=0.4,
    )
    ax_in = fig.add_subplot(gs[0, 0])
    ax_in.imshow(x, cmap=g.INPUT_CMAP, vmin=0, vmax=1)
    ax_in.set_title(_("input"), fontsize=9.5, color=g.INPUT)
    g.plain(ax_in)
    for row, (act, name) in enumerate(zip(acts, names)):
        for c in range(channels):
            ax = fig.add_subplot(gs[row, c + 1])
            ax.imshow(act[0, :, :, c], cmap=g.OUTPUT_CMAP, vmin=0, vmax=max(float(act[0, :, :, c].max()), 1e-9))
            g.plain(ax)
            if c == 0:
                ax.set_title(
                    _("{name}: {h}×{w}×{c}, channels 0–{last}").format(
                        name=name, h=act.shape[1], w=act.shape[2], c=act.shape[3], last=channels - 1
                    ),
                    fontsize=9.5,
                    loc="left",
                    color=g.OUTPUT,
                )
    fig.suptitle(
        _(
            "A test digit through the trained network (first 8 channels of each layer;\n"
            "white = 0, darker green = stronger, each map on its own scale)"
        ),
        fontsize=10,
    )
    return fig

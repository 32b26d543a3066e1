"""What the trained network learned: its filters, feature maps and the patches its units prefer.

Everything is computed with convops on the tutorial's network trained on real MNIST by
:mod:`figures.mnist` (trained once, cached): the first layer's kernels, every layer's
activations (each layer's ``forward``), the test images and positions where a unit responds
most, and the receptive field of that unit from :func:`convops.arithmetic.receptive_fields`.
"""

from __future__ import annotations

import functools

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.patches import Rectangle

from convops import arithmetic, nn
from convops.nn import Conv2D

from . import grammar as g
from . import i18n, mnist
from .i18n import _

TOP = 20  # images per channel for the label-agreement measure
SHOWN = 6  # patches shown per channel
BATCH = 500


# ----------------------------------------------------------------------------------------------
# data and computations
@functools.cache
def test_set() -> tuple[np.ndarray, np.ndarray]:
    """The held-out digits as the model sees them: float32 ``(N, 28, 28, 1)`` in [0, 1], labels."""
    _train, (x, y) = mnist.load_split()
    return mnist.as_input(x), y.astype(np.int64)


def model():
    return mnist.trained_model()


def layer_names() -> list[str]:
    """conv1, pool1, conv2, pool2, conv3, flatten, dense: the tutorial's names for our layers."""
    names, counts = [], {}
    for layer in model().layers:
        kind = {"Conv2D": "conv", "MaxPooling2D": "pool"}.get(type(layer).__name__, type(layer).__name__.lower())
        counts[kind] = counts.get(kind, 0) + 1
        names.append(f"{kind}{counts[kind]}" if kind in ("conv", "pool") else kind)
    return names


def activations(x: np.ndarray) -> list[np.ndarray]:
    """Every layer's output for the images ``x`` (N, 28, 28, 1): each layer's own ``forward``."""
    out = []
    for layer in model().layers:
        x = layer.forward(x)
        out.append(x)
    return out


def fields() -> list[arithmetic.ReceptiveField]:
    """Receptive field after each sliding-window layer (conv1, pool1, conv2, pool2, conv3),
    from the layers' own windows."""
    windows = [w for w in (layer.window() for layer in model().layers) if w is not None]
    return arithmetic.receptive_fields([(k[0], s[0], d[0]) for k, s, d, _ in windows], [p[0] for *_, p in windows])


def field_of(layer: int, i: int, j: int) -> tuple[int, int, int]:
    """(first row, first column, size) of the input patch that unit (i, j) of sliding-window
    layer ``layer`` (0 = conv1 ... 4 = conv3) sees."""
    rf = fields()[layer]
    first = lambda u: int(round(rf.start + u * rf.jump - (rf.size - 1) / 2))  # noqa: E731
    return first(i), first(j), rf.size


@functools.cache
def test_predictions() -> np.ndarray:
    """Class probabilities of every held-out digit."""
    x, _ = test_set()
    return np.concatenate([activations(x[s : s + BATCH])[-1] for s in range(0, len(x), BATCH)])


@functools.cache
def channel_maxima() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For conv1, conv2, conv3: each test image's largest activation per channel ``(N, C)`` and
    its position ``(N, C, 2)`` (first maximum in row-major order)."""
    x, _ = test_set()
    names = layer_names()
    convs = [k for k, layer in enumerate(model().layers) if isinstance(layer, Conv2D)]
    values = {names[k]: [] for k in convs}
    places = {names[k]: [] for k in convs}
    for s in range(0, len(x), BATCH):
        acts = activations(x[s : s + BATCH])
        for k in convs:
            a = acts[k]
            n, h, w, c = a.shape
            flat = a.reshape(n, h * w, c)
            arg = flat.argmax(axis=1)
            values[names[k]].append(np.take_along_axis(flat, arg[:, None, :], axis=1)[:, 0, :])
            places[names[k]].append(np.stack(np.unravel_index(arg, (h, w)), axis=-1))
    return {name: (np.concatenate(values[name]), np.concatenate(places[name])) for name in values}


def top_units(name: str, channel: int, count: int = SHOWN) -> list[tuple[int, int, int, float]]:
    """The ``count`` test images where a channel responds most: ``(image, row, col, value)``,
    one position per image (its strongest)."""
    values, places = channel_maxima()[name]
    order = np.argsort(-values[:, channel], kind="stable")[:count]
    return [(int(n), int(places[n, channel, 0]), int(places[n, channel, 1]), float(values[n, channel])) for n in order]


def _agreement(labels: np.ndarray) -> float:
    """Fraction of a set of labels equal to its most common label."""
    return np.bincount(labels, minlength=10).max() / len(labels)


@functools.cache
def label_agreement() -> dict[str, object]:
    """For each conv layer: over its live channels, the mean fraction of a channel's top-``TOP``
    test images that show the same digit; the same measure for random sets of ``TOP`` test
    images (what agreement chance gives); and the number of channels that never fire."""
    _, y = test_set()
    out: dict[str, object] = {}
    for name, (values, _) in channel_maxima().items():
        live = np.flatnonzero(values.max(axis=0) > 0)
        scores = [_agreement(y[np.argsort(-values[:, c], kind="stable")[:TOP]]) for c in live]
        out[name] = {"agreement": float(np.mean(scores)), "live": int(len(live)), "channels": values.shape[1]}
    rng = np.random.default_rng(0)
    out["chance"] = float(np.mean([_agreement(rng.choice(y, TOP, replace=False)) for _ in range(2000)]))
    return out


def unseen_border() -> tuple[int, int]:
    """How many bottom rows and right columns of the 28×28 input no conv3 unit can see."""
    h, w = model().input_shape[1:3]
    out_h, out_w = model().layers[4].output_shape[:2]
    last_row, last_col, size = field_of(4, out_h - 1, out_w - 1)
    return h - (last_row + size), w - (last_col + size)


@functools.cache
def initial_kernel() -> np.ndarray:
    """conv1's kernel before training: figures.mnist's starting point rebuilt (the same seed, the
    same model code, so the same draws; nothing is trained)."""
    nn.set_random_seed(mnist.SEED)
    return mnist.build_model().layers[0].get_weights()[0]


def facts() -> dict[str, str]:
    """The numbers the page states, computed at build time (the ``:fact:`` role), in the language drawn."""
    return _facts(i18n.language())


@functools.cache
def _facts(language: str) -> dict[str, str]:
    x, y = test_set()
    pred = test_predictions().argmax(axis=1)
    names = layer_names()
    windowed = [n for n in names if n.startswith(("conv", "pool"))]
    agree = label_agreement()
    out = {
        "n_test": f"{len(y):,}",
        "accuracy": f"{np.mean(pred == y):.3f}",
        "n_wrong": f"{int(np.sum(pred != y))}",
        "top": str(TOP),
        "chance": f"{agree['chance']:.2f}",
        "unseen": str(unseen_border()[0]),
    }
    rows, cols = unseen_border()
    strip = np.zeros(x.shape[1:3], bool)
    strip[x.shape[1] - rows :, :] = True
    strip[:, x.shape[2] - cols :] = True
    ink = x[..., 0]
    out["border_ink"] = f"{int(np.sum(ink[:, strip].max(axis=1) > 0)):,}"
    out["border_share"] = f"{100 * ink[:, strip].sum() / ink.sum():.2f}%"
    for name, rf in zip(windowed, fields()):
        out[f"rf.{name}"] = f"{rf.size}×{rf.size}"
        out[f"jump.{name}"] = str(rf.jump)
    for name in ("conv1", "conv2", "conv3"):
        out[f"agree.{name}"] = f"{agree[name]['agreement']:.2f}"
        out[f"live.{name}"] = _("{live} of {channels}").format(
            live=agree[name]["live"], channels=agree[name]["channels"]
        )
    kernel = model().layers[0].get_weights()[0]
    start = initial_kernel()
    out["filter_change"] = f"{100 * np.linalg.norm(kernel - start) / np.linalg.norm(start):.0f}%"
    return out


# ----------------------------------------------------------------------------------------------
# figures
def _signed_limit(*arrays: np.ndarray) -> float:
    return max(float(np.abs(a).max()) for a in arrays) or 1.0


def _kernel_block(fig, spec, kernel: np.ndarray, limit: float, title: str):
    sub = spec.subgridspec(4, 8, wspace=0.08, hspace=0.08)
    im = None
    for c in range(kernel.shape[-1]):
        ax = fig.add_subplot(sub[c // 8, c % 8])
        im = ax.imshow(kernel[:, :, 0, c], cmap=g.SIGNED_KERNEL_CMAP, vmin=-limit, vmax=limit, interpolation="nearest")
        g.plain(ax)
        for side in ax.spines.values():
            side.set_color(g.GRID_EDGE)
        if c == 0:
            ax.set_title(title, loc="left", fontsize=10, x=0, pad=6)
    return im


def filters():
    """conv1's 32 3×3 kernels before and after training, on one symmetric diverging scale with a
    colour bar."""
    kernel = model().layers[0].get_weights()[0]
    start = initial_kernel()
    blocks = [
        (start, _("conv1's 32 kernels, random initialization")),
        (kernel, _("conv1's 32 kernels, after training")),
    ]
    limit = _signed_limit(*(b for b, _ in blocks))
    fig = g.figure(5.6, 2.55 * len(blocks) + 0.2)
    outer = fig.add_gridspec(
        len(blocks), 2, width_ratios=[30, 1], hspace=0.3, wspace=0.06, left=0.02, right=0.88, top=0.93, bottom=0.03
    )
    for row, (values, title) in enumerate(blocks):
        im = _kernel_block(fig, outer[row, 0], values, limit, title)
    bar = fig.colorbar(im, cax=fig.add_subplot(outer[:, 1]), ticks=[-limit, 0, limit], format="%.2f")
    bar.ax.tick_params(labelsize=9, length=2)
    bar.set_label(_("weight (0 = white)"), fontsize=9)
    return fig


def _pick_digits(count: int) -> list[int]:
    """The first correctly classified test image of each of the first ``count`` classes, 7 first."""
    _, y = test_set()
    pred = test_predictions().argmax(axis=1)
    out = []
    for label in [7, 2, 0, 4, 3, 5, 6, 8, 9, 1][:count]:
        out.append(int(np.flatnonzero((y == label) & (pred == y))[0]))
    return out


def feature_maps(which: int = 0, channels: int = 6):
    """One test digit through every layer: for each layer, its ``channels`` most active
    channels for this digit (by largest value), each row on its own scale."""
    x, y = test_set()
    index = _pick_digits(which + 1)[which]
    acts = activations(x[index : index + 1])
    names = layer_names()
    rows = [(k, a[0]) for k, a in enumerate(acts) if a.ndim == 4]
    fig = g.figure(7.3, 1.0 * len(rows) + 0.45)
    spec = fig.add_gridspec(
        len(rows),
        channels + 3,
        width_ratios=[1.5, 0.95] + [1] * channels + [0.1],
        left=0.005,
        right=0.925,
        top=0.92,
        bottom=0.035,
        wspace=0.1,
        hspace=0.3,
    )
    image_ax = fig.add_subplot(spec[0:2, 0])
    image_ax.imshow(x[index, :, :, 0], cmap=g.INPUT_CMAP, vmin=0, vmax=1, interpolation="nearest")
    image_ax.set_title(_("input: a {digit}").format(digit=y[index]), fontsize=10, loc="left")
    g.plain(image_ax)
    for row, (k, a) in enumerate(rows):
        h, w, c = a.shape
        strongest = np.argsort(-a.reshape(-1, c).max(axis=0), kind="stable")[:channels]
        top = max(float(a.max()), 1e-9)
        name_ax = fig.add_subplot(spec[row, 1])
        name_ax.axis("off")
        name_ax.text(
            1.0, 0.5, f"{names[k]}\n{h}×{w}×{c}", ha="right", va="center", fontsize=9.5, transform=name_ax.transAxes
        )
        for col, ch in enumerate(strongest):
            ax = fig.add_subplot(spec[row, col + 2])
            im = ax.imshow(a[:, :, ch], cmap=g.OUTPUT_CMAP, vmin=0, vmax=top, interpolation="nearest")
            g.plain(ax)
            ax.set_xlabel(_("ch {c}").format(c=ch), fontsize=9, labelpad=1)
        bar = fig.colorbar(im, cax=fig.add_subplot(spec[row, -1]), ticks=[0, top])
        bar.ax.tick_params(labelsize=9, length=2)
        bar.set_ticklabels(["0", f"{top:.2g}"])
    fig.suptitle(
        _(
            "Each layer's {channels} most active channels for this digit "
            "(activation: white 0, dark = the row's largest)"
        ).format(channels=channels),
        fontsize=9.5,
        x=0.01,
        ha="left",
        y=0.995,
    )
    return fig


def chosen_channels(name: str, count: int = 3) -> list[int]:
    """Channels shown for a layer: evenly spaced over its live channels (not hand-picked)."""
    values, _ = channel_maxima()[name]
    live = np.flatnonzero(values.max(axis=0) > 0)
    return [int(live[i]) for i in np.linspace(0, len(live) - 1, count).round().astype(int)]


def top_patches(count: int = 3):
    """For ``count`` channels of conv2 and of conv3: the receptive-field patches of the
    ``SHOWN`` test images where the channel responds most, with each image's label."""
    x, y = test_set()
    layers = [("conv2", 2), ("conv3", 4)]
    fig = plt.figure(figsize=(7.2, 1.18 * count * len(layers) + 0.7))
    spec = fig.add_gridspec(
        count * len(layers),
        SHOWN + 1,
        width_ratios=[1.5] + [1] * SHOWN,
        left=0.01,
        right=0.99,
        top=0.94,
        bottom=0.02,
        wspace=0.1,
        hspace=0.42,
    )
    for block, (name, index) in enumerate(layers):
        for r, channel in enumerate(chosen_channels(name, count)):
            row = block * count + r
            units = top_units(name, channel)
            label_ax = fig.add_subplot(spec[row, 0])
            label_ax.axis("off")
            size = fields()[index].size
            labels = [int(y[n]) for n, *_ in units]
            label_ax.text(
                1.0,
                0.5,
                _("{name} ch {channel}\n{size}×{size} patches").format(name=name, channel=channel, size=size),
                ha="right",
                va="center",
                fontsize=9.5,
                transform=label_ax.transAxes,
            )
            for col, (n, i, j, _value) in enumerate(units):
                top, left, size = field_of(index, i, j)
                patch = x[n, max(top, 0) : top + size, max(left, 0) : left + size, 0]
                ax = fig.add_subplot(spec[row, col + 1])
                ax.imshow(patch, cmap=g.INPUT_CMAP, vmin=0, vmax=1, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_xlabel(_("a {digit}").format(digit=labels[col]), fontsize=9, labelpad=1)
    fig.suptitle(
        _("Where deeper units fire most: the input patch each one sees, in its {n} strongest test images").format(
            n=SHOWN
        ),
        fontsize=10,
        x=0.01,
        ha="left",
        y=0.985,
    )
    return fig


def growth():
    """Receptive field and what units respond to, layer by layer: the fields of conv1, conv2
    and conv3 units on a digit (with the border no conv3 unit sees), and how often a channel's
    strongest test images show the same digit."""
    x, y = test_set()
    index = _pick_digits(1)[0]
    names = layer_names()
    windowed = [n for n in names if n.startswith(("conv", "pool"))]
    rfs = fields()
    fig = g.figure(7.3, 3.0)
    ax = fig.add_axes([0.012, 0.03, 0.41, 0.84])
    g.setup_axes(ax, 40, 28)
    g.image(ax, x[index, :, :, 0], 0, 0, g.INPUT_CMAP, 0, 1)
    rows, cols = unseen_border()
    for rect in ([(0, 28 - rows), 28, rows] if rows else None, [(28 - cols, 0), cols, 28] if cols else None):
        if rect:
            ax.add_patch(Rectangle(*rect, facecolor=g.PAD_FACE, edgecolor=g.PAD_EDGE, hatch=g.PAD_HATCH, lw=0.6))
    styles = {"conv1": "-", "conv2": "--", "conv3": ":"}
    shown = [(layer, name) for layer, name in enumerate(windowed) if name in styles]
    for place, (layer, name) in enumerate(shown):
        out_h = model().layers[names.index(name)].output_shape[0]
        top, left, size = field_of(layer, out_h // 2, out_h // 2)
        ax.add_patch(
            Rectangle((left, top), size, size, fill=False, edgecolor=g.WINDOW, lw=2.2, linestyle=styles[name], zorder=5)
        )
        label_y = 5 + 7 * place
        ax.plot([left + size, 29.5], [top + (size if place else 0), label_y], color=g.WINDOW, lw=0.8)
        ax.text(29.8, label_y, f"{name}\n{size}×{size}", fontsize=9.5, color=g.TEXT, va="center")
    ax.text(29.8, 26.2, _("grey: never\nseen by conv3"), fontsize=9, color=g.TEXT, va="center")
    ax.set_title(_("one unit's field per layer"), fontsize=10, loc="left")

    depth = fig.add_axes([0.5, 0.22, 0.2, 0.62])
    depth.plot(range(len(rfs)), [rf.size for rf in rfs], marker="o", color=g.WINDOW)
    for k, rf in enumerate(rfs):
        depth.annotate(str(rf.size), (k, rf.size), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=9)
    depth.set_xticks(range(len(rfs)), windowed, rotation=45, fontsize=9)
    depth.tick_params(labelsize=9)
    depth.set_ylim(0, 28)
    depth.set_ylabel(_("field side (pixels)"), fontsize=9)
    depth.set_title(_("field side"), fontsize=10, loc="left")

    agree = label_agreement()
    conv = [n for n in windowed if n.startswith("conv")]
    bars = fig.add_axes([0.8, 0.22, 0.19, 0.62])
    bars.bar(range(len(conv)), [agree[n]["agreement"] for n in conv], color=g.OUTPUT)
    bars.axhline(agree["chance"], color=g.TEXT, lw=1.2, linestyle="--")
    bars.set_xticks(range(len(conv)), conv, fontsize=9, rotation=45)
    bars.tick_params(labelsize=9)
    bars.set_ylim(0, 1)
    bars.set_ylabel(_("top {n} images: same digit").format(n=TOP), fontsize=9)
    bars.set_title(_("- - - chance"), fontsize=9, loc="left", fontweight="normal")
    return fig

"""docs/concepts/response-maps.rst: response maps of hand-made filters on real handwritten digits."""

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.patches import Rectangle

import convops

from . import grammar as g
from .i18n import _

# name: (integer weights, scale) — written as integers so the figure can print them
FILTERS = {  # the names are translated where drawn (figures.i18n)
    "vertical edge": ([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], 1),
    "horizontal edge": ([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], 1),
    "diagonal ↘": ([[0, 1, 1], [-1, 0, 1], [-1, -1, 0]], 1),
    "diagonal ↗": ([[1, 1, 0], [1, 0, -1], [0, -1, -1]], 1),
    "box blur": ([[1, 1, 1], [1, 1, 1], [1, 1, 1]], 9),
    "Gaussian blur": ([[1, 2, 1], [2, 4, 2], [1, 2, 1]], 16),
    "sharpen": ([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], 1),
    "outline": ([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], 1),
}


def filter_names() -> dict[str, str]:
    """FILTERS' names as the figure draws them, in the language drawn."""
    names = {
        "vertical edge": _("vertical edge"),
        "horizontal edge": _("horizontal edge"),
        "diagonal ↘": _("diagonal ↘"),
        "diagonal ↗": _("diagonal ↗"),
        "box blur": _("box blur"),
        "Gaussian blur": _("Gaussian blur"),
        "sharpen": _("sharpen"),
        "outline": _("outline"),
    }
    if names.keys() != FILTERS.keys():
        raise AssertionError(f"response_maps: filter_names() must name every filter {list(FILTERS)}")
    return names


def bank() -> np.ndarray:
    """The filters above as one HWIO bank (3, 3, 1, 8)."""
    return np.stack([np.asarray(w, np.float32) / scale for w, scale in FILTERS.values()], axis=-1)[:, :, None, :]


def response_maps(label: int = 7):
    """Eight hand-made 3 x 3 filters on one digit: one conv2d call with a (3, 3, 1, 8) bank.

    Kernels and maps share the signed map (purple < 0 < green); each panel is scaled by its own
    largest |value|, so one colour bar serves them all."""
    x = g.digit(label)
    maps = convops.conv2d(x[None, :, :, None], bank())[0]  # (26, 26, 8)
    fig = plt.figure(figsize=(g.MAX_WIDTH, 8.4))
    gs = fig.add_gridspec(
        5,
        4,
        height_ratios=[1.25, 0.62, 1, 0.62, 1],
        left=0.02,
        right=0.86,
        top=0.97,
        bottom=0.01,
        hspace=0.42,
        wspace=0.12,
    )
    ax0 = fig.add_subplot(gs[0, 0])
    ax0.imshow(x, cmap=g.INPUT_CMAP, vmin=0, vmax=1)
    ax0.set_title(_("digit {label}, 28×28").format(label=label), fontsize=9.5, color=g.INPUT)
    g.plain(ax0)
    note = fig.add_subplot(gs[0, 1:])
    note.axis("off")
    note.text(
        0.02,
        0.55,
        _(
            "Rows 2 and 4: each 3×3 kernel (its weights written in it).\n"
            "Rows 3 and 5: its 26×26 response map on the digit.\n"
            "One conv2d call with the (3, 3, 1, 8) bank."
        ),
        fontsize=10,
        va="center",
        linespacing=1.5,
        transform=note.transAxes,
    )
    for c, (name, (weights, scale)) in enumerate(FILTERS.items()):
        row, col = 1 + 2 * (c // 4), c % 4
        kax = fig.add_subplot(gs[row, col])
        weights = np.asarray(weights, np.float32)
        g.setup_axes(kax, 3, 3)
        g.grid(kax, weights, 0, 0, g.SIGNED_CMAP, -g.limit(weights), g.limit(weights))
        kax.add_patch(Rectangle((0, 0), 3, 3, fill=False, edgecolor=g.WINDOW, linewidth=2))
        kax.set_title(filter_names()[name] + (f" (÷{scale})" if scale != 1 else ""), fontsize=9.5, color=g.WINDOW)
        rax = fig.add_subplot(gs[row + 1, col])
        lim = g.limit(maps[..., c])
        im = rax.imshow(maps[..., c] / lim, cmap=g.SIGNED_CMAP, vmin=-1, vmax=1)
        g.plain(rax)
    g.colorbar(
        im,
        rax,
        _("value ÷ the largest |value| in its panel"),
        ticks=[-1, 0, 1],
        format=g._tick,
        cax=fig.add_axes([0.89, 0.2, 0.022, 0.45]),
    )
    return fig


def same_filter_everywhere():
    """One filter (horizontal edge, then ReLU) on ten different digits: it fires on the same pattern."""
    kernel = np.asarray(FILTERS["horizontal edge"][0], np.float32)[:, :, None, None]
    digits = np.stack([g.digit(d, 1) for d in range(10)])[..., None]  # (10, 28, 28, 1)
    maps = np.maximum(convops.conv2d(digits, kernel), 0)[..., 0]  # ReLU keeps the positive part
    fig, axes = plt.subplots(4, 5, figsize=(g.MAX_WIDTH, 6.4))
    for d in range(10):
        row, col = 2 * (d // 5), d % 5
        axes[row, col].imshow(digits[d, ..., 0], cmap=g.INPUT_CMAP, vmin=0, vmax=1)
        axes[row + 1, col].imshow(maps[d], cmap=g.OUTPUT_CMAP, vmin=0, vmax=maps.max())
    for ax in axes.ravel():
        g.plain(ax)
    for row in (0, 2):
        axes[row, 0].set_ylabel(_("input"), fontsize=10, color=g.INPUT)
        axes[row + 1, 0].set_ylabel(_("ReLU(response)"), fontsize=10, color=g.OUTPUT)
    fig.suptitle(_("The 'top edge of a stroke' filter on ten digits: one batch, one conv2d call"), fontsize=10)
    fig.subplots_adjust(left=0.05, right=0.99, top=0.94, bottom=0.01, wspace=0.06, hspace=0.06)
    return fig

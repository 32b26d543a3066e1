"""docs/concepts/translation.rst: translation: conv maps shift with the input; pooled maps partly stay the same."""

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.patches import Rectangle

import convops

from . import grammar as g
from .i18n import _

EDGE = np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], np.float32)


def shift_right(x: np.ndarray, dx: int) -> np.ndarray:
    """Move a (28, 28) image dx pixels right: zeros enter on the left (convops.pad), the right edge drops."""
    return convops.pad(x, [[0, 0], [dx, 0]])[:, : x.shape[1]]


def features(x: np.ndarray):
    """conv (vertical edge) + ReLU, then 2x2 max pools: (26, 26), (13, 13), (6, 6)."""
    fmap = np.maximum(convops.conv2d(x, EDGE), 0)
    pool1 = convops.max_pool2d(fmap, 2, 2)
    pool2 = convops.max_pool2d(pool1, 2, 2)
    return fmap, pool1, pool2


def same_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the active cells (non-zero in either map) whose value did not change."""
    active = (a != 0) | (b != 0)
    return float((a[active] == b[active]).mean()) if active.any() else 1.0


def _same_or_changed(ax, same: np.ndarray, active: np.ndarray) -> None:
    """Active cells of a pooled map: solid dark where the value is the same as without the shift,
    light and cross-hatched where it changed (told apart by shape and lightness, not by hue)."""
    h, w = same.shape
    for i in range(h):
        for j in range(w):
            if not active[i, j]:
                continue
            if same[i, j]:
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor=g.SAME, edgecolor="white", linewidth=0.3))
            else:
                ax.add_patch(
                    Rectangle(
                        (j, i),
                        1,
                        1,
                        facecolor=g.CHANGED,
                        edgecolor=g.CHANGED_EDGE,
                        hatch=g.CHANGED_HATCH,
                        linewidth=0.3,
                    )
                )
    ax.add_patch(Rectangle((0, 0), w, h, fill=False, edgecolor=g.GRID_EDGE, linewidth=0.8))
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_aspect("equal")


def shift_maps():
    x = g.digit(1, 1)
    fig, axes = plt.subplots(3, 4, figsize=(g.MAX_WIDTH, 6.6))
    base = features(x)
    for row, dx in enumerate((0, 1, 2)):
        xs = shift_right(x, dx)
        fmap, pool1, _pool2 = features(xs)
        axes[row, 0].imshow(xs, cmap=g.INPUT_CMAP, vmin=0, vmax=1)
        axes[row, 0].set_ylabel(_("shift {dx} px").format(dx=dx), fontsize=10)
        axes[row, 1].imshow(fmap, cmap=g.OUTPUT_CMAP, vmin=0, vmax=base[0].max())
        axes[row, 2].imshow(pool1, cmap=g.OUTPUT_CMAP, vmin=0, vmax=base[0].max())
        same = pool1 == base[1]
        active = (pool1 != 0) | (base[1] != 0)
        _same_or_changed(axes[row, 3], same, active)
        text = _("{share} unchanged in place").format(share=f"{same_fraction(pool1, base[1]):.0%}")
        if dx == 2:
            # a 2-pixel shift moves the pooled map by exactly one cell: compare one cell over
            moved = same_fraction(pool1[:, 1:], base[1][:, :-1])
            text += "\n" + _("{share} equal 1 cell right").format(share=f"{moved:.0%}")
        axes[row, 3].set_xlabel(text, fontsize=9)
    for ax, title in zip(axes[0], [_("input"), "ReLU(conv)\n26×26", "max_pool2d\n13×13", _("pooled value\nthe same?")]):
        ax.set_title(title, fontsize=9.5)
    for ax in axes.ravel():
        g.plain(ax)
    handles = [
        Rectangle((0, 0), 1, 1, facecolor=g.SAME, edgecolor="white"),
        Rectangle((0, 0), 1, 1, facecolor=g.CHANGED, edgecolor=g.CHANGED_EDGE, hatch=g.CHANGED_HATCH),
    ]
    fig.legend(
        handles,
        [_("the same (solid, dark)"), _("changed (light, hatched)")],
        loc="lower center",
        ncol=2,
        frameon=False,
        fontsize=9.5,
        handlelength=1.6,
        handleheight=1.2,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def invariance_curve():
    digits = [g.digit(d, 2) for d in range(10)]
    shifts = list(range(0, 9))
    curves = {_("conv map (same positions)"): [], _("after 1 max pool"): [], _("after 2 max pools"): []}
    for dx in shifts:
        scores = np.zeros(3)
        for x in digits:
            base = features(x)
            moved = features(shift_right(x, dx))
            scores += [same_fraction(m, b) for m, b in zip(moved, base)]
        for key, score in zip(curves, scores / len(digits)):
            curves[key].append(score)
    fig, ax = plt.subplots(figsize=(g.MAX_WIDTH, 3.4))
    # three lines told apart by marker and dash as well as colour
    for (key, values), colour, style in zip(curves.items(), [g.INPUT, g.WINDOW, g.OUTPUT], ["o-", "s--", "^:"]):
        ax.plot(shifts, values, style, color=colour, label=key, lw=2)
    ax.set_xlabel(_("shift of the input (pixels to the right)"))
    ax.set_ylabel(_("active values unchanged"))
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=9)
    ax.set_title(_("Pooling buys a little invariance to small shifts,\nnot full invariance (10 digits)"), fontsize=10)
    fig.tight_layout()
    return fig

"""Page 10: translation: conv maps shift with the input; pooled maps partly stay the same."""

import numpy as np
from matplotlib import pyplot as plt

import convops

from . import grammar as g

EDGE = np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], np.float32)


def shift_right(x: np.ndarray, dx: int) -> np.ndarray:
    """Move a (28, 28) image dx pixels right: zeros enter on the left (convops.pad), the right edge drops."""
    return convops.pad(x, [[0, 0], [dx, 0]])[:, :x.shape[1]]


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


def shift_maps():
    x = g.digit(1, 1)
    fig, axes = plt.subplots(3, 4, figsize=(7.2, 5.9))
    base = features(x)
    for row, dx in enumerate((0, 1, 2)):
        xs = shift_right(x, dx)
        fmap, pool1, _ = features(xs)
        axes[row, 0].imshow(xs, cmap=g.INPUT_CMAP, vmin=0, vmax=1)
        axes[row, 0].set_ylabel(f"shift {dx} px", fontsize=10)
        axes[row, 1].imshow(fmap, cmap=g.OUTPUT_CMAP, vmin=0, vmax=base[0].max())
        axes[row, 2].imshow(pool1, cmap=g.OUTPUT_CMAP, vmin=0, vmax=base[0].max())
        same = (pool1 == base[1])
        active = (pool1 != 0) | (base[1] != 0)
        view = np.where(active, np.where(same, 1.0, 0.0), np.nan)
        axes[row, 3].imshow(view, cmap="RdYlGn", vmin=-0.2, vmax=1.2, interpolation="nearest")
        text = f"{same_fraction(pool1, base[1]):.0%} unchanged in place"
        if dx == 2:
            # a 2-pixel shift moves the pooled map by exactly one cell: compare one cell over
            moved = same_fraction(pool1[:, 1:], base[1][:, :-1])
            text += f"\n{moved:.0%} equal 1 cell right"
        axes[row, 3].set_xlabel(text, fontsize=8.5)
    for ax, title in zip(axes[0], ["input", "ReLU(conv) 26×26", "max_pool2d 13×13",
                                   "pooled value the same?\n(green yes, red no)"]):
        ax.set_title(title, fontsize=9.5)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def invariance_curve():
    digits = [g.digit(d, 2) for d in range(10)]
    shifts = list(range(0, 9))
    curves = {"conv map (same positions)": [], "after 1 max pool": [], "after 2 max pools": []}
    for dx in shifts:
        scores = np.zeros(3)
        for x in digits:
            base = features(x)
            moved = features(shift_right(x, dx))
            scores += [same_fraction(m, b) for m, b in zip(moved, base)]
        for key, score in zip(curves, scores / len(digits)):
            curves[key].append(score)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for (key, values), colour in zip(curves.items(), [g.INPUT, g.WINDOW, g.OUTPUT]):
        ax.plot(shifts, values, "o-", color=colour, label=key, lw=2)
    ax.set_xlabel("shift of the input (pixels to the right)")
    ax.set_ylabel("active values unchanged")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=9)
    ax.set_title("Pooling buys a little invariance to small shifts, not full invariance (10 digits)", fontsize=9.5)
    fig.tight_layout()
    return fig

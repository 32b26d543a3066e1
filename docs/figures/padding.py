"""docs/concepts/padding.rst: padding: the border effect, VALID vs SAME, TF's asymmetric split, padding modes."""

import numpy as np
from matplotlib import pyplot as plt

import convops
from convops import arithmetic

from . import grammar as g
from .i18n import _

SMALL = np.array([[3, 1, 0, 2, 4], [0, 6, 2, 1, 0], [5, 1, 7, 3, 2], [1, 0, 4, 8, 1], [2, 3, 0, 1, 6]], np.float32)
LAPLACE = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32)


def coverage(height: int, width: int, k: int, padding) -> np.ndarray:
    """How many windows of a k x k kernel cover each input pixel, found with convops' own ops:
    a batch of one-hot images (one per pixel) through conv2d with a kernel of ones; a window
    covers the pixel iff its output is 1."""
    eye = np.eye(height * width, dtype=np.float32).reshape(height * width, height, width, 1)
    out = convops.conv2d(eye, np.ones((k, k, 1, 1), np.float32), padding=padding)
    return out.reshape(height * width, -1).sum(axis=1).reshape(height, width)


def border_effect():
    valid = coverage(6, 6, 3, "VALID")
    same = coverage(6, 6, 3, "SAME")
    fig, ax = g.canvas(15, 9.6, scale=0.45, title_space=0.05)
    g.grid(ax, valid, 0, 1.5, g.INPUT_CMAP, 0, 9)
    g.label(ax, 3, 1.25, _("VALID: windows covering each pixel"), g.INPUT, size=9)
    g.grid(ax, same, 8.5, 1.5, g.INPUT_CMAP, 0, 9)
    g.label(ax, 11.5, 1.25, _("SAME: windows covering each pixel"), g.INPUT, size=9)
    ax.text(
        0,
        8.0,
        _(
            "6×6 input, 3×3 kernel. VALID: a corner pixel is seen by {corner} window,\n"
            "the centre by {centre}. SAME: the zero border lets the window centre on every\n"
            "pixel (corners now seen {same_corner} times)."
        ).format(corner=int(valid[0, 0]), centre=int(valid[2, 2]), same_corner=int(same[0, 0])),
        fontsize=9.5,
        va="top",
    )
    return fig


def valid_vs_same():
    infos = [
        (g.sliding_window(SMALL, kernel=LAPLACE, padding="VALID"), _("VALID: no padding, 5×5 → 3×3")),
        (g.sliding_window(SMALL, kernel=LAPLACE, padding="SAME"), _("SAME: pad 1 on each side, 5×5 → 5×5")),
    ]
    fig, axes = plt.subplots(2, 1, figsize=(7.2, 6.0), gridspec_kw={"height_ratios": [6.6, 8.6]})
    for ax, (info, title) in zip(axes, infos):
        g.draw_step(ax, info, None, title, show_formula=False)
        ax.set_anchor("W")
    fig.subplots_adjust(left=0.005, right=0.995, top=0.99, bottom=0.01, hspace=0.08)
    return fig


def anim_same(path):
    info = g.sliding_window(SMALL, kernel=LAPLACE, padding="SAME")
    g.animate(info, path, _("SAME padding: the window may hang over the zero border"), fps=2.5)


def tf_vs_pytorch():
    """Stride 2, kernel 3 on 6 pixels: TF pads (0, 1), PyTorch's padding=1 pads (1, 1).

    The kernel [100, 10, 1] makes every output spell the three pixels it saw."""
    row = np.arange(1, 7, dtype=np.float32)[None, :]  # (1, 6): pixels 1..6
    kernel = np.array([[100, 10, 1]], np.float32)
    tf_pads = arithmetic.same_padding(6, 3, stride=2)  # (0, 1)
    tf_out = convops.conv2d(row, kernel, strides=2, padding="SAME")[0]
    pt_out = convops.conv2d(row, kernel, strides=2, padding=((0, 0), (1, 1)))[0]
    fig, ax = g.canvas(17, 8.6, scale=0.5)
    for y0, pads, out, name in [
        (1.0, tf_pads, tf_out, _('TensorFlow "SAME": pad {pads} → odd pixel on the right').format(pads=tf_pads)),
        (5.0, (1, 1), pt_out, _("PyTorch padding=1: pad (1, 1) on both sides")),
    ]:
        xp, mask = g.padded(row, ((0, 0), pads))
        g.label(ax, 0, y0 - 0.35, name, g.TEXT, size=9.5, ha="left")
        g.grid(ax, xp, 0, y0 + 0.3, g.INPUT_CMAP, 0, 6, pad_mask=mask)
        for i in range(out.size):
            left = 2 * i
            colour = g.WINDOW  # every window in the kernel's colour, one below the other
            ax.annotate(
                "",
                xy=(left + 3 - 0.05, y0 + 1.55 + 0.25 * i),
                xytext=(left + 0.05, y0 + 1.55 + 0.25 * i),
                arrowprops=dict(arrowstyle="|-|", color=colour, lw=1.6, mutation_scale=3),
            )
        xo = xp.shape[1] + 2.5
        ax.text(xo - 1.2, y0 + 0.8, "→", fontsize=16, va="center", ha="center")
        g.grid(ax, out[None, :], xo, y0 + 0.3, g.OUTPUT_CMAP, 0, 600)
        ax.text(xo + 1.5, y0 + 1.55, _("output"), ha="center", va="top", fontsize=9, color=g.OUTPUT)
    ax.text(
        0,
        8.5,
        _("Kernel [100, 10, 1], stride 2: each output spells the three pixels its window read."),
        fontsize=9,
        va="bottom",
    )
    return fig


def pad_modes():
    x = np.arange(1, 10, dtype=np.float32).reshape(3, 3)
    modes = ["CONSTANT", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR", "MEAN"]
    notes = [
        _("zeros (tf.pad default)"),
        _("mirror, edge not repeated"),
        _("mirror, edge repeated"),
        _("repeat the edge (not in TF)"),
        _("wrap around (not in TF)"),
        _("mean of the image (not in TF)"),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(g.MAX_WIDTH, 6.6))
    mask = convops.pad(np.zeros((3, 3), bool), [[2, 2], [2, 2]], constant_values=True)
    for ax, mode, note in zip(axes.ravel(), modes, notes):
        xp = convops.pad(x, [[2, 2], [2, 2]], mode)
        g.setup_axes(ax, 7, 7)
        g.grid(ax, xp, 0, 0, g.INPUT_CMAP, 0, 9, pad_mask=mask)
        ax.add_patch(plt.Rectangle((2, 2), 3, 3, fill=False, edgecolor=g.INPUT, linewidth=2))
        ax.set_title(f'"{mode}"\n{note}', fontsize=9.5)
    fig.suptitle(_("convops.pad(x, [[2, 2], [2, 2]], mode):\nthe hatched border comes from ..."), fontsize=10.5)
    fig.tight_layout()
    return fig


def zero_vs_mean():
    """A 5 x 5 blur of a dark-on-light digit: zero padding draws a dark frame, other modes do not."""
    x = 1.0 - 0.8 * g.digit(5)  # ink on white paper
    kernel = np.full((5, 5), 1 / 25, np.float32)
    panels = [(_("input") + "\n", x)]
    panels.append((_("zero\n(SAME)"), convops.conv2d(x, kernel, padding="SAME")))
    for mode in ("MEAN", "REFLECT", "EDGE"):
        panels.append(
            (
                _("{mode}\n(pad, VALID)").format(mode=mode.lower()),
                convops.conv2d(convops.pad(x, [[2, 2], [2, 2]], mode), kernel),
            )
        )
    fig, axes = plt.subplots(1, 5, figsize=(g.MAX_WIDTH, 2.5))
    for ax, (title, data) in zip(axes, panels):
        ax.imshow(data, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9.5)
        g.plain(ax)
    fig.suptitle(_("5×5 blur of a dark-on-light digit: zero padding drags the border towards black"), fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.7, bottom=0.03, wspace=0.08)
    return fig

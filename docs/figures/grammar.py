"""The docs' one visual grammar, and the helpers every figure uses.

Every diagram of the site is drawn on a grid of unit cells with the same meaning everywhere:

* **input** cells are blue (``INPUT_CMAP``), darker for larger values;
* the **kernel window** is an orange outline (``WINDOW``), the kernel's own cells are orange;
* **padding** cells are light grey and hatched (``PAD_FACE``, ``PAD_HATCH``);
* **output** cells are green (``OUTPUT_CMAP``), the one being computed outlined in orange.

Signed data (filters, response maps) use diverging maps of the same hues: outputs pink/green
(``SIGNED_OUTPUT_CMAP``), kernels purple/orange (``SIGNED_KERNEL_CMAP``). Figures are drawn on a
white card so that they read the same in the site's light and dark modes.

All numbers come from convops: the figures call its ops and :mod:`convops.arithmetic`, so a
wrong op or formula shows up as a wrong picture (or a failed build) here.
"""

from __future__ import annotations

import functools
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import convops  # noqa: E402
from convops import arithmetic  # noqa: E402

INPUT_CMAP = "Blues"
OUTPUT_CMAP = "Greens"
KERNEL_CMAP = "Oranges"
SIGNED_OUTPUT_CMAP = "PiYG"
SIGNED_KERNEL_CMAP = "PuOr_r"
WINDOW = "#e8710a"
INPUT = "#2f6ea8"
OUTPUT = "#2e8b57"
PAD_FACE = "#f0f0f0"
PAD_EDGE = "#b3b3b3"
PAD_HATCH = "////"
GRID_EDGE = "#555555"
TEXT = "#222222"

RC = {
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.facecolor": "white",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "hatch.color": PAD_EDGE,
    "hatch.linewidth": 0.5,
}
plt.rcParams.update(RC)

DATA = pathlib.Path(__file__).resolve().parent.parent / "_data" / "mnist_sample.npz"


# ----------------------------------------------------------------------------------------------
# data
@functools.lru_cache(maxsize=None)
def _mnist():
    with np.load(DATA) as data:
        return data["images"].copy(), data["labels"].copy()


def digit(label: int = 7, index: int = 0) -> np.ndarray:
    """A real MNIST digit (28, 28) as float32 in [0, 1] (see docs/_data/README.md)."""
    images, labels = _mnist()
    return images[np.flatnonzero(labels == label)[index]].astype(np.float32) / 255.0


# ----------------------------------------------------------------------------------------------
# grid primitives: cell (i, j) of a grid whose top-left corner is (x0, y0) covers
# [x0 + j, x0 + j + 1] x [y0 + i, y0 + i + 1], with y pointing down.
def canvas(width: float, height: float, scale: float = 0.42, title_space: float = 0.5):
    """A figure with one axes of `width` x `height` cells, y pointing down, no frame."""
    fig = plt.figure(figsize=(max(width * scale, 2.5), height * scale + title_space))
    ax = fig.add_axes([0.01, 0.01, 0.98, (height * scale) / (height * scale + title_space) - 0.01])
    setup_axes(ax, width, height)
    return fig, ax


def setup_axes(ax, width: float, height: float) -> None:
    ax.set_xlim(-0.1, width + 0.1)
    ax.set_ylim(height + 0.1, -0.1)
    ax.set_aspect("equal")
    ax.axis("off")


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "NaN" if np.isnan(value) else ("-inf" if value < 0 else "inf")
        if float(value).is_integer():
            return str(int(value))
        return f"{value:.2g}" if abs(value) < 1 else f"{value:.3g}"
    return str(value)


def grid(ax, values, x0: float = 0, y0: float = 0, cmap: str = INPUT_CMAP, vmin=None, vmax=None,
         numbers: bool = True, pad_mask=None, fontsize: float = 9, edge: str = GRID_EDGE,
         blank=None, pad_text: str | None = None) -> None:
    """Draw a 2-D array as cells; `pad_mask` marks padding cells (hatched grey); `blank` marks
    cells not computed yet (white)."""
    values = np.asarray(values)
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    lo = vmin if vmin is not None else (finite.min() if finite.size else 0)
    hi = vmax if vmax is not None else (finite.max() if finite.size else 1)
    colours = plt.get_cmap(cmap)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            padded = pad_mask is not None and pad_mask[i, j]
            empty = blank is not None and blank[i, j]
            if padded:
                ax.add_patch(Rectangle((x0 + j, y0 + i), 1, 1, facecolor=PAD_FACE, edgecolor=PAD_EDGE,
                                       hatch=PAD_HATCH, linewidth=0.6))
            else:
                t = 0.0 if hi == lo or not np.isfinite(v) else (float(v) - lo) / (hi - lo)
                face = "white" if empty else colours(0.08 + 0.8 * min(max(t, 0.0), 1.0))
                ax.add_patch(Rectangle((x0 + j, y0 + i), 1, 1, facecolor=face, edgecolor=edge, linewidth=0.6))
            if numbers and not empty:
                face_rgb = (0.94, 0.94, 0.94) if padded else face[:3] if not isinstance(face, str) else (1, 1, 1)
                # white text on dark cells, dark text on light ones (by luminance)
                dark = 0.299 * face_rgb[0] + 0.587 * face_rgb[1] + 0.114 * face_rgb[2] < 0.5
                if padded and pad_text is not None:
                    if pad_text:
                        ax.text(x0 + j + 0.5, y0 + i + 0.52, pad_text, ha="center", va="center",
                                fontsize=fontsize, color="#444444")
                    continue
                colour = "#444444" if padded else ("white" if dark else TEXT)
                ax.text(x0 + j + 0.5, y0 + i + 0.52, _fmt(v), ha="center", va="center",
                        fontsize=fontsize, color=colour)


def image(ax, values, x0: float = 0, y0: float = 0, cmap: str = INPUT_CMAP, vmin=None, vmax=None,
          frame: str = GRID_EDGE) -> None:
    """Draw a larger 2-D array as an image occupying one unit per pixel (no numbers)."""
    values = np.asarray(values, dtype=float)
    h, w = values.shape
    ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, extent=(x0, x0 + w, y0 + h, y0),
              interpolation="nearest")
    ax.add_patch(Rectangle((x0, y0), w, h, fill=False, edgecolor=frame, linewidth=0.8))


def window(ax, top: int, left: int, height: int, width: int, x0: float = 0, y0: float = 0,
           dilation=(1, 1), colour: str = WINDOW, lw: float = 2.6) -> None:
    """The kernel window: an orange outline around its span, and each tap outlined when dilated."""
    dh, dw = dilation
    span_h, span_w = (height - 1) * dh + 1, (width - 1) * dw + 1
    ax.add_patch(Rectangle((x0 + left, y0 + top), span_w, span_h, fill=False, edgecolor=colour, linewidth=lw,
                           zorder=5))
    if dh > 1 or dw > 1:
        for a in range(height):
            for b in range(width):
                ax.add_patch(Rectangle((x0 + left + b * dw + 0.08, y0 + top + a * dh + 0.08), 0.84, 0.84,
                                       facecolor=colour, alpha=0.35, edgecolor=colour, linewidth=1.2, zorder=4))


def highlight(ax, i: int, j: int, x0: float = 0, y0: float = 0, colour: str = WINDOW, lw: float = 2.6) -> None:
    ax.add_patch(Rectangle((x0 + j, y0 + i), 1, 1, fill=False, edgecolor=colour, linewidth=lw, zorder=6))


def label(ax, x: float, y: float, text: str, colour: str = TEXT, size: float = 10, **kw) -> None:
    ax.text(x, y, text, ha=kw.pop("ha", "center"), va=kw.pop("va", "bottom"), fontsize=size, color=colour,
            fontweight=kw.pop("weight", "bold"), **kw)


def symbol(ax, x: float, y: float, text: str, size: float = 16) -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=size, color=TEXT)


def padded(x: np.ndarray, pads) -> tuple[np.ndarray, np.ndarray]:
    """`x` padded with zeros by convops.pad, and the mask of padding cells."""
    (top, bottom), (left, right) = pads
    xp = convops.pad(x, [[top, bottom], [left, right]])
    mask = convops.pad(np.zeros(x.shape, bool), [[top, bottom], [left, right]], constant_values=True)
    return xp, mask


def save(fig, path) -> None:
    fig.savefig(path)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------
# the sliding window, static and animated
def sliding_window(x: np.ndarray, *, kernel=None, ksize=None, strides=(1, 1), padding="VALID",
                   dilations=(1, 1), pool: str | None = None):
    """Everything a sliding-window diagram needs, computed by convops.

    Returns a dict with the padded input, its padding mask, the output (from convops' own op),
    the explicit padding, and a function giving the top-left corner of each output's window.
    """
    x = np.asarray(x, dtype=np.float32)
    if kernel is not None:
        kernel = np.asarray(kernel, dtype=np.float32)
        kh, kw = kernel.shape
    else:
        kh, kw = ksize
    sh, sw = strides
    dh, dw = dilations
    pads = (arithmetic.resolve_padding(padding, x.shape[0], kh, sh, dh),
            arithmetic.resolve_padding(padding, x.shape[1], kw, sw, dw))
    explicit = pads if not isinstance(padding, str) else padding
    if pool == "max":
        out = convops.max_pool2d(x, (kh, kw), strides, explicit)
    elif pool == "avg":
        out = convops.avg_pool2d(x, (kh, kw), strides, explicit)
    else:
        out = convops.conv2d(x, kernel, strides=strides, padding=explicit, dilations=dilations)
    xp, mask = padded(x, pads)
    return {"x": x, "xp": xp, "mask": mask, "out": out, "pads": pads, "k": (kh, kw), "s": (sh, sw),
            "d": (dh, dw), "kernel": kernel, "pool": pool}


def draw_step(ax, info, step: int | None, title: str | None = None, numbers: bool = True,
              show_formula: bool = True):
    """Draw input (with padding), kernel and output, the window at output position `step`
    (row-major), and the output filled up to that position (all of it when `step` is None)."""
    xp, mask, out = info["xp"], info["mask"], info["out"]
    kh, kw = info["k"]
    sh, sw = info["s"]
    dh, dw = info["d"]
    kernel = info["kernel"]
    hp, wp = xp.shape
    ho, wo = out.shape
    top = 1.4
    xk = wp + 1.6
    xo = xk + (kw + 1.9 if kernel is not None else 0.4)
    width = xo + max(wo, 1) + 0.2
    if title:  # room for the title line (about a quarter of a cell per character at 11 pt)
        width = max(width, 0.26 * len(title) + 0.5)
    height = top + max(hp, kh, ho) + (1.0 if show_formula else 0.2)
    setup_axes(ax, width, height)
    vmax_in = max(float(np.nanmax(np.abs(info["x"]))) if info["x"].size else 1, 1e-9)
    # padded cells of a pool never win (max) and are not counted (avg): no number shown in them
    grid(ax, xp, 0, top, INPUT_CMAP, 0, vmax_in, numbers, mask, pad_text="" if info["pool"] else None)
    label(ax, wp / 2, top - 0.25, "input" + (" (padded)" if mask.any() else ""), INPUT)
    if kernel is not None:
        grid(ax, kernel, xk, top, KERNEL_CMAP, min(kernel.min(), 0), max(kernel.max(), 1e-9), numbers)
        label(ax, xk + kw / 2, top - 0.25, "kernel", WINDOW)
        symbol(ax, xk - 0.8, top + kh / 2, "⋆", 22)
        symbol(ax, xo - 0.95, top + kh / 2, "=")
    else:
        symbol(ax, xo - 0.85, top + kh / 2, "→")
    done = np.ones(out.shape, bool)
    if step is not None and out.size:
        done = (np.arange(out.size) <= step).reshape(out.shape)
    finite = out[np.isfinite(out)]
    grid(ax, out, xo, top, OUTPUT_CMAP, finite.min() if finite.size else 0, finite.max() if finite.size else 1,
         numbers, blank=~done)
    label(ax, xo + wo / 2, top - 0.25, f"output {ho}×{wo}", OUTPUT)
    if step is not None and out.size:
        i, j = divmod(step, wo)
        window(ax, i * sh, j * sw, kh, kw, 0, top, (dh, dw))
        highlight(ax, i, j, xo, top)
        if show_formula:
            if info["pool"] == "max":
                text = f"out[{i},{j}] = max of the window = {_fmt(out[i, j])}"
            elif info["pool"] == "avg":
                text = f"out[{i},{j}] = mean of the real cells in the window = {_fmt(out[i, j])}"
            else:
                text = f"out[{i},{j}] = " + _products(info, i, j) + f" = {_fmt(out[i, j])}"
            ax.text(0, top + max(hp, kh, ho) + 0.35, text, ha="left", va="top", fontsize=10, color=TEXT)
    if title:
        ax.text(0, 0.05, title, ha="left", va="top", fontsize=11, fontweight="bold", color=TEXT)
    return width, height


def _products(info, i: int, j: int) -> str:
    """The multiply-adds of one output cell, spelled out, checked against convops' output."""
    xp, kernel = info["xp"], info["kernel"]
    (kh, kw), (sh, sw), (dh, dw) = info["k"], info["s"], info["d"]
    patch = xp[i * sh:i * sh + (kh - 1) * dh + 1:dh, j * sw:j * sw + (kw - 1) * dw + 1:dw]
    total = float((patch.astype(np.float64) * kernel).sum())
    # the figure's own arithmetic must agree with the op it illustrates
    if not np.isclose(total, float(info["out"][i, j]), rtol=1e-5, atol=1e-5):
        raise AssertionError(f"convops output {info['out'][i, j]} != hand sum {total} at {(i, j)}")
    terms = [f"{_fmt(a)}·{_fmt(b) if b >= 0 else '(' + _fmt(b) + ')'}"
             for a, b in zip(patch.ravel(), kernel.ravel()) if b != 0]
    if len(terms) > 9:
        return "Σ window × kernel"
    return " + ".join(terms) if terms else "0"


def static_step(info, step, title=None, scale: float = 0.42):
    fig = plt.figure()
    ax = fig.add_axes([0, 0, 1, 1])
    width, height = draw_step(ax, info, step, title)
    fig.set_size_inches(width * scale, height * scale)
    return fig


def animate(info, path, title: str | None = None, fps: float = 1.6, scale: float = 0.4, dpi: int = 90) -> None:
    """Animated GIF of the window visiting every output position, written with PillowWriter."""
    fig = plt.figure()
    ax = fig.add_axes([0, 0, 1, 1])
    width, height = draw_step(ax, info, 0, title)
    fig.set_size_inches(width * scale, height * scale)
    n = max(info["out"].size, 1)

    def update(step):
        ax.clear()
        draw_step(ax, info, step if step < n else None, title)
        return []

    # one extra frame at the end shows the finished output
    anim = FuncAnimation(fig, update, frames=n + 1, blit=False)
    anim.save(str(path), writer=PillowWriter(fps=fps), dpi=dpi)
    plt.close(fig)

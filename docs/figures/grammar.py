# Size: the whole visual grammar (colours, grids, windows, animations) in one module every figure
# imports.
"""The docs' one visual grammar, and the helpers every figure uses.

Every diagram of the site is drawn on a grid of unit cells with the same meaning everywhere:

* **input** cells are blue (``INPUT``, ``INPUT_CMAP``), darker for larger values;
* the **kernel** is vermillion: its window is a vermillion outline (``WINDOW``), its
  non-negative weights are shades of vermillion (``KERNEL_CMAP``);
* **padding** cells are light grey and hatched (``PAD_FACE``, ``PAD_HATCH``);
* **output** cells are bluish green (``OUTPUT``, ``OUTPUT_CMAP``), the one being computed
  outlined in vermillion.

Whatever its role, an array with negative values (a signed kernel, a response map before ReLU) is
drawn with the one diverging map ``SIGNED_CMAP`` — purple below zero, white at zero, green above —
always symmetric about zero and always with a colour bar (:func:`signed_image`,
:func:`colour_key`). ``SIGNED_OUTPUT_CMAP`` and ``SIGNED_KERNEL_CMAP`` are the same map.

The three role colours are Okabe and Ito's colour-blind-safe palette (blue, vermillion, bluish
green); the diverging map is ColorBrewer's PRGn. ``tests/test_figures_palette.py`` simulates
protanopia, deuteranopia and tritanopia (Machado et al. 2009) and checks that they stay apart.
Two states ("the same" / "changed") are told apart by shape as well as colour (``SAME``,
``CHANGED`` and ``CHANGED_HATCH``), never by red against green.

Figures fit the page's column: at most ``MAX_WIDTH`` inches wide, no text below ``MIN_FONT``
points (the site writes SVG with real text, so a figure drawn at its natural size shows 9 pt as
12 CSS px, and never below 9 px in a column of 540 px or more). Figures are drawn on a white card
so that they read the same in the site's light and dark modes.
Nothing is drawn past a figure's edges, where the image would cut it off: every figure checks
this each time it is drawn (:func:`check_edges`, hooked into every pyplot figure), and the
sliding-window figures measure their titles and formula lines to make room for them
(:func:`text_spans`, :func:`fit_width`).

Figures are drawn in the language being built (:mod:`figures.i18n`): every word they draw is
``_("…")``, and the Chinese edition draws with a Traditional-Chinese font, ``CJK_FONT`` (Debian's
fonts-noto-cjk, installed by ``scripts/env.sh``), DejaVu Sans behind it for what it lacks.
:func:`rc` is the matplotlib settings of a language; they are applied on import and whenever the
language is set, and ``docs/_ext/animation.py`` hands them to the plot directive (which resets
matplotlib before every figure) and applies them around every animation.

All numbers come from convops: the figures call its ops and :mod:`convops.arithmetic`, so a
wrong op or formula shows up as a wrong picture (or a failed build) here.
"""

from __future__ import annotations

import functools
import io
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import convops  # noqa: E402
from convops import arithmetic  # noqa: E402

from .i18n import _, language, on_change  # noqa: E402

# ----------------------------------------------------------------------------------------------
# colours: Okabe & Ito (2008) for the roles, ColorBrewer PRGn for signed values
INPUT = "#0072B2"  # Okabe-Ito blue
WINDOW = "#D55E00"  # Okabe-Ito vermillion: the kernel, its window, the cell being computed
KERNEL = WINDOW
OUTPUT = "#009E73"  # Okabe-Ito bluish green
PAD_FACE = "#eeeeee"
PAD_EDGE = "#9a9a9a"
PAD_HATCH = "////"
GRID_EDGE = "#555555"
TEXT = "#222222"
#: Two states told apart by lightness *and* shape: "the same" is a dark solid cell, "changed" a
#: light cell with a cross hatch (Paul Tol's indigo and sand: apart under every colour-vision
#: deficiency, and in grey).
SAME = "#332288"
CHANGED = "#DDCC77"
CHANGED_HATCH = "xxx"
CHANGED_EDGE = "#6b5d1f"  # the hatch and outline of a "changed" cell
#: The role colours, by name (the palette test checks them pairwise).
ROLES = {"input": INPUT, "kernel": WINDOW, "output": OUTPUT}

#: Figures are at most this wide (inches) and use no text smaller than this (points).
MAX_WIDTH = 7.5
MIN_FONT = 9


def _register(name: str, colours) -> str:
    if name not in matplotlib.colormaps:
        matplotlib.colormaps.register(LinearSegmentedColormap.from_list(name, colours, N=256))
    return name


# Sequential maps of one hue each: white (zero) to the role colour to a dark shade of it, so that
# lightness falls steadily with the value.
INPUT_CMAP = _register("convops_input", ["#ffffff", "#bcd9ec", INPUT, "#00304d"])
KERNEL_CMAP = _register("convops_kernel", ["#ffffff", "#f4c9a6", WINDOW, "#5c2800"])
OUTPUT_CMAP = _register("convops_output", ["#ffffff", "#b3e2d5", OUTPUT, "#00422f"])
# One diverging map for every signed array (kernels and outputs alike): purple < 0 < green.
SIGNED_CMAP = _register("convops_signed", [matplotlib.colormaps["PRGn"](t) for t in np.linspace(0, 1, 11)])
SIGNED_OUTPUT_CMAP = SIGNED_CMAP
SIGNED_KERNEL_CMAP = SIGNED_CMAP

RC = {
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.facecolor": "white",
    # Text is written into the SVG as <text> (crisp, searchable, selectable) in DejaVu Sans, which
    # matplotlib lays out with; a browser without it falls back to its sans-serif, which is
    # narrower, so labels never run out of their place. The Chinese edition puts CJK_FONT first
    # (rc("zh_TW")).
    "svg.fonttype": "none",
    "svg.hashsalt": "convops",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "sans-serif"],
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 10.5,
    "hatch.color": PAD_EDGE,
    "hatch.linewidth": 0.6,
    # images keep their own pixels: SVG embeds them at their size and the browser draws them
    # pixelated (crisp at any zoom); raster output (the animations) uses nearest neighbours
    "image.interpolation": "none",
    # every figure checks, each time it is drawn, that nothing it draws is cut off at its edges
    "figure.hooks": [f"{__name__}:watch_edges"],
}
#: The Chinese edition's font (Debian's fonts-noto-cjk): first in ``font.sans-serif`` for zh_TW,
#: with the English list behind it for the glyphs it lacks.
CJK_FONT = "Noto Sans CJK TC"


def rc(lang: str | None = None) -> dict:
    """The grammar's matplotlib settings for drawing in `lang` (default: the language being drawn)."""
    params = dict(RC)
    if (lang or language()) == "zh_TW":
        params["font.sans-serif"] = [CJK_FONT, *RC["font.sans-serif"]]
        # Named families, not only the generic one: matplotlib falls back glyph by glyph only along
        # the families it is given (a generic family gives it one font), so ⋆, ⁻ and the superscripts,
        # which the CJK font lacks, come from DejaVu Sans. The SVG names them in this order too.
        params["font.family"] = [CJK_FONT, "DejaVu Sans", "sans-serif"]
    return params


def watch_edges(fig) -> None:
    """Make every draw of `fig` check that what it draws lies inside it (:func:`check_edges`): the
    site shows figures as images, and whatever reaches past an image's edge is cut off. A
    matplotlib figure hook (``figure.hooks`` in :data:`RC`): pyplot calls it for every new figure."""
    fig.canvas.mpl_connect("draw_event", lambda event: check_edges(event.canvas.figure, event.renderer))


def check_edges(fig, renderer) -> None:
    """Raise ValueError naming what `fig` draws past its edges (by more than a quarter point):
    texts, tick labels, legends, colour bars. Text keeps its size in points whatever the figure's
    size, so a long title or label can outgrow a figure that fits its diagram."""
    from matplotlib.axes import Axes
    from matplotlib.text import Text

    width, height = fig.get_size_inches()
    slack = 0.25 / 72

    def outside(box) -> bool:
        return box.x0 < -slack or box.y0 < -slack or box.x1 > width + slack or box.y1 > height + slack

    inches = fig.dpi_scale_trans.inverted()
    if not outside(fig.get_tightbbox(renderer)):
        return
    # name the culprits: texts and legends (the figure's and its axes'), titles, axes' tick labels
    named = [
        (a, repr(a.get_text()) if isinstance(a, Text) else type(a).__name__)
        for a in fig.get_default_bbox_extra_artists()
        if not isinstance(a, Axes)
    ]
    for ax in fig.axes:
        named += [
            (title, repr(title.get_text())) for title in (ax.title, ax._left_title, ax._right_title) if title.get_text()
        ]
        if ax.axison:
            named += [(ax.xaxis, "the x axis's labels"), (ax.yaxis, "the y axis's labels")]
    culprits = []
    for artist, name in named:
        box = artist.get_tightbbox(renderer) if artist.get_visible() else None
        if box is not None and outside(box.transformed(inches)) and name not in culprits:
            culprits.append(name)
    box = fig.get_tightbbox(renderer)
    raise ValueError(
        f"figures: drawn past the edge of a {width:.2f} x {height:.2f} inch figure (what is drawn spans "
        f"x {box.x0:.2f}..{box.x1:.2f}, y {box.y0:.2f}..{box.y1:.2f}): {', '.join(culprits) or 'an artist'}; "
        "widen the figure, make room for it or shorten the text"
    )


def cjk_font():
    """The file (and face) matplotlib draws CJK_FONT from; an error, never tofu, if it has none."""
    from matplotlib import font_manager

    try:
        return font_manager.findfont(font_manager.FontProperties(family=CJK_FONT), fallback_to_default=False)
    except ValueError:
        raise RuntimeError(
            f"figures: matplotlib cannot find the font {CJK_FONT!r}, which the zh_TW figures are drawn in: "
            "install Debian's fonts-noto-cjk and let matplotlib list the fonts again (scripts/env.sh docs "
            "does both)"
        ) from None


def apply(lang: str | None = None) -> None:
    """Apply :func:`rc` of `lang` to matplotlib (checking that the font is there)."""
    params = rc(lang)
    if CJK_FONT in params["font.sans-serif"]:
        cjk_font()
    plt.rcParams.update(params)


apply()
on_change(apply)

DATA = pathlib.Path(__file__).resolve().parent.parent / "_data" / "mnist_sample.npz"


# ----------------------------------------------------------------------------------------------
# data
@functools.cache
def _mnist():
    with np.load(DATA) as data:
        return data["images"].copy(), data["labels"].copy()


def digit(label: int = 7, index: int = 0) -> np.ndarray:
    """A real MNIST digit (28, 28) as float32 in [0, 1] (see docs/_data/README.md)."""
    images, labels = _mnist()
    return images[np.flatnonzero(labels == label)[index]].astype(np.float32) / 255.0


# ----------------------------------------------------------------------------------------------
# figures and maps
def figure(width: float, height: float, **kw):
    """A figure at most MAX_WIDTH inches wide (the page's column)."""
    return plt.figure(figsize=(min(width, MAX_WIDTH), height), **kw)


def plain(ax) -> None:
    """No ticks, no frame: a map or an image."""
    ax.set_xticks([])
    ax.set_yticks([])


def min_font(fig, size: float = MIN_FONT) -> None:
    """Raise every text of `fig` (titles, labels, ticks, legends) to at least `size` points: for
    figures drawn by code outside the docs (benchmarks.plot)."""
    from matplotlib.text import Text

    for text in fig.findobj(Text):
        if text.get_text() and text.get_fontsize() < size:
            text.set_fontsize(size)


def limit(values) -> float:
    """The symmetric colour limit of a signed array: its largest |value| (1 if all zero)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    top = float(np.abs(values).max()) if values.size else 0.0
    return top if top > 0 else 1.0


def colorbar(mappable, ax, label: str | None = None, orientation: str = "vertical", ticks=None, **kw):
    """A colour bar for `mappable` beside `ax` (an axes or a list of axes; or in ``cax=``), text at
    MIN_FONT."""
    fig = (ax[0] if isinstance(ax, (list, tuple, np.ndarray)) else ax).figure
    if "cax" in kw:  # a colour bar in an axes of its own
        bar = fig.colorbar(mappable, orientation=orientation, ticks=ticks, **kw)
    else:
        kw.setdefault("fraction", 0.05)
        kw.setdefault("pad", 0.03)
        bar = fig.colorbar(mappable, ax=ax, orientation=orientation, ticks=ticks, **kw)
    bar.ax.tick_params(labelsize=MIN_FONT, length=2)
    bar.outline.set_linewidth(0.5)
    if label:
        bar.set_label(label, fontsize=MIN_FONT)
    return bar


def signed_image(ax, values, lim: float | None = None, bar: bool = True, label: str | None = None, **kw):
    """A signed map drawn with SIGNED_CMAP, symmetric about zero, with its colour bar (unless `bar`
    is False because the caller adds one shared bar for several maps of the same limit)."""
    lim = limit(values) if lim is None else lim
    im = ax.imshow(values, cmap=SIGNED_CMAP, vmin=-lim, vmax=lim, **kw)
    plain(ax)
    if bar:
        colorbar(im, ax, label, ticks=[-lim, 0, lim], format=_tick)
    return im


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def log_axis(ax, which: str = "y") -> None:
    """Label a log axis 10⁻⁶, 10⁰, 10³ … in plain text: matplotlib's default writes mathtext whose
    exponents are set at 70 % of the font size (below MIN_FONT)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    def fmt(value, _pos=None):
        if value <= 0:
            return ""
        exponent = int(round(np.log10(value)))
        if not np.isclose(value, 10.0**exponent):
            return ""
        return "10" + str(exponent).translate(_SUPERSCRIPT)

    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(LogLocator(base=10))
    axis.set_major_formatter(FuncFormatter(fmt))
    axis.set_minor_formatter(NullFormatter())


def _tick(value, _pos=None) -> str:
    return _fmt(float(np.float32(value))).replace("-", "−")


def colour_key(
    ax,
    x: float,
    y: float,
    width: float,
    lim: float,
    cmap: str = SIGNED_CMAP,
    height: float = 0.32,
    fontsize: float = MIN_FONT,
    vmin: float | None = None,
) -> None:
    """A horizontal colour bar drawn inside a cell diagram (data units): `width` cells wide at
    (x, y), labelled with its ends and, for the signed map, with 0."""
    lo = -lim if vmin is None else vmin
    ramp = np.linspace(0, 1, 64)[None, :]
    ax.imshow(
        ramp,
        cmap=cmap,
        vmin=0,
        vmax=1,
        extent=(x, x + width, y + height, y),
        aspect="auto",
        interpolation="bilinear",
        zorder=2,
    )
    ax.add_patch(Rectangle((x, y), width, height, fill=False, edgecolor=GRID_EDGE, linewidth=0.5, zorder=3))
    below = y + height + 0.08
    ticks = [(x, _tick(lo), "left"), (x + width, _tick(lim), "right")]
    if cmap == SIGNED_CMAP and vmin is None:
        ticks.append((x + width / 2, "0", "center"))
    for tx, text, ha in ticks:
        ax.text(tx, below, text, ha=ha, va="top", fontsize=fontsize, color=TEXT)


# ----------------------------------------------------------------------------------------------
# grid primitives: cell (i, j) of a grid whose top-left corner is (x0, y0) covers
# [x0 + j, x0 + j + 1] x [y0 + i, y0 + i + 1], with y pointing down.
def canvas(width: float, height: float, scale: float = 0.42, title_space: float = 0.5):
    """A figure with one axes of `width` x `height` cells, y pointing down, no frame; cells are
    `scale` inches, smaller if the figure would be wider than MAX_WIDTH."""
    scale = min(scale, MAX_WIDTH / max(width + 0.2, 1e-9))
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


def grid(
    ax,
    values,
    x0: float = 0,
    y0: float = 0,
    cmap: str = INPUT_CMAP,
    vmin=None,
    vmax=None,
    numbers: bool = True,
    pad_mask=None,
    fontsize: float = 9,
    edge: str = GRID_EDGE,
    blank=None,
    pad_text: str | None = None,
) -> None:
    """Draw a 2-D array as cells; `pad_mask` marks padding cells (hatched grey); `blank` marks
    cells not computed yet (white). With SIGNED_CMAP the colours are symmetric about zero (white
    at zero) whatever `vmin` and `vmax` say."""
    values = np.asarray(values)
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    lo = vmin if vmin is not None else (finite.min() if finite.size else 0)
    hi = vmax if vmax is not None else (finite.max() if finite.size else 1)
    signed = cmap == SIGNED_CMAP
    if signed:
        hi = max(abs(float(lo)), abs(float(hi))) or 1.0
        lo = -hi
    colours = plt.get_cmap(cmap)
    fontsize = max(fontsize, MIN_FONT)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            padded = pad_mask is not None and pad_mask[i, j]
            empty = blank is not None and blank[i, j]
            if padded:
                face = PAD_FACE
                ax.add_patch(
                    Rectangle(
                        (x0 + j, y0 + i), 1, 1, facecolor=PAD_FACE, edgecolor=PAD_EDGE, hatch=PAD_HATCH, linewidth=0.6
                    )
                )
            else:
                t = 0.5 if signed else 0.0
                if hi != lo and np.isfinite(v):
                    t = (float(v) - lo) / (hi - lo)
                t = min(max(t, 0.0), 1.0)
                face = "white" if empty else colours(0.04 + 0.92 * t if signed else 0.08 + 0.8 * t)
                ax.add_patch(Rectangle((x0 + j, y0 + i), 1, 1, facecolor=face, edgecolor=edge, linewidth=0.6))
            if numbers and not empty:
                face_rgb = matplotlib.colors.to_rgb(face)
                # white text on dark cells, dark text on light ones (by luminance)
                dark = 0.299 * face_rgb[0] + 0.587 * face_rgb[1] + 0.114 * face_rgb[2] < 0.5
                if padded and pad_text is not None:
                    if pad_text:
                        ax.text(
                            x0 + j + 0.5,
                            y0 + i + 0.52,
                            pad_text,
                            ha="center",
                            va="center",
                            fontsize=fontsize,
                            color="#444444",
                        )
                    continue
                colour = "#444444" if padded else ("white" if dark else TEXT)
                ax.text(
                    x0 + j + 0.5,
                    y0 + i + 0.52,
                    _fmt(v).replace("-", "−"),
                    ha="center",
                    va="center",
                    fontsize=fontsize,
                    color=colour,
                )


def image(
    ax, values, x0: float = 0, y0: float = 0, cmap: str = INPUT_CMAP, vmin=None, vmax=None, frame: str = GRID_EDGE
):
    """Draw a larger 2-D array as an image occupying one unit per pixel (no numbers)."""
    values = np.asarray(values, dtype=float)
    h, w = values.shape
    if cmap == SIGNED_CMAP and (vmin is None or vmax is None):
        vmax = limit(values)
        vmin = -vmax
    im = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, extent=(x0, x0 + w, y0 + h, y0))
    ax.add_patch(Rectangle((x0, y0), w, h, fill=False, edgecolor=frame, linewidth=0.8))
    return im


def window(
    ax,
    top: int,
    left: int,
    height: int,
    width: int,
    x0: float = 0,
    y0: float = 0,
    dilation=(1, 1),
    colour: str = WINDOW,
    lw: float = 2.6,
) -> None:
    """The kernel window: a vermillion outline around its span. When dilated, the span is dashed
    and each tap (a cell the kernel really reads) is a thick vermillion square."""
    dh, dw = dilation
    span_h, span_w = (height - 1) * dh + 1, (width - 1) * dw + 1
    dilated = dh > 1 or dw > 1
    ax.add_patch(
        Rectangle(
            (x0 + left, y0 + top),
            span_w,
            span_h,
            fill=False,
            edgecolor=colour,
            linewidth=lw * (0.6 if dilated else 1),
            linestyle="--" if dilated else "-",
            zorder=5,
        )
    )
    if dilated:
        for a in range(height):
            for b in range(width):
                cx, cy = x0 + left + b * dw, y0 + top + a * dh
                ax.add_patch(
                    Rectangle((cx + 0.1, cy + 0.1), 0.8, 0.8, fill=False, edgecolor=colour, linewidth=lw, zorder=6)
                )


def highlight(ax, i: int, j: int, x0: float = 0, y0: float = 0, colour: str = WINDOW, lw: float = 2.6) -> None:
    ax.add_patch(Rectangle((x0 + j, y0 + i), 1, 1, fill=False, edgecolor=colour, linewidth=lw, zorder=6))


def label(ax, x: float, y: float, text: str, colour: str = TEXT, size: float = 10, **kw) -> None:
    ax.text(
        x,
        y,
        text,
        ha=kw.pop("ha", "center"),
        va=kw.pop("va", "bottom"),
        fontsize=max(size, MIN_FONT),
        color=colour,
        fontweight=kw.pop("weight", "bold"),
        **kw,
    )


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
def sliding_window(
    x: np.ndarray,
    *,
    kernel=None,
    ksize=None,
    strides=(1, 1),
    padding="VALID",
    dilations=(1, 1),
    pool: str | None = None,
):
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
    pads = (
        arithmetic.resolve_padding(padding, x.shape[0], kh, sh, dh),
        arithmetic.resolve_padding(padding, x.shape[1], kw, sw, dw),
    )
    explicit = pads if not isinstance(padding, str) else padding
    if pool == "max":
        out = convops.max_pool2d(x, (kh, kw), strides, explicit)
    elif pool == "avg":
        out = convops.avg_pool2d(x, (kh, kw), strides, explicit)
    else:
        out = convops.conv2d(x, kernel, strides=strides, padding=explicit, dilations=dilations)
    xp, mask = padded(x, pads)
    return {
        "x": x,
        "xp": xp,
        "mask": mask,
        "out": out,
        "pads": pads,
        "k": (kh, kw),
        "s": (sh, sw),
        "d": (dh, dw),
        "kernel": kernel,
        "pool": pool,
    }


def _signed(values) -> bool:
    values = np.asarray(values, dtype=float)
    return bool((values[np.isfinite(values)] < 0).any())


# width of one character, in cells of 0.42 in, at 10 pt (DejaVu Sans averages ~0.55 em)
def draw_step(ax, info, step: int | None, title: str | None = None, numbers: bool = True, show_formula: bool = True):
    """Draw input (with padding), kernel and output, the window at output position `step`
    (row-major), and the output filled up to that position (all of it when `step` is None).
    Returns the diagram's width and height in cells; the title and the formula line start at its
    left edge and may reach further (:func:`text_spans` measures them).

    A kernel or output with negative values is drawn with the signed map, with a colour key
    under it."""
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
    width = xo + max(wo, 3) + 0.2
    signed_kernel = kernel is not None and _signed(kernel)
    signed_out = _signed(out)
    # a colour key takes 1.2 cells under its grid
    body = max(hp, kh + (1.2 if signed_kernel else 0), ho + (1.2 if signed_out else 0))
    height = top + body + (1.0 if show_formula else 0.2)
    text = None
    if step is not None and out.size and show_formula:
        i, j = divmod(step, wo)
        if info["pool"] == "max":
            text = _("out[{i},{j}] = max of the window = {value}").format(i=i, j=j, value=_fmt(out[i, j]))
        elif info["pool"] == "avg":
            text = _("out[{i},{j}] = mean of the real cells in the window = {value}").format(
                i=i, j=j, value=_fmt(out[i, j])
            )
        else:
            text = f"out[{i},{j}] = " + _products(info, i, j) + f" = {_fmt(out[i, j])}"
        text = text.replace("-", "−")
    setup_axes(ax, width, height)
    vmax_in = max(float(np.nanmax(np.abs(info["x"]))) if info["x"].size else 1, 1e-9)
    # padded cells of a pool never win (max) and are not counted (avg): no number shown in them
    grid(ax, xp, 0, top, INPUT_CMAP, 0, vmax_in, numbers, mask, pad_text="" if info["pool"] else None)
    label(ax, wp / 2, top - 0.25, _("input (padded)") if mask.any() else _("input"), INPUT)
    if kernel is not None:
        if signed_kernel:
            klim = limit(kernel)
            grid(ax, kernel, xk, top, SIGNED_CMAP, -klim, klim, numbers)
            colour_key(ax, xk, top + kh + 0.2, kw, klim)
        else:
            grid(ax, kernel, xk, top, KERNEL_CMAP, 0, max(kernel.max(), 1e-9), numbers)
        ax.add_patch(Rectangle((xk, top), kw, kh, fill=False, edgecolor=WINDOW, linewidth=2.2, zorder=5))
        label(ax, xk + kw / 2, top - 0.25, _("kernel"), WINDOW)
        symbol(ax, xk - 0.8, top + kh / 2, "⋆", 22)
        symbol(ax, xo - 0.95, top + kh / 2, "=")
    else:
        symbol(ax, xo - 0.85, top + kh / 2, "→")
    done = np.ones(out.shape, bool)
    if step is not None and out.size:
        done = (np.arange(out.size) <= step).reshape(out.shape)
    finite = out[np.isfinite(out)]
    if signed_out:
        olim = limit(out)
        grid(ax, out, xo, top, SIGNED_CMAP, -olim, olim, numbers, blank=~done)
        colour_key(ax, xo, top + ho + 0.2, max(wo, 3), olim)
    else:
        grid(
            ax,
            out,
            xo,
            top,
            OUTPUT_CMAP,
            0,
            finite.max() if finite.size and finite.max() > 0 else 1,
            numbers,
            blank=~done,
        )
    ax.add_patch(Rectangle((xo, top), wo, ho, fill=False, edgecolor=OUTPUT, linewidth=2.2, zorder=4))
    label(ax, xo + wo / 2, top - 0.25, _("output {h}×{w}").format(h=ho, w=wo), OUTPUT)
    if step is not None and out.size:
        i, j = divmod(step, wo)
        window(ax, i * sh, j * sw, kh, kw, 0, top, (dh, dw))
        highlight(ax, i, j, xo, top)
        if text:
            ax.text(0, top + body + 0.35, text, ha="left", va="top", fontsize=10, color=TEXT)
    if title:
        ax.text(0, 0.05, title, ha="left", va="top", fontsize=11, fontweight="bold", color=TEXT)
    return width, height


def _products(info, i: int, j: int) -> str:
    """The multiply-adds of one output cell, spelled out, checked against convops' output."""
    xp, kernel = info["xp"], info["kernel"]
    (kh, kw), (sh, sw), (dh, dw) = info["k"], info["s"], info["d"]
    patch = xp[i * sh : i * sh + (kh - 1) * dh + 1 : dh, j * sw : j * sw + (kw - 1) * dw + 1 : dw]
    total = float((patch.astype(np.float64) * kernel).sum())
    # the figure's own arithmetic must agree with the op it illustrates
    if not np.isclose(total, float(info["out"][i, j]), rtol=1e-5, atol=1e-5):
        raise AssertionError(f"convops output {info['out'][i, j]} != hand sum {total} at {(i, j)}")
    terms = [
        f"{_fmt(a)}·{_fmt(b) if b >= 0 else '(' + _fmt(b) + ')'}"
        for a, b in zip(patch.ravel(), kernel.ravel())
        if b != 0
    ]
    if len(terms) > 9:
        return _("Σ window × kernel")
    return " + ".join(terms) if terms else "0"


def text_spans(ax, dpi: float | None = None) -> list[tuple[float, float]]:
    """The horizontal reach of every text on `ax`, a cell diagram, as (x, inches): the text starts
    or centres at cell x and reaches `inches` to the right of it. Text keeps its size in points
    while cells scale, so its reach in cells depends on the scale (:func:`fit_width`).

    Measured as the figure will be saved: at `dpi` for a raster image (text is hinted to whole
    pixels there, so a line of 11-point bold is relatively wider at 90 dpi than at 100), or, when
    `dpi` is None, for SVG (unhinted, laid out in points)."""
    fig = ax.figure
    before = fig.dpi
    if dpi is None:
        from matplotlib.backends.backend_svg import RendererSVG

        dpi = 72  # what matplotlib lays an SVG out at
        fig.set_dpi(dpi)
        renderer = RendererSVG(1, 1, io.StringIO())
    else:
        fig.set_dpi(dpi)
        renderer = fig.canvas.get_renderer()
    share = {"left": 1.0, "center": 0.5, "right": 0.0}
    spans = [
        (text.get_position()[0], share[text.get_horizontalalignment()] * text.get_window_extent(renderer).width / dpi)
        for text in ax.texts
    ]
    fig.set_dpi(before)
    return spans


def fit_width(width: float, spans, scale: float) -> tuple[float, float]:
    """The (width in cells, scale) at which a diagram `width` cells wide and the texts of `spans`
    (:func:`text_spans`) fit one figure at most MAX_WIDTH inches wide (:func:`cell_figure_size`);
    cells are `scale` inches, smaller if the diagram would be wider than MAX_WIDTH."""
    scale = min(scale, MAX_WIDTH / (width + 0.2))
    margin = 0.06  # inches to the right of the longest text
    reach = max([0.0] + [(x + 0.1) * scale + inches for x, inches in spans])
    if reach + margin > MAX_WIDTH:
        raise ValueError(
            f"figures: a text of this diagram reaches {reach:.2f} inches, wider than the page's column "
            f"(MAX_WIDTH = {MAX_WIDTH} inches): shorten it"
        )
    return max(width, (reach + margin) / scale - 0.2), scale


def cell_figure_size(width: float, height: float, scale: float) -> tuple[float, float]:
    """The size in inches of a figure whose one axes shows `width` x `height` cells of `scale`
    inches, with :func:`setup_axes`' tenth of a cell around them."""
    return (width + 0.2) * scale, (height + 0.2) * scale


def static_step(info, step, title=None, scale: float = 0.42):
    """One step of the sliding window as a figure (SVG) at most MAX_WIDTH wide."""
    fig = plt.figure()
    ax = fig.add_axes([0, 0, 1, 1])
    width, height = draw_step(ax, info, step, title)
    width, scale = fit_width(width, text_spans(ax), scale)
    setup_axes(ax, width, height)
    fig.set_size_inches(cell_figure_size(width, height, scale))
    return fig


def animate(info, path, title: str | None = None, fps: float = 1.6, scale: float = 0.4, dpi: int = 90) -> None:
    """Animated GIF of the window visiting every output position, written with PillowWriter."""
    fig = plt.figure()
    ax = fig.add_axes([0, 0, 1, 1])
    width, height = 0.0, 0.0
    spans = []
    n = max(info["out"].size, 1)
    # the figure is sized for the largest frame (formula lines differ in length)
    for step in list(range(n)) + [None]:
        ax.clear()
        w, h = draw_step(ax, info, step, title)
        width, height = max(width, w), max(height, h)
        spans += text_spans(ax, dpi)
    width, scale = fit_width(width, spans, scale)
    fig.set_size_inches(cell_figure_size(width, height, scale))

    def update(step):
        ax.clear()
        draw_step(ax, info, step if step < n else None, title)
        setup_axes(ax, width, height)
        return []

    # one extra frame at the end shows the finished output
    anim = FuncAnimation(fig, update, frames=n + 1, blit=False)
    anim.save(str(path), writer=PillowWriter(fps=fps), dpi=dpi)
    plt.close(fig)

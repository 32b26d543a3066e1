"""Nothing a docs figure draws is cut off at its edges (docs/figures/grammar.py).

The site shows figures as images (SVG for plots, PNG frames for animations): a title or label
that reaches past the image's edge is cut off. Text keeps its size in points while a diagram's
cells scale, and raster text is hinted to whole pixels, so a title that fits at 100 dpi can be cut
at the 90 dpi the animations are written at (the max-pooling animation's title lost its last
letters so). Checked here:

* the grammar's figure hook makes every pyplot figure check its edges when drawn: a text, a
  title or a tick label past an edge is a ValueError naming it, in PNG and in SVG; text inside is
  no error;
* the sliding-window animations and static steps widen the figure for a title or formula line
  longer than the diagram, measured at the resolution they are saved at; a title wider than the
  page's column is a ValueError, not a clipped picture;
* the animations whose titles outgrow their diagrams draw in both languages, and the Cython
  ladder's timings with their note for a build without TensorFlow (every figure of the site is
  drawn, and so checked, by the site build -- but CI builds it with TensorFlow).
"""

from __future__ import annotations

import io
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
if str(DOCS) not in sys.path:
    sys.path.insert(0, str(DOCS))

import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from figures import grammar, i18n  # noqa: E402

X4 = np.arange(16, dtype=np.float32).reshape(4, 4)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _save(fig, fmt: str) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_a_text_past_the_right_edge_is_named(fmt):
    fig = plt.figure(figsize=(2.0, 1.0))
    fig.text(0.1, 0.5, "a caption far longer than two inches of 10-point text")
    with pytest.raises(ValueError, match=r"2\.00 x 1\.00 inch figure.*'a caption far longer than two inches"):
        _save(fig, fmt)


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_a_title_and_tick_labels_past_the_edges_are_named(fmt):
    fig = plt.figure(figsize=(2.5, 1.5))
    ax = fig.add_axes([0.0, 0.0, 1.0, 0.8])  # no room left for the tick labels
    ax.plot([0, 1_000_000], [0, 1])
    ax.set_title("an axes title wider than its axes, by a long way")
    with pytest.raises(ValueError) as raised:
        _save(fig, fmt)
    message = str(raised.value)
    assert "'an axes title wider than its axes, by a long way'" in message
    assert "the x axis's labels" in message and "the y axis's labels" in message


def test_what_fits_draws():
    fig = plt.figure(figsize=(3.0, 2.0))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.set_title("fits")
    fig.tight_layout()
    assert _save(fig, "png").startswith(b"\x89PNG")


def test_every_pyplot_figure_has_the_check():
    assert f"{grammar.__name__}:watch_edges" in plt.rcParams["figure.hooks"]
    for fig in (plt.figure(), plt.subplots()[0]):
        assert fig._canvas_callbacks.callbacks.get("draw_event"), "no draw_event callback: the hook did not run"


def _title_inches(title: str, dpi: float) -> float:
    """How wide `title` is drawn as the sliding-window figures draw titles (11 pt bold), at `dpi`."""
    fig = plt.figure()
    text = fig.text(0, 0, title, fontsize=11, fontweight="bold")
    fig.set_dpi(dpi)
    return text.get_window_extent(fig.canvas.get_renderer()).width / dpi


def _gif_size(path) -> tuple[int, int, int]:
    with Image.open(path) as gif:
        return gif.size[0], gif.size[1], gif.n_frames


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_an_animation_grows_to_its_title(tmp_path, lang):
    """A 4x4 pool's diagram is about 4 inches wide; a longer title widens the figure to fit it at
    the GIF's 90 dpi (every frame is checked as it is written)."""
    info = grammar.sliding_window(X4, ksize=(2, 2), strides=(2, 2), pool="max")
    try:
        i18n.set_language(lang)
        grammar.animate(info, tmp_path / "short.gif", "2×2")
        title = (
            "a title longer than the diagram under it, by some way"
            if lang == "en"
            else "一行比下面的圖還要寬得多的標題：寬寬寬寬寬寬寬寬寬寬"
        )
        grammar.animate(info, tmp_path / "long.gif", title)
        title_px = _title_inches(title, 90) * 90
    finally:
        i18n.set_language("en")
    short, long = _gif_size(tmp_path / "short.gif"), _gif_size(tmp_path / "long.gif")
    assert short[2] == long[2] == 5  # four positions and the finished output
    assert short[1] == long[1]  # same cells, same height
    assert long[0] > short[0]
    assert long[0] >= title_px + 0.1 * 0.4 * 90  # the title, from x = 0 (0.1 cell in), and more
    assert long[0] <= title_px + 0.1 * 0.4 * 90 + 0.06 * 90 + 1  # and not much more


def test_a_static_step_grows_to_its_title():
    info = grammar.sliding_window(X4, ksize=(2, 2), strides=(2, 2), pool="avg")
    title = "a title longer than the diagram under it, by some way"
    short = grammar.static_step(info, 0, "2×2")
    long = grammar.static_step(info, 0, title)
    assert long.get_size_inches()[1] == pytest.approx(short.get_size_inches()[1])
    assert long.get_size_inches()[0] > short.get_size_inches()[0]
    assert long.get_size_inches()[0] >= _title_inches(title, 72) + 0.1 * 0.42
    for fig in (short, long):
        assert _save(fig, "svg").startswith(b"<?xml")


def test_a_title_wider_than_the_column_is_an_error(tmp_path):
    info = grammar.sliding_window(X4, ksize=(2, 2), strides=(2, 2), pool="max")
    with pytest.raises(ValueError, match=r"wider than the page's column \(MAX_WIDTH = 7\.5 inches\)"):
        grammar.animate(info, tmp_path / "wide.gif", "a title far too long for any column: " * 3)
    assert not (tmp_path / "wide.gif").exists()


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
@pytest.mark.parametrize("name", ["pooling:anim_max_pool", "padding:anim_same", "kernels:anim_conv"])
def test_the_site_animations_fit(tmp_path, lang, name):
    import importlib

    module, function = name.split(":")
    try:
        i18n.set_language(lang)
        getattr(importlib.import_module(f"figures.{module}"), function)(tmp_path / "a.gif")
    finally:
        i18n.set_language("en")
    width, _height, frames = _gif_size(tmp_path / "a.gif")
    assert frames > 1 and width <= grammar.MAX_WIDTH * 90 + 1


def test_the_ladder_figure_fits_without_tensorflow(monkeypatch):
    """The Cython ladder's timings say when TensorFlow was not importable (README's site set-up
    installs no TensorFlow): that note once ran past the figure's right edge."""
    from figures import cython

    monkeypatch.setattr(cython, "tensorflow", lambda: None)
    fig = cython.timings()
    assert "TensorFlow was not importable" in " ".join(t.get_text() for t in fig.texts)
    assert _save(fig, "svg").startswith(b"<?xml")

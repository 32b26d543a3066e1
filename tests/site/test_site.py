# Size: one browser session checks every page and widget of the built site; splitting it would start
# Chromium once per file.
"""Browser test of the built documentation site (docs/_build/html), in Debian's Chromium.

Opens every page over HTTP on 127.0.0.1 and fails on:

- a page that does not load (or a 404 for any resource), a console error or uncaught exception, any
  request to another host, a broken image or animation frame, math that MathJax did not render;
- a page without a favicon (``link rel=icon`` that loads);
- an image without alt text, or whose alt text is a file name or path (``padding-1.png``,
  ``../_images/x``, the file's stem);
- at a 390 px (phone) and a 1280 px wide window: a page that scrolls sideways, or an element of the
  main column wider than the column (a scrolling container — a code block, a table wrapper, a display
  formula — may hold wider content, but must itself fit);
- at 1280 px: a figure whose smallest text is drawn smaller than 9 CSS px (figures are SVGs with real
  text: each SVG's ``<text>`` sizes are read from the file and scaled by the width the figure is
  drawn at), a build-time figure that is a raster image (its text cannot be checked), or a raster
  image (an animation's frames) drawn wider than its pixels;
- a concept page without a build-time figure, without its eight sections in order, without a
  doctest, or whose Exercises section does not keep its answers in a closed ``details.answers``
  that opens on a click; a sliding-window page (ANIMATED) without an animation;
- an animation (the frame player of ``.. animation::``) that does not play, that keeps changing
  frames after its pause button is clicked, whose step buttons and arrow keys do not move the frame
  counter ("3 / 12") by one, or that does not start paused for a reader who asked for reduced motion;
- in dark mode, a figure without its white card;
- a landing page that does not name and link the tutorial the site follows (Rain Hu's
  "[AI] 卷積神經網路", https://intervalrain.github.io/);
- a search for "padding" that does not find the padding page; search snippets (for "padding",
  "receptive field", "dilation") that show TeX source such as ``\\(`` instead of the formula's text;
- a performance or training-example page without its build-time figure and generated text
  (latest.json's machine; the example's output; the real-MNIST test accuracy measured while the site
  was built, stated beside the tutorial's 0.992).

Both editions: every check runs on the English pages and on their Traditional-Chinese twins under
``zh_TW/`` (with the Chinese section titles). Every page also fails on a ``lang`` other than its
edition's (``en``, ``zh-Hant-TW``), on ``hreflang`` links or a language switcher that do not lead to
its twin, and, in Chinese, on prose that is not Chinese or theme controls left in English. The
switcher must round-trip, and the Chinese search must find 感受野, 卷積, 池化, 步幅 and 填充's pages.

Every page is screenshotted (full page) at 1280 px in light and dark mode and at 390 px in light mode, into
$CONVOPS_SCREENSHOTS, else a temporary directory whose path is printed, so that a person can look at
them: ``<page>__<width>-<scheme>.jpg``.

Build the site first: ``bash scripts/site.sh --no-serve`` (scripts/test.sh does). Chromium is Debian's
(/usr/bin/chromium, installed by scripts/env.sh), driven by Playwright: never `playwright install`.
"""

from __future__ import annotations

import functools
import json
import math
import os
import pathlib
import re
import xml.etree.ElementTree as ET
from urllib.parse import unquote, urlparse

import pytest
from site_browser import ROOT, SITE, Visit


def _shown_benchmark_run() -> pathlib.Path:
    """The benchmark results the performance page shows: benchmarks/published.py decides."""
    import importlib.util  # (by file: the repository root is not on the tests' path)

    spec = importlib.util.spec_from_file_location("_published", ROOT / "benchmarks" / "published.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.results_json()


# The concept pages, in the order of docs/index.rst.
CONCEPTS = [
    "kernels",
    "correlation",
    "channels",
    "response-maps",
    "padding",
    "stride",
    "dilation",
    "pooling",
    "receptive-field",
    "translation",
    "mnist-convnet",
    "one-by-one",
    "backprop-conv",
    "backprop-pool-pad",
    "learning-a-kernel",
    "transposed-conv",
    "trained-features",
    "attribution",
    "cython",
    "testing",
    "algorithms",
]
# The sections of every concept page, in this order.
SECTIONS = [
    "Intuition",
    "Definition",
    "Formula",
    "Figures",
    "Worked example",
    "How TensorFlow does it",
    "Summary",
    "Exercises",
]
# The Traditional-Chinese edition (under zh_TW/): the same pages, checked the same way, with its own
# section titles, language tag and words.
ZH = "zh_TW/"
ZH_SECTIONS = ["直覺", "定義", "公式", "圖解", "實例演算", "TensorFlow 怎麼做", "重點整理", "練習"]
LANG_TAGS = {"": "en", ZH: "zh-Hant-TW"}
# The theme's controls, which must not stay English on a Chinese page (visible text or accessible names).
THEME_WORDS_EN = [
    "Back to top",
    "On this page",
    "Skip to content",
    "Made with",
    "Toggle",
    "Light mode",
    "Next",
    "Previous",
]
# The pages that must show an animation (a frame player of `.. animation::`).
ANIMATED = {"kernels", "padding", "stride", "dilation", "pooling", "learning-a-kernel", "transposed-conv"}
# Pages outside concepts/ whose figures are drawn at build time (from benchmarks/results, or by
# training the example), and what each must show besides: text generated at build time.
FIGURE_PAGES = {
    "performance.html": "the machine and commit of the benchmark run the docs show",
    "examples/train-convnet.html": "the example script's output, run while the site was built",
}
# Pages whose worked examples must have run as doctests (besides the concept pages).
DOCTEST_PAGES = ["examples/train-convnet"]
LATEST = _shown_benchmark_run()
# The tutorial the site follows, which the landing page names and links.
TUTORIAL_URL = "https://intervalrain.github.io/"
TUTORIAL_NAMES = ("卷積神經網路", "Rain Hu")
# The tutorial's test accuracy (Keras, 70,000 MNIST digits), which the training example compares with.
TUTORIAL_ACCURACY = "0.992"

WIDTHS = (1280, 390)  # a laptop and a phone (CSS px)
MIN_FIGURE_TEXT_PX = 9.0  # smallest text a figure may draw, at 1280 px
TOLERANCE_PX = 1.0  # sub-pixel rounding of layout boxes


def _pages() -> list[str]:
    """Every HTML page of the site, relative to its root (theme assets under _static are not pages)."""
    if not (SITE / "index.html").is_file():
        return ["<site not built>"]
    skip = ("_static", "_sources", "_images", "_downloads", "_plot_directive")
    return sorted(str(p.relative_to(SITE)) for p in SITE.rglob("*.html") if p.relative_to(SITE).parts[0] not in skip)


def _site_file(url: str) -> pathlib.Path:
    """The built file that a URL of the test server serves."""
    return SITE / unquote(urlparse(url).path).lstrip("/")


def _load_images(page) -> list[str]:
    """Make every image eager (lazy ones below the fold report width 0), wait, return broken ones."""
    page.evaluate("() => document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)", timeout=20_000)
    return page.evaluate(
        "() => Array.from(document.images).filter(i => !(i.naturalWidth > 0)).map(i => i.getAttribute('src'))"
    )


def _check_math(page) -> list[str]:
    if page.evaluate("() => document.querySelectorAll('.math').length") == 0:
        return []
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
    page.evaluate("() => MathJax.startup.promise")
    unrendered = page.evaluate(
        "() => Array.from(document.querySelectorAll('.math'))"
        ".filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60))"
    )
    errors = page.evaluate(
        "() => Array.from(document.querySelectorAll('mjx-merror'))"
        ".map(e => e.getAttribute('data-mjx-error') || e.textContent)"
    )
    return [f"math not rendered: {t!r}" for t in unrendered] + [f"MathJax error: {e}" for e in errors]


# ---------------------------------------------------------------------------------------------------
# alt text, favicon

# A token that is a path: has a "/" and starts like one ("/x", "./x", "../x", "_images/x") or has two
# or more "/" (a/b/c). "dL/dx", "input/output" or a lone "/" (rows "9 8 7 / 6 5 4") are not paths.
_PATH_TOKEN = re.compile(r"^(?:\.{0,2}/[\w~]|_[\w.-]*/[\w.~-]|[\w.~-]+/[\w.~-]+/)\S*")
_IMAGE_FILE = re.compile(r"\.(?:png|svg|gif|jpe?g|webp|avif|bmp)\b", re.I)


def alt_text_problem(alt: str | None, src: str) -> str | None:
    """Why `alt` is not real alt text for the image at `src` (None if it is)."""
    if alt is None:
        return "no alt attribute"
    text = alt.strip()
    if not text:
        return "empty alt text"
    name = pathlib.PurePosixPath(urlparse(src).path).name
    stem = name.rsplit(".", 1)[0]
    if (
        text.lower() in (name.lower(), stem.lower())
        or _IMAGE_FILE.search(text)
        or "\\" in text
        or any(_PATH_TOKEN.match(token) for token in text.split())
    ):
        return f"alt text is a file name or path: {text!r}"
    return None


def _check_alt_texts(page) -> list[str]:
    images = page.evaluate("() => Array.from(document.images).map(i => [i.getAttribute('src'), i.getAttribute('alt')])")
    return [f"image {src}: {why}" for src, alt in images if (why := alt_text_problem(alt, src or ""))]


_favicons: dict[str, int] = {}


def _check_favicon(page) -> list[str]:
    hrefs = page.evaluate("() => Array.from(document.querySelectorAll('link[rel~=\"icon\" i]')).map(l => l.href)")
    if not hrefs:
        return ['no favicon (<link rel="icon">)']
    problems = []
    for href in hrefs:
        if href not in _favicons:
            _favicons[href] = page.request.get(href).status
        if _favicons[href] != 200:
            problems.append(f"favicon {href}: HTTP {_favicons[href]}")
    return problems


# ---------------------------------------------------------------------------------------------------
# layout: nothing wider than the column, no sideways scrolling

_OVERFLOW_JS = """(tolerance) => {
  const out = [];
  const root = document.scrollingElement || document.documentElement;
  const viewport = root.clientWidth;
  const x = window.scrollX, y = window.scrollY;
  window.scrollTo(1e6, y);
  const sideways = window.scrollX;
  window.scrollTo(x, y);
  if (sideways > 0) {
    out.push(`the page scrolls sideways by ${sideways}px (content ${root.scrollWidth}px, window ${viewport}px)`);
  }
  const article = document.querySelector('article[role="main"]') || document.querySelector('article');
  if (!article) return out;
  const box = article.getBoundingClientRect();
  const style = getComputedStyle(article);
  const left = box.left + parseFloat(style.paddingLeft) + parseFloat(style.borderLeftWidth);
  const right = box.right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
  if (box.left < -tolerance || box.right > viewport + tolerance) {
    out.push(`the main column (${Math.round(box.left)}..${Math.round(box.right)}px) `
             + `is outside the window (${viewport}px)`);
  }
  const describe = (el) => {
    let name = el.tagName.toLowerCase();
    if (el.id) name += '#' + el.id;
    const classes = (typeof el.className === 'string' ? el.className : '').trim().split(/\\s+/).filter(Boolean);
    if (classes.length) name += '.' + classes.slice(0, 3).join('.');
    const section = el.closest('section[id]');
    const text = (el.textContent || el.getAttribute('alt') || '').replace(/\\s+/g, ' ').trim().slice(0, 50);
    return `${name}${section ? ' in #' + section.id : ''}${text ? ' (' + JSON.stringify(text) + ')' : ''}`;
  };
  const walk = (parent) => {
    for (const el of parent.children) {
      const s = getComputedStyle(el);
      if (s.display === 'none' || el.tagName === 'MJX-ASSISTIVE-MML') continue;
      if (s.position === 'absolute' && s.clip !== 'auto') continue;  // visually hidden, for screen readers
      const r = el.getBoundingClientRect();
      // Its content must stay in the column; its padding may reach into the margin beside the column
      // (the theme's headings do, by 0.5rem, for their link's hover box), not out of the window.
      const inLeft = r.left + parseFloat(s.paddingLeft) + parseFloat(s.borderLeftWidth);
      const inRight = r.right - parseFloat(s.paddingRight) - parseFloat(s.borderRightWidth);
      if (r.width > 0 && r.height > 0 && (inRight > right + tolerance || inLeft < left - tolerance
                                          || r.right > viewport + tolerance || r.left < -tolerance)) {
        out.push(`${describe(el)} is ${Math.round(r.width)}px wide at ${Math.round(r.left - left)}px in a `
                 + `${Math.round(right - left)}px column`);
        continue;  // the outermost element too wide; its children say nothing more
      }
      // A container that scrolls (or clips) its content may hold something wider: it fits, that is enough.
      if (/(auto|scroll|hidden|clip)/.test(s.overflowX)) continue;
      walk(el);
    }
  };
  walk(article);
  return out;
}"""


def _check_layout(page, width: int) -> list[str]:
    return [f"at {width}px: {p}" for p in page.evaluate(_OVERFLOW_JS, TOLERANCE_PX)]


# ---------------------------------------------------------------------------------------------------
# figures: text size (SVG) and no upscaling (raster)

_FIGURES_JS = """() => Array.from(document.querySelectorAll('article img')).map(i => {
  const s = getComputedStyle(i);
  const r = i.getBoundingClientRect();
  const inner = r.width - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight)
                - parseFloat(s.borderLeftWidth) - parseFloat(s.borderRightWidth);
  return {src: i.getAttribute('src'), url: i.currentSrc || i.src, natural: i.naturalWidth, drawn: inner,
          plot: i.classList.contains('plot-directive'), player: !!i.closest('.convops-player')};
})"""

_LENGTH = re.compile(r"^\s*([0-9.]+(?:e[-+]?\d+)?)\s*(px|pt|pc|mm|cm|in|em|%)?\s*$", re.I)
_PX_PER = {None: 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0}


def _length(value: str | None, em: float = 16.0) -> float | None:
    """A CSS/SVG length in user units (px); None if absent or relative to something unknown."""
    match = _LENGTH.match(value or "")
    if not match:
        return None
    number, unit = float(match.group(1)), (match.group(2) or "").lower() or None
    if unit == "em":
        return number * em
    if unit == "%":
        return number / 100 * em
    return number * _PX_PER[unit]


def _font_size(element, inherited: float) -> float:
    """The font size an SVG element declares (style's font-size or font shorthand, or the attribute)."""
    style = {
        k.strip().lower(): v.strip()
        for k, _, v in (part.partition(":") for part in element.get("style", "").split(";"))
        if k.strip()
    }
    if "font-size" in style:
        return _length(style["font-size"], inherited) or inherited
    if "font" in style:  # e.g. "font: 10px 'DejaVu Sans'" or "font: italic 700 12px sans-serif"
        for token in style["font"].split():
            size = _length(token.split("/")[0], inherited)
            if size is not None and not re.fullmatch(r"[0-9]+", token):  # bare weights (700) are not sizes
                return size
    if element.get("font-size"):
        return _length(element.get("font-size"), inherited) or inherited
    return inherited


def _scale_of(transform: str | None) -> float:
    """How much an SVG transform scales lengths (the square root of its determinant)."""
    scale = 1.0
    for name, args in re.findall(r"(\w+)\s*\(([^)]*)\)", transform or ""):
        values = [float(v) for v in re.split(r"[\s,]+", args.strip()) if v]
        if name == "scale" and values:
            scale *= math.sqrt(abs(values[0] * (values[1] if len(values) > 1 else values[0])))
        elif name == "matrix" and len(values) == 6:
            scale *= math.sqrt(abs(values[0] * values[3] - values[1] * values[2]))
    return scale


def svg_text_sizes(svg_text: str) -> tuple[float, list[float]]:
    """(the SVG's width in user units, the font size of every ``<text>`` in user units).

    The width is the viewBox's (what the rendered width maps to), else the width attribute. A
    ``<text>`` made of pieces (``<tspan>``: matplotlib's mathtext) has the size of its largest piece:
    sub- and superscripts are drawn smaller than the label they belong to, by typographic convention.
    """
    root = ET.fromstring(svg_text)
    view_box = root.get("viewBox")
    if view_box:
        width = float(re.split(r"[\s,]+", view_box.strip())[2])
    else:
        width = _length(root.get("width")) or 0.0
    sizes: list[float] = []

    def pieces(element, font: float, scale: float) -> list[float]:
        """The sizes of the text pieces of a <text> (or <tspan>) and its descendants."""
        found = [font * scale] if (element.text or "").strip() else []
        for child in element:
            if child.tag.rsplit("}", 1)[-1] in ("tspan", "textPath", "a"):
                found += pieces(child, _font_size(child, font), scale * _scale_of(child.get("transform")))
            if (child.tail or "").strip():
                found.append(font * scale)
        return found

    def walk(element, font: float, scale: float):
        font = _font_size(element, font)
        scale *= _scale_of(element.get("transform"))
        if element.tag.rsplit("}", 1)[-1] == "text":
            found = pieces(element, font, scale)
            if found:
                sizes.append(max(found))
            return
        for child in element:
            walk(child, font, scale)

    walk(root, 16.0, 1.0)  # 16px: a browser's default when nothing declares a size
    return width, sizes


def _check_figures(page) -> list[str]:
    """At 1280 px: every SVG figure's smallest text ≥ 9 CSS px; no build-time raster figure; no raster
    image drawn wider than its pixels."""
    problems = []
    for image in page.evaluate(_FIGURES_JS):
        src, drawn = image["src"], image["drawn"]
        if drawn <= 0:
            continue
        if urlparse(image["url"]).path.lower().endswith(".svg"):
            file = _site_file(image["url"])
            try:
                width, sizes = svg_text_sizes(file.read_text(encoding="utf-8"))
            except (OSError, ET.ParseError) as exc:
                problems.append(f"figure {src}: cannot read the SVG ({exc})")
                continue
            if not sizes or width <= 0:
                continue
            smallest = min(sizes) * drawn / width
            if smallest < MIN_FIGURE_TEXT_PX - 0.05:
                problems.append(
                    f"figure {src}: smallest text {smallest:.1f}px at 1280 "
                    f"({min(sizes):g} units in a {width:g}-unit SVG drawn {drawn:.0f}px wide); "
                    f"needs ≥ {MIN_FIGURE_TEXT_PX:g}px"
                )
            continue
        if image["plot"]:
            problems.append(f"figure {src} is a raster image: a build-time figure is an SVG with real text")
        if image["natural"] + 0.5 < drawn:
            problems.append(f"image {src} is drawn {drawn:.0f}px wide from {image['natural']}px: upscaled, blurred")
    return problems


# ---------------------------------------------------------------------------------------------------
# animations: the frame player

_PLAYERS_JS = """() => Array.from(document.querySelectorAll('.convops-player')).map((p, k) => {
  const label = (sel) => {
    const b = p.querySelector(sel);
    return b ? [b.tagName, b.getAttribute('aria-label')] : null;
  };
  const frame = p.querySelector('img');
  const counter = p.querySelector('.convops-player-counter');
  return {index: k, frames: JSON.parse(p.getAttribute('data-frames') || '[]'),
          durations: (p.getAttribute('data-durations') || '').split(',').map(Number),
          poster: Number(p.getAttribute('data-poster')),
          prev: label('.convops-player-prev'), toggle: label('.convops-player-toggle'),
          next: label('.convops-player-next'), counter: counter ? counter.textContent.trim() : null,
          img: frame ? frame.getAttribute('src') : null, alt: frame ? frame.getAttribute('alt') : null,
          visible: !!(counter && counter.offsetParent)};
})"""
_COUNTER = re.compile(r"^(\d+) / (\d+)$")


def _players(page) -> list[dict]:
    return page.evaluate(_PLAYERS_JS)


def _player_state(page, index: int) -> tuple[str, str, str]:
    """(counter text, the frame's src, the play/pause button's aria-label) of player `index`."""
    return tuple(
        page.evaluate(
            "(k) => { const p = document.querySelectorAll('.convops-player')[k];"
            " return [p.querySelector('.convops-player-counter').textContent.trim(),"
            " p.querySelector('img').getAttribute('src'),"
            " p.querySelector('.convops-player-toggle').getAttribute('aria-label')]; }",
            index,
        )
    )


def _wait_for_frame_change(page, index: int, counter: str, timeout_ms: float) -> bool:
    try:
        page.wait_for_function(
            "([k, c]) => document.querySelectorAll('.convops-player')[k]"
            ".querySelector('.convops-player-counter').textContent.trim() !== c",
            arg=[index, counter],
            timeout=timeout_ms,
        )
        return True
    except Exception:  # playwright's TimeoutError
        return False


def _check_player_markup(page_path: str, player: dict) -> list[str]:
    where = f"animation {player['index'] + 1}"
    problems = []
    if len(player["frames"]) < 2:
        problems.append(f"{where} has {len(player['frames'])} frame(s)")
    for frame in player["frames"]:
        if not ((SITE / page_path).parent / unquote(frame)).is_file():
            problems.append(f"{where}: frame {frame} is missing from the site")
    for role in ("prev", "toggle", "next"):
        control = player[role]
        if not control or control[0] != "BUTTON" or not (control[1] or "").strip():
            problems.append(f"{where}: its {role} control is not a <button> with an aria-label ({control})")
    match = _COUNTER.match(player["counter"] or "")
    if not match or int(match.group(2)) != len(player["frames"]):
        problems.append(f"{where}: frame counter {player['counter']!r} is not 'k / {len(player['frames'])}'")
    if not player["visible"]:
        problems.append(f"{where}: its controls are not shown (did player.js run?)")
    return problems


def _toggle_labels(box) -> tuple[str, str]:
    """The play/pause button's two names in the page's language (the directive writes them on the
    player; player.js falls back to English)."""
    return box.get_attribute("data-play-label") or "Play", box.get_attribute("data-pause-label") or "Pause"


def _check_player_controls(page, player: dict) -> list[str]:
    """A playing animation: it changes frames; pause stops it; step buttons and arrow keys move by one."""
    k = player["index"]
    where = f"animation {k + 1}"
    n = len(player["frames"])
    longest = max(player["durations"] or [1000])
    box = page.locator(".convops-player").nth(k)
    box.scroll_into_view_if_needed()
    play, pause = _toggle_labels(box)
    counter, _, label = _player_state(page, k)
    if label != pause:
        return [f"{where} does not start playing (its play/pause button says {label!r})"]
    if not _wait_for_frame_change(page, k, counter, 2 * longest + 2000):
        return [f"{where} shows {counter!r} and does not move on: it does not play"]
    box.locator(".convops-player-toggle").click()
    paused = _player_state(page, k)
    problems = []
    if paused[2] != play:
        problems.append(f"{where}: after a click on pause its button says {paused[2]!r}, not {play!r}")
    # To see that nothing changes, one must wait: twice the longest frame, in which a playing animation moves.
    page.wait_for_timeout(2 * longest + 100)
    if _player_state(page, k)[:2] != paused[:2]:
        problems.append(f"{where} still changes frames after pause: {paused[0]!r} -> {_player_state(page, k)[0]!r}")

    def position() -> int:
        return int(_COUNTER.match(_player_state(page, k)[0]).group(1))

    def expect(after: str, start: int, by: int):
        now = position()
        if now != (start - 1 + by) % n + 1:
            problems.append(f"{where}: {after} moved the counter from {start} to {now} (expected {by:+d})")

    start = position()
    box.locator(".convops-player-next").click()
    expect("the step-forward button", start, 1)
    src = _player_state(page, k)[1]
    if src != player["frames"][position() - 1]:
        problems.append(
            f"{where}: step forward shows {src}, not frame {position()} ({player['frames'][position() - 1]})"
        )
    start = position()
    box.locator(".convops-player-prev").click()
    expect("the step-back button", start, -1)
    start = position()
    box.focus()  # the player itself: its keys, not a button's
    page.keyboard.press("ArrowRight")
    expect("the right arrow key", start, 1)
    page.keyboard.press("ArrowLeft")
    expect("the left arrow key", start, 0)
    page.keyboard.press("Space")
    if _player_state(page, k)[2] != pause:
        problems.append(f"{where}: the space key on the focused player does not play it")
    page.keyboard.press("Space")
    if _player_state(page, k)[2] != play:
        problems.append(f"{where}: the space key on the playing player does not pause it")
    return problems


# ---------------------------------------------------------------------------------------------------
# concept pages


def _edition(path: str) -> tuple[str, str]:
    """(the edition's URL prefix, the page's path within its edition)."""
    return (ZH, path.removeprefix(ZH)) if path.startswith(ZH) else ("", path)


_EDITION_JS = """() => {
  const outside = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (el.closest('article, script, style') || !el.checkVisibility()) continue;
    outside.push(n.textContent);
  }
  for (const el of document.querySelectorAll('[aria-label], [title], svg title')) {
    if (el.closest('article')) continue;
    outside.push(el.getAttribute('aria-label') || el.getAttribute('title') || el.textContent || '');
  }
  const prose = Array.from(document.querySelectorAll(
      'article p, article li, article h1, article h2, article dd, article td'))
    .filter(e => !e.closest('dl.py, pre, .highlight, .example-output, .language-switcher'))
    .map(e => e.innerText).join(' ');
  const links = Array.from(document.querySelectorAll('link[rel=alternate][hreflang]'))
    .map(l => [l.getAttribute('hreflang'), l.href]);
  const switcher = Array.from(document.querySelectorAll('nav.language-switcher a')).map(a => [a.hreflang, a.href]);
  return {lang: document.documentElement.lang, outside: outside.join(' '), prose, links, switcher};
}"""
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
# Pages with no prose of their own (generated by Sphinx), and the API page, whose docstrings stay English.
# The references page lists works by their (mostly English) titles.
_NO_PROSE = {"search.html", "genindex.html", "py-modindex.html", "api.html", "references.html"}


def _check_edition(page, path: str) -> list[str]:
    """The page's language tag, its links to both editions (which exist), and on a Chinese page: its prose
    is Chinese and the theme's controls are not English."""
    edition, rel = _edition(path)
    found = page.evaluate(_EDITION_JS)
    problems = []
    if found["lang"] != LANG_TAGS[edition]:
        problems.append(f"<html lang={found['lang']!r}>, expected {LANG_TAGS[edition]!r}")
    expected = {LANG_TAGS[""]: rel, LANG_TAGS[ZH]: ZH + rel}
    links = dict(found["links"])
    for tag, target in expected.items():
        href = links.get(tag)
        if href is None or _site_file(href) != SITE / target:
            problems.append(f"<link rel=alternate hreflang={tag}> is {href!r}, expected the page {target}")
        elif not (SITE / target).is_file():
            problems.append(f"the {tag} twin {target} does not exist")
    other = LANG_TAGS[ZH if edition == "" else ""]
    switch = [href for tag, href in found["switcher"] if tag == other]
    if not switch or any(_site_file(href) != SITE / expected[other] for href in switch):
        problems.append(f"the language switcher's link to {other} is {switch}, expected {expected[other]}")
    if edition == ZH:
        left = [w for w in THEME_WORDS_EN if w in found["outside"]]
        if left:
            problems.append(f"the theme's controls still say {left} on a Chinese page")
        if rel not in _NO_PROSE:
            cjk, latin = len(_CJK.findall(found["prose"])), len(_LATIN.findall(found["prose"]))
            if cjk < 0.3 * (cjk + latin):
                problems.append(f"the prose is not Chinese: {cjk} CJK characters, {latin} Latin letters")
    return problems


def _check_sections(page, sections: list[str]) -> list[str]:
    headings = page.evaluate(
        "() => Array.from(document.querySelectorAll('article section > h2'))"
        ".map(h => h.textContent.replace(/[#¶]/g, '').trim())"
    )
    position = 0
    for section in sections:  # every section, in the learning order, other sections allowed between
        try:
            position = headings.index(section, position) + 1
        except ValueError:
            return [f"section {section!r} missing or out of order; headings: {headings}"]
    return []


_ANSWERS_JS = """(title) => {
  const section = Array.from(document.querySelectorAll('article section'))
    .find(s => {
      const h = s.querySelector(':scope > h2');
      return h && h.textContent.replace(/[#¶]/g, '').trim() === title;
    });
  if (!section) return null;
  // Layout first: checkVisibility alone can answer from the style before <details> toggled.
  const shown = (el) => el.getBoundingClientRect().height > 0
                        && el.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true});
  return Array.from(section.querySelectorAll('details.answers')).map(d => {
    const body = Array.from(d.children).filter(c => c.tagName !== 'SUMMARY');
    return {open: d.open, summary: !!d.querySelector(':scope > summary'), shown: body.some(shown),
            text: body.map(c => c.textContent).join(' ').trim().length};
  });
}"""


def _check_answers(page, closed_only: bool, title: str = "Exercises") -> list[str]:
    """The Exercises section keeps its answers in closed details.answers; with closed_only False,
    also open each by clicking its summary and check that the answers then show."""
    answers = page.evaluate(_ANSWERS_JS, title)
    if answers is None:
        return []  # no Exercises section: _check_sections says so
    if not answers:
        return ["the Exercises section has no answers in a details.answers (`.. answers::`)"]
    problems = []
    for k, box in enumerate(answers):
        if box["open"] or box["shown"]:
            problems.append(
                f"answers {k + 1} of the Exercises are visible before the reader asks "
                f"(details open={box['open']}, content shown={box['shown']})"
            )
        if not box["summary"] or not box["text"]:
            problems.append(f"answers {k + 1}: a details.answers without a summary or without answers")
    if closed_only or problems:
        return problems
    summaries = page.locator("article details.answers > summary")
    for k in range(summaries.count()):
        summaries.nth(k).click()
    for k, box in enumerate(page.evaluate(_ANSWERS_JS, title)):
        if not box["open"] or not box["shown"]:
            problems.append(f"answers {k + 1}: a click on the summary does not show them")
    return problems


# ---------------------------------------------------------------------------------------------------
# the page test


@pytest.mark.parametrize("path", _pages())
def test_page(path, browser, base_url, screenshots):
    visit = Visit(browser, base_url)
    try:
        page = visit.open(path)
        problems = [f"broken image: {src}" for src in _load_images(page)]
        problems += _check_math(page)
        problems += _check_alt_texts(page)
        problems += _check_favicon(page)
        name = pathlib.PurePosixPath(path).stem
        edition, rel = _edition(path)
        sections = ZH_SECTIONS if edition == ZH else SECTIONS
        problems += _check_edition(page, path)
        players = _players(page)
        markup = [_check_player_markup(path, player) for player in players]
        problems += [problem for found in markup for problem in found]
        if rel.startswith("concepts/"):
            sources = page.evaluate(
                "() => Array.from(document.querySelectorAll('article img')).map(i => i.getAttribute('src'))"
            )
            if not [s for s in sources if "_images/" in s]:
                problems.append("concept page without a build-time figure")
            problems += _check_sections(page, sections)
            if page.evaluate("() => document.querySelectorAll('div.highlight-pycon').length") == 0:
                problems.append("concept page without a worked example (>>> code)")
            problems += _check_answers(page, closed_only=True, title=sections[-1])
            if name in ANIMATED and not players:
                problems.append("page without an animation (a frame player of `.. animation::`)")
        if rel == "index.html":
            problems += _check_landing(page)
        if rel in FIGURE_PAGES:
            problems += _check_generated_page(page, rel, edition)
        # Playing animations change the picture: stop them (checking their controls) before the shots.
        for player, found in zip(players, markup):
            if not found:
                problems += _check_player_controls(page, player)
        # 1280 px: layout and figures, light and dark shots (figures keep their white card in dark mode).
        problems += _check_layout(page, 1280)
        problems += _check_figures(page)
        shoot = functools.partial(_screenshot, page, screenshots / path.replace("/", "__").removesuffix(".html"))
        shoot("1280-light")
        page.emulate_media(color_scheme="dark")
        problems += _check_dark_figures(page)
        shoot("1280-dark")
        # 390 px: a phone (light only: dark mode changes colours, which the 1280 shots show, not layout).
        page.emulate_media(color_scheme="light")
        page.set_viewport_size({"width": 390, "height": 844})
        problems += _check_layout(page, 390)
        shoot("390-light")
        if rel.startswith("concepts/"):
            problems += _check_answers(page, closed_only=False, title=sections[-1])
        page.wait_for_timeout(200)  # let late console errors arrive
        problems += visit.problems()
        assert not problems, f"{path}:\n  " + "\n  ".join(problems)
    finally:
        visit.close()


def _screenshot(page, stem: pathlib.Path, mode: str):
    # JPEG: half the time of a PNG for a long page (the API page is ~50,000 px tall at 390 px), and
    # plenty for a person looking at the layout.
    page.screenshot(path=f"{stem}__{mode}.jpg", full_page=True, type="jpeg", quality=85)


def _check_dark_figures(page) -> list[str]:
    """Figures (drawn at build time, so under _images/) are drawn on white: in dark mode each keeps a
    white card."""
    backgrounds = page.evaluate(
        "() => Array.from(document.querySelectorAll('article img'))"
        ".filter(i => (i.getAttribute('src') || '').includes('_images/'))"
        ".map(i => [i.getAttribute('src'), getComputedStyle(i).backgroundColor])"
    )
    return [
        f"figure {src}: background in dark mode is {bg}, not white"
        for src, bg in backgrounds
        if bg != "rgb(255, 255, 255)"
    ]


def _check_landing(page) -> list[str]:
    """The landing page names the tutorial the site follows and links it."""
    links = page.evaluate(
        "(url) => Array.from(document.querySelectorAll('article a[href]'))"
        ".filter(a => a.href.startsWith(url))"
        ".map(a => (a.closest('p, li, dd, div') || a).textContent)",
        TUTORIAL_URL,
    )
    if not links:
        return [f"the landing page does not link the tutorial ({TUTORIAL_URL})"]
    if not any(name in text for text in links for name in TUTORIAL_NAMES):
        return [f"the link to {TUTORIAL_URL} does not name the tutorial ({' or '.join(TUTORIAL_NAMES)}): {links}"]
    return []


def _trained_here(edition: str) -> str:
    """The accuracy table's label of the runs trained while the site was built, in the edition's words."""
    english = "**convops, trained while this page was built**"
    if edition == ZH:
        import sys

        sys.path.insert(0, str(ROOT / "docs"))
        from figures.i18n import catalogue

        english = catalogue("zh_TW")[english]
    return english.strip("*")


def _check_generated_page(page, path: str, edition: str = "") -> list[str]:
    """A page of FIGURE_PAGES: a build-time figure, and the text only a build-time run can write."""
    problems = []
    sources = page.evaluate(
        "() => Array.from(document.querySelectorAll('article img')).map(i => i.getAttribute('src'))"
    )
    if not [s for s in sources if "_images/" in s]:
        problems.append(f"page without a build-time figure ({FIGURE_PAGES[path]} must be drawn)")
    text = page.evaluate("() => document.querySelector('article').innerText")
    if path == "performance.html":
        machine = json.loads(LATEST.read_text())["machine"]
        for what in (machine["date"], str(machine["git_commit"]), machine["cpu"]):
            if what not in text:
                problems.append(f"{LATEST.name}'s {what!r} is not stated on the page")
        if "%" not in text or "GFLOP/s" not in text:
            problems.append("no generated share of the machine's limits (GFLOP/s, %) on the page")
    else:
        output = page.evaluate(
            "() => Array.from(document.querySelectorAll('.example-output pre')).map(p => p.innerText).join('\\n')"
        )
        for what in ("Total params: 104,202", "Epoch 5/5", "convops: test_acc: "):
            if what not in output:
                problems.append(f"the example's output (run at build time) does not show {what!r}")
        if _trained_here(edition) not in text:
            problems.append("no accuracy table row for the convops runs trained at build time")
        problems += _check_real_mnist_accuracy(page)
    return problems


def _check_real_mnist_accuracy(page) -> list[str]:
    """Beside the tutorial's 0.992 (in the same paragraph, list item or table row) the page states a test
    accuracy that its source does not: one measured on real MNIST while the site was built."""
    source = ROOT / "docs" / "examples" / "train-convnet.rst"
    written = source.read_text(encoding="utf-8") if source.is_file() else ""
    blocks = page.evaluate(
        "(a) => Array.from(document.querySelectorAll('article p, article li, article tr, "
        "article dd, article caption'))"
        ".map(e => e.innerText).filter(t => t.includes(a))",
        TUTORIAL_ACCURACY,
    )
    if not blocks:
        return [f"the tutorial's test accuracy {TUTORIAL_ACCURACY} is not stated on the page"]
    for text in blocks:
        for number in re.findall(r"(?<![\d.])(0\.\d{2,4}|\d{2}\.\d{1,2}\s?%)(?![\d])", text):
            value = float(number.rstrip("% ")) / (100 if "%" in number else 1)
            if number != TUTORIAL_ACCURACY and 0.5 < value < 1 and number not in written:
                return []
    return [
        f"no test accuracy measured at build time (a number not in {source.name}) stated beside the "
        f"tutorial's {TUTORIAL_ACCURACY}; where it is stated: {[t[:160] for t in blocks]}"
    ]


# ---------------------------------------------------------------------------------------------------
# tests besides the page test


def test_every_concept_page_is_built():
    missing = [c for c in CONCEPTS if not (SITE / "concepts" / f"{c}.html").is_file()]
    missing += [p for p in FIGURE_PAGES if not (SITE / p).is_file()]
    assert not missing, f"pages missing from {SITE}: {missing}"


def test_both_editions_have_the_same_pages():
    pages = [p for p in _pages() if not p.startswith(ZH)]
    chinese = [p.removeprefix(ZH) for p in _pages() if p.startswith(ZH)]
    assert pages and sorted(pages) == sorted(chinese), (
        f"English pages without a Chinese twin: {sorted(set(pages) - set(chinese))}; "
        f"Chinese pages without an English twin: {sorted(set(chinese) - set(pages))}"
    )


@pytest.mark.parametrize("start", ["concepts/padding.html", "index.html", "explorer/draw-a-digit.html"])
def test_language_switcher_round_trip(start, browser, base_url):
    """English → 繁體中文 → English by the switcher, on the same page each time."""
    # Reduced motion: a playing animation keeps swapping its frame image, and leaving the page while
    # one is being fetched aborts that fetch (seen on a loaded 2-core machine: two frames of the
    # padding page's player); the players' own behaviour is tested elsewhere.
    visit = Visit(browser, base_url, reduced_motion="reduce")
    try:
        page = visit.open(start)
        # Leave a page only once its own requests are done: navigating away aborts a fetch still in
        # flight (the explorer's model on a slow machine), which the visit rightly reports.
        page.wait_for_load_state("networkidle")
        page.click("article nav.language-switcher a[hreflang='zh-Hant-TW']")
        page.wait_for_load_state("load")
        assert page.url == base_url + ZH + start, page.url
        assert page.evaluate("() => document.documentElement.lang") == "zh-Hant-TW"
        assert page.locator("article nav.language-switcher .language-current").inner_text() == "繁體中文"
        page.wait_for_load_state("networkidle")
        page.click("article nav.language-switcher a[hreflang='en']")
        page.wait_for_load_state("load")
        assert page.url == base_url + start, page.url
        assert page.evaluate("() => document.documentElement.lang") == "en"
        assert not visit.problems(), visit.problems()
    finally:
        visit.close()


@pytest.mark.parametrize(
    "query, expected",
    [
        ("感受野", "concepts/receptive-field"),
        ("卷積", "concepts/kernels"),
        ("池化", "concepts/pooling"),
        ("步幅", "concepts/stride"),
        ("填充", "concepts/padding"),
    ],
)
def test_chinese_search_finds_the_page(query, expected, browser, base_url):
    """The Chinese edition's search (jieba-segmented index) finds a term's page by its Chinese name."""
    visit = Visit(browser, base_url)
    try:
        page = visit.open(f"{ZH}search.html?q={query}")
        hits = _search(page, query)
        hrefs = [h["href"] for h in hits]
        assert any(expected in h for h in hrefs), f"search for {query!r} did not list {expected}: {hrefs[:10]}"
        switcher = [h["snippet"][:60] for h in hits if "English" in h["snippet"][:40]]
        assert not switcher, f"snippets that begin with the language switcher: {switcher}"
        assert not visit.problems(), visit.problems()
    finally:
        visit.close()


DOCTEST_OUTPUT = pathlib.Path(
    os.environ.get("CONVOPS_DOCTEST_OUTPUT", ROOT / "docs" / "_build" / "doctest" / "output.txt")
)


def test_every_concept_page_ran_its_doctests():
    """`sphinx-build -b doctest` (run before this test by scripts/test.sh) ran and passed the worked
    examples of every concept page and of DOCTEST_PAGES."""
    if not DOCTEST_OUTPUT.is_file():
        pytest.fail(f"{DOCTEST_OUTPUT} is missing: run `python -m sphinx -b doctest docs docs/_build/doctest` first")
    report = DOCTEST_OUTPUT.read_text()
    problems = []
    for name in [f"concepts/{c}" for c in CONCEPTS] + DOCTEST_PAGES:
        match = re.search(rf"^Document: {re.escape(name)}\n-+\n(.*?)(?:\n\n|\Z)", report, re.M | re.S)
        if not match:
            problems.append(f"{name}: no doctests ran")
            continue
        counts = re.search(r"(\d+) passed and (\d+) failed", match.group(1))
        if not counts or int(counts.group(1)) == 0 or int(counts.group(2)) != 0:
            problems.append(f"{name}: {match.group(1).strip()!r}")
    assert not problems, "doctests of the pages:\n  " + "\n  ".join(problems)


def _search(page, query: str) -> list[dict]:
    """Run a search on search.html and return its hits ({href, snippet}) once the snippets arrived."""
    # The summary is written when the search has finished (in the page's language).
    page.wait_for_function(
        "() => ((document.querySelector('#search-results p.search-summary') || {}).textContent || '').trim()",
        timeout=20_000,
    )
    # Snippets are fetched page by page after the list is shown; objects (API entries) have none.
    try:
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('#search-results ul.search > li'))"
            ".every(li => li.querySelector(':scope > span') || li.querySelector('p.context'))",
            timeout=10_000,
        )
    except Exception:  # a page whose text is empty has no snippet: check the others
        pass
    return page.evaluate(
        "() => Array.from(document.querySelectorAll('#search-results ul.search > li')).map(li => "
        "({href: li.querySelector('a').getAttribute('href'),"
        "  snippet: (li.querySelector('p.context') || {}).textContent || ''}))"
    )


def test_search_finds_padding(browser, base_url):
    visit = Visit(browser, base_url)
    try:
        page = visit.open("search.html?q=padding")
        page.wait_for_function(
            "() => document.querySelectorAll('#search-results ul.search li').length > 0", timeout=20_000
        )
        hits = page.evaluate(
            "() => Array.from(document.querySelectorAll('#search-results ul.search li a'))"
            ".map(a => a.getAttribute('href'))"
        )
        assert any("concepts/padding" in h for h in hits), f"search for 'padding' did not list the padding page: {hits}"
        assert not visit.problems(), visit.problems()
    finally:
        visit.close()


@pytest.mark.parametrize("query", ["receptive field", "padding", "dilation"])
def test_search_snippets_show_no_tex(query, browser, base_url):
    """A search result's snippet is the page's text: formulas read as text, not as TeX source."""
    visit = Visit(browser, base_url)
    try:
        page = visit.open(f"search.html?q={query.replace(' ', '+')}")
        hits = _search(page, query)
        snippets = [h for h in hits if h["snippet"]]
        assert snippets, f"search for {query!r}: no result with a snippet: {hits}"
        tex = [
            f"{h['href']}: {h['snippet'][:200]!r}"
            for h in snippets
            if any(d in h["snippet"] for d in ("\\(", "\\)", "\\[", "\\]"))
        ]
        assert not tex, f"search for {query!r}: snippets with TeX delimiters:\n  " + "\n  ".join(tex)
        assert not visit.problems(), visit.problems()
    finally:
        visit.close()


@pytest.mark.parametrize("name", sorted(ANIMATED))
def test_animation_starts_paused_for_reduced_motion(name, browser, base_url):
    """A reader who asked for less motion sees each animation paused, on its poster frame (the finished
    picture by default), with a Play button; nothing moves until they press it."""
    path = f"concepts/{name}.html"
    if not (SITE / path).is_file():
        pytest.fail(f"{path} is not built")
    visit = Visit(browser, base_url)
    try:
        visit.page.emulate_media(reduced_motion="reduce")
        page = visit.open(path)
        players = _players(page)
        assert players, f"{path}: no animation (frame player)"
        problems = []
        for player in players:
            where = f"animation {player['index'] + 1}"
            if _check_player_markup(path, player):
                problems += _check_player_markup(path, player)
                continue
            counter, src, label = _player_state(page, player["index"])
            play, _ = _toggle_labels(page.locator(".convops-player").nth(player["index"]))
            if label != play:
                problems.append(f"{where}: under reduced motion its button says {label!r}: it plays")
            if int(_COUNTER.match(counter).group(1)) != player["poster"]:
                problems.append(
                    f"{where}: under reduced motion it shows {counter!r}, not its poster frame {player['poster']}"
                )
        longest = max(max(p["durations"] or [1000]) for p in players)
        before = [_player_state(page, p["index"])[:2] for p in players]
        # Nothing may change: wait twice the longest frame, in which a playing animation would move on.
        page.wait_for_timeout(2 * longest + 100)
        after = [_player_state(page, p["index"])[:2] for p in players]
        problems += [
            f"animation {k + 1} changes frames under reduced motion: {b[0]!r} -> {a[0]!r}"
            for k, (b, a) in enumerate(zip(before, after))
            if a != b
        ]
        # A phone scales frames down: clicking the frame on screen enlarges that very frame.
        frame = page.locator("img.convops-player-frame").first
        frame.scroll_into_view_if_needed()
        shown = frame.evaluate("img => img.currentSrc || img.src")
        frame.click()
        page.wait_for_timeout(300)
        zoomed = page.evaluate("""() => { const d = document.querySelector('.figure-zoom-dialog');
            const i = d && d.querySelector('img'); return d && d.open ? (i.currentSrc || i.src) : null; }""")
        if zoomed != shown:
            problems.append(f"clicking the frame {shown!r} does not enlarge it (dialog shows {zoomed!r})")
        page.keyboard.press("Escape")
        problems += visit.problems()
        assert not problems, f"{path}:\n  " + "\n  ".join(problems)
    finally:
        visit.close()

"""Browser test of the built documentation site (docs/_build/html), in Debian's Chromium.

Opens every page over HTTP on 127.0.0.1 and fails on: a page that does not load (or a 404 for any
resource), a console error or uncaught exception, any request to another host, a broken image or
animation, math that MathJax did not render, a concept page without a build-time figure (or, for the
sliding-window pages, without an animated GIF), without its eight sections in order or without a
doctest, a search for "padding" that finds nothing, and a performance or training-example page without
its build-time figure and generated text (latest.json's machine; the example's output).
Every page is screenshotted (full page) into $CONVOPS_SCREENSHOTS, else a temporary directory whose
path is printed, so that a person can look at them.

Build the site first: ``bash scripts/site.sh --no-serve`` (scripts/test.sh does). Chromium is Debian's
(/usr/bin/chromium, installed by scripts/env.sh), driven by Playwright: never `playwright install`.
"""

from __future__ import annotations

import functools
import http.server
import os
import pathlib
import re
import tempfile
import threading
from urllib.parse import urlparse

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SITE = pathlib.Path(os.environ.get("CONVOPS_SITE_DIR", ROOT / "docs" / "_build" / "html"))
CHROMIUM = os.environ.get("CONVOPS_CHROMIUM", "/usr/bin/chromium")
# The flags that keep Chromium quiet and offline on this kind of machine (docs toolchain note).
# Playwright adds --headless and its own temporary profile (it refuses --user-data-dir here).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

CONCEPTS = ["kernels", "correlation", "channels", "response-maps", "padding", "stride", "dilation", "pooling",
            "receptive-field", "translation", "mnist-convnet", "cython", "testing"]
# The sections of every concept page, in this order.
SECTIONS = ["Intuition", "Definition", "Formula", "Figures", "Worked example", "How TensorFlow does it", "Summary",
            "Exercises"]
# The sliding-window pages, each of which must show an animation (an animated GIF).
ANIMATED = {"kernels", "padding", "stride", "dilation", "pooling"}
# Pages outside concepts/ whose figures are drawn at build time (from benchmarks/results, or by
# training the example), and what each must show besides: text generated at build time.
FIGURE_PAGES = {"performance.html": "the machine and commit of benchmarks/results/latest.json",
                "examples/train-convnet.html": "the example script's output, run while the site was built"}
# Pages whose worked examples must have run as doctests (besides the concept pages).
DOCTEST_PAGES = ["examples/train-convnet"]
LATEST = ROOT / "benchmarks" / "results" / "latest.json"


def _pages() -> list[str]:
    """Every HTML page of the site, relative to its root (theme assets under _static are not pages)."""
    if not (SITE / "index.html").is_file():
        return ["<site not built>"]
    skip = ("_static", "_sources", "_images", "_downloads", "_plot_directive")
    return sorted(str(p.relative_to(SITE)) for p in SITE.rglob("*.html") if not p.relative_to(SITE).parts[0] in skip)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test reports what matters; no access log
        pass


@pytest.fixture(scope="module")
def base_url():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"the site is not built: {SITE}/index.html is missing. Run `bash scripts/site.sh --no-serve`.")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # a failure, not a skip: the docs job needs it
        pytest.fail(f"playwright is not installed ({exc}); run `bash scripts/env.sh docs`")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM}; `bash scripts/env.sh docs` installs Debian's chromium")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def screenshots():
    where = os.environ.get("CONVOPS_SCREENSHOTS")
    path = pathlib.Path(where) if where else pathlib.Path(tempfile.mkdtemp(prefix="convops-site-shots-"))
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of every page: {path}")
    return path


class Visit:
    """One page opened in a fresh browser context that records everything that went wrong."""

    def __init__(self, browser, base_url: str, colour_scheme: str = "light"):
        self.base = base_url
        self.external: list[str] = []
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=colour_scheme)
        # On the context, not the page: requests of web workers only show there.
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("response", lambda r: self.failed.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
        self.page.on("requestfailed", lambda r: self.failed.append(f"failed {r.url}: {r.failure}")
                     if r.url.startswith(self.base) else None)

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.base) or urlparse(url).scheme in ("data", "blob", "about"):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def open(self, path: str):
        response = self.page.goto(self.base + path, wait_until="load")
        assert response is not None and response.status == 200, f"{path}: HTTP {response and response.status}"
        return self.page

    def close(self):
        self.context.close()

    def problems(self) -> list[str]:
        return ([f"request to an external host: {u}" for u in self.external] + self.errors + self.failed)


def _load_images(page) -> list[str]:
    """Make every image eager (lazy ones below the fold report width 0), wait, return broken ones."""
    page.evaluate("() => document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)", timeout=20_000)
    return page.evaluate("() => Array.from(document.images).filter(i => !(i.naturalWidth > 0))"
                         ".map(i => i.getAttribute('src'))")


def _check_math(page) -> list[str]:
    if page.evaluate("() => document.querySelectorAll('.math').length") == 0:
        return []
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
    page.evaluate("() => MathJax.startup.promise")
    unrendered = page.evaluate("() => Array.from(document.querySelectorAll('.math'))"
                               ".filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60))")
    errors = page.evaluate("() => Array.from(document.querySelectorAll('mjx-merror'))"
                           ".map(e => e.getAttribute('data-mjx-error') || e.textContent)")
    return [f"math not rendered: {t!r}" for t in unrendered] + [f"MathJax error: {e}" for e in errors]


def _gif_frames(src: str, page_path: str) -> int:
    from PIL import Image

    file = (SITE / page_path).parent / src
    with Image.open(file) as gif:
        return getattr(gif, "n_frames", 1)


@pytest.mark.parametrize("path", _pages())
def test_page(path, browser, base_url, screenshots):
    visit = Visit(browser, base_url)
    try:
        page = visit.open(path)
        problems = [f"broken image: {src}" for src in _load_images(page)]
        problems += _check_math(page)
        name = pathlib.PurePosixPath(path).stem
        if path.startswith("concepts/"):
            sources = page.evaluate("() => Array.from(document.querySelectorAll('article img'))"
                                    ".map(i => i.getAttribute('src'))")
            figures = [s for s in sources if "_images/" in s]
            if not figures:
                problems.append("concept page without a build-time figure")
            headings = page.evaluate("() => Array.from(document.querySelectorAll('article section > h2'))"
                                     ".map(h => h.textContent.replace(/[#¶]/g, '').trim())")
            position = 0
            for section in SECTIONS:   # every section, in the learning order, other sections allowed between
                try:
                    position = headings.index(section, position) + 1
                except ValueError:
                    problems.append(f"section {section!r} missing or out of order; headings: {headings}")
                    break
            if page.evaluate("() => document.querySelectorAll('div.highlight-pycon').length") == 0:
                problems.append("concept page without a worked example (>>> code)")
            if name in ANIMATED:
                gifs = [s for s in figures if s.endswith(".gif")]
                if not gifs:
                    problems.append("sliding-window page without an animation")
                for src in gifs:
                    if _gif_frames(src, path) < 2:
                        problems.append(f"animation {src} has a single frame")
        if path in FIGURE_PAGES:
            problems += _check_generated_page(page, path)
        page.wait_for_timeout(200)  # let late console errors arrive
        page.screenshot(path=str(screenshots / f"{path.replace('/', '__')}.png"), full_page=True)
        problems += visit.problems()
        assert not problems, f"{path}:\n  " + "\n  ".join(problems)
    finally:
        visit.close()


def _check_generated_page(page, path: str) -> list[str]:
    """A page of FIGURE_PAGES: a build-time figure, and the text only a build-time run can write."""
    import json

    problems = []
    sources = page.evaluate("() => Array.from(document.querySelectorAll('article img'))"
                            ".map(i => i.getAttribute('src'))")
    if not [s for s in sources if "_images/" in s]:
        problems.append(f"page without a build-time figure ({FIGURE_PAGES[path]} must be drawn)")
    text = page.evaluate("() => document.querySelector('article').innerText")
    if path == "performance.html":
        machine = json.loads(LATEST.read_text())["machine"]
        for what in (machine["date"], str(machine["git_commit"]), machine["cpu"]):
            if what not in text:
                problems.append(f"latest.json's {what!r} is not stated on the page")
        if "%" not in text or "GFLOP/s" not in text:
            problems.append("no generated share of the machine's limits (GFLOP/s, %) on the page")
    else:
        output = page.evaluate("() => Array.from(document.querySelectorAll('.example-output pre'))"
                               ".map(p => p.innerText).join('\\n')")
        for what in ("Total params: 104,202", "Epoch 5/5", "convops: test_acc: "):
            if what not in output:
                problems.append(f"the example's output (run at build time) does not show {what!r}")
        if "trained while this page was built" not in text:
            problems.append("no accuracy table row for the convops runs trained at build time")
    return problems


def test_every_concept_page_is_built():
    missing = [c for c in CONCEPTS if not (SITE / "concepts" / f"{c}.html").is_file()]
    missing += [p for p in FIGURE_PAGES if not (SITE / p).is_file()]
    assert not missing, f"pages missing from {SITE}: {missing}"


DOCTEST_OUTPUT = pathlib.Path(os.environ.get("CONVOPS_DOCTEST_OUTPUT",
                                             ROOT / "docs" / "_build" / "doctest" / "output.txt"))


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


def test_search_finds_padding(browser, base_url):
    visit = Visit(browser, base_url)
    try:
        page = visit.open("search.html?q=padding")
        page.wait_for_function("() => document.querySelectorAll('#search-results ul.search li').length > 0",
                               timeout=20_000)
        hits = page.evaluate("() => Array.from(document.querySelectorAll('#search-results ul.search li a'))"
                             ".map(a => a.getAttribute('href'))")
        assert any("concepts/padding" in h for h in hits), f"search for 'padding' did not list the padding page: {hits}"
        assert not visit.problems(), visit.problems()
    finally:
        visit.close()


def test_dark_mode_pages_render(browser, base_url, screenshots):
    """The landing page and figure-heavy pages in dark mode: figures keep their white card."""
    for path in ("index.html", "concepts/padding.html", "performance.html", "examples/train-convnet.html"):
        visit = Visit(browser, base_url, colour_scheme="dark")
        try:
            page = visit.open(path)
            assert not _load_images(page)
            background = page.evaluate("() => getComputedStyle(document.querySelector('article img')).backgroundColor")
            assert background == "rgb(255, 255, 255)", f"{path}: figure background in dark mode is {background}"
            page.screenshot(path=str(screenshots / f"dark__{path.replace('/', '__')}.png"), full_page=True)
            assert not visit.problems(), visit.problems()
        finally:
            visit.close()

"""The built site's "Download this page's examples" links (docs/_ext/downloads.py).

For every concept and example page with ``>>>`` examples, the built page (docs/_build/html, or
$CONVOPS_SITE_DIR) must carry the line "Download this page's examples: script (.py) · notebook
(.ipynb)" inside its "Worked example" section (or the section of its last example), and both links
must resolve offline to files in the site's ``_downloads/`` that are exactly what
``downloads.build_script`` / ``downloads.build_notebook`` make from the page's source. Whether those
scripts run and those notebooks execute is tested without the site, in tests/test_docs_examples.py.

Build the site first: ``bash scripts/site.sh --no-serve`` (scripts/test.sh does).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlparse

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SITE = pathlib.Path(os.environ.get("CONVOPS_SITE_DIR", ROOT / "docs" / "_build" / "html"))
sys.path.insert(0, str(DOCS / "_ext"))

import downloads  # noqa: E402

PAGES = sorted(
    str(p.relative_to(DOCS).with_suffix(""))
    for prefix in downloads.PAGE_PREFIXES
    for p in (DOCS / prefix).glob("*.rst")
    if downloads.has_examples(p)
)


class _Downloads(HTMLParser):
    """The download links of a page, and the section titles they sit under."""

    def __init__(self):
        super().__init__()
        self.sections: list[str] = []  # ids of the open <section> elements
        self.depth: list[bool] = []  # for each open <section>
        self.heading: dict[str, str] = {}
        self.links: list[tuple[str, str, str]] = []  # (href, text, section title)
        self._in_p = False
        self._p_text = ""
        self._p_links: list[str] = []
        self._link: str | None = None
        self._link_text = ""
        self._in_heading: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs.get("id", ""))
        elif tag in ("h1", "h2", "h3", "h4") and self.sections:
            self._in_heading = self.sections[-1]
            self.heading[self._in_heading] = ""
        elif tag == "p":
            self._in_p, self._p_text, self._p_links = True, "", []
        elif tag == "a" and self._in_p and "download" in attrs:
            self._link, self._link_text = attrs.get("href", ""), ""

    def handle_endtag(self, tag):
        if tag == "section" and self.sections:
            self.sections.pop()
        elif tag in ("h1", "h2", "h3", "h4"):
            self._in_heading = None
        elif tag == "a" and self._link is not None:
            self._p_links.append((self._link, self._link_text.strip()))
            self._link = None
        elif tag == "p" and self._in_p:
            self._in_p = False
            if self._p_text.strip().startswith(downloads.LINK_TEXT):
                title = self.heading.get(self.sections[-1], "") if self.sections else ""
                self.links += [(href, text, title) for href, text in self._p_links]

    def handle_data(self, data):
        if self._in_heading is not None:
            self.heading[self._in_heading] += data
        if self._in_p:
            self._p_text += data
        if self._link is not None:
            self._link_text += data


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"the site is not built: {SITE}/index.html is missing. Run `bash scripts/site.sh --no-serve`.")
    return SITE


def test_pages_with_examples_are_found():
    assert "concepts/padding" in PAGES and len(PAGES) >= 10, PAGES


@pytest.mark.parametrize("page", PAGES)
def test_download_links_resolve_to_the_page_examples(site, page):
    html = site / f"{page}.html"
    assert html.is_file(), f"{page}.html was not built"
    parser = _Downloads()
    parser.feed(html.read_text(encoding="utf-8"))
    links = parser.links
    assert [text for _, text, _ in links] == ["script (.py)", "notebook (.ipynb)"], (
        f"{page}.html: expected one line '{downloads.LINK_TEXT} script (.py) · notebook (.ipynb)', got {links}"
    )
    titles = {re.sub(r"[¶#]\s*$", "", title).strip() for _, _, title in links}
    source = DOCS / f"{page}.rst"
    sections_with_examples = {b.section for b in downloads.extract_blocks(source)}
    assert titles <= {"Worked example"} | sections_with_examples, (page, titles)
    files = {}
    for href, text, _ in links:
        url = urlparse(href)
        assert not url.scheme and not url.netloc, f"{page}: {href} leaves the site"
        target = (html.parent / unquote(url.path)).resolve()
        assert target.is_file(), f"{page}: the link {text!r} -> {href} does not resolve ({target})"
        assert SITE.resolve() / "_downloads" in target.parents, f"{page}: {href} is not in _downloads/"
        files[text] = target
    script = files["script (.py)"]
    notebook = files["notebook (.ipynb)"]
    assert script.name == f"{pathlib.Path(page).name}.py" and notebook.name == f"{pathlib.Path(page).name}.ipynb"
    # what the site serves is what the tested builders make from the page's current source
    assert script.read_text(encoding="utf-8") == downloads.build_script(source), f"{page}: stale script"
    assert json.loads(notebook.read_text(encoding="utf-8")) == downloads.build_notebook(source), (
        f"{page}: stale notebook"
    )
    # the notebook's title cell links back to the page, relative to where the site serves it
    back = re.search(r"\]\(([^)]+)\)", "".join(json.loads(notebook.read_text(encoding="utf-8"))["cells"][0]["source"]))
    assert back and (notebook.parent / back.group(1)).resolve() == html.resolve(), (page, back)


def _sphinx_blocks(doctree_path: pathlib.Path) -> list[tuple[str, str]]:
    import pickle

    from docutils import nodes

    sys.path[:0] = [str(DOCS), str(DOCS / "_ext")]  # the docs' own node classes, to unpickle
    try:
        doctree = pickle.loads(doctree_path.read_bytes())
    finally:
        del sys.path[:2]
    found = []
    for node in doctree.findall(nodes.Element):
        kind = node.get("testnodetype") or ("doctest_block" if isinstance(node, nodes.doctest_block) else None)
        if kind and "docstring of" not in (node.source or ""):  # autodoc's are not the page's own
            source = node["test"] if "test" in node else node.astext()
            found.append((kind, source.strip().split("\n")[0].strip()))
    return found


def test_the_page_reader_finds_the_blocks_sphinx_found(site):
    """downloads.extract_blocks (used without Sphinx by the paste test) against the build's doctrees."""
    doctrees = site / ".doctrees"
    if not doctrees.is_dir():
        pytest.skip(f"no doctrees next to the site ({doctrees})")
    compared = 0
    for rst in sorted(DOCS.rglob("*.rst")):
        doctree = doctrees / rst.relative_to(DOCS).with_suffix(".doctree")
        if not doctree.is_file() or doctree.stat().st_mtime < rst.stat().st_mtime:
            continue  # not built, or edited since the build
        ours = [(b.kind, b.source.strip().split("\n")[0].strip()) for b in downloads.extract_blocks(rst)]
        assert ours == _sphinx_blocks(doctree), rst
        compared += bool(ours)
    assert compared >= 5, f"only {compared} pages with examples could be compared"

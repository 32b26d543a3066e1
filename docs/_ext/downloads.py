"""Every page's ``>>>`` examples as a Python script and a Jupyter notebook, linked from the page.

For each concept page (``concepts/*.rst``) and each example page (``examples/*.rst``) that has
doctests, the build writes ``<page>.py`` (the examples in page order, each expected output below
its line as a ``# ->`` comment) and ``<page>.ipynb`` (nbformat 4: a title cell linking back to the page,
then the examples as code cells, one displayed value per cell), and a transform appends the line
"Download this page's examples: script (.py) · notebook (.ipynb)" to the page's "Worked example"
section (or to the last section with an example). The files go through Sphinx's download
mechanism (``_downloads/``), so the links work offline.

In the Chinese edition the link line is Chinese, and so are the words of the script and the
notebook (the notebook's title and intro cell, its section headings, the script's header comment
and section comments): the page's and sections' titles come from the page's catalogue
(``docs/locales/zh_TW/LC_MESSAGES/<page>.po``, English where it has no translation yet), the rest
from ``figures.i18n``. The code, and the output it prints, stays as the page shows it.

The functions the build uses are plain functions of a page's path, so tests can call them
without building the site: :func:`extract_blocks` (the doctest blocks of a page, with the doctest
builder's semantics), :func:`build_script` and :func:`build_notebook`.

Which blocks count, as in ``sphinx.ext.doctest``: ``.. doctest::`` blocks, ``.. testcode::`` with
their ``.. testoutput::``, and plain ``>>>`` paragraphs, in the ``default`` group (or ``*``). Set-up
(``testsetup``/``testcleanup``) and hidden blocks are not a reader's examples and are left out of
the downloads. ``>>>`` inside literal blocks (``::``, ``code-block``) and non-rst directive bodies
(``plot``, ``math`` …) are not doctests and are not extracted.
"""

from __future__ import annotations

import doctest
import functools
import json
import os
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

try:  # the build (docs/conf.py puts docs/ on sys.path): the edition's language
    from figures import i18n
    from figures.i18n import _
except ModuleNotFoundError:  # read without the docs' packages (the tests import only docs/_ext): English
    i18n = None  # type: ignore[assignment]

    def _(text: str) -> str:
        return text

# --------------------------------------------------------------------------- reading a page

#: The doctest builder's directives.
TEST_DIRECTIVES = ("doctest", "testcode", "testoutput", "testsetup", "testcleanup")
#: Directives whose content is reStructuredText (a doctest inside them is a doctest); the content
#: of any other directive (code-block, plot, math, literalinclude, autodoc …) is not.
BODY_DIRECTIVES = frozenset(
    {
        "admonition",
        "attention",
        "caution",
        "danger",
        "error",
        "hint",
        "important",
        "note",
        "tip",
        "warning",
        "seealso",
        "topic",
        "sidebar",
        "container",
        "only",
        "answers",
        "compound",
        "epigraph",
        "highlights",
        "pull-quote",
        "glossary",
        "list-table",
        "table",
        "figure",
        "versionadded",
        "versionchanged",
        "deprecated",
        "rst-class",
        "class",
        "dropdown",
        "tab",
    }
)

_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([A-Za-z][\w:.+-]*)::(.*)$")
_EXPLICIT = re.compile(r"^(\s*)\.\.(\s|$)")  # comments, hyperlink targets, substitutions, footnotes
_OPTION = re.compile(r"^:([\w-]+):(.*)$")
_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1+\s*$")


@dataclass
class Block:
    """One doctest-builder block of a page."""

    kind: str  # "doctest" (directive), "doctest_block" (plain >>>), "testcode", "testoutput", ...
    source: str  # the block's content, dedented
    lineno: int  # 1-based line of the content's first line in the page
    groups: tuple = ("default",)
    options: dict = field(default_factory=dict)  # doctest option name -> True (+) / False (-)
    hide: bool = False
    skipif: str | None = None
    section: str = ""  # title of the (top-level or nested) section the block is in
    inside: tuple = ()  # the rst directives the block is nested in, outermost first ("answers", "note" …)

    def in_group(self, group: str = "default") -> bool:
        return group in self.groups or "*" in self.groups


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _body_end(lines: list[str], i: int, indent: int) -> int:
    """Index after the body of the explicit-markup element on line ``i`` (indented > ``indent``)."""
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > indent):
        j += 1
    return j


def _split_options(body: list[str], first: int) -> tuple[dict, list[str], int]:
    """A directive body → its options, its content (dedented) and the content's first line number."""
    text = textwrap.dedent("\n".join(body)).split("\n")
    options: dict = {}
    k = 0
    while k < len(text) and _OPTION.match(text[k].strip()) and text[k] == text[k].lstrip():
        name, value = _OPTION.match(text[k].strip()).groups()
        options[name] = value.strip()
        k += 1
    content = text[k:]
    start = first + k
    while content and not content[0].strip():
        content, start = content[1:], start + 1
    while content and not content[-1].strip():
        content = content[:-1]
    return options, content, start


def _parse_flags(spec: str) -> dict:
    flags = {}
    for option in spec.replace(",", " ").split():
        if option[:1] not in "+-" or option[1:] not in doctest.OPTIONFLAGS_BY_NAME:
            raise ValueError(f"invalid doctest option {option!r} (use +NAME or -NAME)")
        flags[option[1:]] = option[0] == "+"
    return flags


def _directive(
    lines: list[str],
    i: int,
    indent: int,
    directive: re.Match,
    first: int,
    out: list[Block],
    section: list[str],
    inside: tuple,
) -> int:
    """Collect the blocks of the directive on line ``i``; return the index after its body."""
    end = _body_end(lines, i, indent)
    name, argument = directive.group(2), directive.group(3).strip()
    body = lines[i + 1 : end]
    if name in TEST_DIRECTIVES:
        options, content, start = _split_options(body, first + i + 1)
        groups = tuple(g.strip() for g in argument.split(",")) if argument else ("default",)
        flags = _parse_flags(options["options"]) if "options" in options else {}
        block = Block(
            name, "\n".join(content), start, groups, flags, "hide" in options, options.get("skipif"), section[0], inside
        )
        out.append(block)
    elif name in BODY_DIRECTIVES:
        _options, content, start = _split_options(body, first + i + 1)
        _walk(content, start, out, section, inside + (name,))
    return end


def _paragraph_end(lines: list[str], i: int, indent: int) -> int:
    """Index after the paragraph on line ``i`` (up to a blank line), and after the literal block a
    paragraph ending in "::" introduces."""
    n = len(lines)
    j = i
    while j < n and lines[j].strip():
        j += 1
    if lines[j - 1].rstrip().endswith("::"):
        k = j
        while k < n and not lines[k].strip():
            k += 1
        if k < n and _indent(lines[k]) > indent:
            return _body_end(lines, k - 1, indent)
    return j


def _walk(lines: list[str], first: int, out: list[Block], section: list[str], inside: tuple = ()) -> None:
    """Collect the doctest blocks of ``lines`` (line ``first`` of the page is ``lines[0]``)."""
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        indent = _indent(line)
        directive = _DIRECTIVE.match(line)
        if directive:
            i = _directive(lines, i, indent, directive, first, out, section, inside)
            continue
        if _EXPLICIT.match(line):
            i = _body_end(lines, i, indent)
            continue
        if line.lstrip().startswith(">>>"):
            j = i
            while j < n and lines[j].strip():
                j += 1
            out.append(
                Block(
                    "doctest_block",
                    textwrap.dedent("\n".join(lines[i:j])),
                    first + i,
                    section=section[0],
                    inside=inside,
                )
            )
            i = j
            continue
        # a section title: text underlined (optionally overlined) with one punctuation character
        if i + 1 < n and _ADORNMENT.match(lines[i + 1]) and not _ADORNMENT.match(line) and indent == 0:
            section[0] = line.strip()
            i += 2
            continue
        if _ADORNMENT.match(line) and i + 2 < n and _ADORNMENT.match(lines[i + 2]):
            section[0] = lines[i + 1].strip()
            i += 3
            continue
        i = _paragraph_end(lines, i, indent)


def extract_blocks(rst: str | Path, text: str | None = None) -> list[Block]:
    """The doctest blocks of an .rst page (or of ``text``), in page order."""
    if text is None:
        text = Path(rst).read_text(encoding="utf-8")
    out: list[Block] = []
    _walk(text.expandtabs(8).split("\n"), 1, out, [""])
    return out


def page_title(rst: str | Path, text: str | None = None) -> str:
    """The first section title of a page."""
    if text is None:
        text = Path(rst).read_text(encoding="utf-8")
    lines = text.split("\n")
    for i, line in enumerate(lines[:-1]):
        if (
            line.strip()
            and not _ADORNMENT.match(line)
            and _ADORNMENT.match(lines[i + 1])
            and len(lines[i + 1].strip()) >= len(line.strip())
        ):
            return line.strip()
    return Path(rst).stem


# --------------------------------------------------------------------------- what a reader runs


@dataclass
class Cell:
    """Consecutive examples of one block; only the last may show a value (as in a notebook)."""

    examples: list  # doctest.Example
    section: str
    block: Block


def reader_examples(blocks: list[Block], group: str = "default") -> list[doctest.Example]:
    """The examples a reader sees, in order: the group's visible doctests and testcode/testoutput."""
    return [example for cell in _cells(blocks, group) for example in cell.examples]


def _cells(blocks: list[Block], group: str = "default") -> list[Cell]:
    parser = doctest.DocTestParser()
    cells: list[Cell] = []
    visible = [b for b in blocks if b.in_group(group) and not b.hide and b.kind not in ("testsetup", "testcleanup")]
    for k, block in enumerate(visible):
        if block.kind in ("doctest", "doctest_block"):
            examples = _with_comments(block.source, parser.get_examples(block.source))
        elif block.kind == "testcode":
            following = visible[k + 1] if k + 1 < len(visible) else None
            want = following.source + "\n" if following is not None and following.kind == "testoutput" else ""
            examples = [doctest.Example(block.source + "\n", want)]
        else:
            continue
        current: list = []
        for example in examples:
            current.append(example)
            if example.want or example.exc_msg:
                cells.append(Cell(current, _heading(block), block))
                current = []
        if current:
            cells.append(Cell(current, _heading(block), block))
    return cells


_COMMENT_LINE = re.compile(r"^\s*>>>\s*(#.*)$")


def _with_comments(source: str, examples: list) -> list:
    """Keep a block's comment-only ``>>> # ...`` lines (doctest drops them) with the next example."""
    comments = [(k, m.group(1)) for k, line in enumerate(source.split("\n")) if (m := _COMMENT_LINE.match(line))]
    for example in examples:
        example.comments = [text for k, text in comments if k < example.lineno]
        comments = [(k, text) for k, text in comments if k > example.lineno]
    if examples and comments:
        examples[-1].trailing = [text for _, text in comments]
    return examples


def _shown(example: doctest.Example) -> str:
    """An example's code as the page shows it: its comment lines, its source, no prompts."""
    lines = getattr(example, "comments", []) + [example.source.rstrip("\n")] + getattr(example, "trailing", [])
    return "\n".join(lines)


def _heading(block: Block) -> str:
    # The page hides its exercises' answers until asked: the downloads say which cells are answers.
    return f"{block.section} (answers)" if "answers" in block.inside else block.section


@functools.cache
def _page_catalogue(path: Path, language: str) -> dict[str, str]:
    """The translated messages of a page's catalogue (empty when it has none)."""
    from babel.messages.pofile import read_po

    if not path.exists():
        return {}
    with path.open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and m.string and not m.fuzzy}


def _translated(rst: Path, text: str) -> str:
    """A title of the page ``rst`` (page or section) in the edition's language: the page catalogue's
    translation, English when there is none; a section of answers is marked in the language too."""
    answers = text.endswith(" (answers)")
    title = text.removesuffix(" (answers)") if answers else text
    language = i18n.language() if i18n is not None else "en"
    if language != "en":
        po = i18n.LOCALES / language / "LC_MESSAGES" / f"{_docname(rst)}.po"
        title = _page_catalogue(po, language).get(title, title)
    return _("{section} (answers)").format(section=title) if answers else title


def _page_url(docname: str) -> str:
    # From _downloads/<hash>/<file> back to the page: works inside the built site.
    return f"../../{docname}.html"


def _docname(rst: Path) -> str:
    parts = Path(rst).resolve().with_suffix("").parts
    return "/".join(parts[parts.index("docs") + 1 :]) if "docs" in parts else Path(rst).stem


def _exception_name(example: doctest.Example) -> str:
    return example.exc_msg.split(":", 1)[0].strip().rsplit(".", 1)[-1] or "Exception"


def build_script(rst: str | Path, page_url: str | None = None) -> str:
    """The page's examples as a Python script; each expected output is a ``# ->`` comment under its line."""
    rst = Path(rst)
    title = _translated(rst, page_title(rst))
    url = page_url or f"{_docname(rst)}.html"
    header = _(
        "The examples of the convops documentation page {url}, in page order.\n"
        "What a line shows in Python's interactive prompt is written below it after `# ->`;\n"
        "run the file with `python`, or paste it into Python, IPython or Jupyter line by line."
    ).format(url=url)
    lines = [f"# {title}", *(f"# {line}" for line in header.split("\n")), ""]
    section = None
    for cell in _cells(extract_blocks(rst)):
        if cell.section != section:
            section = cell.section
            while lines and not lines[-1]:
                lines.pop()
            lines += ["", "", f"# --- {_translated(rst, section)} ---", ""]
        for example in cell.examples:
            source = _shown(example)
            if example.exc_msg:
                # Expected to fail: show the error instead of stopping the script.
                lines += [
                    "try:",
                    textwrap.indent(source, "    "),
                    f"except {_exception_name(example)} as error:",
                    '    print(f"{type(error).__name__}: {error}")',
                ]
            else:
                lines.append(source)
            want = example.want.rstrip("\n")
            if want:
                first, *rest = want.split("\n")
                lines += [f"# -> {first}".rstrip()] + [f"#    {w}".rstrip() for w in rest] + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def build_notebook(rst: str | Path, page_url: str | None = None) -> dict:
    """The page's examples as a Jupyter notebook (nbformat 4), one displayed value per code cell."""
    rst = Path(rst)
    title = _translated(rst, page_title(rst))
    url = page_url or _page_url(_docname(rst))

    def markdown(text: str) -> dict:
        return {"cell_type": "markdown", "metadata": {}, "source": _lines(text)}

    cells = [
        markdown(
            f"# {title}\n\n"
            + _(
                "The examples of [the documentation page]({url}), in page order. "
                "Run the cells from the top: each one shows the value the page shows."
            ).format(url=url)
        )
    ]
    section = None
    for cell in _cells(extract_blocks(rst)):
        if cell.section != section:
            section = cell.section
            cells.append(markdown(f"## {_translated(rst, section)}"))
        metadata = {"tags": ["raises-exception"]} if any(e.exc_msg for e in cell.examples) else {}
        source = "".join(_shown(e) + "\n" for e in cell.examples)
        cells.append(
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": metadata,
                "outputs": [],
                "source": _lines(source.rstrip("\n")),
            }
        )
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def has_examples(rst: str | Path) -> bool:
    return any(cell.examples for cell in _cells(extract_blocks(rst)))


# --------------------------------------------------------------------------- the Sphinx side

#: Pages that get downloads: the concept pages and the example pages.
PAGE_PREFIXES = ("concepts/", "examples/")
LINK_TEXT = "Download this page's examples:"


def _write_if_changed(path: Path, text: str) -> None:
    # Unchanged files keep their mtime, so an incremental build does not re-read the page.
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _links_paragraph(docname: str, page_dir: Path, script: Path, notebook: Path):
    """The paragraph that links a page's script and notebook (``LINK_TEXT script (.py) · notebook (.ipynb)``)."""
    from docutils import nodes
    from sphinx import addnodes

    paragraph = nodes.paragraph(classes=["example-downloads"])
    paragraph += nodes.Text(_("Download this page's examples:") + " ")  # LINK_TEXT, in the edition's language
    for k, (path, label) in enumerate(((script, _("script (.py)")), (notebook, _("notebook (.ipynb)")))):
        if k:
            paragraph += nodes.Text(" · ")
        reference = addnodes.download_reference(
            "", "", refdoc=docname, refexplicit=True, reftarget=os.path.relpath(path, page_dir)
        )
        reference += nodes.inline(label, label)
        paragraph += reference
    return paragraph


def setup(app):
    from docutils import nodes
    from sphinx.transforms import SphinxTransform

    class AddDownloads(SphinxTransform):
        """Write the page's script and notebook; link them at the end of its "Worked example"."""

        default_priority = 870  # late in reading, before the doctree-read event (880) collects downloads

        def apply(self, **kwargs) -> None:
            docname = self.env.docname
            if not docname.startswith(PAGE_PREFIXES):
                return
            source = Path(self.env.doc2path(docname))
            if not has_examples(source):
                return
            target = self._section()
            if target is None:
                return
            folder = Path(self.app.doctreedir) / "downloads" / docname
            stem = Path(docname).name
            script, notebook = folder / f"{stem}.py", folder / f"{stem}.ipynb"
            _write_if_changed(script, build_script(source))
            _write_if_changed(notebook, json.dumps(build_notebook(source), indent=1, ensure_ascii=False) + "\n")
            page_dir = Path(self.env.srcdir) / Path(docname).parent
            paragraph = _links_paragraph(docname, page_dir, script, notebook)
            subsections = [i for i, child in enumerate(target.children) if isinstance(child, nodes.section)]
            if subsections:
                target.insert(subsections[0], paragraph)
            else:
                target += paragraph

        def _section(self):
            sections = list(self.document.findall(nodes.section))
            for section in sections:
                # by its English name: in the Chinese edition the title is translated, its name kept
                if "worked example" in section["names"] or (
                    section.children and section[0].astext().strip().lower() == "worked example"
                ):
                    return section
            last = None
            for node in self.document.findall(
                lambda n: (
                    isinstance(n, nodes.doctest_block) or n.get("testnodetype") in ("doctest", "testcode")
                    if isinstance(n, nodes.Element)
                    else False
                )
            ):
                parent = node.parent
                while parent is not None and not isinstance(parent, nodes.section):
                    parent = parent.parent
                last = parent if parent is not None else last
            return last

    app.add_transform(AddDownloads)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

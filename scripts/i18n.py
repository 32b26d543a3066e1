"""Keep the Traditional-Chinese catalogues of the docs site in step with the English sources.

    python scripts/i18n.py update   extract every page's messages (Sphinx's gettext builder) and merge
                                    them into docs/locales/zh_TW/LC_MESSAGES/<page>.po: new English
                                    sentences arrive untranslated, changed ones fuzzy, removed ones go
    python scripts/i18n.py check [PAGE ...]
                                    list what is not ready (of these pages only, if named, e.g.
                                    concepts/padding): an untranslated, fuzzy or obsolete
                                    message, a catalogue without a page or a page without one, and a
                                    translation whose markup differs from its English (exit 1 if any)

The figures' and build-time tables' strings are separate catalogues (``figures/*.po``), checked by
tests/test_figure_i18n.py. tests/test_i18n.py runs ``check`` on a fresh extraction.
"""

from __future__ import annotations

import datetime
import pathlib
import re
import subprocess
import sys
import tempfile

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LOCALE = "zh_TW"
CATALOGUES = DOCS / "locales" / LOCALE / "LC_MESSAGES"
HEADER = (
    "# Traditional-Chinese (Taiwan) translation of a page of the convops documentation.\n"
    "# Kept in step with the English by `python scripts/i18n.py update`."
)
# Dates in the header never change, so that updating a catalogue changes only its messages.
STABLE_DATE = datetime.datetime(2026, 12, 3, tzinfo=datetime.timezone.utc)
#: Catalogues that are not a page's: the figures' and build-time directives' strings
#: (``figures/*.po``, read by docs/figures/i18n.py).
NOT_PAGES_PREFIX = "figures/"
#: The theme's words, beside Sphinx's own zh_TW catalogue (docs/_ext/i18n.py).
THEME = "sphinx"

# Inline markup that a translation must keep, exactly as many of each: roles (:ref:`x`, :term:`y`,
# :math:`z`), literals, substitutions, hyperlink references, footnote/citation references.
_MARKUP = {
    "role": re.compile(r":[\w:+-]+:`"),
    "literal": re.compile(r"``[^`]+``"),
    "link": re.compile(r"`[^`]+`__?(?!\w)"),
    "substitution": re.compile(r"\|[^|\s][^|]*\|"),
    "footnote": re.compile(r"\[[#*]?\w*\]_"),
}
_LITERAL = re.compile(r"``([^`]+)``")


def extract(into: pathlib.Path) -> dict[str, Catalog]:
    """Every page's messages, as Sphinx's gettext builder extracts them (English source)."""
    subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "gettext", str(DOCS), str(into)],
        check=True,
        cwd=ROOT,
    )
    templates = {}
    for pot in sorted(into.rglob("*.pot")):
        name = pot.relative_to(into).with_suffix("").as_posix()
        if name == "sphinx":  # Sphinx's own strings: translated by Sphinx's zh_TW catalogue
            continue
        with pot.open("rb") as f:
            templates[name] = read_po(f)
    return templates


def _po(name: str) -> pathlib.Path:
    return CATALOGUES / f"{name}.po"


def _read(path: pathlib.Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=LOCALE)


def _write(catalog: Catalog, path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog.creation_date = catalog.revision_date = STABLE_DATE
    catalog.version = ""
    with path.open("wb") as f:
        write_po(f, catalog, width=0, omit_header=False, no_location=True, ignore_obsolete=True)


def update() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        templates = extract(pathlib.Path(tmp))
    for name, template in templates.items():
        path = _po(name)
        if path.exists():
            catalog = _read(path)
        else:
            catalog = Catalog(
                locale=LOCALE,
                project="convops",
                domain=name,
                fuzzy=False,
                header_comment=HEADER,
                copyright_holder="The convops developers",
                msgid_bugs_address="",
                last_translator="The convops developers",
                language_team="zh_TW",
                creation_date=STABLE_DATE,
                revision_date=STABLE_DATE,
            )
        catalog.update(template, no_fuzzy_matching=False, update_creation_date=False)
        _write(catalog, path)
    for path in sorted(CATALOGUES.rglob("*.po")):
        name = path.relative_to(CATALOGUES).with_suffix("").as_posix()
        if name not in templates and name != THEME and not name.startswith(NOT_PAGES_PREFIX):
            path.unlink()
            print(f"removed {path.relative_to(ROOT)}: no page {name} any more")
    print(f"updated {len(templates)} catalogues in {CATALOGUES.relative_to(ROOT)}")


def markup_problem(english: str, chinese: str) -> str | None:
    """How a translation's inline markup differs from its English (None if it keeps all of it)."""
    for kind, pattern in _MARKUP.items():
        a, b = len(pattern.findall(english)), len(pattern.findall(chinese))
        if a != b:
            return f"{a} {kind}(s) in the English, {b} in the translation"
    missing = sorted(set(_LITERAL.findall(english)) - set(_LITERAL.findall(chinese)))
    if missing:
        return f"code changed or lost: {missing[:3]}"
    return None


def _any_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    from docutils import nodes, utils

    return [nodes.inline(rawtext, utils.unescape(text))], []


_MARKUP_CHARS = ("``", "`", "**", "|")


def _render(text: str) -> tuple[int, int]:
    """(warnings, markup characters left in the text) when docutils parses `text` as reST."""
    import io

    from docutils import nodes
    from docutils.core import publish_doctree
    from docutils.parsers.rst import roles

    for name in set(re.findall(r":([\w+-]+):`", text)):
        roles.register_local_role(name, _any_role)
    doctree = publish_doctree(
        text, settings_overrides={"report_level": 5, "halt_level": 5, "warning_stream": io.StringIO()}
    )
    warnings = sum(1 for m in doctree.findall(nodes.system_message) if m["level"] >= 2)
    code = (nodes.literal, nodes.literal_block, nodes.math, nodes.math_block, nodes.raw, nodes.system_message)
    left = 0
    for node in doctree.findall(nodes.Text):
        if not any(isinstance(a, code) for a in _ancestors(node)):
            left += sum(str(node).count(c) for c in _MARKUP_CHARS)
    return warnings, left


def _ancestors(node):
    while node.parent is not None:
        node = node.parent
        yield node


def rendered_problem(english: str, chinese: str) -> str | None:
    """What goes wrong when the translation is parsed as reST and not when the English is: a warning,
    or markup (backticks, ``**``) left as plain text — reST's inline markup must be set off by
    spaces or punctuation, and a Chinese character next to it is neither, so it can fail silently."""
    if english.lstrip().startswith("<"):  # a raw HTML block, not reST
        return None
    (warn_en, left_en), (warn_zh, left_zh) = _render(english), _render(chinese)
    if warn_zh > warn_en:
        return "reST warning in the translation (inline markup next to a Chinese character? add a space or '\\ ')"
    if left_zh > left_en:
        return "markup shows as text in the translation (``, `, ** or | not parsed: add a space or '\\ ' beside it)"
    return None


def read_terms() -> list[tuple[str, str]]:
    """The term list (docs/locales/zh_TW/terms.tsv): (English, 中文) pairs."""
    pairs = []
    for line in (DOCS / "locales" / LOCALE / "terms.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            english, chinese = line.split("\t")
            pairs.append((english, chinese))
    return pairs


#: Titles quoted as they were published (the tutorial this site follows).
PROPER_NAMES = ("[AI] 卷積神經網路",)
_OPEN = ("（", "(")
_CLOSE = ("）", ")")


def first_use_problems(page: str, translations: list[str], terms: list[tuple[str, str]]) -> list[str]:
    """Terms whose first use on a page is not followed by their English name in parentheses.

    ``translations`` are the page's translated messages in page order. Longer terms are matched first
    (卷積層 is not a use of 卷積); the parenthesis may name more than the term
    (輸入梯度（input gradient） is a first use of 梯度 that names it). Terms whose Chinese is their
    English (ReLU, softmax) have nothing to add.
    """
    by_length = sorted((t for t in terms if t[0] != t[1]), key=lambda t: -len(t[1]))
    # A title is a name, not a use of the terms in it: the tutorial's stays exactly as published.
    seen: set[str] = set()
    found = []
    for text in translations:
        text = _LITERAL.sub(lambda m: " " * len(m.group()), text)  # code is not prose
        for title in PROPER_NAMES:
            text = text.replace(title, " " * len(title))
        taken = [False] * len(text)
        for english, chinese in by_length:
            start = text.find(chinese)
            while start >= 0:
                end = start + len(chinese)
                if not any(taken[start:end]):
                    for i in range(start, end):
                        taken[i] = True
                    if chinese not in seen:
                        seen.add(chinese)
                        after = text[end:]
                        close = min((after.find(c) for c in _CLOSE if c in after), default=-1)
                        inside = after[1:close] if after[:1] in _OPEN and close > 0 else ""
                        if english.lower() not in inside.lower():
                            found.append(
                                f"{page}: first use of {chinese} without its English name: "
                                f"write {chinese}（{english}） in {text[max(0, start - 20) : end + 20]!r}"
                            )
                start = text.find(chinese, end)
    return found


def _page_problems(name: str, template: Catalog, catalog: Catalog) -> list[str]:
    found = []
    for message in template:
        if not message.id:
            continue
        entry = catalog.get(message.id, message.context)
        where = f"{name}: {message.id[:70]!r}"
        if entry is None:
            found.append(f"{where}: not in the catalogue (run `python scripts/i18n.py update`)")
        elif not entry.string:
            found.append(f"{where}: untranslated")
        elif entry.fuzzy:
            found.append(f"{where}: fuzzy (the English changed; check the translation, then drop the flag)")
        elif why := markup_problem(message.id, entry.string) or rendered_problem(message.id, entry.string):
            found.append(f"{where}: {why}")
    ids = {(m.id, m.context) for m in template if m.id}
    for entry in catalog:
        if entry.id and (entry.id, entry.context) not in ids:
            found.append(f"{name}: {entry.id[:70]!r}: obsolete (no longer in the page)")
    if catalog.obsolete:
        found.append(f"{name}: {len(catalog.obsolete)} obsolete entries kept (run update)")
    return found


def problems(templates: dict[str, Catalog]) -> list[str]:
    """Everything that keeps the Chinese edition from being complete."""
    found = []
    for name, template in templates.items():
        path = _po(name)
        if not path.exists():
            found.append(f"{name}: no catalogue (run `python scripts/i18n.py update`)")
            continue
        found += _page_problems(name, template, _read(path))
    for path in sorted(CATALOGUES.rglob("*.po")):
        name = path.relative_to(CATALOGUES).with_suffix("").as_posix()
        if name not in templates and name != THEME and not name.startswith(NOT_PAGES_PREFIX):
            found.append(f"{name}: a catalogue without a page")
    terms = read_terms()
    for name, template in templates.items():
        if _po(name).exists():
            catalog = _read(_po(name))
            strings = [e.string for m in template if m.id and (e := catalog.get(m.id, m.context)) and e.string]
            found += first_use_problems(name, strings, terms)
    return found


def main(argv: list[str]) -> int:
    if argv == ["update"]:
        update()
        return 0
    if argv[:1] == ["check"]:
        with tempfile.TemporaryDirectory() as tmp:
            templates = extract(pathlib.Path(tmp))
        if argv[1:]:
            unknown = sorted(set(argv[1:]) - set(templates))
            if unknown:
                print(f"no such page: {unknown}; pages: {sorted(templates)}", file=sys.stderr)
                return 2
            templates = {name: templates[name] for name in argv[1:]}
        found = problems(templates)
        if argv[1:]:
            found = [f for f in found if f.split(":")[0] in templates]
        print("\n".join(found) or "every message of every page is translated")
        return 1 if found else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

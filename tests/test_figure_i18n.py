"""The figures' words in the Traditional-Chinese edition (docs/figures/i18n.py).

Every figure and build-time directive writes its words as ``_("…")`` (or marks them ``N_("…")`` and
translates them where they are drawn); the Chinese strings are in the gettext catalogues
``docs/locales/zh_TW/LC_MESSAGES/figures/*.po``. Checked here:

* every message of ``docs/figures/*.py`` and ``docs/_ext/*.py`` has a translation (not empty, not
  fuzzy), and every catalogue entry is still a message somewhere (no obsolete entries); an entry
  in two catalogues has one translation;
* a translation keeps its template's ``{placeholders}`` (name, format and conversion) exactly, adds
  no ``$`` (matplotlib would set the text as mathtext, which has no Chinese), and uses full-width
  punctuation after Chinese;
* the font the Chinese figures are drawn in is a CJK font matplotlib finds (Debian's
  fonts-noto-cjk; ``scripts/env.sh`` installs it), and it or DejaVu Sans, the fallback, has a
  glyph for every character of every translation: no tofu. A missing font is a failure, not a
  skip: without it the Chinese edition's figures are boxes;
* a figure drawn in zh_TW has Chinese ``<text>`` in its SVG, in the CJK font; drawn in English, no
  Chinese at all; the animation player's words follow the language.
"""

from __future__ import annotations

import ast
import io
import pathlib
import re
import string
import sys
from collections import defaultdict

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
for path in (DOCS, DOCS / "_ext"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from babel.messages.pofile import read_po  # noqa: E402

from figures import i18n  # noqa: E402

CATALOGUES = DOCS / "locales" / "zh_TW" / "LC_MESSAGES" / "figures"
# benchmarks/plot.py draws the performance page's figure without importing the docs: its words go
# through the `translate` it is given, and those it looks up by variable are marked N_.
SOURCES = (
    sorted((DOCS / "figures").glob("*.py")) + sorted((DOCS / "_ext").glob("*.py")) + [ROOT / "benchmarks" / "plot.py"]
)
MARKERS = ("_", "N_", "translate")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
HAN = r"[\u3400-\u9fff\uf900-\ufaff]"


def messages() -> dict[str, list[str]]:
    """{message: ["docs/figures/x.py:12", ...]}: the string literal of every ``_()`` and ``N_()``
    call (read with ast, so that calls inside f-strings count too)."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS:
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found[arg.value].append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return dict(found)


def entries() -> dict[str, list[tuple[str, object]]]:
    """{msgid: [(catalogue name, message), ...]} of every figure catalogue."""
    found: dict[str, list[tuple[str, object]]] = defaultdict(list)
    for path in sorted(CATALOGUES.glob("*.po")):
        with path.open("rb") as f:
            for message in read_po(f):
                if message.id:
                    found[message.id].append((path.name, message))
    return dict(found)


def test_no_f_string_is_translated():
    """``_(f"…")`` can never be in a catalogue: templates are formatted after translation."""
    wrong = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MARKERS:
                if node.args and isinstance(node.args[0], ast.JoinedStr):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not wrong, f"_(f'...') cannot be translated; write _('... {{name}} ...').format(name=...): {wrong}"


def test_every_message_is_translated():
    assert CATALOGUES.is_dir(), f"{CATALOGUES.relative_to(ROOT)} is missing"
    catalogue = entries()
    problems = []
    for text, where in sorted(messages().items()):
        found = catalogue.get(text, [])
        if not found:
            problems.append(f"{where[0]}: {text!r} is in no catalogue")
        for name, message in found:
            if not message.string:
                problems.append(f"{name}: {text!r} is not translated")
            elif message.fuzzy:
                problems.append(f"{name}: {text!r} is fuzzy (check it and remove the flag)")
    assert not problems, f"{len(problems)} figure string(s) without a zh_TW translation:\n" + "\n".join(problems)


def test_no_unused_entries():
    used = messages()
    unused = [f"{name}: {msgid!r}" for msgid, found in entries().items() if msgid not in used for name, _m in found]
    assert not unused, "catalogue entries no figure or directive uses (remove them):\n" + "\n".join(unused)


def test_one_translation_per_message():
    differ = [
        f"{msgid!r}: " + ", ".join(f"{name} {message.string!r}" for name, message in found)
        for msgid, found in entries().items()
        if len({message.string for _name, message in found}) > 1
    ]
    assert not differ, "a message translated differently in two catalogues:\n" + "\n".join(differ)


def _fields(text: str) -> list[tuple[str, str, str]]:
    return sorted(
        (name, spec or "", conversion or "")
        for _literal, name, spec, conversion in string.Formatter().parse(text)
        if name is not None
    )


def test_translations_keep_the_placeholders():
    problems = []
    for msgid, found in entries().items():
        for name, message in found:
            if not message.string:
                continue
            try:
                want, got = _fields(msgid), _fields(message.string)
            except ValueError as error:  # an unbalanced brace
                problems.append(f"{name}: {message.string!r}: {error}")
                continue
            if want != got:
                problems.append(f"{name}: {msgid!r} has {want}, its translation {message.string!r} has {got}")
            if "$" in message.string and "$" not in msgid:
                problems.append(f"{name}: {message.string!r} adds a $ (mathtext has no Chinese)")
            if re.search(HAN + r"[,:;?!]", message.string):
                problems.append(f"{name}: {message.string!r}: ASCII punctuation after Chinese (use ，：；？！)")
    assert not problems, "\n".join(problems)


def test_english_is_the_source_text():
    i18n.set_language("en")
    assert i18n._("input") == "input"
    assert i18n.N_("input") == "input"


def test_a_missing_translation_is_an_error():
    i18n.set_language("zh_TW")
    try:
        with pytest.raises(LookupError, match="no zh_TW translation"):
            i18n._("a string no figure draws")
    finally:
        i18n.set_language("en")


# ----------------------------------------------------------------------------------------------
# the font
def _font_file(family: str):
    """matplotlib's file (and face) for `family`; a failure saying how to install it if none."""
    from matplotlib import font_manager

    try:
        return font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    except ValueError:
        pytest.fail(
            f"matplotlib finds no font {family!r}: the zh_TW figures need Debian's fonts-noto-cjk "
            "(`bash scripts/env.sh test` installs it and rebuilds matplotlib's font cache)"
        )


def _ft2font(path):
    from matplotlib.ft2font import FT2Font

    return FT2Font(str(getattr(path, "path", path)), face_index=getattr(path, "face_index", 0))


def test_the_chinese_font_has_every_glyph():
    from figures import grammar

    families = grammar.rc("zh_TW")["font.family"]
    assert families[0] == grammar.CJK_FONT
    cjk = _ft2font(_font_file(families[0]))
    assert "CJK" in cjk.family_name and all(cjk.get_char_index(ord(c)) for c in "卷積核特徵圖（）：，"), (
        f"{families[0]!r} resolves to {cjk.fname} ({cjk.family_name}), not a Traditional-Chinese CJK font"
    )
    fallback = _ft2font(_font_file("DejaVu Sans"))
    missing = defaultdict(set)
    for found in entries().values():
        for _name, message in found:
            for char in message.string or "":
                if char.isspace():
                    continue
                if not (cjk.get_char_index(ord(char)) or fallback.get_char_index(ord(char))):
                    missing[f"U+{ord(char):04X} {char}"].add(message.string)
    assert not missing, "characters neither the CJK font nor DejaVu Sans draws (tofu):\n" + "\n".join(
        f"{char}: in {sorted(strings)[:3]}" for char, strings in sorted(missing.items())
    )


# ----------------------------------------------------------------------------------------------
# drawing
def _svg_texts(draw) -> list[tuple[str, str]]:
    """(text, font-family) of every <text> of the SVG `draw()`'s figure is saved as."""
    import xml.etree.ElementTree as ET

    import matplotlib.pyplot as plt

    fig = draw()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    texts = []
    for element in ET.fromstring(buffer.getvalue()).iter("{http://www.w3.org/2000/svg}text"):
        style = {}
        for part in (element.get("style") or "").split(";"):
            key, _colon, value = part.partition(":")
            style[key.strip()] = value.strip()
        family = style.get("font-family") or element.get("font-family", "")
        texts.append(("".join(element.itertext()), family))
    return texts


def test_a_figure_is_drawn_in_chinese_and_in_english():
    from figures import grammar, kernels

    _font_file(grammar.CJK_FONT)
    try:
        i18n.set_language("zh_TW")
        texts = _svg_texts(kernels.one_position)
        chinese = [(text, family) for text, family in texts if CJK.search(text)]
        assert chinese, f"no Chinese text in the zh_TW figure: {[t for t, _f in texts]}"
        assert any("卷積核" in text for text, _f in chinese), [t for t, _f in chinese]
        for text, family in texts:
            assert family.lstrip().startswith(f"'{grammar.CJK_FONT}'"), (text, family)
        i18n.set_language("en")
        texts = _svg_texts(kernels.one_position)
        assert texts and not [text for text, _f in texts if CJK.search(text)]
        assert "kernel" in [text for text, _f in texts]
        for text, family in texts:
            assert family.lstrip().startswith("'DejaVu Sans'"), (text, family)
    finally:
        i18n.set_language("en")


def test_the_player_speaks_the_language():
    """The frame player's labels (aria-label, title, and the words player.js writes) are the
    edition's: written by the directive, read by player.js from data attributes."""
    import animation
    from docutils import nodes

    class Writer:
        def __init__(self):
            self.body = []
            self.builder = type("Builder", (), {"images": {}, "imgpath": "_images"})()

    def html() -> str:
        node = animation.animation_player(alt="alt", durations=[100, 100], poster=2, width=10, height=10)
        node += nodes.image(uri="/a-01.png")
        node += nodes.image(uri="/a-02.png")
        writer = Writer()
        with pytest.raises(nodes.SkipNode):
            animation._visit_player_html(writer, node)
        return "".join(writer.body)

    try:
        i18n.set_language("zh_TW")
        chinese = html()
        i18n.set_language("en")
        english = html()
    finally:
        i18n.set_language("en")
    for attribute, zh, en in [
        ("data-pause-label", "暫停", "Pause"),
        ("data-play-label", "播放", "Play"),
        ("data-frame-text", "第 {frame} 個影格，共 {count} 個", "frame {frame} of {count}"),
        ("aria-valuetext", "第 1 個影格，共 2 個", "frame 1 of 2"),
    ]:
        assert f'{attribute}="{zh}"' in chinese, (attribute, chinese)
        assert f'{attribute}="{en}"' in english, (attribute, english)
    assert not CJK.search(english)
    player = (DOCS / "_static" / "player.js").read_text(encoding="utf-8")
    for attribute in ("data-play-label", "data-pause-label", "data-frame-text", "data-label", "data-roledescription"):
        assert attribute in player and attribute in chinese, attribute

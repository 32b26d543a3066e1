"""The words the figures draw, and the build-time directives write, in the site's two languages.

One drawing code path for both editions: a figure writes ``_("input")``, and the string comes from
the catalogue of the language being built (set by ``docs/_ext/i18n.py`` from Sphinx's ``language``).
The catalogues are gettext ``.po`` files, ``docs/locales/zh_TW/LC_MESSAGES/figures/*.po`` (one per
drawing module or directive, merged here). English is the source text itself.

Strings with values are templates, formatted after translation, so that the catalogue holds one
entry for all values: ``_("{n} channels").format(n=3)`` — never ``_(f"{n} channels")``, which no
catalogue can hold. ``tests/test_figure_i18n.py`` extracts every ``_("…")`` of ``docs/figures`` and
``docs/_ext`` and checks that each has a translation, and that the chosen CJK font has every glyph
of every translation. A string missing from the catalogue while the Chinese edition is built is an
error, not a silent English word in a Chinese figure.

A string defined before anything is drawn (a module-level table, a dictionary key) is marked with
``N_("…")``, which returns it unchanged and only tells the extraction that it is a message; it is
translated where it is drawn, ``_(name)``. Translate at drawing time, never at import: the language
is set after the figure modules may have been imported.

What else depends on the language (the font: ``figures.grammar`` draws Chinese in a CJK font) follows
it through :func:`on_change`.
"""

from __future__ import annotations

import functools
import pathlib
from collections.abc import Callable

LOCALES = pathlib.Path(__file__).resolve().parents[1] / "locales"
LANGUAGES = ("en", "zh_TW")
_language = "en"
_listeners: list[Callable[[str], None]] = []


def set_language(language: str | None) -> None:
    """Draw in `language` from now on (Sphinx's name: ``en`` or ``zh_TW``)."""
    global _language
    language = language or "en"
    if language not in LANGUAGES:
        raise ValueError(f"figures: language must be one of {LANGUAGES}, got {language!r}")
    _language = language
    for listener in _listeners:
        listener(language)


def on_change(listener: Callable[[str], None]) -> None:
    """Call `listener(language)` whenever the language is set (``figures.grammar`` applies its
    matplotlib settings, the font among them)."""
    if listener not in _listeners:
        _listeners.append(listener)


def language() -> str:
    """The language figures are drawn in now."""
    return _language


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    """Every translated string of `language`'s figure catalogues: {English: translation}."""
    from babel.messages.pofile import read_po

    strings: dict[str, str] = {}
    for path in sorted((LOCALES / language / "LC_MESSAGES" / "figures").glob("*.po")):
        with path.open("rb") as f:
            for message in read_po(f):
                if message.id and message.string and not message.fuzzy:
                    strings[message.id] = message.string
    return strings


def N_(text: str) -> str:
    """Mark `text` as a message without translating it (translated where it is drawn: ``_(text)``)."""
    return text


def _(text: str) -> str:
    """`text` in the language being built (English: `text` itself)."""
    if _language == "en":
        return text
    try:
        return catalogue(_language)[text]
    except KeyError:
        raise LookupError(
            f"figures: no {_language} translation of {text!r}: add it to a catalogue in "
            f"docs/locales/{_language}/LC_MESSAGES/figures/"
        ) from None

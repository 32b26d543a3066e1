"""The site's two editions, English and Traditional Chinese (zh_TW), built from the same sources.

- **What is translated.** Every sentence written in a page's source. Not translated, on purpose:
  the API reference's docstrings (they are the package's, in English) and text that a directive
  generates at build time from data (benchmark tables, a machine's name, a script's output): such
  text is marked untranslatable here, before Sphinx's translation transform runs, so it never enters
  a catalogue (its labels are translated by the directive itself, from ``figures.i18n``).
- **Where the editions live.** English at the site's root, Chinese under ``zh_TW/``; every page
  links its twin (``<link rel="alternate" hreflang>`` and the switcher at the top of the page,
  ``_templates/page.html``), so a reader changes language without losing the page.
- **``lang``.** ``en`` and ``zh-Hant-TW`` (BCP 47: Traditional script, Taiwan), not Sphinx's
  ``zh_TW``, which is a locale name, not a language tag.
"""

from __future__ import annotations

import pathlib

from docutils import nodes
from sphinx.transforms import SphinxTransform

#: The editions: Sphinx's language name, the URL prefix under the site's root, the BCP 47 tag, the
#: name a reader recognises (in its own language).
EDITIONS = (
    ("en", "", "en", "English"),
    ("zh_TW", "zh_TW/", "zh-Hant-TW", "繁體中文"),
)
_GENERATED = "<generated text>"


class KeepDataUntranslated(SphinxTransform):
    """Mark docstrings and directive-generated text untranslatable (before ``Locale``, priority 20)."""

    default_priority = 10

    def apply(self, **kwargs) -> None:
        for node in self.document.findall(nodes.Element):
            source = node.get("source") or getattr(node, "source", None) or ""
            if ":docstring of " in source or source.endswith(_GENERATED):
                node["translatable"] = False


def _edition(language: str | None) -> tuple[str, str, str, str]:
    for edition in EDITIONS:
        if edition[0] == (language or "en"):
            return edition
    raise ValueError(f"docs: language must be one of {[e[0] for e in EDITIONS]}, got {language!r}")


def _page_context(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    """The page's language tag, its twins' URLs (relative) and the hreflang links."""
    this = _edition(app.config.language)
    # From this page up to this edition's root, then to the site's root.
    up = "../" * pagename.count("/") + ("../" * this[1].count("/"))
    page = pagename + app.builder.out_suffix if hasattr(app.builder, "out_suffix") else pagename + ".html"
    twins = []
    for name, prefix, tag, label in EDITIONS:
        twins.append({"tag": tag, "label": label, "url": up + prefix + page, "current": name == this[0]})
    context["language"] = this[2]  # furo writes <html lang="{{ language }}">
    context["convops_editions"] = twins
    links = "".join(f'\n<link rel="alternate" hreflang="{t["tag"]}" href="{t["url"]}">' for t in twins)
    context["metatags"] = context.get("metatags", "") + links


def read_terms(srcdir) -> list[tuple[str, str]]:
    """The term list, docs/locales/zh_TW/terms.tsv: (English, 中文) pairs."""
    pairs = []
    for line in pathlib.Path(srcdir, "locales", "zh_TW", "terms.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            english, chinese = line.split("\t")
            pairs.append((english, chinese))
    return pairs


def _search_dictionary(app, config) -> None:
    """jieba's user dictionary for the Chinese search index: every term of the term list, as a word."""
    if not (config.language or "en").startswith("zh"):
        return
    path = pathlib.Path(app.doctreedir, "jieba-terms.txt")
    path.parent.mkdir(parents=True, exist_ok=True)
    words = sorted({chinese for _, chinese in read_terms(app.srcdir) if " " not in chinese})
    path.write_text("".join(f"{word} 100 n\n" for word in words), encoding="utf-8")
    config.html_search_options = {**config.html_search_options, "dict": str(path)}


def _figure_language(app, config) -> None:
    """The figures and build-time directives write in the edition's language (docs/figures/i18n.py)."""
    from figures import i18n as figure_strings

    figure_strings.set_language(config.language)


def setup(app):
    app.connect("config-inited", _search_dictionary)
    app.connect("config-inited", _figure_language)
    app.add_transform(KeepDataUntranslated)
    app.connect("html-page-context", _page_context)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

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

import json
import pathlib
import re

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


# furo writes these words into its templates as plain text, not through gettext. They are rewritten
# to gettext calls when the templates load (English is unchanged: gettext returns the English), and
# translated in docs/locales/zh_TW/LC_MESSAGES/sphinx.po, the theme's catalogue, beside Sphinx's own.
# A pair that is not found any more (a new furo) stops the build: the Chinese pages would have
# English controls.
THEME_REWRITES = {
    "page.html": [
        (f'aria-label="{w}"', f"aria-label=\"{{{{ _('{w}') }}}}\"")
        for w in (
            "Toggle site navigation sidebar",
            "Toggle table of contents sidebar",
            "Toggle Light / Dark / Auto color theme",
        )
    ]
    # a message without the template's indentation around it
    + [
        (
            '{% trans %}\n            <a href="https://github.com/pradyunsg/furo">Furo</a>\n            {% endtrans %}',
            '{% trans %}<a href="https://github.com/pradyunsg/furo">Furo</a>{% endtrans %}',
        )
    ],
    "partials/icons.html": [
        (f"<title>{w}</title>", f"<title>{{{{ _('{w}') }}}}</title>")
        for w in (
            "Contents",
            "Menu",
            "Expand",
            "Light mode",
            "Dark mode",
            "Auto light/dark, in light mode",
            "Auto light/dark, in dark mode",
        )
    ],
}
#: furo's sidebar: the accessible name of a section's expand button (built in Python by furo).
NAVIGATION_TOGGLE = "Toggle navigation of "


def _translate_theme(app) -> None:
    """Route furo's plain-text words through gettext (see THEME_REWRITES)."""
    templates = getattr(app.builder, "templates", None)
    if templates is None or not hasattr(templates, "get_source"):
        return
    original = templates.get_source

    def get_source(environment, name):
        source, filename, is_current = original(environment, name)
        rewrites = THEME_REWRITES.get(name.lstrip("!"), [])
        if rewrites and "furo" in str(filename):
            for old, new in rewrites:
                if old not in source:
                    raise RuntimeError(f"docs/_ext/i18n.py: furo's {name} no longer contains {old!r}")
                source = source.replace(old, new)
        return source, filename, is_current

    templates.get_source = get_source


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
    tree = context.get("furo_navigation_tree")
    if tree and this[0] != "en":
        translated = app.builder._translator.gettext(NAVIGATION_TOGGLE)
        context["furo_navigation_tree"] = tree.replace(NAVIGATION_TOGGLE, translated)
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


def _chinese_search_language():
    """Sphinx 9.0's Chinese search with its browser side fixed.

    ``SearchChinese`` segments with jieba and stems Latin words with the English stemmer, whose script
    (``english-stemmer.js``) it puts in ``language_data.js`` -- followed by
    ``window.Stemmer = ChineseStemmer``, a class that script does not define: the search page of a
    Chinese site stops with "ChineseStemmer is not defined". The script's class is EnglishStemmer.
    """
    from sphinx.search.zh import SearchChinese

    class SearchChineseWithEnglishStemmer(SearchChinese):
        language_name = "English"  # names the stemmer class of js_stemmer_rawcode: EnglishStemmer

    return SearchChineseWithEnglishStemmer


# Sphinx 9.0's own zh_TW catalogue translates the search page's closing summary as "" (an empty
# plural), so a Chinese search ends with no summary at all. Its translation, as the one message of the
# browser-side catalogue (_static/translations.js) that this site supplies.
SEARCH_FINISHED = "Search finished, found one page matching the search query."
SEARCH_FINISHED_ZH = "搜尋完成，找到 ${resultCount} 個符合搜尋條件的頁面。"


def _fill_search_summary(app, exception) -> None:
    if exception is not None or not (app.config.language or "en").startswith("zh"):
        return
    path = pathlib.Path(app.outdir, "_static", "translations.js")
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    empty = re.compile(re.escape(json.dumps(SEARCH_FINISHED)) + r':\s*\[\s*""\s*\]')
    text, count = empty.subn(lambda m: f"{json.dumps(SEARCH_FINISHED)}: {json.dumps([SEARCH_FINISHED_ZH])}", text)
    if count:
        path.write_text(text, encoding="utf-8")


def setup(app):
    app.add_search_language(_chinese_search_language())
    app.connect("build-finished", _fill_search_summary)
    app.connect("config-inited", _search_dictionary)
    app.connect("config-inited", _figure_language)
    app.add_transform(KeepDataUntranslated)
    app.connect("builder-inited", _translate_theme)
    app.connect("html-page-context", _page_context, priority=900)  # after furo's, which builds the tree
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""Sphinx configuration of the convops site.

Built offline: MathJax 3.2.2 is served from ``_static/mathjax`` (fetched from the npm registry by
``scripts/site.sh``), intersphinx is not used (it would fetch inventories), and every figure is
drawn at build time by ``docs/figures``, which calls convops itself.
"""

import os
import pathlib
import sys

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # if a figure imports TensorFlow (timings page)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the `figures` drawing package
sys.path.insert(0, str(HERE / "_ext"))  # the `animation`, `kernel-source` and results directives
# The repository's root, for the `benchmarks` package (the performance page draws its figure with
# benchmarks.plot). Appended, not prepended: nothing at the root (tests/, build/, setup.py) may
# shadow an installed package; only `benchmarks`, which is not installed anywhere, resolves here.
if str(HERE.parent) not in sys.path:
    sys.path.append(str(HERE.parent))

import convops  # noqa: E402

project = "convops"
author = "The convops developers"
copyright = "2026, The convops developers"
release = version = convops.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
    "figure_depends",  # the plot directive, redrawing a page's figures when their modules change
    "animation",
    "kernel_source",
    "results",
    "answers",
    "figure_facts",
    "downloads",
    "explorer_assets",  # the explorer's trained weights and digits, written into _static/explorer
    "i18n",  # the Traditional-Chinese edition: switcher, hreflang, lang, what is not translated
]

exclude_patterns = ["_build", "_data", "_ext", "_templates", "figures", "locales", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# Two editions from the same sources: English (the default) and Traditional Chinese, built by
# scripts/site.sh with `-D language=zh_TW` into _build/html/zh_TW. Translations are gettext
# catalogues, one per page (docs/locales/zh_TW/LC_MESSAGES/<page>.po), kept in step with the English
# by `python scripts/i18n.py update` and checked complete by tests/test_i18n.py. No locations and no
# uuids in the catalogues: a line moving in a page must not change them.
language = "en"
locale_dirs = ["locales/"]
gettext_compact = False
gettext_location = False
gettext_uuid = False
gettext_allow_fuzzy_translations = False
# The explorer's widgets are raw HTML blocks (their labels, buttons and help): translated as messages.
gettext_additional_targets = ["raw"]
# Chinese search: Sphinx segments the text with jieba (requirements/docs.txt); docs/_ext/i18n.py adds
# the term list (docs/locales/zh_TW/terms.tsv) to jieba's dictionary, so that 感受野, 卷積, 池化 and
# 步幅 are indexed as words.
html_static_path = ["_static"]
html_css_files = ["convops.css", "player.css"]
html_js_files = [
    ("player.js", {"defer": "defer"}),  # the animations' frame player
    # click a figure to enlarge it; search results show formulas without TeX delimiters
    ("figures.js", {"defer": "defer"}),
]
html_favicon = "_static/favicon.svg"
html_theme = "furo"
html_title = f"convops {release}"
# furo's sidebar, with the language switcher under the project's name (on every page; the one at the
# top of the article is on every page with a body of its own).
html_sidebars = {
    "**": [
        "sidebar/scroll-start.html",
        "sidebar/brand.html",
        "sidebar/language.html",
        "sidebar/search.html",
        "sidebar/navigation.html",
        "sidebar/scroll-end.html",
    ]
}
html_theme_options = {
    "sidebar_hide_name": False,
    "navigation_with_keys": True,
}
html_show_sourcelink = False
html_copy_source = False
pygments_style = "friendly"
pygments_dark_style = "monokai"

# Self-hosted MathJax 3 (Sphinx 9 defaults to MathJax 4 from a CDN, which fails offline).
mathjax_path = "mathjax/tex-chtml.js"
mathjax3_config = {"tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]}}

# Nitpicky: every cross-reference must resolve. Without intersphinx (offline) the numpy/python
# types named in docstrings cannot resolve; they are listed here instead.
nitpicky = True
nitpick_ignore = [
    ("py:class", "numpy.ndarray"),
    ("py:class", "np.ndarray"),
    ("py:class", "ndarray"),
    ("py:class", "numpy.dtype"),
    ("py:class", "array_like"),
    ("py:class", "optional"),
    ("py:class", "Iterator"),
    ("py:class", "Iterable"),
    ("py:class", "Sequence"),
    ("py:class", "Any"),
    ("py:class", "Padding1D"),
]
nitpick_ignore_regex = [("py:class", r"(typing|collections\.abc|numpy|contextlib)\..*")]

autodoc_member_order = "bysource"
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types and shapes
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# Doctests: no `doctest_global_setup`. Every page's and every docstring's `>>>` examples state
# their own imports, so they run when pasted into a fresh Python (tests/test_docs_examples.py).

# The plot directive: figures are drawn by docs/figures (which calls convops) at build time.
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
# SVG with real <text> (svg.fonttype "none"): sharp at any zoom, text searchable; images inside
# (imshow) are embedded at their own resolution. The directive resets matplotlib before each
# figure, so the grammar's rcParams (fonts, sizes, colours) are applied here, not only on import.
plot_formats = [("svg", 150)]
plot_pre_code = "import numpy as np\nimport matplotlib.pyplot as plt\n"
plot_apply_rcparams = True


def _check_mathjax(app):
    if app.builder.format == "html" and not (HERE / "_static" / "mathjax" / "tex-chtml.js").exists():
        raise RuntimeError(
            "docs/_static/mathjax/tex-chtml.js is missing: run `bash scripts/site.sh --no-serve`, "
            "which fetches MathJax 3.2.2 from the npm registry, before sphinx-build"
        )


class _AnyOption(dict):
    """An option_spec accepting every option of the directive it stands in for."""

    def __getitem__(self, key):
        return str

    def __contains__(self, key):
        return True

    def __bool__(self):  # docutils parses a directive's options only when its option_spec is truthy
        return True


def _skip_figures_outside_html(app):
    # The doctest builder reads every page too; drawing ~40 figures and 5 GIFs again there would
    # double the docs job's time for nothing (the html build draws them, and fails if one fails).
    # CONVOPS_DOCS_NO_FIGURES=1: an HTML build without figures, in seconds, for checking a page's
    # text or a translation (never what scripts/site.sh builds).
    if app.builder.format == "html" and os.environ.get("CONVOPS_DOCS_NO_FIGURES") != "1":
        return
    from docutils import nodes
    from docutils.parsers.rst import Directive

    class Skip(Directive):
        has_content = True
        optional_arguments = 2
        final_argument_whitespace = True
        option_spec = _AnyOption()

        def run(self):
            return []

    class AltTextOnly(Skip):
        """For the gettext builder: the figure's words, to be translated, and nothing drawn: its
        alt text and, for an animation, its caption (the directive's content, where a plot's
        content is code)."""

        def run(self):
            alt = self.options.get("alt", "")
            # As the real directives store it: the plot directive joins the lines with spaces, the
            # animation directive keeps them.
            alt = alt.replace("\n", " ") if self.name == "plot" else alt.strip()
            found = []
            if alt:
                image = nodes.image(uri="/_static/favicon.svg", alt=alt)  # any image that exists
                image.source, image.line = self.state_machine.get_source_and_line(self.lineno)
                found.append(image)
            if self.name == "animation" and self.content:
                body = nodes.Element()
                self.state.nested_parse(self.content, self.content_offset, body)
                found += body.children
            return found

    stand_in = AltTextOnly if app.builder.name == "gettext" else Skip
    for name in ("plot", "animation"):
        app.add_directive(name, stand_in, override=True)


def setup(app):
    app.connect("builder-inited", _check_mathjax)
    app.connect("builder-inited", _skip_figures_outside_html)

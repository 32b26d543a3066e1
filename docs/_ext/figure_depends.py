"""The figure modules a page draws with are that page's dependencies.

A ``.. plot::`` whose code says ``from figures import padding`` draws with ``figures/padding.py``
and with every figure module that one imports (``grammar.py``, ``mnist.py``, ``i18n.py``, ...).
Sphinx knew only the page: after a change to a figure module an incremental build neither read
the page again nor drew its figures again (matplotlib's plot directive redraws a figure only when
its page, or a file the page includes, is newer than the image), so it kept the old figure.

This extension replaces the plot directive with one that, before drawing, notes those modules
(and, in a translated edition, the figure catalogues whose words they draw) as dependencies of
the page, and lists them with the page's included files, which the plot directive compares with
its images. The animation directive (``animation.py``) asks :func:`figure_sources` too.
"""

from __future__ import annotations

import pathlib
import re

from matplotlib.sphinxext import plot_directive

from figures import i18n

# The figures package the pages import (docs/figures; a test's copy in its own project).
FIGURES = pathlib.Path(i18n.__file__).resolve().parent

# `from figures import a, b` (or a parenthesised list over several lines) and `figures.name` in a
# plot's code; `from . import a, b as c` and `from .name import ...` inside a figure module.
_NAMES = r"(?:\(([^)]*)\)|([\w \t,]+))"
_PAGE_IMPORT = re.compile(r"\bfrom[ \t]+figures[ \t]+import[ \t]+" + _NAMES + r"|\bfigures\.(\w+)")
_MODULE_IMPORT = re.compile(r"^[ \t]*from[ \t]+\.(\w*)[ \t]+import[ \t]+" + _NAMES, re.MULTILINE)


def _names(text: str) -> list[str]:
    # "a, b as c" -> ["a", "b"]
    return [part.split()[0] for part in text.split(",") if part.split()]


def figure_sources(names: list[str], language: str = "en") -> list[pathlib.Path]:
    """The files figure modules ``names`` draw with: their sources, the figure modules those
    import (transitively), and in a translated edition the figure catalogues, sorted."""
    found: set[pathlib.Path] = set()
    todo = list(names)
    while todo:
        path = FIGURES / f"{todo.pop()}.py"
        if path in found or not path.is_file():
            continue
        found.add(path)
        for module, listed, imported in _MODULE_IMPORT.findall(path.read_text(encoding="utf-8")):
            todo += [module] if module else _names(listed or imported)
    if found and language != "en":  # the words drawn come from the figure catalogues
        found.update((i18n.LOCALES / language / "LC_MESSAGES" / "figures").glob("*.po"))
    return sorted(found)


def page_figure_modules(code: str) -> list[str]:
    """The figure modules a plot's code names."""
    names: list[str] = []
    for listed, imported, attribute in _PAGE_IMPORT.findall(code):
        names += [attribute] if attribute else _names(listed or imported)
    return names


class PlotDirective(plot_directive.PlotDirective):
    def run(self):
        document = self.state.document
        env = document.settings.env
        log = document.include_log
        for path in figure_sources(page_figure_modules("\n".join(self.content)), i18n.language()):
            env.note_dependency(str(path))
            # The plot directive passes the page's included files to its out-of-date check.
            entry = (str(path), ())
            if entry not in log:
                log.append(entry)
        return super().run()


def setup(app):
    app.setup_extension("matplotlib.sphinxext.plot_directive")
    app.add_directive("plot", PlotDirective, override=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""``:fact:`MODULE.KEY``` — a number computed by a figure module while the site is built.

The pages about the trained network state numbers (test accuracy, how many digits it gets
wrong, receptive-field sizes, ...) that belong to the model the build trains or loads; none is
typed by hand. ``:fact:`trained_features.accuracy``` is
``figures.trained_features.facts()["accuracy"]``; an unknown module or key fails the build. Only the HTML
builder computes them (other builders,
such as doctest, read the pages too and get a placeholder). A value with words in it (``12 of 32``)
is written by the module in the edition's language (``figures.i18n``).
"""

from __future__ import annotations

import importlib

from docutils import nodes
from figure_depends import figure_sources
from sphinx.util.docutils import SphinxRole

from figures import i18n


class FactRole(SphinxRole):
    def run(self):
        module_name, _, key = self.text.partition(".")
        if not key:
            msg = self.inliner.reporter.error(
                f"fact {self.text!r}: write MODULE.KEY, e.g. trained.accuracy", line=self.lineno
            )
            return [self.inliner.problematic(self.rawtext, self.rawtext, msg)], [msg]
        # The module computes the value with what it imports (the trained network's mnist.py...)
        # and writes words in the edition's language: all of it is the page's dependency.
        for path in figure_sources([module_name], i18n.language()):
            self.env.note_dependency(str(path))
        if self.env.app.builder.format != "html":
            return [nodes.Text("…")], []
        try:
            value = importlib.import_module(f"figures.{module_name}").facts()[key]
        except (ImportError, AttributeError, KeyError) as exc:
            msg = self.inliner.reporter.error(f"fact {self.text!r}: {type(exc).__name__}: {exc}", line=self.lineno)
            return [self.inliner.problematic(self.rawtext, self.rawtext, msg)], [msg]
        return [nodes.Text(value)], []


def setup(app):
    app.add_role("fact", FactRole())
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

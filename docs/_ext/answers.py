"""``.. answers::`` — the answers to a page's exercises, hidden until the reader asks for them.

Renders as ``<details class="answers"><summary>Show the answers</summary> … </details>``: closed
by default, so a learner tries the exercises first; it opens with a click or the keyboard, needs no
JavaScript and prints open in reader modes. Outside HTML (the doctest builder) the content is kept
as a plain container, so any ``>>>`` lines inside still run. The summary is written in the edition's
language (``figures.i18n``), unless the directive's argument gives its own.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from figures.i18n import _


class answers_node(nodes.General, nodes.Element):
    pass


def _visit_html(self, node):
    summary = node.get("summary") or _("Show the answers")
    self.body.append(
        f'<details class="answers"><summary>{self.encode(summary)}</summary>\n<div class="answers-body">\n'
    )


def _depart_html(self, node):
    self.body.append("</div></details>\n")


def _visit_other(self, node):
    pass


def _depart_other(self, node):
    pass


class Answers(SphinxDirective):
    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True

    def run(self):
        node = answers_node()
        node["summary"] = self.arguments[0] if self.arguments else _("Show the answers")
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


def setup(app):
    app.add_node(
        answers_node,
        html=(_visit_html, _depart_html),
        text=(_visit_other, _depart_other),
        latex=(_visit_other, _depart_other),
        man=(_visit_other, _depart_other),
        texinfo=(_visit_other, _depart_other),
    )
    app.add_directive("answers", Answers)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

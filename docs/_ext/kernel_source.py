"""``.. kernel-source:: START`` — show an excerpt of convops' Cython kernels, wherever it lives.

Like ``literalinclude`` with ``:start-at:``/``:end-at:``, but it looks for ``START`` in every
``convops/*.pyx`` file, so moving a kernel between files does not break the page; a kernel that
no longer exists is a build warning (an error under ``-W``). The caption names the file.
"""

from __future__ import annotations

import pathlib

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective


class KernelSource(SphinxDirective):
    required_arguments = 1
    final_argument_whitespace = True
    option_spec = {"end-at": directives.unchanged_required}

    def run(self):
        start = self.arguments[0]
        end = self.options.get("end-at")
        root = pathlib.Path(self.env.srcdir).parent / "convops"
        for path in sorted(root.rglob("*.pyx")):
            text = path.read_text()
            begin = text.find(start)
            if begin < 0:
                continue
            begin = text.rfind("\n", 0, begin) + 1  # from the start of that line
            stop = len(text)
            if end:
                found = text.find(end, begin)
                if found < 0:
                    raise self.error(f"kernel-source: {end!r} not found after {start!r} in {path.name}")
                stop = text.find("\n", found)
                stop = len(text) if stop < 0 else stop
            self.env.note_dependency(str(path))
            code = text[begin:stop]
            block = nodes.literal_block(code, code, language="cython")
            caption = nodes.caption(f"convops/{path.name}", f"convops/{path.name}")
            container = nodes.container("", literal_block=True, classes=["literal-block-wrapper", "kernel-source"])
            container += caption
            container += block
            return [container]
        raise self.error(f"kernel-source: no convops/*.pyx contains {start!r}")


def setup(app):
    app.add_directive("kernel-source", KernelSource)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

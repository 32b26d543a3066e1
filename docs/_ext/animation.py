"""``.. animation:: module:function`` — an animated GIF drawn at build time.

The function is called with the output path and writes the GIF (the docs' drawing functions use
matplotlib's PillowWriter). The directive then behaves like ``.. figure::`` on that file: its
content is the caption, ``:alt:`` is required so the animation is described for everyone.

GIFs are written to ``_generated/`` in the source tree (git-ignored) and redrawn when missing or
older than the drawing module, so an incremental build does not redraw them all.
"""

from __future__ import annotations

import importlib
import pathlib

from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective


class Animation(SphinxDirective):
    required_arguments = 1
    has_content = True
    option_spec = {"alt": directives.unchanged_required, "width": directives.unchanged}

    def run(self):
        target = self.arguments[0]
        module_name, _, func_name = target.partition(":")
        if not func_name or "alt" not in self.options:
            raise self.error(f"animation: use `.. animation:: module:function` with an :alt: option; got {target!r}")
        module = importlib.import_module(module_name)
        func = getattr(module, func_name)
        source = pathlib.Path(module.__file__)
        grammar = source.with_name("grammar.py")
        out_dir = pathlib.Path(self.env.srcdir, "_generated")
        out_dir.mkdir(exist_ok=True)
        out = out_dir / f"{module_name.rsplit('.', 1)[-1]}-{func_name}.gif"
        newest = max(source.stat().st_mtime, grammar.stat().st_mtime if grammar.exists() else 0)
        if not out.exists() or out.stat().st_mtime < newest:
            func(out)
        self.env.note_dependency(str(source))
        lines = [f".. figure:: /_generated/{out.name}", f"   :alt: {self.options['alt']}",
                 "   :class: convops-animation"]
        if "width" in self.options:
            lines.append(f"   :width: {self.options['width']}")
        lines.append("")
        lines.extend("   " + line for line in self.content)
        return self.parse_text_to_nodes("\n".join(lines))


def setup(app):
    app.add_directive("animation", Animation)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

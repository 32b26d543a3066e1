"""``.. kernel-source:: NAME`` — show an excerpt of convops' compiled kernels, wherever it lives.

The excerpt is marked in the kernel's source, so the page cannot silently show another copy of
the code and a kernel can move between files or folders::

    # [docs:conv2d-naive]
    def conv2d_naive(...):
        ...
    # [/docs:conv2d-naive]

(``//`` or ``/*`` instead of ``#`` in C headers). The lines strictly between the two markers are
shown, dedented; the caption names the file. Every ``.pyx``, ``.pxd`` and ``.h`` under
``convops/`` (recursively) is searched, and the build fails with an error naming the marker when
it is found nowhere, in several places, or without its closing marker.

Until every kernel carries markers, a text argument (anything that is not a marker name, e.g.
``def conv2d_naive(``) with an optional ``:end-at:`` still works as ``literalinclude``'s
``:start-at:``/``:end-at:`` did, with the same rule: the text must occur in exactly one file,
or ``:file: NAME`` picks the file (by name, in whatever folder it is).
"""

from __future__ import annotations

import pathlib
import re
import textwrap

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

PATTERNS = ("*.pyx", "*.pxd", "*.h")
MARKER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
LANGUAGES = {".pyx": "cython", ".pxd": "cython", ".h": "c"}


def _marker(name: str, closing: bool) -> re.Pattern:
    """A whole comment line ``# [docs:NAME]`` (or ``// [/docs:NAME]``, ``/* [docs:NAME] */``)."""
    slash = "/" if closing else ""
    return re.compile(rf"^[ \t]*(?:#|//|/\*)[ \t]*\[{slash}docs:{re.escape(name)}\][ \t]*(?:\*/)?[ \t]*$", re.M)


class KernelSource(SphinxDirective):
    required_arguments = 1
    final_argument_whitespace = True
    option_spec = {"end-at": directives.unchanged_required, "file": directives.unchanged_required}

    def run(self):
        root = pathlib.Path(self.env.srcdir).parent / "convops"
        sources = sorted(p for pattern in PATTERNS for p in root.rglob(pattern))
        argument = self.arguments[0]
        if MARKER_NAME.fullmatch(argument) and not self.options:
            path, code = self._marked(argument, sources, root)
        else:
            path, code = self._text(argument, sources, root)
        self.env.note_dependency(str(path))
        shown = path.relative_to(root.parent).as_posix()
        block = nodes.literal_block(code, code, language=LANGUAGES[path.suffix])
        container = nodes.container("", literal_block=True, classes=["literal-block-wrapper", "kernel-source"])
        container += nodes.caption(shown, shown)
        container += block
        return [container]

    def _marked(self, name: str, sources, root: pathlib.Path):
        """The lines between ``[docs:NAME]`` and ``[/docs:NAME]``: exactly one pair in the tree."""
        opening, closing = _marker(name, False), _marker(name, True)
        found = []
        for path in sources:
            text = path.read_text()
            found += [(path, text, m) for m in opening.finditer(text)]
        where = ", ".join(f"{p.relative_to(root.parent)}:{t.count(chr(10), 0, m.start()) + 1}" for p, t, m in found)
        if not found:
            raise self.error(
                f"kernel-source: marker [docs:{name}] not found in any convops/**/{{{','.join(PATTERNS)}}}; "
                f"mark the excerpt with '# [docs:{name}]' ... '# [/docs:{name}]'"
            )
        if len(found) > 1:
            raise self.error(
                f"kernel-source: marker [docs:{name}] is in {len(found)} places ({where}); "
                f"it must mark exactly one excerpt"
            )
        path, text, start = found[0]
        end = closing.search(text, start.end())
        if end is None:
            raise self.error(f"kernel-source: marker [docs:{name}] at {where} has no closing [/docs:{name}]")
        body = text[start.end() : end.start()].strip("\n")
        return path, textwrap.dedent(body)

    def _text(self, start: str, sources, root: pathlib.Path):
        """Deprecated text search: from the line holding ``start`` to the one holding ``:end-at:``."""
        wanted = self.options.get("file")
        if wanted:
            sources = [p for p in sources if p.name == wanted]
            if not sources:
                raise self.error(f"kernel-source: no file named {wanted!r} under convops/")
        matches = [(p, p.read_text()) for p in sources]
        matches = [(p, t) for p, t in matches if start in t]
        if len(matches) != 1:
            names = [str(p.relative_to(root.parent)) for p, _ in matches]
            raise self.error(
                f"kernel-source: {start!r} is in {len(matches)} files {names}; it must be in exactly "
                f"one (mark the excerpt with '# [docs:NAME]' ... '# [/docs:NAME]', or add :file:)"
            )
        path, text = matches[0]
        begin = text.rfind("\n", 0, text.find(start)) + 1  # from the start of that line
        stop = len(text)
        end = self.options.get("end-at")
        if end:
            found = text.find(end, begin)
            if found < 0:
                raise self.error(f"kernel-source: {end!r} not found after {start!r} in {path.name}")
            stop = text.find("\n", found)
            stop = len(text) if stop < 0 else stop
        return path, text[begin:stop]


def setup(app):
    app.add_directive("kernel-source", KernelSource)
    return {"version": "2.0", "parallel_read_safe": True, "parallel_write_safe": True}

"""A page's figures are drawn again when a figure module they use changes (docs/_ext/figure_depends.py).

The plot directive compares its images with the page (and the files the page includes) only:
an incremental build after a change to ``docs/figures/*.py`` kept the old figures. The extension
notes the figure modules a plot's code imports -- and the modules those import -- as the page's
dependencies and as files the page includes.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
for path in (DOCS, DOCS / "_ext"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import figure_depends  # noqa: E402  (docs/_ext/figure_depends.py)

FIGURES = DOCS / "figures"


def test_a_plot_names_its_figure_modules():
    code = (
        "from figures import padding, stride as s\nfrom figures import (kernels,\n    pooling)\nfigures.mnist.digit(3)"
    )
    assert figure_depends.page_figure_modules(code) == ["padding", "stride", "kernels", "pooling", "mnist"]
    assert figure_depends.page_figure_modules("import numpy as np\nnp.zeros(3)") == []


def test_a_figure_module_depends_on_what_it_imports():
    # padding.py: `from . import grammar as g` and `from .i18n import _`.
    assert figure_depends.figure_sources(["padding"]) == sorted(
        [FIGURES / "padding.py", FIGURES / "grammar.py", FIGURES / "i18n.py"]
    )
    # trained_features.py imports mnist.py, and mnist.py what it imports, transitively.
    found = figure_depends.figure_sources(["trained_features"])
    assert FIGURES / "mnist.py" in found and FIGURES / "grammar.py" in found
    # A translated edition also draws the figure catalogues' words.
    translated = figure_depends.figure_sources(["padding"], "zh_TW")
    catalogues = [p for p in translated if p.suffix == ".po"]
    assert catalogues and all(p.parent.name == "figures" for p in catalogues)
    assert figure_depends.figure_sources(["no_such_module"]) == []


def _build(src: pathlib.Path, out: pathlib.Path) -> str:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", str(src), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout + run.stderr


def test_an_incremental_build_redraws_a_figure_whose_module_changed(tmp_path):
    """A real Sphinx build of a page with one plot, on a copy of the figure modules: built again
    unchanged, the figure is kept; after its module's helper (grammar.py) changes, the page is
    read again and the figure drawn again."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(FIGURES, project / "figures", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "conf.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path[:0] = [{str(project)!r}, {str(DOCS / "_ext")!r}]
            extensions = ["figure_depends"]
            plot_formats = [("png", 40)]
            plot_html_show_source_link = False
            plot_html_show_formats = False
            """
        )
    )
    (project / "index.rst").write_text(
        textwrap.dedent(
            """
            Page
            ====

            .. plot::

               import matplotlib.pyplot as plt
               from figures import grammar
               plt.plot([0, 1], [1, 0])
            """
        )
    )
    out = tmp_path / "html"
    _build(project, out)
    # Where the plot directive draws (Sphinx then copies an image to _images/ only if it differs).
    images = [out / "plot_directive" / "index-1.png"]
    assert images[0].is_file(), sorted(str(p) for p in out.rglob("*.png"))
    first = [p.stat().st_mtime_ns for p in images]

    _build(project, out)  # nothing changed: nothing drawn again
    assert [p.stat().st_mtime_ns for p in images] == first

    grammar = project / "figures" / "grammar.py"
    later = max(first) + 2_000_000_000  # two seconds after the images, whatever the clock's resolution
    os.utime(grammar, ns=(later, later))
    _build(project, out)
    assert all(p.stat().st_mtime_ns > t for p, t in zip(images, first)), "the figure was not drawn again"

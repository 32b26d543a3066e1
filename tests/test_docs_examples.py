# Size: the paste test, the notebook test and the reader they share.
"""Every ``>>>`` example of the docs runs when pasted into a fresh Python: no set-up at all.

For each .rst page under docs/ (and for the docstrings that docs/api.rst renders with autodoc) the
page's doctest blocks are read the way Sphinx's doctest builder reads them (docs/_ext/downloads.py:
``.. doctest::``, ``.. testcode::``/``.. testoutput::`` and plain ``>>>`` paragraphs; all blocks of
a group share one namespace, in page order; ``:options:`` honoured; the builder's default flags
ELLIPSIS | IGNORE_EXCEPTION_DETAIL | DONT_ACCEPT_TRUE_FOR_1) and run by ``doctest`` in a new
``python -I`` process whose working directory is an empty temporary folder: nothing of the
repository is importable but the installed ``convops``, and no ``doctest_global_setup``, no
``testsetup`` (a reader never sees it) and no docs-only module (``figures``) can help. Each
docstring gets a namespace of its own, as when a reader pastes it from ``help()``.

The downloads the site offers for each concept and example page (a script and a notebook built by
docs/_ext/downloads.py) are checked here too, without building the site: the script runs in a fresh
Python and exits 0; the notebook is valid nbformat 4 and executes in a Jupyter kernel (nbclient +
ipykernel), each cell showing the value the page shows.

Pages run in parallel subprocesses, started together when the first case needs them.
"""

from __future__ import annotations

import concurrent.futures
import doctest
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

import downloads  # noqa: E402  (docs/_ext/downloads.py: the page reader and the download builders)

EXCLUDED_DIRS = {"_build", "_generated", "_data", "_static", "_ext", "figures"}
# sphinx.ext.doctest's default `doctest_default_flags` (docs/conf.py does not change them).
SPHINX_FLAGS = ("ELLIPSIS", "IGNORE_EXCEPTION_DETAIL", "DONT_ACCEPT_TRUE_FOR_1")
TIMEOUT = 300  # seconds for one page; a page that hangs fails with its output so far
AUTODOC = re.compile(r"^\s*\.\.\s+auto(function|class|module|data|method|attribute|exception)::\s+(\S+)", re.M)

# --------------------------------------------------------------------------- what each page runs


def _pages() -> list[str]:
    return sorted(
        str(p.relative_to(DOCS))
        for p in DOCS.rglob("*.rst")
        if not EXCLUDED_DIRS.intersection(p.relative_to(DOCS).parts[:-1])
    )


def page_tests(rst: Path, text: str | None = None, label: str | None = None) -> tuple[list[dict], list[str]]:
    """The runnable tests of a page, in the order Sphinx's doctest builder runs them, and notes.

    Returns (tests, notes): each test is a dict the runner understands; notes say what was left
    out (set-up blocks, which a reader pasting the page never runs).
    """
    label = label or str(rst)
    groups: dict[str, list[dict]] = {}
    everywhere: list[dict] = []
    notes = []
    for block in downloads.extract_blocks(rst, text):
        if block.kind in ("testsetup", "testcleanup"):
            notes.append(
                f"line {block.lineno}: a `{block.kind}` block was not run (a reader pasting the page "
                "never sees it; state imports in the first `.. doctest::` block)"
            )
            continue
        if block.kind == "testoutput":  # the output of the group's last testcode
            for name in ["*"] if "*" in block.groups else block.groups:
                tests = everywhere if name == "*" else groups.get(name, [])
                if tests and tests[-1]["kind"] == "testcode" and tests[-1]["want"] is None:
                    tests[-1]["want"] = block.source + "\n"
                    tests[-1]["output_options"] = block.options
            continue
        test = {
            "kind": "testcode" if block.kind == "testcode" else "doctest",
            "source": block.source,
            "want": None,
            "filename": label,
            "lineno": block.lineno,
            "options": block.options,
            "output_options": {},
            "skipif": block.skipif,
            "name": label,
        }
        if "*" in block.groups:
            everywhere.append(test)
        else:
            for name in block.groups:
                groups.setdefault(name, []).append(dict(test))
    out = []
    for name, tests in groups.items():
        for test in tests + [dict(t) for t in everywhere]:
            out.append(dict(test, ns=f"group {name}"))
    return out, notes


def _autodoc_objects(text: str) -> list[tuple[str, object, str]]:
    objects = []
    for _, name in AUTODOC.findall(text):
        module_name, obj = name, None
        parts = name.split(".")
        for k in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:k]))
            except ImportError:
                continue
            for attribute in parts[k:]:
                obj = getattr(obj, attribute)
            module_name = ".".join(parts[:k])
            break
        objects.append((name, obj, module_name))
    return objects


def docstring_tests(rst: Path) -> list[dict]:
    """The examples of every docstring an autodoc directive of ``rst`` renders, one namespace each.

    A module's docstring and those of everything defined in it (as ``:members:`` renders them), a
    class's and its methods', a function's: found by ``doctest.DocTestFinder`` from the objects
    the page names. Each docstring runs on its own, as a reader pastes it from ``help()``.
    """
    finder = doctest.DocTestFinder(exclude_empty=True)
    seen, out = set(), []
    for name, obj, module_name in _autodoc_objects(rst.read_text(encoding="utf-8")):
        if obj is None:
            raise LookupError(f"{rst.name} documents {name}, which cannot be imported")
        if isinstance(obj, (str, tuple, list, dict, int, float)):
            continue  # autodata: a value, no docstring examples of its own
        module = inspect.getmodule(obj) or importlib.import_module(module_name)
        for test in finder.find(obj, name, module=module, globs={}):
            filename = test.filename or "<unknown>"
            key = (filename, test.lineno, test.docstring)
            if key in seen or not test.examples:
                continue
            seen.add(key)
            rel = os.path.relpath(filename, ROOT) if os.path.isabs(filename) else filename
            out.append(
                {
                    "kind": "doctest",
                    "source": test.docstring,
                    "want": None,
                    "filename": rel,
                    # DocTest lines are 0-based: the docstring's opening line is lineno + 1
                    "lineno": (test.lineno or 0) + 1,
                    "options": {},
                    "output_options": {},
                    "skipif": None,
                    "name": test.name,
                    "ns": f"docstring {test.name}",
                }
            )
    return out


# --------------------------------------------------------------------------- the fresh Python

# Runs in the fresh interpreter: reads a JSON list of tests, runs each with doctest in the namespace
# it names (created empty, like a new interactive session), writes the results as JSON.
RUNNER = r"""
import doctest, json, sys
spec_path, result_path = sys.argv[1], sys.argv[2]
with open(spec_path, encoding="utf-8") as f:
    spec = json.load(f)
FLAGS = 0
for name in spec["flags"]:
    FLAGS |= doctest.OPTIONFLAGS_BY_NAME[name]
mode = ["single"]
doctest.compile = lambda source, filename, _mode, flags, dont_inherit: compile(
    source, filename, mode[0], flags, dont_inherit
)
reset = None
if spec["own_printoptions"]:
    import numpy
    defaults = numpy.get_printoptions()
    reset = lambda: numpy.set_printoptions(**defaults)

class Runner(doctest.DocTestRunner):
    def report_failure(self, out, test, example, got):
        self.records.append((test.lineno + example.lineno + 1, self._failure_header(test, example)
                             + self._checker.output_difference(example, got, self.optionflags)))

    def report_unexpected_exception(self, out, test, example, exc_info):
        self.records.append((test.lineno + example.lineno + 1, self._failure_header(test, example)
                             + "Exception raised:\n" + doctest._indent(doctest._exception_traceback(exc_info))))

namespaces, parser = {}, doctest.DocTestParser()
runner = Runner(verbose=False, optionflags=FLAGS | doctest.REPORT_UDIFF)
runner.records = []
for t in spec["tests"]:
    if t["ns"] not in namespaces:
        namespaces[t["ns"]] = {"__name__": "__main__"}
        if reset is not None:
            reset()
    ns = namespaces[t["ns"]]
    if t["skipif"] and eval(t["skipif"], {}):
        continue
    options = {doctest.OPTIONFLAGS_BY_NAME[k]: v for k, v in t["options"].items()}
    if t["kind"] == "doctest":
        test = parser.get_doctest(t["source"], {}, t["name"], t["filename"], t["lineno"] - 1)
        for example in test.examples:
            merged = dict(options)
            merged.update(example.options)
            example.options = merged
        mode[0] = "single"
    else:  # testcode (+ testoutput): one example, the whole block, compared with the output block
        want = t["want"] or ""
        out_options = {doctest.OPTIONFLAGS_BY_NAME[k]: v for k, v in t["output_options"].items()}
        out_options[doctest.DONT_ACCEPT_BLANKLINE] = True
        m = parser._EXCEPTION_RE.match(want)
        example = doctest.Example(t["source"] + "\n", want, exc_msg=m.group("msg") if m else None,
                                  lineno=0, options=out_options)
        test = doctest.DocTest([example], {}, t["name"], t["filename"], t["lineno"] - 1, None)
        mode[0] = "exec"
    test.globs = ns
    runner.run(test, out=lambda s: None, clear_globs=False)
with open(result_path, "w", encoding="utf-8") as f:
    json.dump({"tries": runner.tries, "failures": runner.failures, "records": runner.records}, f)
"""


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["MPLBACKEND"] = "Agg"
    return env


def run_fresh(tests: list[dict], own_printoptions: bool = False, flags=SPHINX_FLAGS) -> dict:
    """Run ``tests`` in a new ``python -I`` process in an empty folder; the runner's verdict."""
    with tempfile.TemporaryDirectory(prefix="convops-paste-") as tmp:
        tmp = Path(tmp)
        work = tmp / "cwd"
        work.mkdir()
        (tmp / "runner.py").write_text(RUNNER, encoding="utf-8")
        (tmp / "spec.json").write_text(
            json.dumps({"tests": tests, "flags": list(flags), "own_printoptions": own_printoptions}), encoding="utf-8"
        )
        try:
            proc = subprocess.run(
                [sys.executable, "-I", str(tmp / "runner.py"), str(tmp / "spec.json"), str(tmp / "result.json")],
                cwd=work,
                env=_env(),
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
        except subprocess.TimeoutExpired as e:
            return {"error": f"timed out after {TIMEOUT} s\nstdout: {e.stdout}\nstderr: {e.stderr}"}
        if proc.returncode != 0 or not (tmp / "result.json").exists():
            return {
                "error": f"the runner exited {proc.returncode}\nstdout: {proc.stdout[-3000:]}\n"
                f"stderr: {proc.stderr[-3000:]}"
            }
        return json.loads((tmp / "result.json").read_text(encoding="utf-8"))


def verdict(page: str, result: dict, notes: list[str]) -> str | None:
    """None if every example passed, else the message to fail with."""
    if "error" in result:
        return f"{page}: the examples could not be run in a fresh Python: {result['error']}"
    if result["tries"] == 0 and not notes:
        return None
    if not result["failures"] and not notes:
        return None
    lines = [
        f"{page}: {result['failures']} of {result['tries']} examples fail when pasted into a fresh "
        "Python (python -I, an empty working directory, no set-up)."
    ]
    lines += notes
    if result["records"]:
        first_line, first = result["records"][0]
        lines += [f"First failure (line {first_line}):", first.rstrip()]
        others = [str(line) for line, _ in result["records"][1:]]
        if others:
            lines.append(f"Also failing, at lines: {', '.join(others[:40])}" + (" …" if len(others) > 40 else ""))
    return "\n".join(lines)


# --------------------------------------------------------------------------- the cases, in parallel

PAGES = _pages()
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
_FUTURES: dict[str, concurrent.futures.Future] = {}


def _page_job(page: str):
    rst = DOCS / page
    label = f"docs/{page}"
    tests, notes = page_tests(rst, label=label)
    own = False
    if AUTODOC.search(rst.read_text(encoding="utf-8")):
        tests = tests + docstring_tests(rst)
        own = True  # docstrings run one after another: numpy's print options are reset for each
    if not tests and not notes:
        return {"tries": 0, "failures": 0, "records": []}, notes
    return run_fresh(tests, own_printoptions=own), notes


def _submit(key: str, fn, *args) -> concurrent.futures.Future:
    if key not in _FUTURES:
        _FUTURES[key] = _POOL.submit(fn, *args)
    return _FUTURES[key]


@pytest.fixture(scope="module", autouse=True)
def _start_everything(request):
    """Start every collected case's subprocess at once; each case then waits for its own."""
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or item.module is not request.module:
            continue
        if "page" in callspec.params and item.originalname == "test_page_examples_run_pasted":
            _submit(f"page:{callspec.params['page']}", _page_job, callspec.params["page"])
        elif "download_page" in callspec.params and item.originalname == "test_script_runs":
            _submit(f"script:{callspec.params['download_page']}", _script_job, callspec.params["download_page"])
        elif "download_page" in callspec.params and item.originalname == "test_notebook_executes":
            _submit(f"notebook:{callspec.params['download_page']}", _notebook_job, callspec.params["download_page"])
    yield


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run_pasted(page):
    result, notes = _submit(f"page:{page}", _page_job, page).result()
    message = verdict(f"docs/{page}", result, notes)
    if message:
        pytest.fail(message, pytrace=False)


def test_every_page_with_examples_is_found():
    # The pages listed are the pages Sphinx builds: a folder left out by mistake would hide pages.
    assert "concepts/padding.rst" in PAGES and "api.rst" in PAGES and "install.rst" in PAGES
    assert not [p for p in PAGES if p.startswith(("_build", "_generated", "_data"))]
    with_examples = [p for p in PAGES if downloads.extract_blocks(DOCS / p)]
    assert len(with_examples) >= 10, with_examples
    assert docstring_tests(DOCS / "api.rst"), "api.rst renders docstrings with examples"


# --------------------------------------------------------------------------- the harness itself


def _run_text(text: str, tmp_path: Path) -> str | None:
    page = tmp_path / "page.rst"
    page.write_text(text, encoding="utf-8")
    tests, notes = page_tests(page, label="page.rst")
    return verdict("page.rst", run_fresh(tests), notes)


def test_a_page_that_uses_a_name_it_never_imports_fails(tmp_path):
    page = textwrap.dedent("""\
        Title
        =====

        .. doctest::

           >>> import convops
           >>> convops.pad(np.ones((1, 2)), [[0, 0], [1, 1]]).shape
           (1, 4)
        """)
    message = _run_text(page, tmp_path)
    assert message is not None and "NameError: name 'np' is not defined" in message, message
    assert "line 7" in message, message  # the failing example's line in the page
    # ... and passes once it imports what it uses: the failure above came from the missing import.
    assert (
        _run_text(page.replace(">>> import convops", ">>> import convops\n   >>> import numpy as np"), tmp_path) is None
    )


def test_blocks_share_one_namespace_in_page_order_and_the_output_is_compared(tmp_path):
    page = textwrap.dedent("""\
        Title
        =====

        >>> import numpy as np

        Some prose.

        .. doctest::

           >>> np.arange(3)
           array([0, 1, 2])
           >>> np.arange(3).sum()
           4
        """)
    message = _run_text(page, tmp_path)
    assert message is not None and "1 of 3 examples" in message and "line 12" in message, message
    assert "Expected:\n    4\nGot:\n    np.int64(3)" in message, message


def test_nothing_of_the_repository_and_no_set_up_is_available(tmp_path):
    for code in ("import figures", "import docs", "import tests", "import benchmarks"):
        message = _run_text(f"T\n=\n\n>>> {code}\n", tmp_path)
        assert message is not None and "ModuleNotFoundError" in message, (code, message)
    setup = "T\n=\n\n.. testsetup::\n\n   x = 1\n\n.. doctest::\n\n   >>> x\n   1\n"
    message = _run_text(setup, tmp_path)
    assert message is not None and "NameError: name 'x' is not defined" in message and "testsetup" in message


def test_options_of_a_block_and_the_default_flags_apply(tmp_path):
    loose = "T\n=\n\n.. doctest::\n   :options: +NORMALIZE_WHITESPACE\n\n   >>> print('a   b')\n   a b\n"
    assert _run_text(loose, tmp_path) is None
    message = _run_text(loose.replace("   :options: +NORMALIZE_WHITESPACE\n", ""), tmp_path)
    assert message is not None and "1 of 1" in message
    # ELLIPSIS and IGNORE_EXCEPTION_DETAIL are on by default, as in sphinx.ext.doctest
    assert (
        _run_text(
            "T\n=\n\n>>> list(range(20))\n[0, 1, ..., 19]\n\n>>> int('x')\n"
            "Traceback (most recent call last):\n    ...\nValueError: something else\n",
            tmp_path,
        )
        is None
    )


def test_testcode_and_testoutput_run_as_one_example(tmp_path):
    page = "T\n=\n\n.. testcode::\n\n   for k in range(2):\n       print(k)\n\n.. testoutput::\n\n   0\n   1\n"
    assert _run_text(page, tmp_path) is None
    message = _run_text(page.replace("   0\n   1\n", "   0\n   2\n"), tmp_path)
    assert message is not None and "1 of 1" in message


def test_the_reader_finds_doctests_where_sphinx_does():
    text = textwrap.dedent("""\
        Title
        =====

        A literal block is not a doctest::

           >>> not_run()

        .. code-block:: pycon

           >>> not_run()

        .. plot::

           >>> not_run()

        .. note::

           >>> inside_a_note = 1

        .. doctest:: other
           :options: +NORMALIZE_WHITESPACE, -ELLIPSIS

           >>> in_group_other = 1

        Section two
        -----------

        >>> plain = 1
        >>> plain
        1

        .. answers::

           Text.

           >>> in_answers = 1

        .. testsetup::

           hidden = 1
        """)
    blocks = downloads.extract_blocks("t.rst", text)
    found = [(b.kind, b.lineno, b.groups, b.section, b.source.split("\n")[0]) for b in blocks]
    assert found == [
        ("doctest_block", 18, ("default",), "Title", ">>> inside_a_note = 1"),
        ("doctest", 23, ("other",), "Title", ">>> in_group_other = 1"),
        ("doctest_block", 28, ("default",), "Section two", ">>> plain = 1"),
        ("doctest_block", 36, ("default",), "Section two", ">>> in_answers = 1"),
        ("testsetup", 40, ("default",), "Section two", "hidden = 1"),
    ], found
    assert blocks[1].options == {"NORMALIZE_WHITESPACE": True, "ELLIPSIS": False}
    assert [b.inside for b in blocks] == [("note",), (), (), ("answers",), ()]
    # the downloads label the answers' cells, which the page keeps closed
    # (group "other" is not the page's reader-facing group; `plain = 1` and `plain` make one cell)
    assert [c.section for c in downloads._cells(blocks)] == ["Title", "Section two", "Section two (answers)"]


# --------------------------------------------------------------------------- the downloads

DOWNLOAD_PAGES = [p for p in PAGES if p.startswith(downloads.PAGE_PREFIXES) and downloads.has_examples(DOCS / p)]


def _script_job(page: str) -> subprocess.CompletedProcess | str:
    with tempfile.TemporaryDirectory(prefix="convops-script-") as tmp:
        script = Path(tmp) / (Path(page).stem + ".py")
        script.write_text(downloads.build_script(DOCS / page), encoding="utf-8")
        try:
            return subprocess.run(
                [sys.executable, "-I", str(script)],
                cwd=tmp,
                env=_env(),
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            return f"timed out after {TIMEOUT} s"


@pytest.mark.parametrize("download_page", DOWNLOAD_PAGES)
def test_script_runs(download_page):
    script = downloads.build_script(DOCS / download_page)
    compile(script, download_page, "exec")
    examples = downloads.reader_examples(downloads.extract_blocks(DOCS / download_page))
    # every example's code is in the script, in page order, with its expected output as comments
    position = 0
    for example in examples:
        found = script.find(example.source.rstrip("\n").split("\n")[0], position)
        assert found >= position, f"{download_page}: {example.source!r} is missing or out of order"
        position = found
    proc = _submit(f"script:{download_page}", _script_job, download_page).result()
    if isinstance(proc, str):
        pytest.fail(f"{download_page}: the script {proc}", pytrace=False)
    assert proc.returncode == 0, (
        f"{download_page}: the downloadable script exits {proc.returncode} in a fresh Python\n{proc.stderr[-3000:]}"
    )


# Executes a notebook in a Jupyter kernel started from this Python, in an empty folder.
NB_RUNNER = r"""
import json, sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
nbformat.validate(nb)
NotebookClient(nb, timeout=int(sys.argv[3]), kernel_name="python3", resources={"metadata": {"path": "."}},
               extra_arguments=["--colors=nocolor"]).execute()  # tracebacks without terminal colours
nbformat.write(nb, sys.argv[2])
"""


def _notebook_job(page: str) -> dict | str:
    with tempfile.TemporaryDirectory(prefix="convops-notebook-") as tmp:
        tmp = Path(tmp)
        (tmp / "cwd").mkdir()
        notebook = tmp / (Path(page).stem + ".ipynb")
        notebook.write_text(json.dumps(downloads.build_notebook(DOCS / page)), encoding="utf-8")
        try:
            proc = subprocess.run(
                [sys.executable, "-I", "-c", NB_RUNNER, str(notebook), str(tmp / "out.ipynb"), str(TIMEOUT)],
                cwd=tmp / "cwd",
                env=_env(),
                capture_output=True,
                text=True,
                timeout=TIMEOUT + 30,
            )
        except subprocess.TimeoutExpired:
            return f"timed out after {TIMEOUT} s"
        if proc.returncode != 0:
            return f"exits {proc.returncode}:\n{proc.stderr[-4000:]}"
        return json.loads((tmp / "out.ipynb").read_text(encoding="utf-8"))


def _shown(cell: dict) -> str:
    text = []
    for output in cell["outputs"]:
        if output["output_type"] == "stream":
            text.append("".join(output["text"]))
        elif output["output_type"] in ("execute_result", "display_data"):
            text.append("".join(output["data"].get("text/plain", "")) + "\n")
        elif output["output_type"] == "error":
            text.append(f"{output['ename']}: {output['evalue']}\n")
    return "".join(text)


@pytest.mark.parametrize("download_page", DOWNLOAD_PAGES)
def test_notebook_executes(download_page):
    try:
        import ipykernel  # noqa: F401
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError as e:  # requirements/test.txt pins them: on CI a missing one is a failure
        if os.environ.get("CI", "").lower() == "true":
            raise
        pytest.skip(f"nbclient, ipykernel and nbformat execute the notebooks: {e}")
    notebook = downloads.build_notebook(DOCS / download_page)
    assert notebook["nbformat"] == 4 and notebook["cells"][0]["cell_type"] == "markdown"
    title = downloads.page_title(DOCS / download_page)
    assert title in "".join(notebook["cells"][0]["source"])
    executed = _submit(f"notebook:{download_page}", _notebook_job, download_page).result()
    if isinstance(executed, str):
        pytest.fail(f"{download_page}: the downloadable notebook {executed}", pytrace=False)
    # each code cell shows what the page shows for its last example (IPython may wrap long values)
    cells = [c for c in executed["cells"] if c["cell_type"] == "code"]
    expected = downloads._cells(downloads.extract_blocks(DOCS / download_page))
    assert len(cells) == len(expected)
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.IGNORE_EXCEPTION_DETAIL
    problems = []
    for cell, spec in zip(cells, expected):
        last = spec.examples[-1]
        got = _shown(cell)
        want = last.want if not last.exc_msg else last.exc_msg
        if last.exc_msg:
            ok = bool(got) and got.split(":")[0].strip().endswith(last.exc_msg.split(":")[0].strip().rsplit(".")[-1])
        else:
            ok = checker.check_output(want, got, flags)
        if not ok:
            problems.append(f"cell {''.join(cell['source'])!r}\n  expected: {want!r}\n  shown:    {got!r}")
    assert not problems, f"{download_page}: notebook cells show other values than the page:\n" + "\n".join(problems)


def test_the_downloads_of_a_small_page(tmp_path):
    page = tmp_path / "docs" / "concepts" / "small.rst"
    page.parent.mkdir(parents=True)
    page.write_text(
        textwrap.dedent("""\
        3. A small page
        ===============

        Worked example
        --------------

        .. doctest::

           >>> import numpy as np
           >>> # a comment the page shows
           >>> x = np.arange(3)
           >>> x.sum()
           np.int64(3)
           >>> x[5]
           Traceback (most recent call last):
           IndexError: index 5 is out of bounds for axis 0 with size 3

        .. code-block:: python

           not_an_example()
        """),
        encoding="utf-8",
    )
    script = downloads.build_script(page)
    assert script.startswith("# 3. A small page\n") and "concepts/small.html" in script
    assert "# a comment the page shows\nx = np.arange(3)\nx.sum()\n# -> np.int64(3)\n" in script, script
    assert "try:\n    x[5]\nexcept IndexError as error:" in script and "not_an_example" not in script
    (tmp_path / "small.py").write_text(script, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-I", str(tmp_path / "small.py")],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout == "IndexError: index 5 is out of bounds for axis 0 with size 3\n"
    notebook = downloads.build_notebook(page)
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    # one displayed value per cell: a cell ends at each example with an output
    assert ["".join(c["source"]) for c in code] == [
        "import numpy as np\n# a comment the page shows\nx = np.arange(3)\nx.sum()",
        "x[5]",
    ]
    assert code[1]["metadata"] == {"tags": ["raises-exception"]} and code[0]["metadata"] == {}
    assert notebook["cells"][0]["source"][0] == "# 3. A small page\n"
    assert "](../../concepts/small.html)" in "".join(notebook["cells"][0]["source"])
    assert [c["source"] for c in notebook["cells"] if c["cell_type"] == "markdown"][1] == ["## Worked example"]
    try:
        import nbformat
    except ImportError:
        return
    nbformat.validate(nbformat.from_dict(notebook))

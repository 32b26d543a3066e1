"""The size budget (CONTRIBUTING.md): no file over 600 lines and no function over 80 lines of code,
unless the file's header (its first 40 lines) or the lines just above or at the top of the function
say why, in a line
that starts with ``Size:`` (after any comment or docstring marker).

Counts the Python and Cython sources of the package, the tests, the docs' extensions and figures,
the benchmarks and the scripts. A function's "lines of code" leave out blank lines, comments and
its docstring. Exits 1 and lists every file and function over budget without a reason.

    python scripts/size_budget.py
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("convops", "tests", "docs/_ext", "docs/figures", "docs/ladder", "benchmarks", "scripts", "examples")
MAX_FILE_LINES = 600
MAX_FUNCTION_CODE_LINES = 80
REASON = re.compile(r"^\s*(#|\*|/\*|//)?\s*(\"\"\"|''')?\s*Size:", re.MULTILINE)
CYTHON_DEF = re.compile(r"^(cdef|cpdef|def)\s[^=]*?(\w+)\s*\(")


def _has_reason(lines: list[str]) -> bool:
    return any(REASON.match(line) for line in lines)


def _code_lines(lines: list[str]) -> int:
    return sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))


def _python_functions(path: Path, text: str) -> list[tuple[str, int, int, list[str]]]:
    """(name, first line, code lines, first lines of the body) of every function in a .py file."""
    lines = text.splitlines()
    found = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = node.body
        doc_end = (
            body[0].end_lineno
            if body
            and isinstance(body[0], ast.Expr)
            and isinstance(getattr(body[0], "value", None), ast.Constant)
            and isinstance(body[0].value.value, str)
            else None
        )
        start = (doc_end or node.body[0].lineno - 1) + 1 if doc_end else node.body[0].lineno
        code = _code_lines(lines[start - 1 : node.end_lineno])
        first = min(d.lineno for d in node.decorator_list) if node.decorator_list else node.lineno
        head = lines[max(0, first - 4) : min(node.lineno + 12, node.end_lineno or node.lineno)]
        found.append((node.name, node.lineno, code, head))
    return found


def _cython_functions(text: str) -> list[tuple[str, int, int, list[str]]]:
    """The same for top-level functions of a .pyx file (a function ends at the next top-level line)."""
    lines = text.splitlines()
    found = []
    starts = [(i, m.group(2)) for i, line in enumerate(lines) if (m := CYTHON_DEF.match(line))]
    for k, (i, name) in enumerate(starts):
        end = i + 1
        limit = starts[k + 1][0] if k + 1 < len(starts) else len(lines)
        while end < limit and (not lines[end].strip() or lines[end][0] in " \t#)"):
            end += 1
        body = lines[i + 1 : end]
        # leave out a docstring at the top of the body
        text_body = "\n".join(body)
        doc = re.match(r'\s*(""".*?"""|\'\'\'.*?\'\'\')', text_body, re.S)
        if doc:
            body = text_body[doc.end() :].splitlines()
        found.append((name, i + 1, _code_lines(body), lines[max(0, i - 3) : i + 12]))
    return found


def main() -> int:
    problems = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".pyx", ".pxd") or "__pycache__" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            lines = text.splitlines()
            rel = path.relative_to(ROOT)
            if len(lines) > MAX_FILE_LINES and not _has_reason(lines[:40]):
                problems.append(
                    f"{rel}: {len(lines)} lines (budget {MAX_FILE_LINES}) and no 'Size:' line in its header saying why"
                )
            functions = _python_functions(path, text) if path.suffix == ".py" else _cython_functions(text)
            for name, lineno, code, head in functions:
                if code > MAX_FUNCTION_CODE_LINES and not _has_reason(head):
                    problems.append(
                        f"{rel}:{lineno}: {name}() has {code} lines of code (budget "
                        f"{MAX_FUNCTION_CODE_LINES}) and no 'Size:' line at its top saying why"
                    )
    for problem in problems:
        print(problem)
    print(f"size budget: {len(problems)} over budget without a reason")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

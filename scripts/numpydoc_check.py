"""Validate the numpydoc docstrings of convops's public API; exit 1 and list the failures if any.

    python scripts/numpydoc_check.py                 # the checks below, on every public callable
    python scripts/numpydoc_check.py --checks all    # every numpydoc check (to see what is left)

The public API is what the modules below export in ``__all__``: their functions and classes, and
the public methods a class defines itself. A name exported twice (``convops.conv2d_transpose``
and ``convops.gradients.conv2d_transpose``) is checked once, under its first name.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from numpydoc.validate import ERROR_MSGS, validate

ROOT = Path(__file__).resolve().parents[1]
# Check this checkout's convops, not whatever an editable install of the venv points at.
sys.path.insert(0, str(ROOT))

MODULES = (
    "convops",
    "convops.gradients",
    "convops.arithmetic",
    "convops.reference",
    "convops.nn",
    "convops.datasets",
    "convops.dispatch",
)
# GL08 has a docstring, PR01 documents every parameter, PR02 documents no parameter that does not
# exist (a docstring left behind when code moves), RT01 has a Returns section where it returns.
CHECKS = ("GL08", "PR01", "PR02", "RT01")


def public_names(module_name: str) -> list[str]:
    """The names a module exports: ``__all__``, else every name without a leading underscore."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return list(names)


def public_callables() -> Iterator[str]:
    """Import paths of every public function, class and method, each object once."""
    seen: set[int] = set()
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in public_names(module_name):
            obj = getattr(module, name)
            if inspect.ismodule(obj) or not callable(obj) or id(obj) in seen:
                continue
            if not getattr(obj, "__module__", "").startswith("convops"):
                continue  # re-exported from NumPy or the standard library: not ours to document
            seen.add(id(obj))
            path = f"{module_name}.{name}"
            yield path
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") or not inspect.isfunction(member) or id(member) in seen:
                        continue
                    seen.add(id(member))
                    yield f"{path}.{attr}"


def where(result: dict) -> str:
    """``path:line`` of the object, relative to the checkout, for an editor to jump to."""
    file, line = result.get("file"), result.get("file_line")
    if not file:
        return "?"
    try:
        file = Path(file).resolve().relative_to(ROOT)
    except ValueError:
        pass
    return f"{file}:{line}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checks",
        default=",".join(CHECKS),
        help=f"comma-separated numpydoc codes, or 'all' (default: {','.join(CHECKS)})",
    )
    args = parser.parse_args(argv)
    checks = set(ERROR_MSGS) if args.checks == "all" else set(args.checks.split(","))
    unknown = checks - set(ERROR_MSGS)
    if unknown:
        parser.error(f"--checks: unknown numpydoc codes {sorted(unknown)}")

    failures: list[tuple[str, str, str, str]] = []
    count = 0
    for path in public_callables():
        count += 1
        result = validate(path)
        for code, message in result["errors"]:
            if code in checks:
                failures.append((path, code, message, where(result)))

    for path, code, message, location in failures:
        print(f"{location}: {path}: {code} {message}")
    if failures:
        by_code = Counter(code for _, code, _, _ in failures)
        summary = ", ".join(f"{code} x{n}" for code, n in sorted(by_code.items()))
        print(f"numpydoc: {len(failures)} failures in {count} public callables ({summary})")
        return 1
    print(f"numpydoc: {count} public callables pass {', '.join(sorted(checks))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Every style, spelling and type check, on the whole tree (configured in pyproject.toml, pinned in
# requirements/lint.txt); scripts/test.sh runs it first. Runs every tool even after one fails,
# then names the ones that failed and exits 1.
#   bash scripts/lint.sh
# Fix what can be fixed: `ruff check --fix . && ruff format .` (then read the diff).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ] && [ -x .venv/bin/python ]; then
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
for tool in ruff cython-lint codespell mypy; do
  command -v "$tool" >/dev/null || { echo "lint: $tool not found; run: bash scripts/env.sh test" >&2; exit 2; }
done

failed=()
check() {  # check NAME COMMAND...: run one tool, remember its name if it fails
  local name=$1; shift
  echo "-- $name"
  if ! "$@"; then failed+=("$name"); fi
}

# Every Cython source, wherever it lives (the kernels move into convops/_kernels/).
mapfile -t cython_files < <(find . \( -path ./.git -o -path ./.venv -o -path ./build -o -path ./docs/_build \) -prune \
                              -o \( -name '*.pyx' -o -name '*.pxd' \) -type f -print | sort)

check "ruff check" ruff check --output-format concise .
check "ruff format" ruff format --check --output-format concise .
if [ ${#cython_files[@]} -gt 0 ]; then
  check "cython-lint" cython-lint "${cython_files[@]}"
fi
check "codespell" codespell
check "mypy" mypy convops
check "numpydoc" python scripts/numpydoc_check.py
# No file over 600 lines, no function over 80 lines of code, unless a "Size:" line says why.
check "size budget" python scripts/size_budget.py

if [ ${#failed[@]} -gt 0 ]; then
  printf -v names '%s, ' "${failed[@]}"
  echo "lint: FAILED: ${names%, }"
  exit 1
fi
echo "lint: all checks pass (ruff check, ruff format, cython-lint, codespell, mypy, numpydoc, size budget)"

#!/usr/bin/env bash
# The site's JavaScript against convops: every tests/js/fixtures_*.py writes its fixtures (inputs and
# convops' outputs, as JSON) into one temporary directory, then `node --test` runs every
# tests/js/*.test.mjs, which reads them from $CONVOPS_JS_FIXTURES. scripts/test.sh runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
if ! command -v node >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  echo "== installing Node.js with apt (the explorer's tests run in node)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs >/dev/null
fi
shopt -s nullglob
generators=(tests/js/fixtures_*.py)
tests=(tests/js/*.test.mjs)
if [ ${#tests[@]} -eq 0 ]; then echo "no tests/js/*.test.mjs: nothing would be tested" >&2; exit 1; fi
CONVOPS_JS_FIXTURES=$(mktemp -d)
export CONVOPS_JS_FIXTURES
trap 'rm -rf "$CONVOPS_JS_FIXTURES"' EXIT
for generator in "${generators[@]}"; do
  "$PY" "$generator" "$CONVOPS_JS_FIXTURES"
done
node --test "${tests[@]}"

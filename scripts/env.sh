#!/usr/bin/env bash
# Idempotent set-up of everything convops needs on a fresh Debian machine:
#   scripts/env.sh [build|test|docs|all]
# creates .venv, installs the pinned requirements (`test` and `all` add requirements/lint.txt,
# the checks scripts/test.sh runs first), compiles the Cython kernels in place and,
# for `test`/`docs`/`all`, installs Debian's chromium for the browser test of the site and
# fonts-noto-cjk for the Chinese edition's figures (and makes matplotlib's font cache list it).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1

quiet_pip() {  # pip, minus the mirror's noise; fails when pip fails
  local log; log=$(mktemp)
  if ! python -m pip "$@" >"$log" 2>&1; then grep -v "^WARNING: Location" "$log" >&2; rm -f "$log"; return 1; fi
  grep -v "^WARNING: Location" "$log" || true; rm -f "$log"
}

case "$what" in
  build) reqs=(-r requirements/build.txt) ;;
  test)  reqs=(-r requirements/test.txt -r requirements/docs.txt -r requirements/lint.txt) ;;
  docs)  reqs=(-r requirements/docs.txt) ;;
  all)   reqs=(-r requirements/test.txt -r requirements/docs.txt -r requirements/lint.txt) ;;
  *) echo "usage: scripts/env.sh [build|test|docs|all]" >&2; exit 2 ;;
esac
stamp=.venv/.convops-$what-$(cat requirements/*.txt | sha1sum | cut -c1-12)
if [ ! -e "$stamp" ]; then
  echo "== installing Python requirements ($what)"
  quiet_pip install -q "${reqs[@]}"
  python -m pip check >/dev/null || { python -m pip check; exit 1; }
  touch "$stamp"
fi

if [ "$what" != build ]; then
  # On CI always ask apt: the browser test must not rely on someone having installed chromium, nor
  # the Chinese edition's figures on someone having installed a CJK font.
  packages=()
  if [ "${CI:-}" = true ] || ! dpkg -s chromium >/dev/null 2>&1; then
    echo "== installing Debian's chromium (browser test of the docs site)"
    packages+=(chromium chromium-driver)
  fi
  if [ "${CI:-}" = true ] || ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then
    echo "== installing Debian's fonts-noto-cjk (the zh_TW edition's figures draw in Noto Sans CJK TC)"
    packages+=(fonts-noto-cjk)
  fi
  if [ "${#packages[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  fi
  # matplotlib lists the system's fonts once and caches the list: a cache written before the CJK font
  # was installed does not know it. Check in a fresh process; if it is missing, drop the cache and
  # let matplotlib list the fonts again.
  find_cjk='from matplotlib import font_manager as fm
fm.findfont(fm.FontProperties(family="Noto Sans CJK TC"), fallback_to_default=False)'
  if ! python -c "$find_cjk" >/dev/null 2>&1; then
    echo "== rebuilding matplotlib's font cache (it does not list Noto Sans CJK TC)"
    rm -f "$(python -c 'import matplotlib; print(matplotlib.get_cachedir())')"/fontlist-v*.json
    python -c "$find_cjk" >/dev/null || { echo "matplotlib cannot find Noto Sans CJK TC (fonts-noto-cjk)" >&2; exit 1; }
  fi
fi

echo "== compiling the Cython kernels"
quiet_pip install -q --no-build-isolation --no-deps -e .
python -c "import convops, sys; print('convops', convops.__version__, '| OpenMP:', convops.openmp_enabled())"

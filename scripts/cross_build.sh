#!/usr/bin/env bash
# Build convops with the compilers the Linux test machine does not normally use, as far as Linux can:
#
#   bash scripts/cross_build.sh            clang build + smoke, MinGW-w64 cross-build of the pool
#   CONVOPS_CROSS_WINE=1 bash scripts/...  also install Wine (~100 MB download) to run the .exe
#
# 1. clang: the extensions built with CC=clang in a copy of the sources in a temporary directory
#    (the in-place gcc build is never touched), then imported from that copy -- checked to be
#    clang's objects -- and conv2d / max_pool2d / avg_pool2d run for every instruction set this
#    CPU has, 1 and 2 threads, against the NumPy reference (convops.reference).
# 2. Windows: scripts/pool_check.c, which includes the thread pool (parallel.h) and every SIMD
#    kernel header, compiled and linked into a .exe by MinGW-w64's GCC (the Windows-threads layer
#    that MSVC builds use too), and run under Wine when Wine is installed. Also compiled and run
#    natively with gcc and clang, threads and no threads, as a baseline for the same checks.
#
# What this cannot prove: an MSVC build (no MSVC here), Windows itself (Wine is not Windows), and
# macOS (no Apple toolchain): docs/install.rst, "Platform notes", says what is tested where.
# Missing compilers are installed with apt (sudo when not root), as scripts/fetch_data.sh does for
# npm. Exits non-zero on any failure; a step that cannot run says so, it is never skipped silently.
# Budget: ~4-5 min on 2 cores, almost all of it the clang build of the SIMD kernels.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck disable=SC1091
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi
start=$(date +%s)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

apt_install() {  # apt_install PACKAGE...: install what is missing, quietly
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "== installing $* with apt"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

need=()
command -v clang >/dev/null || need+=(clang)
command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64)
wine=""
for candidate in wine64 wine /usr/lib/wine/wine64; do
  if command -v "$candidate" >/dev/null; then wine=$(command -v "$candidate"); break; fi
done
if [ -z "$wine" ] && [ "${CONVOPS_CROSS_WINE:-0}" = 1 ]; then need+=(wine64); fi
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi
if [ -z "$wine" ] && [ -x /usr/lib/wine/wine64 ]; then wine=/usr/lib/wine/wine64; fi

src=convops/_kernels/src
cflags=(-O1 -std=gnu11 -Wall -Werror "-I$src")

echo "== thread pool check, native (gcc and clang; POSIX threads, then none)"
for cc in gcc clang; do
  "$cc" "${cflags[@]}" scripts/pool_check.c -o "$tmp/pool_check_$cc" -pthread
  "$tmp/pool_check_$cc"
done
gcc "${cflags[@]}" -DCONVOPS_NO_THREADS scripts/pool_check.c -o "$tmp/pool_check_none"
"$tmp/pool_check_none"

echo "== Windows: MinGW-w64 cross-compile + link of the pool and the SIMD headers"
x86_64-w64-mingw32-gcc --version | head -1
x86_64-w64-mingw32-gcc "${cflags[@]}" scripts/pool_check.c -o "$tmp/pool_check.exe" -static
# The Windows layer must be the one compiled in: its thread start and condition variable are
# imported from the system's DLLs (a file, not a pipe: grep -q would cut objdump off early).
x86_64-w64-mingw32-objdump -p "$tmp/pool_check.exe" > "$tmp/imports.txt"
grep -q 'file format pei-x86-64' "$tmp/imports.txt" || { echo "pool_check.exe is not a Windows x86-64 program" >&2; exit 1; }
for symbol in _beginthreadex SleepConditionVariableSRW AcquireSRWLockExclusive; do
  grep -q "$symbol" "$tmp/imports.txt" \
    || { echo "pool_check.exe does not import $symbol: not the Windows threads layer" >&2; exit 1; }
done
if [ -n "$wine" ]; then
  echo "-- running pool_check.exe under Wine ($wine)"
  WINEPREFIX="$tmp/wine" WINEDEBUG=-all timeout 300 "$wine" "$tmp/pool_check.exe" 2>/dev/null | tee "$tmp/wine.out"
  grep -q 'pool backend win32: .* 0 failures' "$tmp/wine.out" || { echo "pool_check.exe failed under Wine" >&2; exit 1; }
else
  echo "-- NOT RUN under Wine: Wine is not installed (CONVOPS_CROSS_WINE=1 installs it, ~100 MB):"
  echo "   the Windows pool was compiled and linked, not executed"
fi

echo "== clang build of the extensions in $tmp/src (not in place)"
mkdir -p "$tmp/src"
git ls-files -z --cached --others --exclude-standard -- convops setup.py pyproject.toml README.md LICENSE \
  | tar --null -T - -cf - | tar -xf - -C "$tmp/src"
# The compiler's warnings (Cython's generated code has many) go to a log, shown when the build fails.
if ! (cd "$tmp/src" && CC=clang LDSHARED="clang -shared" python setup.py -q build_ext --inplace) \
     > "$tmp/clang-build.log" 2>&1; then
  tail -n 60 "$tmp/clang-build.log"
  echo "the clang build failed" >&2
  exit 1
fi
grep '^convops:' "$tmp/clang-build.log" || true   # setup.py's own notes (OpenMP found or not)
so=$(ls "$tmp"/src/convops/_kernels/parallel.*.so)
readelf -p .comment "$so" > "$tmp/comment.txt"
grep -q clang "$tmp/comment.txt" || { echo "$so was not compiled by clang" >&2; exit 1; }

echo "== smoke test of the clang build against convops.reference"
(cd "$tmp/src" && PYTHONPATH="$tmp/src" python - "$tmp/src") <<'EOF'
import os
import sys

import numpy as np

import convops
from convops import dispatch, reference
from convops._kernels import parallel, simd

root = sys.argv[1]
if not convops.__file__.startswith(root):
    sys.exit(f"imported {convops.__file__}, not the clang build in {root}")
rng = np.random.default_rng(0)
checks = 0
for isa in ("cython",) + simd.supported_isas():
    for threads in (1, 2):
        for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
            x = rng.standard_normal((2, 33, 29, 24)).astype(dtype)
            w = rng.standard_normal((3, 5, 24, 40)).astype(dtype)
            with dispatch.force(isa=isa), convops.num_threads(threads):
                y = convops.conv2d(x, w, strides=(2, 1), padding="SAME")
                ym = convops.max_pool2d(x, ksize=3, strides=2, padding="SAME")
                ya = convops.avg_pool2d(x, ksize=(2, 3), strides=(1, 2), padding="VALID")
            # SAME, stride (2, 1), kernel 3x5 on 33x29: pad (1, 1) rows, (2, 2) columns.
            ref = reference.conv2d(x, w, (2, 1), ((1, 1), (2, 2)))
            scale = np.abs(x).max() * np.abs(w).max() * 3 * 5 * 24
            err = np.abs(y - ref).max() / scale
            if y.shape != ref.shape or not err < tol:
                sys.exit(f"conv2d {isa} {threads} threads {dtype.__name__}: error {err:.3g} (shape {y.shape})")
            ref_max = reference.max_pool2d(x, (3, 3), (2, 2), ((1, 1), (1, 1)))
            ref_avg = reference.avg_pool2d(x, (2, 3), (1, 2))
            if not (np.array_equal(ym, ref_max) and np.array_equal(ya, ref_avg)):
                sys.exit(f"pooling {isa} {threads} threads {dtype.__name__}: differs from the reference")
            checks += 1
big = rng.standard_normal((8, 64, 64, 32)).astype(np.float32)
with convops.num_threads(2):
    convops.max_pool2d(big, ksize=2, strides=2)
print(f"clang build: {checks} conv/pool checks passed (ISAs {simd.supported_isas()}), pool {parallel.pool_backend()}, "
      f"{parallel.helper_threads()} helper thread(s), OpenMP {convops.openmp_enabled()}")
if parallel.pool_backend() != "posix" or parallel.helper_threads() < 1:
    sys.exit("the clang build's pool did not start a helper thread")
# Without OpenMP (clang without libomp) the default thread count is the processors online.
if not convops.openmp_enabled() and parallel.max_threads() != min(os.cpu_count() or 1, 1024):
    sys.exit(f"no OpenMP: default count {parallel.max_threads()}, expected {os.cpu_count()} processors")
EOF
echo "== cross_build.sh passed in $(($(date +%s) - start)) s"

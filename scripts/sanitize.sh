#!/usr/bin/env bash
# Run convops' test suites with the kernels compiled under AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   scripts/sanitize.sh                 build + the default suites (below); non-zero exit on any finding
#   scripts/sanitize.sh tests/x.py ...  build + only the pytest arguments given
#   scripts/sanitize.sh --build-only
#
# The sanitized build lives in its own copy, $SANITIZE_DIR (default build/sanitize/: sources,
# setup.py and tests copied there), so the normal in-place build in convops/ is never touched,
# and pytest runs from inside that copy so that `import convops` can only find the sanitized
# extensions (checked before the run). setup.py's CONVOPS_SANITIZE=1 adds
# -fsanitize=address,undefined; everything else (OpenMP, -O3, the CPU dispatch) is as in a normal
# build, bounds checks included: off, as shipped.
#
# Python itself is not instrumented, so gcc's ASan runtime is preloaded (it must come first), with
# libstdc++ so that ASan can intercept C++ exceptions: without it TensorFlow aborts at import
# ("CHECK failed: real___cxa_throw"); with it TensorFlow runs here and the TF-oracle suites run
# under the sanitizers too. Options: no leak detection (CPython frees little at exit), stop at the
# first finding, and let a huge malloc return NULL (-> MemoryError, which the size tests expect)
# instead of ASan aborting on it.
#
# Budget: the `dev` Hypothesis profile (25 examples per property, 100 per fuzz target) with a
# fixed seed, so that CI's sanitizer run is reproducible; ~5 min on 2 cores after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck disable=SC1091
. .venv/bin/activate
dir=${SANITIZE_DIR:-build/sanitize}

build_only=0
if [ "${1:-}" = "--build-only" ]; then build_only=1; shift; fi

# Default suites: every test of the package except the docs site's browser test (no kernels) and
# the package test that builds wheels / imports with extensions removed (it reinstalls convops).
# Also left out: the suites that check the docs' text, translations and colours (every page's examples pasted into
# a fresh Python, its notebooks run in a Jupyter kernel; the figures' palette; the performance page's
# benchmark numbers; the benchmark commands) -- they read docs/ or benchmarks/,
# which the copy does not hold, and the kernels they reach are the ones the suites here exercise.
default_tests=(tests --ignore=tests/site --ignore=tests/test_package.py --ignore=tests/test_docs_examples.py
               --ignore-glob='tests/test_figure*.py' --ignore=tests/test_i18n.py
               --ignore=tests/test_bench_values.py --ignore=tests/test_benchmark_tools.py)

echo "== sanitizer build in $dir (CONVOPS_SANITIZE=1)"
# shellcheck source=scripts/variant_build.sh
. scripts/variant_build.sh
variant_copy "$dir"
variant_build "$dir" sanitizer CONVOPS_SANITIZE=1
# Every extension must really be instrumented (a stale uninstrumented .so would make a silent pass).
n_so=0
for so in "$dir"/convops/_kernels/*.so; do
  n_so=$((n_so + 1))
  if ! ldd "$so" | grep libasan >/dev/null; then echo "!! $so is not linked with ASan" >&2; exit 1; fi
done
echo "   $n_so instrumented extensions"
[ "$build_only" = 1 ] && exit 0

asan=$(gcc -print-file-name=libasan.so)
stdcxx=$(gcc -print-file-name=libstdc++.so)
for lib in "$asan" "$stdcxx"; do
  [ -e "$lib" ] || { echo "!! $lib not found: install gcc's sanitizer runtime (Debian: libasan8, libubsan1)" >&2; exit 1; }
done
export LD_PRELOAD="$asan $stdcxx"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1:detect_odr_violation=0:strict_string_checks=1:check_initialization_order=1"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE_SANITIZE:-dev}
export CONVOPS_FUZZ_SEED=${CONVOPS_FUZZ_SEED:-0}
# The argument fuzzing is the suite most likely to reach a kernel with an odd geometry: 300 calls
# per public function here (the dev profile alone would give 100).
export CONVOPS_FUZZ_EXAMPLES=${CONVOPS_FUZZ_EXAMPLES:-300}
export CONVOPS_SANITIZED=1   # tests that measure time or memory (ASan's shadow) adapt to this

cd "$dir"
# The copy's convops must be the one imported: sanitized, from this directory.
variant_check_import sanitized
if [ $# -eq 0 ]; then set -- "${default_tests[@]}"; fi
# PYTEST_WORKERS (scripts/test.sh sets it: one per core): that many pytest-xdist workers; unset or
# below 2, one process.
workers=()
if [ "${PYTEST_WORKERS:-0}" -ge 2 ]; then workers=(-n "$PYTEST_WORKERS"); fi
echo "== tests under ASan + UBSan (profile $HYPOTHESIS_PROFILE, seed 0): $*"
status=0
# --capture=sys: a sanitizer writes its report to file descriptor 2 just before aborting; with
# pytest's default fd capture that report would vanish with the process.
# The size tests ask for absurd allocations on purpose (they must raise MemoryError); with
# allocator_may_return_null ASan returns NULL but prints one "failed to allocate" warning each
# (thousands of lines): filtered out of stderr, nothing else is.
python -m pytest -p no:cacheprovider -q "${workers[@]}" --capture=sys --hypothesis-seed=0 -o faulthandler_timeout=300 "$@" \
  2> >(grep -v --line-buffered '^==[0-9]*==WARNING: AddressSanitizer failed to allocate 0x[0-9a-f]* bytes$' >&2) \
  || status=$?
if [ "$status" -ne 0 ]; then
  echo "!! FAILED under the sanitizers (exit $status; a sanitizer finding aborts with its report above)" >&2
fi
exit $status

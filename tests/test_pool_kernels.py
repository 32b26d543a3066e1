"""Every pooling kernel variant against TensorFlow, each forced with ``convops.dispatch.force``.

The float pools run SIMD copies of the Cython loops (``_kernels/src/pool_ukernel.h``, compiled for
SSE2, AVX2 and AVX-512, one chosen per call by ``convops.pooling``) or the Cython loops themselves
(``isa="cython"``: what builds without the SIMD copies run). The general property tests
(test_pool.py) see only the default choice; these force each variant in turn on shapes built to
hit each branch: channel counts around multiples of the SIMD width, windows clipped by padding,
streaming stores. They also check that the thread count never changes a result, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import convops
import oracle
from checks import assert_exact, format_call
from convops._kernels import pool as _pool_kernels
from convops._kernels import simd
from convops.dispatch import force

pytestmark = pytest.mark.tf

FLOATS = (np.float32, np.float64)

# Every float pool variant this machine runs: the Cython loops ("cython"), then each ISA.
POOL_ISAS = _pool_kernels.variants()


def _data(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)


# ------------------------------------------------------------------ pooling's vectorised select


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.uint16, np.int64])
def test_max_pool_select_with_nan_and_channel_tails(dtype):
    # 37 channels: full SIMD vectors and a tail. NaN is ignored, an all-NaN window gives the
    # lowest finite value (TensorFlow's CPU rule); the select form must keep both.
    x = _data((2, 6, 6, 37), np.float64, 0) * 100
    if np.dtype(dtype).kind == "f":
        x[0, 0, 0, :5] = np.nan
        x[0, 0:2, 0:2, 7] = np.nan
        x[1, 2, 3, 10] = -np.inf
    if np.dtype(dtype).kind == "f":
        x = x.astype(dtype)
    else:
        x = np.clip(x, 0 if dtype == np.uint16 else -100, 100).astype(dtype)
    got = convops.max_pool2d(x, 2, 2, "SAME")
    want = oracle.max_pool2d(x, (2, 2), (2, 2), "SAME")
    assert_exact(got, want, format_call("max_pool2d", x, 2, 2, "SAME"))


# ------------------------------------------------------------------ float pooling, per ISA


@pytest.mark.parametrize("pool_isa", POOL_ISAS)
@pytest.mark.parametrize("dtype", FLOATS)
# Channels: scalar tail, one vector, 2- and 4-vector blocks and their mixes (24, 56: 2+1 vectors
# and a tail for 16-lane float32; 4+2+1 for 8-lane float64).
@pytest.mark.parametrize("channels", [3, 16, 24, 37, 56, 64, 130])
# Windows: 2x2 and 3x3 interior runs take the unrolled copies (pool_ukernel.h), clipped border
# cells and other shapes the general loop; SAME on 7x9 clips the first/last rows and columns.
@pytest.mark.parametrize(
    "ksize, strides, padding",
    [
        (2, 2, "VALID"),
        (2, 1, "VALID"),
        (2, 2, "SAME"),
        (3, 1, "VALID"),
        (3, 2, "SAME"),
        ((3, 1), (1, 2), "SAME"),
        (4, 4, "SAME"),
    ],
)
# stream: outputs from STREAM_BYTES up are aligned and written with non-temporal stores when every
# vector store is aligned (channels a multiple of the vector width; 3 and 37 are refused).
@pytest.mark.parametrize("stream", [False, True])
def test_float_pools_every_isa(pool_isa, dtype, channels, ksize, strides, padding, stream, monkeypatch):
    # Max: NaN ignored, -inf kept; avg: divisions by 1..9 cells (powers of two multiply by the
    # reciprocal, the others divide: both must equal TF's division bit for bit).
    from convops import pooling

    monkeypatch.setattr(pooling, "STREAM_BYTES", 0 if stream else 1 << 62)

    x = _data((2, 7, 9, channels), np.float64, channels) * 10
    x[0, 0, 0, : min(channels, 5)] = np.nan
    # NaN scattered over every window position too: a loop that took NaN would pass if NaN only
    # ever came first in its windows (every later cell overwrites it under "take when not <=").
    x[np.random.default_rng(channels).random(x.shape) < 0.15] = np.nan
    x[1, 3, 4, channels - 1] = -np.inf
    x = x.astype(dtype)
    k = ksize if isinstance(ksize, tuple) else (ksize, ksize)
    s = strides if isinstance(strides, tuple) else (strides, strides)
    with force(isa=pool_isa):
        got_max = convops.max_pool2d(x, ksize, strides, padding)
        got_avg = convops.avg_pool2d(np.nan_to_num(x, nan=0.5, neginf=-3.0), ksize, strides, padding)
    call = format_call("max_pool2d", x, ksize, strides, padding) + f"  [isa {pool_isa}]"
    assert_exact(got_max, oracle.max_pool2d(x, k, s, padding), call)
    clean = np.nan_to_num(x, nan=0.5, neginf=-3.0)
    assert_exact(got_avg, oracle.avg_pool2d(clean, k, s, padding), call.replace("max_pool2d", "avg_pool2d"))


# ------------------------------------------------------------------ the switchboard


@pytest.mark.parametrize("pool_isa", POOL_ISAS)
def test_forced_variant_runs_and_does_not_leak(pool_isa, monkeypatch):
    """force(isa=...) reaches the kernel as its index (-1: the Cython loops) inside the block
    only, and in this thread only; an instruction set this CPU lacks keeps the default."""
    from convops import pooling

    seen = []
    real = pooling._kernels.max_pool

    def spy(*args):
        seen.append(args[10])  # the `isa` argument
        return real(*args)

    monkeypatch.setattr(_pool_kernels, "max_pool", spy)
    x = _data((1, 4, 4, 8), np.float32, 0)
    convops.max_pool2d(x, 2, 2)
    with force(isa=pool_isa):
        convops.max_pool2d(x, 2, 2)
    convops.max_pool2d(x, 2, 2)
    forced = -1 if pool_isa == "cython" else simd.ISA_NAMES.index(pool_isa)
    default = simd.ISA_NAMES.index(pooling._DEFAULT_ISA) if pooling._DEFAULT_ISA != "cython" else -1
    assert seen == [default, forced, default]
    missing = [isa for isa in ("base", "avx2", "avx512") if isa not in POOL_ISAS]
    for isa in missing:
        with force(isa=isa):
            convops.max_pool2d(x, 2, 2)
        assert seen[-1] == default


def test_default_is_avx2_where_available():
    """Pooling is memory-bound: AVX2 beats AVX-512 on the usual 16-byte-offset NumPy buffers
    (measurements in convops/pooling.py), so AVX2 is the default wherever it runs."""
    from convops import pooling

    isas = _pool_kernels.supported_isas()
    assert pooling._DEFAULT_ISA == ("avx2" if "avx2" in isas else isas[-1] if isas else "cython")


# ------------------------------------------------------------------ threads


@pytest.mark.parametrize("pool_isa", POOL_ISAS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_pools_do_not_depend_on_the_thread_count(pool_isa, dtype):
    """Every variant of every pooling kernel, 1 and 2 threads: identical bits (sizes above the
    kernels' parallel threshold, so 2 threads really run in parallel)."""
    x = _data((4, 30, 30, 16), dtype, 0)
    dy = _data((4, 15, 15, 16), dtype, 1)
    runs = []
    for threads in (1, 2):
        with convops.num_threads(threads), force(isa=pool_isa):
            runs.append(
                [
                    convops.max_pool2d(x, 2, 2),
                    convops.avg_pool2d(x, 3, 2, "SAME"),
                    convops.max_pool2d_grad(x, dy, 3, 2, "SAME"),
                    convops.avg_pool2d_grad(x.shape, dy, 3, 2, "SAME"),
                ]
            )
    for one, two in zip(*runs):
        assert np.array_equal(one, two)

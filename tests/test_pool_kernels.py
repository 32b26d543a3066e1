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
    real, real_fast = pooling._kernels.max_pool, pooling._pool2d_fast

    def spy(*args):
        seen.append(args[10])  # the `isa` argument
        return real(*args)

    def fast_spy(*args):  # unforced plain calls take the compiled fast path
        out = real_fast(*args)
        if out is not None:
            seen.append(args[7])  # its `isa` argument
        return out

    monkeypatch.setattr(_pool_kernels, "max_pool", spy)
    monkeypatch.setattr(pooling, "_pool2d_fast", fast_spy)
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


# ------------------------------------------------------------------ the compiled fast path

_fastpath = __import__("convops._kernels", fromlist=["load"]).load("fastpath")


def _fast(x, ksize, strides, padding, data_format="NHWC", is_max=True, count_include_pad=False):
    from convops import pooling

    return _fastpath.pool2d_fast(
        x, ksize, strides, padding, data_format, is_max, count_include_pad, pooling._PLAIN_ISA, 2, pooling.STREAM_BYTES
    )


@pytest.mark.parametrize("dtype", FLOATS)
def test_pool_fast_path_takes_the_plain_call_and_agrees_bit_for_bit(dtype):
    """The public pools take the fast path for plain calls and give the general path's bits
    (forcing the default variant sends a call the general way): windows with and without
    padding, unequal pairs, NaN and inf, both conventions of the average, and an output large
    enough for streaming stores."""
    from convops import pooling

    default = pooling._DEFAULT_ISA
    x = _data((3, 11, 10, 37), dtype, 0) * 10
    x[0, 0, 0, :5] = np.nan
    x[1, 3:5, 2:4, 7] = -np.inf
    x[2, 4, 4, 9] = np.inf
    big = _data((8, 112, 112, 64), dtype, 1)  # outputs of 1.6 / 3.2 MB: streamed
    cases = [
        (x, 2, 2, "VALID", "NHWC"),
        (x, 3, 2, "SAME", None),
        (x, (3, 2), [1, 2], "same", "NHWC"),
        (x, [2, 3], (3, 1), "valid", None),
        (x, (11, 3), 1, "VALID", "NHWC"),  # windows as tall as the image
        (big, 2, 2, "VALID", "NHWC"),
    ]
    for data, ksize, strides, padding, fmt in cases:
        call = f"convops.max_pool2d(<{data.dtype} {data.shape}>, {ksize!r}, {strides!r}, {padding!r}, {fmt!r})"
        with force(isa=default):
            want_max = convops.max_pool2d(data, ksize, strides, padding, fmt)
            want_avg = convops.avg_pool2d(data, ksize, strides, padding, fmt)
            want_avg_pad = convops.avg_pool2d(data, ksize, strides, padding, fmt, count_include_pad=True)
        fast = _fast(data, ksize, strides, padding, fmt)
        assert fast is not None, call
        assert_exact(fast, want_max, call, "the general path")
        assert_exact(convops.max_pool2d(data, ksize, strides, padding, fmt), want_max, call, "the general path")
        fast_avg = _fast(data, ksize, strides, padding, fmt, is_max=False)
        assert fast_avg is not None, call
        assert_exact(fast_avg, want_avg, call, "the general path (avg)")
        assert_exact(convops.avg_pool2d(data, ksize, strides, padding, fmt), want_avg, call, "the general path (avg)")
        got = convops.avg_pool2d(data, ksize, strides, padding, fmt, count_include_pad=True)
        assert_exact(got, want_avg_pad, call, "the general path (count_include_pad)")


@pytest.mark.parametrize(
    "case",
    [
        "list input",
        "float16",
        "int32",
        "strided view",
        "fortran order",
        "big-endian",
        "3-D input",
        "2-D image",
        "NCHW",
        "lowercase nhwc",
        "looks like NCHW",
        "4-element ksize",
        "stride 0",
        "window 0",
        "bool stride",
        "float stride",
        "numpy int stride",
        "explicit padding",
        "bad padding string",
        "empty output",
        "zero batch",
        "count_include_pad not a bool",
    ],
)
def test_pool_fast_path_declines_everything_else(case):
    # None = "not mine": the general path then handles it, including every error and warning.
    x = _data((2, 6, 6, 4), np.float32, 0)
    args = {"input": x, "ksize": 2, "strides": 2, "padding": "VALID", "data_format": "NHWC"}
    change = {
        "list input": {"input": x.tolist()},
        "float16": {"input": x.astype(np.float16)},
        "int32": {"input": (x * 10).astype(np.int32)},
        "strided view": {"input": x[:, ::2]},
        "fortran order": {"input": np.asfortranarray(x)},
        "big-endian": {"input": x.astype(">f4")},
        "3-D input": {"input": x[0]},
        "2-D image": {"input": x[0, :, :, 0]},
        "NCHW": {"data_format": "NCHW"},
        "lowercase nhwc": {"data_format": "nhwc"},
        "looks like NCHW": {"input": _data((2, 3, 8, 8), np.float32, 1), "data_format": None},
        "4-element ksize": {"ksize": [1, 2, 2, 1]},
        "stride 0": {"strides": 0},
        "window 0": {"ksize": (0, 2)},
        "bool stride": {"strides": True},
        "float stride": {"strides": 2.0},
        "numpy int stride": {"strides": np.int64(2)},
        "explicit padding": {"padding": [[0, 0], [1, 1]]},
        "bad padding string": {"padding": "FULL"},
        "empty output": {"ksize": 7},
        "zero batch": {"input": x[:0]},
        "count_include_pad not a bool": {},
    }[case]
    args.update(change)
    if case == "count_include_pad not a bool":
        assert _fast(*args.values(), is_max=False, count_include_pad=np.bool_(True)) is None
        return
    assert _fast(*args.values()) is None
    assert _fast(*args.values(), is_max=False) is None


def test_pool_fast_path_does_not_change_errors_or_warnings():
    x = _data((1, 6, 6, 4), np.float32, 0)
    with pytest.raises(ValueError, match="ksize"):
        convops.max_pool2d(x, 0, 1)
    with pytest.raises(ValueError, match="strides"):
        convops.avg_pool2d(x, 2, (1, 0))
    with pytest.raises(TypeError, match="count_include_pad"):
        convops.avg_pool2d(x, 2, 2, count_include_pad=1)
    with pytest.raises(TypeError, match="name"):
        convops.max_pool2d(x, 2, 2, name=3)
    with pytest.warns(UserWarning, match="NCHW"):
        convops.max_pool2d(_data((2, 3, 8, 8), np.float32, 1), 2, 2)

"""Every kernel variant and every shape-based choice of the fast paths, against TensorFlow.

convops picks a kernel per call (convops/conv.py, ``_run_kernel``): the register-blocked direct
kernel (compiled for SSE2, AVX2 and AVX-512, one chosen at run time, with 1-4 vectors of output
channels per block and the pixels per block that follow), the one-channel image kernel, the
im2col + BLAS kernel (non-finite filters with padding), the readable ``conv2d_naive``, and the
compiled fast path of ``convops.conv2d`` itself. The general property tests (test_conv.py) see
only the choice the machine makes; these tests force each variant in turn on shapes built to hit
each branch: channel counts around multiples of the SIMD width, pixel counts that leave partial
blocks, windows clipped by padding on every side or lying wholly in it, strides, dilations and
groups. They also check that the thread count never changes a result, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import convops
import oracle
from checks import assert_bits_equal, assert_exact, assert_within, conv_bound, format_call, reduction_length, window_conv2d
from convops._kernels import conv as kernels
from convops import conv as conv_module

pytestmark = pytest.mark.tf

ISAS = kernels.supported_isas()
FLOATS = (np.float32, np.float64)


@pytest.fixture
def isa(request):
    kernels.set_isa(request.param)
    try:
        yield request.param
    finally:
        kernels.set_isa(None)


@pytest.fixture
def method(request, monkeypatch):
    monkeypatch.setattr(conv_module, "_FORCE_METHOD", request.param)
    return request.param


def _data(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)


def _explicit(padding, x_shape, w_shape, strides, dilations):
    # TF's SAME rule (TF-SEMANTICS.md), written out here so the tolerance does not lean on convops.
    if not isinstance(padding, str):
        return padding
    if padding.upper() == "VALID":
        return (0, 0), (0, 0)
    pairs = []
    for size, k, s, d in zip(x_shape[1:3], w_shape[:2], strides, dilations):
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        pairs.append((total // 2, total - total // 2))
    return tuple(pairs)


def _check_conv(x, w, strides=(1, 1), padding=((0, 0), (0, 0)), dilations=(1, 1)):
    """convops.conv2d(x, w, ...) against tf.nn.conv2d within the shared conv tolerance."""
    got = convops.conv2d(x, w, strides=strides, padding=padding, dilations=dilations)
    want = oracle.conv2d(x, w, strides, padding.upper() if isinstance(padding, str) else padding, dilations)
    magnitude = window_conv2d(np.abs(x), np.abs(w), strides, _explicit(padding, x.shape, w.shape, strides, dilations),
                              dilations)
    call = format_call("conv2d", x, w, strides=strides, padding=padding, dilations=dilations)
    call += f"  [kernel {conv_module._FORCE_METHOD or 'auto'}, isa {kernels.get_isa()}]"
    assert_within(got, want, conv_bound(want, magnitude, reduction_length(w.shape), x.dtype), call)
    return got


def _c_outs(dtype):
    """Output-channel counts that give every block width: 1..4 vectors of L lanes, partial last
    vectors, and 2 or 3 blocks of vectors per group."""
    _, _, lanes = kernels.block_shape(np.dtype(dtype).itemsize, 1)
    return sorted({1, lanes - 1 or 1, lanes, lanes + 1, 2 * lanes + 3, 3 * lanes + 1, 4 * lanes, 5 * lanes + 2,
                   9 * lanes})


# ------------------------------------------------------------------ the direct kernel, per ISA

@pytest.mark.parametrize("isa", ISAS, indirect=True)
@pytest.mark.parametrize("method", ["direct"], indirect=True)
@pytest.mark.parametrize("dtype", FLOATS)
def test_direct_every_block_width(isa, method, dtype):
    # 7 x 6 = 42 output pixels per image, 2 images: no block size up to 12 divides 84, so every
    # width also runs a final block padded with dummy pixels.
    for c_out in _c_outs(dtype):
        v, p, lanes = kernels.block_shape(np.dtype(dtype).itemsize, c_out)
        assert 1 <= v <= 4 and p >= 1
        x = _data((2, 9, 8, 3), dtype, c_out)
        w = _data((3, 3, 3, c_out), dtype, c_out + 1)
        _check_conv(x, w)


@pytest.mark.parametrize("isa", ISAS, indirect=True)
@pytest.mark.parametrize("method", ["direct"], indirect=True)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("strides, padding, dilations", [
    ((1, 1), "SAME", (1, 1)),                       # clipped on all four sides (spans: 3 x 3)
    ((2, 2), "SAME", (1, 1)),                       # TF's SAME with stride 2: (0, 1) padding
    ((2, 3), ((2, 1), (0, 3)), (2, 1)),             # asymmetric explicit padding + dilation
    ((1, 1), ((4, 4), (5, 5)), (1, 1)),             # windows wholly in the padding (no taps)
    ((3, 1), "VALID", (1, 2)),
    ((1, 2), ((1, 0), (2, 2)), (3, 3)),
])
def test_direct_clipped_windows(isa, method, dtype, strides, padding, dilations):
    x = _data((2, 11, 10, 5), dtype, 1)
    for c_out in (3, 21):
        w = _data((3, 4, 5, c_out), dtype, c_out)
        _check_conv(x, w, strides, padding, dilations)


@pytest.mark.parametrize("isa", ISAS, indirect=True)
@pytest.mark.parametrize("method", ["direct"], indirect=True)
@pytest.mark.parametrize("dtype", FLOATS)
def test_direct_grouped_and_pointwise(isa, method, dtype):
    x = _data((2, 7, 9, 12), dtype, 2)
    _check_conv(x, _data((3, 3, 4, 6), dtype, 3), padding="SAME")        # 3 groups of 2 outputs
    _check_conv(x, _data((3, 3, 1, 36), dtype, 4))                       # depthwise x 3
    _check_conv(x, _data((1, 1, 12, 40), dtype, 5))                      # 1x1: K = C_in only
    _check_conv(x, _data((1, 1, 6, 70), dtype, 6), strides=(2, 2))       # grouped 1x1, 2 blocks/group


@pytest.mark.parametrize("isa", ISAS, indirect=True)
@pytest.mark.parametrize("method", ["direct"], indirect=True)
def test_direct_tutorial_layers(isa, method):
    # The three conv layers of the docs' tutorial network, where the benchmark times them.
    for shape, filters in [((2, 28, 28, 1), (3, 3, 1, 32)), ((2, 13, 13, 32), (3, 3, 32, 64)),
                           ((2, 5, 5, 64), (3, 3, 64, 128))]:
        _check_conv(_data(shape, np.float32, 7), _data(filters, np.float32, 8))


# ------------------------------------------------------------------ the one-channel image kernel

@pytest.mark.parametrize("isa", ISAS, indirect=True)
@pytest.mark.parametrize("method", ["image"], indirect=True)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("width", [5, 16, 37, 70])          # shorter than, equal to, past one vector
@pytest.mark.parametrize("strides, padding, dilations", [
    ((1, 1), "VALID", (1, 1)), ((1, 1), "SAME", (1, 1)), ((3, 1), "SAME", (2, 3)),
    ((1, 1), ((0, 6), (7, 1)), (1, 1)), ((2, 1), ((9, 9), (9, 9)), (1, 1)),
])
def test_image_kernel(isa, method, dtype, width, strides, padding, dilations):
    x = _data((2, 12, width, 1), dtype, width)
    _check_conv(x, _data((5, 4, 1, 1), dtype, 3), strides, padding, dilations)


def test_image_kernel_is_what_one_channel_images_use(monkeypatch):
    # The automatic choice: C_in = C_out = 1 with horizontal stride 1 runs the image kernel (seen
    # by making it decline: the call must then fall through to the next kernel and still agree).
    calls = []
    real = kernels.conv2d_image

    def spy(*args):
        calls.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(conv_module, "_FORCE_METHOD", None)
    monkeypatch.setattr(conv_module, "_fast_path", lambda *args: None)     # general path only
    monkeypatch.setattr(kernels, "conv2d_image", spy)
    x = _data((1, 20, 33, 1), np.float32, 0)
    _check_conv(x, _data((3, 3, 1, 1), np.float32, 1), padding="SAME")
    _check_conv(x, _data((3, 3, 1, 1), np.float32, 1), strides=(1, 2))    # stride 2 across: direct
    _check_conv(x, _data((3, 3, 1, 2), np.float32, 1))                    # 2 outputs: direct
    assert calls == [(1, 20, 33, 1)]


# ------------------------------------------------------------------ non-finite filters: im2col + BLAS

@pytest.mark.parametrize("isa", ISAS, indirect=True)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("c_in, c_out", [(1, 1), (3, 5)])
def test_non_finite_filters_multiply_the_padding(isa, dtype, c_in, c_out):
    # TensorFlow multiplies the padding's zeros by the filters: 0 * inf = NaN at the border. The
    # direct and image kernels skip padded taps, so they decline and conv2d_gemm runs instead.
    x = _data((1, 6, 7, c_in), dtype, 0)
    w = _data((3, 3, c_in, c_out), dtype, 1)
    w[0, 0, 0, 0] = np.inf                 # the top-left tap: in the padding for row 0 and column 0
    if c_out > 1:
        w[2, 1, 0, c_out - 1] = np.nan     # NaN everywhere in the last output channel
    got = convops.conv2d(x, w, padding="SAME")
    want = oracle.conv2d(x, w, (1, 1), "SAME", (1, 1))
    assert_exact(np.isnan(got), np.isnan(want), format_call("conv2d", x, w, padding="SAME"), "TF's NaN pattern")
    assert np.isnan(got[0, 0, :, 0]).all() and np.isnan(got[0, :, 0, 0]).all() and not np.isnan(got[0, 1:, 1:, 0]).any()
    finite = ~np.isnan(want)
    np.testing.assert_array_equal(np.isinf(got[finite]), np.isinf(want[finite]))
    # Without padding no window reaches the border: the fast kernels keep the job.
    valid = convops.conv2d(x, w)
    assert_exact(np.isnan(valid), np.isnan(oracle.conv2d(x, w, (1, 1), "VALID", (1, 1))), "VALID", "TF's NaN pattern")


@pytest.mark.parametrize("method", ["gemm", "naive"], indirect=True)
@pytest.mark.parametrize("dtype", FLOATS)
def test_gemm_and_naive_kernels(method, dtype):
    x = _data((2, 9, 8, 6), dtype, 4)
    _check_conv(x, _data((3, 2, 6, 7), dtype, 5), (2, 1), ((1, 2), (0, 1)), (1, 2))
    _check_conv(x, _data((3, 3, 2, 9), dtype, 6), (1, 1), "SAME", (1, 1))      # 3 groups
    _check_conv(x, _data((1, 1, 6, 4), dtype, 7))                                # pointwise GEMM


# ------------------------------------------------------------------ the compiled fast path

def test_fast_path_takes_the_plain_call_and_agrees_bit_for_bit(monkeypatch):
    x = _data((3, 10, 9, 4), np.float32, 0)
    w = _data((3, 3, 4, 20), np.float32, 1)
    for strides, padding in [(1, "VALID"), (2, "SAME"), ([2, 2], "same"), ((1, 1), "valid")]:
        fast = kernels.conv2d_fast(x, w, strides, padding, 1, "NHWC", 1)
        assert fast is not None, (strides, padding)
        monkeypatch.setattr(conv_module, "_FORCE_METHOD", "direct")        # the general path
        general = convops.conv2d(x, w, strides, padding)
        monkeypatch.setattr(conv_module, "_FORCE_METHOD", None)
        assert_exact(fast, general, f"strides={strides!r}, padding={padding!r}", "the general path")
        assert_exact(convops.conv2d(x, w, strides, padding), general, f"strides={strides!r}", "the general path")


@pytest.mark.parametrize("case", [
    "list input", "float16", "int32", "mixed dtypes", "strided view", "fortran order", "3-D input", "2-D image",
    "channels mismatch", "grouped", "dilation 2", "NCHW", "stride pair unequal", "stride 0", "bool stride",
    "explicit padding", "bad padding string", "empty output", "zero batch", "float stride",
])
def test_fast_path_declines_everything_else(case):
    # None = "not mine": the general path then handles it, including every error message.
    x = _data((2, 6, 6, 4), np.float32, 0)
    w = _data((3, 3, 4, 5), np.float32, 1)
    args = {"input": x, "filters": w, "strides": 1, "padding": "VALID", "dilations": 1, "data_format": "NHWC"}
    change = {
        "list input": {"input": x.tolist()},
        "float16": {"input": x.astype(np.float16), "filters": w.astype(np.float16)},
        "int32": {"input": x.astype(np.int32), "filters": w.astype(np.int32)},
        "mixed dtypes": {"filters": w.astype(np.float64)},
        "strided view": {"input": x[:, ::2]},
        "fortran order": {"input": np.asfortranarray(x)},
        "3-D input": {"input": x[0]},
        "2-D image": {"input": x[0, :, :, 0], "filters": w[:, :, 0, 0]},
        "channels mismatch": {"filters": w[:, :, :3]},
        "grouped": {"filters": np.ascontiguousarray(w[:, :, :2])},
        "dilation 2": {"dilations": 2},
        "NCHW": {"data_format": "NCHW"},
        "stride pair unequal": {"strides": (1, 2)},
        "stride 0": {"strides": 0},
        "bool stride": {"strides": True},
        "explicit padding": {"padding": [[0, 0], [1, 1], [1, 1], [0, 0]]},
        "bad padding string": {"padding": "FULL"},
        "empty output": {"filters": _data((7, 3, 4, 5), np.float32, 2)},
        "zero batch": {"input": x[:0]},
        "float stride": {"strides": 1.0},
    }[case]
    args.update(change)
    assert kernels.conv2d_fast(*args.values(), 1) is None


def test_fast_path_does_not_change_errors():
    x = _data((1, 6, 6, 4), np.float32, 0)
    with pytest.raises(ValueError, match="filters"):
        convops.conv2d(x, _data((3, 3, 3, 5), np.float32, 1))
    with pytest.raises(ValueError, match="strides"):
        convops.conv2d(x, _data((3, 3, 4, 5), np.float32, 1), strides=0)
    with pytest.raises(TypeError, match="dtype"):
        convops.conv2d(x, _data((3, 3, 4, 5), np.float64, 1))


# ------------------------------------------------------------------ thread count never matters

def _threads_agree(fn):
    with convops.num_threads(1):
        one = fn()
    with convops.num_threads(2):
        two = fn()
    assert_bits_equal(two, one, "2 threads vs 1", "the 1-thread result")


@pytest.mark.parametrize("isa", ISAS, indirect=True)
@pytest.mark.parametrize("dtype", FLOATS)
def test_results_do_not_depend_on_thread_count(isa, dtype):
    # Sizes above the kernels' parallel threshold, so 2 threads really run in parallel.
    x = _data((4, 30, 30, 16), dtype, 0)
    w = _data((3, 3, 16, 40), dtype, 1)
    _threads_agree(lambda: convops.conv2d(x, w, padding="SAME"))
    _threads_agree(lambda: convops.conv2d(x, w, strides=2, padding="SAME"))
    image = _data((2, 300, 300, 1), dtype, 2)
    _threads_agree(lambda: convops.conv2d(image, _data((5, 5, 1, 1), dtype, 3), padding="SAME"))
    _threads_agree(lambda: convops.max_pool2d(x, 2, 2))
    _threads_agree(lambda: convops.avg_pool2d(x, 3, 2, "SAME"))
    _threads_agree(lambda: convops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], "REFLECT"))
    xi = (x * 100).astype(np.int32)
    _threads_agree(lambda: convops.conv2d(xi, (w * 100).astype(np.int32), padding="SAME"))


def test_concurrent_calls_from_python_threads():
    # The kernels release the GIL and share one helper pool per module: calls from several Python
    # threads at once each get every one of their chunks done, and the right answer.
    import threading

    x = _data((4, 30, 30, 16), np.float32, 0)
    w = _data((3, 3, 16, 40), np.float32, 1)
    with convops.num_threads(1):
        want = (convops.conv2d(x, w, padding="SAME"), convops.max_pool2d(x, 2, 2),
                convops.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]], "SYMMETRIC"))
    errors = []

    def work():
        try:
            for _ in range(10):
                got = (convops.conv2d(x, w, padding="SAME"), convops.max_pool2d(x, 2, 2),
                       convops.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]], "SYMMETRIC"))
                for g, e in zip(got, want):
                    np.testing.assert_array_equal(g, e)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with convops.num_threads(2):
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors[0]


def test_forked_child_runs_parallel_kernels():
    # A forked child has none of the parent's helper threads; its calls must still finish (the
    # caller runs every chunk) and be right.
    import os

    x = _data((4, 30, 30, 16), np.float32, 0)
    w = _data((3, 3, 16, 40), np.float32, 1)
    with convops.num_threads(2):
        want = convops.conv2d(x, w, padding="SAME")          # starts the parent's helpers
        pid = os.fork()
        if pid == 0:                                          # the child
            ok = np.array_equal(convops.conv2d(x, w, padding="SAME"), want)
            os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status


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
    x = x.astype(dtype) if np.dtype(dtype).kind == "f" else np.clip(x, 0 if dtype == np.uint16 else -100, 100).astype(dtype)
    got = convops.max_pool2d(x, 2, 2, "SAME")
    want = oracle.max_pool2d(x, (2, 2), (2, 2), "SAME")
    assert_exact(got, want, format_call("max_pool2d", x, 2, 2, "SAME"))


# ------------------------------------------------------------------ pad's compiled fast path

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.uint16, np.bool_])
@pytest.mark.parametrize("mode", ["CONSTANT", "REFLECT", "SYMMETRIC", "reflect"])
@pytest.mark.parametrize("paddings", [
    [[0, 0], [1, 1], [1, 1], [0, 0]],          # NHWC images: channels merge into one element
    ((1, 0), (0, 2), (2, 1), (0, 0)),          # tuples, asymmetric
    [[0, 0], [0, 0], [0, 0], [1, 2]],          # only the last axis
    [[1, 1], [0, 0], [3, 4], [0, 0]],          # the batch axis too; REFLECT up to size - 1
])
def test_pad_fast_path_matches_tf(dtype, mode, paddings):
    tf = oracle.load()
    x = (_data((2, 4, 5, 3), np.float64, 0) * 50)
    x = x.astype(dtype) if np.dtype(dtype).kind == "f" else (x > 0) if dtype == np.bool_ else np.abs(x).astype(dtype)
    from convops._kernels import pad as _pad_kernels
    fast = _pad_kernels.pad_fast(x, paddings, mode, 0, 1)
    assert fast is not None
    want = tf.pad(tf.constant(x), [list(p) for p in paddings], mode.upper()).numpy()
    assert_exact(fast, want, format_call("pad", x, paddings, mode), "tf.pad")
    assert_exact(convops.pad(x, paddings, mode), want, format_call("pad", x, paddings, mode), "tf.pad")


@pytest.mark.parametrize("case", ["list input", "constant 1", "EDGE", "MEAN", "reflect too far", "symmetric too far",
                                  "numpy paddings", "float pad", "negative pad", "wrong rank", "strided view",
                                  "empty output", "complex"])
def test_pad_fast_path_declines_everything_else(case):
    from convops._kernels import pad as _pad_kernels
    x = _data((2, 3, 4), np.float32, 0)
    args = {"input": x, "paddings": [[0, 0], [1, 1], [1, 1]], "mode": "CONSTANT", "constant_values": 0}
    args.update({
        "list input": {"input": x.tolist()},
        "constant 1": {"constant_values": 1},
        "EDGE": {"mode": "EDGE"},
        "MEAN": {"mode": "MEAN"},
        "reflect too far": {"mode": "REFLECT", "paddings": [[0, 0], [3, 0], [0, 0]]},
        "symmetric too far": {"mode": "SYMMETRIC", "paddings": [[0, 0], [0, 4], [0, 0]]},
        "numpy paddings": {"paddings": np.array([[0, 0], [1, 1], [1, 1]])},
        "float pad": {"paddings": [[0, 0], [1.0, 1], [1, 1]]},
        "negative pad": {"paddings": [[0, 0], [-1, 1], [1, 1]]},
        "wrong rank": {"paddings": [[1, 1], [1, 1]]},
        "strided view": {"input": x[:, ::2]},
        "empty output": {"input": x[:0]},
        "complex": {"input": x.astype(np.complex64)},
    }[case])
    assert _pad_kernels.pad_fast(*args.values(), 1) is None


# ------------------------------------------------------------------ float pooling, per ISA

# Every float pool variant: the Cython loops that builds without SIMD run ("cython"), then each ISA.
POOL_ISAS = __import__("convops._kernels.pool", fromlist=["variants"]).variants()


@pytest.mark.parametrize("pool_isa", POOL_ISAS)
@pytest.mark.parametrize("dtype", FLOATS)
# Channels: scalar tail, one vector, 2- and 4-vector blocks and their mixes (24, 56: 2+1 vectors
# and a tail for 16-lane float32; 4+2+1 for 8-lane float64).
@pytest.mark.parametrize("channels", [3, 16, 24, 37, 56, 64, 130])
# Windows: 2x2 and 3x3 interior runs take the unrolled copies (pool_ukernel.h), clipped border
# cells and other shapes the general loop; SAME on 7x9 clips the first/last rows and columns.
@pytest.mark.parametrize("ksize, strides, padding", [(2, 2, "VALID"), (2, 1, "VALID"), (2, 2, "SAME"), (3, 1, "VALID"),
                                                     (3, 2, "SAME"), ((3, 1), (1, 2), "SAME"), (4, 4, "SAME")])
# stream: outputs from STREAM_BYTES up are aligned and written with non-temporal stores when every
# vector store is aligned (channels a multiple of the vector width; 3 and 37 are refused).
@pytest.mark.parametrize("stream", [False, True])
def test_float_pools_every_isa(pool_isa, dtype, channels, ksize, strides, padding, stream, monkeypatch):
    # Max: NaN ignored, -inf kept; avg: divisions by 1..9 cells (powers of two multiply by the
    # reciprocal, the others divide: both must equal TF's division bit for bit).
    from convops import pooling
    from convops._kernels import pool as _pool_kernels

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
    _pool_kernels.set_isa(pool_isa)
    try:
        got_max = convops.max_pool2d(x, ksize, strides, padding)
        got_avg = convops.avg_pool2d(np.nan_to_num(x, nan=0.5, neginf=-3.0), ksize, strides, padding)
    finally:
        _pool_kernels.set_isa(None)
    call = format_call("max_pool2d", x, ksize, strides, padding) + f"  [isa {pool_isa}]"
    assert_exact(got_max, oracle.max_pool2d(x, k, s, padding), call)
    clean = np.nan_to_num(x, nan=0.5, neginf=-3.0)
    assert_exact(got_avg, oracle.avg_pool2d(clean, k, s, padding), call.replace("max_pool2d", "avg_pool2d"))

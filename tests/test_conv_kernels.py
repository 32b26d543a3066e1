"""Every conv2d kernel and every shape-based choice of the fast paths, against TensorFlow.

Size: one concept, which kernel runs a convolution and that every choice gives the same answer,
for the forward pass and the compiled fast paths of the forward pass and the input gradient.

convops picks one kernel per call (``convops._conv_dispatch.choose_conv_kernel``), which
``convops.dispatch.force`` overrides: the register-blocked direct
kernel (compiled for SSE2, AVX2 and AVX-512, one chosen at run time, with 1-4 vectors of output
channels per block and the pixels per block that follow), the one-channel image kernel, the
im2col + BLAS kernel (non-finite filters with padding), the readable ``conv2d_naive``, and the
compiled fast path of ``convops.conv2d`` itself (``convops._kernels.fastpath``). The general
property tests (test_conv.py) see only the choice the machine makes; these tests force each
variant in turn (and each instruction set) on shapes built to hit
each branch: channel counts around multiples of the SIMD width, pixel counts that leave partial
blocks, windows clipped by padding on every side or lying wholly in it, strides, dilations and
groups. They also check that the thread count never changes a result, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import convops
import oracle
from checks import (
    assert_bits_equal,
    assert_exact,
    assert_within,
    conv_bound,
    format_call,
    reduction_length,
    window_conv2d,
)
from convops import _conv_dispatch, dispatch
from convops import conv as conv_module
from convops._kernels import conv as kernels
from convops._kernels import fastpath, simd
from convops.dispatch import force
from tf_rules import explicit_pads

pytestmark = pytest.mark.tf

ISAS = simd.supported_isas()
FLOATS = (np.float32, np.float64)


@pytest.fixture
def isa(request):
    with force(isa=request.param):
        yield request.param


@pytest.fixture
def method(request):
    with force(conv2d=request.param):
        yield request.param


def _data(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)


def _check_conv(x, w, strides=(1, 1), padding=((0, 0), (0, 0)), dilations=(1, 1)):
    """convops.conv2d(x, w, ...) against tf.nn.conv2d within the shared conv tolerance."""
    got = convops.conv2d(x, w, strides=strides, padding=padding, dilations=dilations)
    want = oracle.conv2d(x, w, strides, padding.upper() if isinstance(padding, str) else padding, dilations)
    magnitude = window_conv2d(
        np.abs(x), np.abs(w), strides, explicit_pads(padding, x.shape[1:3], w.shape[:2], strides, dilations), dilations
    )
    call = format_call("conv2d", x, w, strides=strides, padding=padding, dilations=dilations)
    call += f"  [kernel {dispatch.forced_method('conv2d') or 'auto'}, isa {dispatch.forced_isa() or 'auto'}]"
    assert_within(got, want, conv_bound(want, magnitude, reduction_length(w.shape), x.dtype), call)
    return got


def _c_outs(dtype):
    """Output-channel counts that give every block width: 1..4 vectors of L lanes, partial last
    vectors, and 2 or 3 blocks of vectors per group."""
    _, _, lanes = kernels.block_shape(np.dtype(dtype).itemsize, 1, _conv_dispatch.isa_index())
    return sorted(
        {1, lanes - 1 or 1, lanes, lanes + 1, 2 * lanes + 3, 3 * lanes + 1, 4 * lanes, 5 * lanes + 2, 9 * lanes}
    )


# ------------------------------------------------------------------ the direct kernel, per ISA


@pytest.mark.parametrize("isa", ISAS, indirect=True)
@pytest.mark.parametrize("method", ["direct"], indirect=True)
@pytest.mark.parametrize("dtype", FLOATS)
def test_direct_every_block_width(isa, method, dtype):
    # 7 x 6 = 42 output pixels per image, 2 images: no block size up to 12 divides 84, so every
    # width also runs a final block padded with dummy pixels.
    for c_out in _c_outs(dtype):
        v, p, lanes = kernels.block_shape(np.dtype(dtype).itemsize, c_out, _conv_dispatch.isa_index())
        assert 1 <= v <= 4 and p >= 1
        x = _data((2, 9, 8, 3), dtype, c_out)
        w = _data((3, 3, 3, c_out), dtype, c_out + 1)
        _check_conv(x, w)


@pytest.mark.parametrize("isa", ISAS, indirect=True)
@pytest.mark.parametrize("method", ["direct"], indirect=True)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize(
    "strides, padding, dilations",
    [
        ((1, 1), "SAME", (1, 1)),  # clipped on all four sides (spans: 3 x 3)
        ((2, 2), "SAME", (1, 1)),  # TF's SAME with stride 2: (0, 1) padding
        ((2, 3), ((2, 1), (0, 3)), (2, 1)),  # asymmetric explicit padding + dilation
        ((1, 1), ((4, 4), (5, 5)), (1, 1)),  # windows wholly in the padding (no taps)
        ((3, 1), "VALID", (1, 2)),
        ((1, 2), ((1, 0), (2, 2)), (3, 3)),
    ],
)
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
    _check_conv(x, _data((3, 3, 4, 6), dtype, 3), padding="SAME")  # 3 groups of 2 outputs
    _check_conv(x, _data((3, 3, 1, 36), dtype, 4))  # depthwise x 3
    _check_conv(x, _data((1, 1, 12, 40), dtype, 5))  # 1x1: K = C_in only
    _check_conv(x, _data((1, 1, 6, 70), dtype, 6), strides=(2, 2))  # grouped 1x1, 2 blocks/group


@pytest.mark.parametrize("isa", ISAS, indirect=True)
@pytest.mark.parametrize("method", ["direct"], indirect=True)
def test_direct_tutorial_layers(isa, method):
    # The three conv layers of the docs' tutorial network, where the benchmark times them.
    for shape, filters in [
        ((2, 28, 28, 1), (3, 3, 1, 32)),
        ((2, 13, 13, 32), (3, 3, 32, 64)),
        ((2, 5, 5, 64), (3, 3, 64, 128)),
    ]:
        _check_conv(_data(shape, np.float32, 7), _data(filters, np.float32, 8))


# ------------------------------------------------------------------ the one-channel image kernel


@pytest.mark.parametrize("isa", ISAS, indirect=True)
@pytest.mark.parametrize("method", ["image"], indirect=True)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("width", [5, 16, 37, 70])  # shorter than, equal to, past one vector
@pytest.mark.parametrize(
    "strides, padding, dilations",
    [
        ((1, 1), "VALID", (1, 1)),
        ((1, 1), "SAME", (1, 1)),
        ((3, 1), "SAME", (2, 3)),
        ((1, 1), ((0, 6), (7, 1)), (1, 1)),
        ((2, 1), ((9, 9), (9, 9)), (1, 1)),
    ],
)
def test_image_kernel(isa, method, dtype, width, strides, padding, dilations):
    x = _data((2, 12, width, 1), dtype, width)
    _check_conv(x, _data((5, 4, 1, 1), dtype, 3), strides, padding, dilations)


def test_image_kernel_is_what_one_channel_images_use(monkeypatch):
    # The automatic choice: C_in = C_out = 1 with horizontal stride 1 runs the image kernel (seen
    # by a spy on the kernel; the other calls must run another kernel and still agree).
    calls = []
    real = kernels.conv2d_image

    def spy(*args):
        calls.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(conv_module, "_fast_conv2d", lambda *args: None)  # general path only
    monkeypatch.setattr(kernels, "conv2d_image", spy)
    x = _data((1, 20, 33, 1), np.float32, 0)
    _check_conv(x, _data((3, 3, 1, 1), np.float32, 1), padding="SAME")
    _check_conv(x, _data((3, 3, 1, 1), np.float32, 1), strides=(1, 2))  # stride 2 across: direct
    _check_conv(x, _data((3, 3, 1, 2), np.float32, 1))  # 2 outputs: direct
    assert calls == [(1, 20, 33, 1)]


# ------------------------------------------------------------------ non-finite filters: im2col + BLAS


@pytest.mark.parametrize("isa", ISAS, indirect=True)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("c_in, c_out", [(1, 1), (3, 5)])
def test_non_finite_filters_multiply_the_padding(isa, dtype, c_in, c_out):
    # TensorFlow multiplies the padding's zeros by the filters: 0 * inf = NaN at the border. The
    # direct and image kernels skip padded taps, so Python chooses conv2d_gemm instead.
    x = _data((1, 6, 7, c_in), dtype, 0)
    w = _data((3, 3, c_in, c_out), dtype, 1)
    w[0, 0, 0, 0] = np.inf  # the top-left tap: in the padding for row 0 and column 0
    if c_out > 1:
        w[2, 1, 0, c_out - 1] = np.nan  # NaN everywhere in the last output channel
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
    _check_conv(x, _data((3, 3, 2, 9), dtype, 6), (1, 1), "SAME", (1, 1))  # 3 groups
    _check_conv(x, _data((1, 1, 6, 4), dtype, 7))  # pointwise GEMM


# ------------------------------------------------------------------ the compiled fast path


def test_fast_path_takes_the_plain_call_and_agrees_bit_for_bit():
    x = _data((3, 10, 9, 4), np.float32, 0)
    w = _data((3, 3, 4, 20), np.float32, 1)
    for strides, padding in [(1, "VALID"), (2, "SAME"), ([2, 2], "same"), ((1, 1), "valid")]:
        fast = fastpath.conv2d_fast(x, w, strides, padding, 1, "NHWC", _conv_dispatch.default_isa(), 1)
        assert fast is not None, (strides, padding)
        with force(conv2d="direct"):  # the general path
            general = convops.conv2d(x, w, strides, padding)
        assert_exact(fast, general, f"strides={strides!r}, padding={padding!r}", "the general path")
        assert_exact(convops.conv2d(x, w, strides, padding), general, f"strides={strides!r}", "the general path")


@pytest.mark.parametrize(
    "case",
    [
        "list input",
        "float16",
        "int32",
        "mixed dtypes",
        "strided view",
        "fortran order",
        "3-D input",
        "2-D image",
        "channels mismatch",
        "grouped",
        "dilation 2",
        "NCHW",
        "stride pair unequal",
        "stride 0",
        "bool stride",
        "explicit padding",
        "bad padding string",
        "empty output",
        "zero batch",
        "float stride",
    ],
)
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
    assert fastpath.conv2d_fast(*args.values(), _conv_dispatch.default_isa(), 1) is None


def _fast_input_grad(sizes, w, dy, strides=1, padding="VALID", data_format="NHWC", dilations=1):
    return fastpath.conv2d_backprop_input_fast(
        sizes,
        w,
        dy,
        strides,
        padding,
        data_format,
        dilations,
        conv_module._AUTO_MAX_FAST_FILTER,
        _conv_dispatch._INPUT_GRAD_GEMM_MAX_LANE_SHARE,
        _conv_dispatch._INPUT_GRAD_GEMM_MIN_OUT_PER_IN,
        _conv_dispatch._INPUT_GRAD_GEMM_MIN_WORK,
        _conv_dispatch._SCRATCH_BYTES,
        _conv_dispatch._LANES,
        convops._threads.run_blas_kernel,
        _conv_dispatch.default_isa(),
        2,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_grad_fast_path_takes_the_plain_call_and_agrees_bit_for_bit(dtype):
    """Small stride-1 input gradients take the compiled path and give the general path's bits
    (which forcing the direct kernel selects): VALID and SAME, odd and even kernels, channels
    that fill no whole vector, and a call large enough for the blocking chooser."""
    cases = [
        ((3, 10, 9, 12), (3, 3, 12, 20), "VALID"),
        ((3, 10, 9, 12), (3, 3, 12, 20), "same"),
        ((2, 7, 8, 17), (2, 4, 17, 5), "SAME"),
        ((1, 5, 5, 64), (3, 3, 64, 16), "VALID"),
        ((64, 13, 13, 16), (3, 3, 16, 64), "VALID"),
        ((1, 8, 8, 1), (3, 3, 1, 1), "VALID"),  # few input channels, a small call: the direct kernel
        ((2, 9, 7, 2), (3, 3, 2, 5), "SAME"),
    ]
    for sizes, w_shape, padding in cases:
        w = _data(w_shape, dtype, 1)
        out_hw = (sizes[1] - w_shape[0] + 1, sizes[2] - w_shape[1] + 1) if padding == "VALID" else sizes[1:3]
        dy = _data((sizes[0], *out_hw, w_shape[3]), dtype, 2)
        call = f"conv2d_backprop_input({sizes}, <{w_shape}>, <{dy.shape}>, 1, {padding!r}) {np.dtype(dtype).name}"
        fast = _fast_input_grad(list(sizes), w, dy, 1, padding)
        assert fast is not None, call
        with force(conv2d_backprop_input="direct"):  # the general path
            general = convops.conv2d_backprop_input(sizes, w, dy, 1, padding)
        assert_exact(fast, general, call, "the general path")
        assert_exact(convops.conv2d_backprop_input(sizes, w, dy, 1, padding), general, call, "the general path")
        assert_exact(convops.conv2d_backprop_input(sizes, w, dy, 1, padding, algorithm="direct"), general, call)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_grad_fast_path_runs_im2col_for_few_input_channels_with_the_general_paths_bits(dtype, monkeypatch):
    """Few input channels, many output channels and much work: the compiled path runs im2col +
    BLAS + col2im (BLAS held at one thread, as run_blas_kernel does), cut into the general path's
    chunks of images, so it gives the general path's bits on 1 and 2 threads; outside that rule
    it runs the direct kernel and calls no BLAS."""
    blas_calls = []
    run_blas = convops._threads.run_blas_kernel
    monkeypatch.setattr(convops._threads, "run_blas_kernel", lambda *args: blas_calls.append(1) or run_blas(*args))
    cases = [
        ((8, 28, 28, 1), (3, 3, 1, 16), "VALID", True),  # 903,168 multiply-adds: 8 chunks of 1 image
        ((1, 28, 28, 1), (3, 3, 1, 32), "SAME", True),  # 1 chunk
        ((19, 12, 11, 1), (2, 4, 1, 128), "same", True),  # 3 images a chunk, the last short
        ((4, 28, 28, 2), (3, 3, 2, 32), "VALID", True),
        ((4, 28, 28, 2), (3, 3, 2, 24), "VALID", False),  # fewer than 16 output channels per input channel
        ((8, 28, 28, 1), (3, 3, 1, 6), "VALID", False),
        ((1, 8, 8, 1), (3, 3, 1, 32), "VALID", False),  # 18,432 multiply-adds: too few
    ]
    for sizes, w_shape, padding, gemm in cases:
        w = _data(w_shape, dtype, 1)
        out_hw = (sizes[1] - w_shape[0] + 1, sizes[2] - w_shape[1] + 1) if padding == "VALID" else sizes[1:3]
        dy = _data((sizes[0], *out_hw, w_shape[3]), dtype, 2)
        call = f"conv2d_backprop_input({sizes}, <{w_shape}>, <{dy.shape}>, 1, {padding!r}) {np.dtype(dtype).name}"
        with force(conv2d_backprop_input="gemm" if gemm else "direct"):  # the general path
            general = convops.conv2d_backprop_input(sizes, w, dy, 1, padding)
        for threads in (1, 2):
            blas_calls.clear()
            with convops.num_threads(threads):
                fast = _fast_input_grad(list(sizes), w, dy, 1, padding)
            assert fast is not None, call
            assert bool(blas_calls) == gemm, f"{call}: BLAS called {len(blas_calls)} times, im2col expected: {gemm}"
            assert_exact(fast, general, f"{call} on {threads} threads", "the general path")


@pytest.mark.parametrize(
    "case",
    [
        "list filters",
        "float16",
        "mixed dtypes",
        "strided dy",
        "fortran filters",
        "short sizes",
        "numpy sizes",
        "sizes mismatch batch",
        "sizes mismatch channels",
        "dy mismatch spatial",
        "grouped",
        "stride 2",
        "dilation 2",
        "NCHW",
        "explicit padding",
        "non-finite filters",
        "large filters",
    ],
)
def test_input_grad_fast_path_declines_everything_else(case):
    # None = "not mine": the general path then runs it (another kernel) or raises its own error.
    w = _data((3, 3, 8, 6), np.float32, 1)
    dy = _data((2, 4, 4, 6), np.float32, 2)
    args = {"sizes": (2, 6, 6, 8), "w": w, "dy": dy, "strides": 1, "padding": "VALID", "data_format": "NHWC"}
    bad_w = w.copy()
    bad_w[0, 0, 0, 0] = np.inf
    change = {
        "list filters": {"w": w.tolist()},
        "float16": {"w": w.astype(np.float16), "dy": dy.astype(np.float16)},
        "mixed dtypes": {"dy": dy.astype(np.float64)},
        "strided dy": {"dy": _data((2, 8, 4, 6), np.float32, 3)[:, ::2]},
        "fortran filters": {"w": np.asfortranarray(w)},
        "short sizes": {"sizes": (6, 6)},
        "numpy sizes": {"sizes": np.array([2, 6, 6, 8])},
        "sizes mismatch batch": {"sizes": (3, 6, 6, 8)},
        "sizes mismatch channels": {"sizes": (2, 6, 6, 4)},
        "dy mismatch spatial": {"sizes": (2, 7, 6, 8)},
        "grouped": {"sizes": (2, 6, 6, 16)},
        "stride 2": {"strides": 2},
        "dilation 2": {"dy": _data((2, 2, 2, 6), np.float32, 4)},
        "NCHW": {"data_format": "NCHW"},
        "explicit padding": {"padding": [[0, 0], [1, 1], [1, 1], [0, 0]]},
        "non-finite filters": {"w": bad_w},
        "large filters": {
            "sizes": (2, 6, 6, 64),
            "w": _data((3, 3, 64, 32), np.float32, 6),
            "dy": _data((2, 4, 4, 32), np.float32, 7),
        },
    }[case]
    args.update(change)
    dilations = 2 if case == "dilation 2" else 1
    assert _fast_input_grad(*args.values(), dilations=dilations) is None


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
        want = (
            convops.conv2d(x, w, padding="SAME"),
            convops.max_pool2d(x, 2, 2),
            convops.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]], "SYMMETRIC"),
        )
    errors = []

    def work():
        try:
            for _ in range(10):
                got = (
                    convops.conv2d(x, w, padding="SAME"),
                    convops.max_pool2d(x, 2, 2),
                    convops.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]], "SYMMETRIC"),
                )
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
        want = convops.conv2d(x, w, padding="SAME")  # starts the parent's helpers
        pid = os.fork()
        if pid == 0:  # the child
            ok = np.array_equal(convops.conv2d(x, w, padding="SAME"), want)
            os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status


# ------------------------------------------------------------------ pooling's vectorised select


# ------------------------------------------------------------------ Python chooses exactly one kernel


@pytest.mark.parametrize("forced", ["naive", "direct", "image"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_forced_method_that_cannot_run_the_call_keeps_the_default(forced, dtype):
    # Non-finite filters whose windows reach the padding: only conv2d_gemm multiplies the padding
    # zeros (0 * inf = NaN) as TensorFlow does, so forcing a kernel that skips padded taps must
    # not change the result.
    x = _data((1, 6, 7, 1), dtype, 0)
    w = _data((3, 3, 1, 1), dtype, 1)
    w[0, 0, 0, 0] = np.inf
    want = oracle.conv2d(x, w, (1, 1), "SAME", (1, 1))
    with force(conv2d=forced):
        assert (
            _conv_dispatch.choose_conv_kernel(
                conv_module.conv_geometry(conv_module._FORWARD, x.shape, w.shape, None, 1, "SAME", 1, "NHWC", x.dtype),
                w,
            )
            == "gemm"
        )
        got = convops.conv2d(x, w, padding="SAME")
    assert_exact(np.isnan(got), np.isnan(want), format_call("conv2d", x, w, padding="SAME"), "TF's NaN pattern")
    # The image kernel needs one channel in and out: forced on three channels, direct runs.
    x3, w3 = _data((1, 6, 7, 3), dtype, 2), _data((3, 3, 3, 2), dtype, 3)
    with force(conv2d="image"):
        forced_image = convops.conv2d(x3, w3, padding="SAME")
    with force(conv2d="direct"):
        assert_bits_equal(
            forced_image, convops.conv2d(x3, w3, padding="SAME"), "image forced on 3 channels", "the direct kernel"
        )


def test_fast_path_leaves_non_finite_filters_with_padding_to_the_general_path():
    x = _data((1, 6, 7, 4), np.float32, 0)
    w = _data((3, 3, 4, 5), np.float32, 1)
    w[1, 1, 2, 3] = np.nan
    isa = _conv_dispatch.default_isa()
    assert fastpath.conv2d_fast(x, w, 1, "SAME", 1, "NHWC", isa, 1) is None  # gemm's call
    valid = fastpath.conv2d_fast(x, w, 1, "VALID", 1, "NHWC", isa, 1)  # no padding: direct
    assert valid is not None
    assert_exact(np.isnan(valid), np.isnan(oracle.conv2d(x, w, (1, 1), "VALID", (1, 1))), "VALID", "TF's NaN pattern")


# ------------------------------------------------------------------ few output channels: AVX2


def test_the_block_isa_rule_on_both_kinds_of_avx512_core():
    """AVX2 in place of AVX-512 where AVX2 leaves fewer lanes idle (the channels fill their last
    64-byte vector by half or less) and either they fit one AVX2 vector or 512-bit FMAs run as two
    halves; any other set is kept. Asked for both kinds of core, whatever this CPU is."""
    avx2, avx512 = simd.ISA_NAMES.index("avx2"), simd.ISA_NAMES.index("avx512")
    in_halves = {c for c in range(1, 65) if c % 16 in range(1, 9)}  # 1..8, 17..24, 33..40, 49..56
    for c in range(1, 65):
        want_whole = avx2 if c <= 8 else avx512
        assert simd.block_isa(avx512, 4 * c, False) == want_whole, f"{c} float32 channels, whole FMAs"
        assert simd.block_isa(avx512, 4 * c, True) == (avx2 if c in in_halves else avx512), f"{c} channels, halves"
        for isa in (simd.ISA_NAMES.index("base"), avx2):
            assert simd.block_isa(isa, 4 * c, True) == simd.block_isa(isa, 4 * c, False) == isa
    # float64: 12 channels (96 bytes) are 17..24 float32's case; 16 (128 bytes) whole vectors.
    want = [avx2, avx512, avx512, avx2, avx2, avx512, avx512]
    assert [simd.block_isa(avx512, 8 * c, True) for c in (4, 5, 8, 9, 12, 13, 16)] == want


def test_the_halves_probe_answers_once_per_process():
    """simd.avx512_halves() is measured once: the same answer every time, the one the default
    rule uses (block_isa without the argument), and False where AVX-512 does not run."""
    first = simd.avx512_halves()
    assert isinstance(first, bool) and all(simd.avx512_halves() is first for _ in range(3))
    if "avx512" not in simd.supported_isas():
        assert first is False
    widest = _conv_dispatch.default_isa()
    for channel_bytes in range(1, 257):
        assert simd.block_isa(widest, channel_bytes) == simd.block_isa(widest, channel_bytes, first)
    assert simd.cpu_features()["avx512_halves"] is first


def test_few_output_channels_run_avx2_in_place_of_avx512_with_the_same_bits():
    """Where AVX-512 is the widest set, the register-blocked kernels (conv2d's direct kernel and
    the filter gradient's) run AVX2 for output channels per group that fit one AVX2 vector (32
    bytes: _conv_dispatch.block_isa), and on cores that run 512-bit FMAs as two halves also for
    channels that fill their last AVX-512 vector by half or less (17..24 float32), unless an
    instruction set is forced; and every kernel it serves gives the forced widest set's bits:
    conv2d (compiled fast path and general path), the input gradient's direct kernel (its
    outputs are the forward C_in) and the filter gradient's. The channel mixes include partial
    AVX-512 vectors (13, 5 in float64), which the direct kernel's one-vector blocks copy in and
    out with masked loads and stores, and 20 channels (AVX2 on such cores, AVX-512 elsewhere)."""
    names = simd.ISA_NAMES
    widest = _conv_dispatch.default_isa()
    narrow = names.index("avx2") if names[widest] == "avx512" else widest
    halved = narrow if simd.avx512_halves() else widest  # where the kind of core decides
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    block_isa = _conv_dispatch.block_isa
    counts = (1, 8, 9, 15, 16, 17, 24, 25, 32)
    assert [block_isa(f32, c) for c in counts] == [narrow] * 2 + [widest] * 3 + [halved] * 2 + [widest] * 2
    assert [block_isa(f64, c) for c in (1, 4, 5, 7, 8, 12, 16)] == [narrow] * 2 + [widest] * 3 + [halved, widest]
    for name in ISAS:
        with force(isa=name):
            assert block_isa(f32, 1) == block_isa(f32, 24) == block_isa(f64, 8) == names.index(name)
    for dtype in FLOATS:
        for c_in, c_out in ((5, 1), (3, 8), (16, 3), (8, 4), (4, 13), (3, 20), (20, 2)):
            x = _data((3, 11, 10, c_in), dtype, c_in)
            w = _data((3, 3, c_in, c_out), dtype, c_out)
            call = f"{np.dtype(dtype).name} {c_in} -> {c_out} channels"
            fast = convops.conv2d(x, w, 1, "SAME")
            dy = _data(fast.shape, dtype, 7)
            with force(conv2d_backprop_input="direct", conv2d_backprop_filter="direct"):
                general = convops.conv2d(x, w, 1, "SAME")  # anything forced: the general path
                dx = convops.conv2d_backprop_input(x.shape, w, dy, 1, "SAME")
                dw = convops.conv2d_backprop_filter(x, w.shape, dy, 1, "SAME")
            with force(isa=names[widest], conv2d_backprop_input="direct", conv2d_backprop_filter="direct"):
                want = convops.conv2d(x, w, 1, "SAME")
                want_dx = convops.conv2d_backprop_input(x.shape, w, dy, 1, "SAME")
                want_dw = convops.conv2d_backprop_filter(x, w.shape, dy, 1, "SAME")
            assert_exact(fast, want, call, f"forced {names[widest]}")
            assert_exact(general, want, call + " (general path)", f"forced {names[widest]}")
            assert_exact(dx, want_dx, call + " input gradient", f"forced {names[widest]}")
            assert_exact(dw, want_dw, call + " filter gradient", f"forced {names[widest]}")

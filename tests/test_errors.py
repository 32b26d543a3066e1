"""Every bad argument raises the right exception with a message that names the argument (in
backquotes), states the rule and shows what was received. No TensorFlow needed.

ValueError: a value of the right kind that breaks a rule (rank, sizes, negative pads, unknown
strings). TypeError: the wrong kind of thing (bools, floats, strings where ints go; unsupported or
mixed dtypes).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import convops
from convops import arithmetic

X = np.ones((1, 5, 5, 3), dtype=np.float32)  # NHWC
W = np.ones((3, 3, 3, 2), dtype=np.float32)  # HWIO
IMG = np.ones((5, 5), dtype=np.float32)


def conv(**overrides):
    kwargs = dict(input=X, filters=W)
    kwargs.update(overrides)
    return lambda: convops.conv2d(**kwargs)


def max_pool(**overrides):
    kwargs = dict(input=X, ksize=2, strides=1)
    kwargs.update(overrides)
    return lambda: convops.max_pool2d(**kwargs)


def avg_pool(**overrides):
    kwargs = dict(input=X, ksize=2, strides=1)
    kwargs.update(overrides)
    return lambda: convops.avg_pool2d(**kwargs)


def pad(x=np.ones((2, 3), dtype=np.float32), paddings=((1, 1), (1, 1)), **kwargs):
    return lambda: convops.pad(x, paddings, **kwargs)


CASES = [
    # --- conv2d: shapes
    pytest.param(
        conv(input=np.ones((5, 5, 3), np.float32)),
        ValueError,
        r"`input` of conv2d must be 4-D .*got 3-D",
        id="conv-input-rank-3",
    ),
    pytest.param(
        conv(input=np.ones((1, 1, 5, 5, 3), np.float32)),
        ValueError,
        r"`input` of conv2d must be 4-D.*got 5-D",
        id="conv-input-rank-5",
    ),
    pytest.param(
        conv(filters=np.ones((3, 3, 3), np.float32)),
        ValueError,
        r"`filters` .*must be 4-D.*got 3-D",
        id="conv-filters-rank-3",
    ),
    pytest.param(conv(input=IMG), ValueError, r"2-D `input`.*needs a 2-D `filters`", id="conv-2d-input-4d-filters"),
    pytest.param(
        conv(filters=np.ones((3, 3, 2, 2), np.float32)),
        ValueError,
        r"`filters` must have shape \(KH, KW, C_in / groups, C_out\).*C_in .*3.*in-channels 2",
        id="conv-channel-mismatch",
    ),
    pytest.param(
        conv(input=np.ones((1, 5, 5, 4), np.float32), filters=np.ones((3, 3, 2, 3), np.float32)),
        ValueError,
        r"`filters` out-channels \(3\) must be a multiple of the number of groups \(2",
        id="conv-groups-c-out",
    ),
    pytest.param(
        conv(filters=np.ones((0, 3, 3, 2), np.float32)),
        ValueError,
        r"`filters` must have KH, KW.*>= 1",
        id="conv-empty-kernel",
    ),
    # --- conv2d: strides, dilations
    pytest.param(conv(strides=0), ValueError, r"`strides` must be >= 1.*\(0, 0\)", id="conv-stride-0"),
    pytest.param(conv(strides=(1, -2)), ValueError, r"`strides` must be >= 1.*\(1, -2\)", id="conv-stride-negative"),
    pytest.param(
        conv(strides=[2, 1, 1, 1]), ValueError, r"`strides` as a 4-list must be \[1, h, w, 1\]", id="conv-stride-batch"
    ),
    pytest.param(
        conv(strides=[1, 1, 1, 1], data_format="NCHW", input=np.ones((1, 3, 5, 5), np.float32)),
        None,
        None,
        id="conv-stride-4list-nchw-ok",
    ),
    pytest.param(
        conv(strides=[1, 2, 1, 1], data_format="NCHW", input=np.ones((1, 3, 5, 5), np.float32)),
        ValueError,
        r"`strides` as a 4-list must be \[1, 1, h, w\] for NCHW",
        id="conv-stride-channel-nchw",
    ),
    pytest.param(
        conv(strides=[1, 2, 3]),
        ValueError,
        r"`strides` must be an int or a sequence of 1, 2 or 4 ints.*3",
        id="conv-stride-3-values",
    ),
    pytest.param(conv(strides=1.5), TypeError, r"`strides` must be an integer.*1\.5", id="conv-stride-float"),
    pytest.param(conv(strides=2.0), TypeError, r"`strides` must be an integer.*2\.0", id="conv-stride-integral-float"),
    pytest.param(conv(strides=float("nan")), TypeError, r"`strides` must be an integer.*nan", id="conv-stride-nan"),
    pytest.param(conv(strides=True), TypeError, r"`strides` must be an integer, not a bool", id="conv-stride-bool"),
    pytest.param(conv(strides="2"), TypeError, r"`strides` must be an integer.*'2'", id="conv-stride-string"),
    pytest.param(conv(dilations=0), ValueError, r"`dilations` must be >= 1", id="conv-dilation-0"),
    pytest.param(
        conv(dilations=[1, -2]), ValueError, r"`dilations` must be >= 1.*\(1, -2\)", id="conv-dilation-negative"
    ),
    pytest.param(conv(dilations=[1.0, 2]), TypeError, r"`dilations` must be an integer", id="conv-dilation-float"),
    # --- conv2d: padding, data_format
    pytest.param(
        conv(padding="FULL"),
        ValueError,
        r"`padding` must be 'SAME', 'VALID' or explicit.*'FULL'",
        id="conv-padding-unknown",
    ),
    pytest.param(
        conv(padding=((-1, 0), (0, 0))),
        ValueError,
        r"`padding` must be non-negative.*\(-1, 0\)",
        id="conv-padding-negative",
    ),
    pytest.param(
        conv(padding=[[1, 0], [0, 0], [0, 0], [0, 0]]),
        ValueError,
        r"explicit `padding` must not pad the batch or channel",
        id="conv-padding-batch",
    ),
    pytest.param(
        conv(padding=[[0, 0], [1, 1], [1, 1]]),
        ValueError,
        r"explicit `padding` must be 2 pairs.*or 4 pairs",
        id="conv-padding-3-pairs",
    ),
    pytest.param(
        conv(padding=((1.5, 0), (0, 0))), TypeError, r"`padding` must be an integer.*1\.5", id="conv-padding-float"
    ),
    pytest.param(
        conv(padding=((1, 0, 2), (0, 0))),
        ValueError,
        r"each entry of `padding` must be a pair",
        id="conv-padding-triple",
    ),
    pytest.param(
        conv(padding=None), TypeError, r"`padding` must be 'SAME', 'VALID' or a nested sequence", id="conv-padding-none"
    ),
    pytest.param(
        conv(data_format="NCWH"),
        ValueError,
        r"`data_format` must be one of \('NHWC', 'NCHW'\).*'NCWH'",
        id="conv-data-format",
    ),
    # --- conv2d: dtypes
    pytest.param(
        conv(input=X.astype(bool), filters=W.astype(bool)),
        TypeError,
        r"`input` of conv2d must have one of the dtypes float16, float32, float64, int32; got bool",
        id="conv-bool",
    ),
    pytest.param(
        conv(input=X.astype(np.complex64), filters=W.astype(np.complex64)),
        TypeError,
        r"`input` of conv2d must have one of the dtypes.*complex64",
        id="conv-complex",
    ),
    pytest.param(
        conv(input=X.astype(object), filters=W.astype(object)), TypeError, r"`input` .*object", id="conv-object"
    ),
    pytest.param(
        conv(input=X.astype(np.uint8), filters=W.astype(np.uint8)),
        TypeError,
        r"`input` of conv2d must have one of the dtypes.*got uint8",
        id="conv-uint8",
    ),
    pytest.param(
        conv(filters=W.astype(np.float64)),
        TypeError,
        r"`filters` dtype must match `input` dtype.*input float32, filters float64",
        id="conv-mixed-float",
    ),
    pytest.param(
        conv(filters=W.astype(np.int32)),
        TypeError,
        r"`filters` dtype must match `input` dtype.*int32",
        id="conv-mixed-int",
    ),
    pytest.param(conv(input="image"), TypeError, r"`input` .*(real numbers|dtype).*", id="conv-string-input"),
    pytest.param(
        conv(input=[[1.0, 2.0], [3.0]]), ValueError, r"`input` must be a rectangular array-like", id="conv-ragged-list"
    ),
    # --- max_pool2d
    pytest.param(max_pool(ksize=0), ValueError, r"`ksize` must be >= 1", id="max-ksize-0"),
    pytest.param(
        max_pool(ksize=[1, 2, 2, 2]), ValueError, r"`ksize` as a 4-list must be \[1, h, w, 1\]", id="max-ksize-channel"
    ),
    pytest.param(max_pool(ksize=float("nan")), TypeError, r"`ksize` must be an integer.*nan", id="max-ksize-nan"),
    pytest.param(max_pool(ksize=2.0), TypeError, r"`ksize` must be an integer.*2\.0", id="max-ksize-float"),
    pytest.param(max_pool(strides=0), ValueError, r"`strides` must be >= 1", id="max-stride-0"),
    pytest.param(
        max_pool(ksize=(2, 3), padding=((2, 0), (0, 0))),
        ValueError,
        r"explicit `padding` of max_pool2d must be smaller than the window `ksize` \(2, 3\).*\(\(2, 0\), \(0, 0\)\)",
        id="max-padding-equal-window",
    ),
    pytest.param(
        max_pool(ksize=(2, 3), padding=((1, 0), (0, 3))),
        ValueError,
        r"`padding` of max_pool2d must be smaller than the window",
        id="max-padding-over-window",
    ),
    pytest.param(max_pool(ksize=(2, 3), padding=((1, 1), (2, 2))), None, None, id="max-padding-window-minus-1-ok"),
    pytest.param(
        max_pool(padding="full"), ValueError, r"`padding` must be 'SAME', 'VALID'.*'full'", id="max-padding-unknown"
    ),
    pytest.param(
        max_pool(input=np.ones((5, 5, 3), np.float32)),
        ValueError,
        r"`input` of max_pool2d must be 4-D",
        id="max-rank-3",
    ),
    pytest.param(
        max_pool(input=X.astype(np.uint32)),
        TypeError,
        r"`input` of max_pool2d must have one of the dtypes .*uint16; got uint32",
        id="max-uint32",
    ),
    pytest.param(max_pool(input=X.astype(bool)), TypeError, r"`input` of max_pool2d .*got bool", id="max-bool"),
    pytest.param(
        max_pool(input=X.astype(np.complex128)), TypeError, r"`input` of max_pool2d .*complex128", id="max-complex"
    ),
    pytest.param(max_pool(data_format="nhwc"), None, None, id="max-data-format-lower-ok"),
    # --- avg_pool2d
    pytest.param(
        avg_pool(input=X.astype(np.int32)),
        TypeError,
        r"`input` of avg_pool2d must have one of the dtypes float16, float32, float64; got int32",
        id="avg-int32",
    ),
    pytest.param(
        avg_pool(count_include_pad="yes"),
        TypeError,
        r"`count_include_pad` must be a bool.*'yes'",
        id="avg-count-include-pad",
    ),
    pytest.param(avg_pool(ksize=(1, 0)), ValueError, r"`ksize` must be >= 1.*\(1, 0\)", id="avg-ksize-0"),
    pytest.param(
        avg_pool(ksize=2, padding=((2, 0), (0, 0))),
        ValueError,
        r"`padding` of avg_pool2d must be smaller",
        id="avg-padding-window",
    ),
    # --- pad
    pytest.param(
        pad(mode="REFLECT", paddings=((2, 0), (0, 0))),
        ValueError,
        r"`paddings` for REFLECT mode must be <= size - 1 .* = 1 in dimension 0 \(size 2\); got \(2, 0\)",
        id="pad-reflect-too-large",
    ),
    pytest.param(pad(mode="reflect", paddings=((1, 1), (2, 2))), None, None, id="pad-reflect-limit-ok"),
    pytest.param(
        pad(mode="SYMMETRIC", paddings=((0, 0), (0, 4))),
        ValueError,
        r"`paddings` for SYMMETRIC mode must be <= size = 3 in dimension 1",
        id="pad-symmetric-too-large",
    ),
    pytest.param(
        pad(mode="WRAP"),
        ValueError,
        r"`mode` must be one of \('CONSTANT', 'REFLECT', 'SYMMETRIC', 'EDGE', 'CIRCULAR', 'MEAN'\).*'WRAP'",
        id="pad-mode-unknown",
    ),
    pytest.param(pad(mode=None), TypeError, r"`mode` must be a string", id="pad-mode-none"),
    pytest.param(
        pad(paddings=((1, -1), (0, 0))),
        ValueError,
        r"`paddings` must be non-negative.*\(1, -1\).*dimension 0",
        id="pad-negative",
    ),
    pytest.param(
        pad(paddings=((1, 1),)),
        ValueError,
        r"`paddings` must have shape \[rank, 2\] = \[2, 2\].*got 1",
        id="pad-too-few-pairs",
    ),
    pytest.param(pad(paddings=((1.5, 1), (0, 0))), TypeError, r"`paddings` must be an integer.*1\.5", id="pad-float"),
    pytest.param(
        pad(paddings=((float("nan"), 1), (0, 0))), TypeError, r"`paddings` must be an integer.*nan", id="pad-nan"
    ),
    pytest.param(
        pad(paddings=np.array([[1.0, 1.0], [0.0, 0.0]])),
        TypeError,
        r"`paddings` must hold integers.*float64",
        id="pad-float-array",
    ),
    pytest.param(pad(paddings=3), TypeError, r"`paddings` must be a sequence of \(before, after\) pairs", id="pad-int"),
    pytest.param(
        pad(x=np.ones(3, np.complex64), paddings=((1, 1),)),
        TypeError,
        r"`input` of pad must have a boolean, integer or floating dtype; got complex64",
        id="pad-complex",
    ),
    pytest.param(
        pad(x=np.array([object()] * 3), paddings=((1, 1),)), TypeError, r"`input` of pad .*object", id="pad-object"
    ),
    pytest.param(
        pad(x=np.float32(1.0), paddings=()), ValueError, r"`input` of pad must have rank >= 1", id="pad-scalar"
    ),
    pytest.param(
        pad(constant_values=[1, 2]), ValueError, r"`constant_values` must be a scalar.*\(2,\)", id="pad-constant-array"
    ),
    pytest.param(
        pad(x=np.ones((2, 3), np.int32), constant_values=float("nan")),
        ValueError,
        r"`constant_values`",
        id="pad-constant-nan-int",
    ),
    pytest.param(
        pad(constant_values="a"), TypeError, r"`constant_values` must be a real number", id="pad-constant-str"
    ),
    pytest.param(
        pad(x=np.ones((0, 3), np.float32), mode="EDGE"),
        ValueError,
        r"EDGE padding needs a non-empty dimension.*dimension 0",
        id="pad-edge-empty",
    ),
    pytest.param(
        pad(x=np.ones((0, 3), np.float32), mode="MEAN"),
        ValueError,
        r"MEAN padding needs a non-empty `input` along every padded dimension",
        id="pad-mean-empty",
    ),
    # --- threads and arithmetic
    pytest.param(
        lambda: convops.set_num_threads(0),
        ValueError,
        r"`n` \(number of threads\) must be between 1 and .*; got 0",
        id="threads-0",
    ),
    pytest.param(lambda: convops.set_num_threads(1.5), TypeError, r"`n` must be an integer", id="threads-float"),
    pytest.param(
        lambda: arithmetic.same_padding(5, 0), ValueError, r"`kernel_size` must be >= 1; got 0", id="arith-kernel-0"
    ),
    pytest.param(
        lambda: arithmetic.conv_output_size(5, 3, stride=0), ValueError, r"`stride` must be >= 1", id="arith-stride-0"
    ),
    pytest.param(
        lambda: arithmetic.conv_output_size(-1, 3),
        ValueError,
        r"`input_size` must be >= 0; got -1",
        id="arith-negative-input",
    ),
    pytest.param(
        lambda: arithmetic.conv_output_size(5, 2.5),
        TypeError,
        r"`kernel_size` must be an integer",
        id="arith-float-kernel",
    ),
    pytest.param(
        lambda: arithmetic.resolve_padding("FULL", 5, 3),
        ValueError,
        r"`padding` must be 'SAME', 'VALID'",
        id="arith-padding",
    ),
    pytest.param(
        lambda: arithmetic.effective_kernel_size(3, dilation=0),
        ValueError,
        r"`dilation` must be >= 1",
        id="arith-dilation-0",
    ),
    pytest.param(
        lambda: arithmetic.conv2d_params(3, 3, 4, groups=2),
        ValueError,
        r"`in_channels` \(3\) and `out_channels` \(4\) must be multiples of `groups` \(2\)",
        id="arith-groups",
    ),
]


@pytest.mark.parametrize("call, error, message", CASES)
def test_bad_argument_is_refused_with_a_clear_message(call, error, message):
    if error is None:
        call()  # the boundary just inside the rule is accepted
        return
    with pytest.raises(error, match=message) as info:
        call()
    assert re.search(r"`\w+`", str(info.value)), f"the message names no argument in backquotes: {info.value}"


def _ops():
    return {
        "conv2d": lambda x: convops.conv2d(x, W),
        "max_pool2d": lambda x: convops.max_pool2d(x, 2, 1),
        "avg_pool2d": lambda x: convops.avg_pool2d(x, 2, 1),
        "pad": lambda x: convops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]),
    }


@pytest.mark.parametrize("op", sorted(_ops()))
def test_error_messages_name_the_argument_and_what_was_received(op):
    """The argument's name in backquotes and the offending value both appear, for every op."""
    with pytest.raises(TypeError) as info:
        _ops()[op](X.astype(np.complex64))
    text = str(info.value)
    assert "`input`" in text and "complex64" in text, text


@pytest.mark.parametrize("op", ["conv2d", "max_pool2d", "avg_pool2d"])
def test_a_failed_call_leaves_no_state_behind(op):
    """After an error, the same op with good arguments still works (no half-set global state)."""
    with pytest.raises(ValueError):
        _ops()[op](np.ones((5, 5, 3), np.float32))
    assert _ops()[op](X).dtype == np.float32


# --------------------------------------------------------------------------- Python-list operands

# A Python list takes the other operand's dtype (tf.convert_to_tensor's rule), so an int32 conv2d
# given a list holding 2**31 must refuse it by name, never wrap it to int32.min.
_INT32 = np.iinfo(np.int32)
_EDGES = [
    int(_INT32.min) - 1,
    int(_INT32.min),
    int(_INT32.min) + 1,
    -1,
    0,
    1,
    int(_INT32.max) - 1,
    int(_INT32.max),
    int(_INT32.max) + 1,
    2**40,
    -(2**40),
    2**63 - 1,
]


@pytest.mark.parametrize(
    "which, value",
    [
        ("filters", 2**31),
        ("filters", -(2**31) - 1),
        ("filters", 2**40),
        ("filters", 2**63 - 1),
        ("input", 2**31),
        ("input", -(2**31) - 1),
    ],
)
def test_int32_conv2d_refuses_list_values_outside_int32(which, value):
    x = np.ones((1, 2, 2, 1), np.int32)
    w = np.ones((1, 1, 1, 1), np.int32)
    if which == "filters":
        call = lambda: convops.conv2d(x, [[[[value]]]])  # noqa: E731
    else:
        call = lambda: convops.conv2d([[[[value]], [[1]]], [[[1]], [[1]]]], w)  # noqa: E731
    with pytest.raises(ValueError, match=rf"`{which}` holds values outside the range of int32") as info:
        call()
    assert str(value) in str(info.value), f"the message does not show the value received: {info.value}"


@given(
    values=st.lists(st.one_of(st.sampled_from(_EDGES), st.integers(-(2**40), 2**40)), min_size=4, max_size=4),
    which=st.sampled_from(["input", "filters"]),
)
def test_list_operands_with_extreme_integers_are_exact_or_refused(values, which):
    """Either every value fits int32 and the list gives the same bits as an int32 array, or the
    call raises ValueError naming the list's argument: nothing in between (no silent wrap)."""
    array = np.array([[-1, 2], [3, -4]], np.int32)
    shaped = [[[[v] for v in values[:2]], [[v] for v in values[2:]]]]  # (1, 2, 2, 1)
    kernel = [[[[v]] for v in values[:2]], [[[v]] for v in values[2:]]]  # (2, 2, 1, 1)
    fits = all(_INT32.min <= v <= _INT32.max for v in values)
    if which == "input":
        call = lambda: convops.conv2d(shaped, array.reshape(2, 2, 1, 1))  # noqa: E731
        want = lambda: convops.conv2d(np.array(shaped, np.int64).astype(np.int32), array.reshape(2, 2, 1, 1))  # noqa: E731
    else:
        call = lambda: convops.conv2d(array.reshape(1, 2, 2, 1), kernel)  # noqa: E731
        want = lambda: convops.conv2d(array.reshape(1, 2, 2, 1), np.array(kernel, np.int64).astype(np.int32))  # noqa: E731
    if fits:
        got = call()
        assert got.dtype == np.int32 and got.tobytes() == want().tobytes(), (values, which)
    else:
        with pytest.raises(ValueError, match=rf"`{which}` holds values outside the range of int32"):
            call()

"""A newcomer's first calls: what a student with a uint8 image, a PyTorch user with OIHW weights
or a TensorFlow user pasting ``tf.nn`` code tries first, and what convops answers.

* ``import convops`` is enough to reach ``convops.nn`` and ``convops.datasets`` (loaded lazily).
* The learner's 2-D form takes integer images and kernels (computed as float32, values kept).
* The TF-shaped 4-D call keeps TensorFlow's dtype strictness, but every refusal shows its fix.
* Non-native byte order (``>f4``) is the same dtype everywhere.
* PyTorch's OIHW filters: ``filters_format="OIHW"``; a warning or an error when NCHW data comes
  with filters that read better as OIHW; a warning when pooling gets an NCHW-looking batch
  without ``data_format``.
* TensorFlow's positional order and its ``name=`` keyword.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import convops
import oracle
from checks import assert_within, conv_bound, reduction_length

RNG = np.random.default_rng(20261203)


def _no_warning(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call()


# --------------------------------------------------------------------------- reachable submodules


def test_submodules_are_reachable_after_a_bare_import_and_load_lazily():
    code = (
        "import sys, convops\n"
        "lazy = [m for m in ('convops.nn', 'convops.datasets') if m in sys.modules]\n"
        "assert not lazy, f'imported eagerly: {lazy}'\n"
        "assert convops.nn.Sequential.__name__ == 'Sequential'\n"
        "assert callable(convops.datasets.load_digits)\n"
        "assert {'nn', 'datasets'} <= set(dir(convops))\n"
        "try:\n"
        "    convops.no_such_thing\n"
        "except AttributeError as exc:\n"
        "    assert 'no_such_thing' in str(exc)\n"
        "else:\n"
        "    raise SystemExit('no AttributeError')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- the learner's 2-D form


@pytest.mark.parametrize("image_dtype", ["uint8", "int16", "bool", "uint16"])
@pytest.mark.parametrize("kernel", ["list", "int8", "float32"])
def test_2d_form_takes_small_integer_images_and_kernels_as_float32(image_dtype, kernel):
    image = (RNG.random((12, 10)) * 255).astype(image_dtype)
    edges = [[-1, 0, 1]] * 3
    k = {"list": edges, "int8": np.array(edges, np.int8), "float32": np.array(edges, np.float32)}[kernel]
    got = convops.conv2d(image, k)
    want = convops.conv2d(image.astype(np.float32), np.array(edges, np.float32))
    assert got.dtype == np.float32 and got.shape == (10, 8)
    np.testing.assert_array_equal(got, want)
    # values are not rescaled: the float32 result is TensorFlow's on the same numbers
    x4, w4 = image.astype(np.float32)[None, :, :, None], np.array(edges, np.float32)[:, :, None, None]
    tf_want = oracle.conv2d(x4, w4, (1, 1), "VALID", (1, 1))
    np.testing.assert_array_equal(got, tf_want[0, :, :, 0])


def test_2d_form_computes_wide_integers_in_float64_where_float32_would_round():
    image = np.full((5, 5), 2**24 + 1, np.int64)  # not a float32: it would round to 2**24
    got = convops.conv2d(image, np.array([[1]], np.int64))
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, np.full((5, 5), 2.0**24 + 1))
    # a list has no dtype of its own: small values keep the uint8 image in float32
    assert convops.conv2d(np.ones((4, 4), np.uint8), [[1, -1]]).dtype == np.float32
    assert convops.conv2d(np.ones((4, 4), np.uint8), [[1, 2**20]]).dtype == np.float64
    avg = convops.avg_pool2d(np.full((2, 2), 2**25 + 1, np.int64), 1, 1)
    assert avg.dtype == np.float64 and avg[0, 0] == 2**25 + 1


def test_2d_form_with_a_float64_operand_computes_in_float64():
    image = RNG.integers(0, 256, (9, 9)).astype(np.uint8)
    kernel = RNG.standard_normal((3, 3))
    got = convops.conv2d(image, kernel)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, convops.conv2d(image.astype(np.float64), kernel))


def test_2d_pooling_of_uint8_images():
    image = RNG.integers(0, 256, (8, 8)).astype(np.uint8)
    assert convops.max_pool2d(image, 2, 2).dtype == np.uint8  # the max of integers is exact
    avg = convops.avg_pool2d(image, 2, 2)
    assert avg.dtype == np.float32
    np.testing.assert_array_equal(avg, convops.avg_pool2d(image.astype(np.float32), 2, 2))


def test_2d_form_keeps_valid_integer_pairs_as_they_are():
    image = RNG.integers(-5, 5, (6, 6)).astype(np.int32)
    assert convops.conv2d(image, np.ones((2, 2), np.int32)).dtype == np.int32  # TF's int32 conv


# --------------------------------------------------------------------------- refusals show their fix


def test_4d_uint8_is_refused_with_the_conversion_to_type():
    x = RNG.integers(0, 256, (1, 8, 8, 1)).astype(np.uint8)
    with pytest.raises(TypeError, match=r"`input` of conv2d .*got uint8\. Convert it first: `x\.astype\('float32'\)`"):
        convops.conv2d(x, np.ones((3, 3, 1, 1), np.float32))
    # a list kernel does not turn that into a range error about uint8
    with pytest.raises(TypeError, match=r"got uint8\. Convert it first"):
        convops.conv2d(x, [[[[-1.0]]]])
    with pytest.raises(TypeError, match=r"`filters` of conv2d .*got int64\. Convert it first"):
        convops.conv2d(x.astype(np.float32), np.ones((3, 3, 1, 1), np.int64))
    with pytest.raises(TypeError, match=r"`input` of avg_pool2d .*got int64\. Convert it first"):
        convops.avg_pool2d(np.ones((1, 4, 4, 1), np.int64), 2, 2)


@pytest.mark.parametrize(
    "op", [lambda x: convops.conv2d(x, np.ones((3, 3, 3, 1), np.float32)), lambda x: convops.max_pool2d(x, 2, 2)]
)
def test_an_rgb_image_without_batch_axis_is_told_to_use_x_none(op):
    with pytest.raises(ValueError, match=r"got 3-D with shape \(16, 16, 3\)\. For one image .*pass `x\[None\]`"):
        op(np.ones((16, 16, 3), np.float32))


# --------------------------------------------------------------------------- byte order


@pytest.mark.parametrize(
    "call",
    [
        lambda x, w: convops.conv2d(x, w, padding="SAME"),
        lambda x, w: convops.max_pool2d(x, 2, 2),
        lambda x, w: convops.avg_pool2d(x, 3, 2, "SAME"),
        lambda x, w: convops.pad(x, [[0, 0], [1, 2], [2, 1], [0, 0]], "REFLECT"),
        lambda x, w: convops.gradients.conv2d_backprop_filter(x, w.shape, convops.conv2d(x, w)),
        lambda x, w: convops.gradients.max_pool2d_grad(x, convops.max_pool2d(x, 2, 2), 2, 2),
    ],
    ids=["conv2d", "max_pool2d", "avg_pool2d", "pad", "conv2d_backprop_filter", "max_pool2d_grad"],
)
@pytest.mark.parametrize("dtype", ["f4", "f8"])
def test_big_endian_is_the_same_dtype(call, dtype):
    x = RNG.standard_normal((2, 7, 6, 3)).astype(dtype)
    w = RNG.standard_normal((3, 3, 3, 2)).astype(dtype)
    want = call(x, w)
    got = call(x.astype(">" + dtype), w.astype(">" + dtype))
    assert got.dtype == want.dtype and got.dtype.isnative
    np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------- PyTorch's layouts


def test_oihw_filters_give_tensorflows_result_on_the_hwio_transpose():
    x = RNG.standard_normal((2, 3, 11, 9)).astype(np.float32)  # NCHW
    w_oihw = RNG.standard_normal((8, 3, 3, 3)).astype(np.float32)  # torch's conv.weight
    got = _no_warning(lambda: convops.conv2d(x, w_oihw, 2, "SAME", data_format="NCHW", filters_format="OIHW"))
    w_hwio = w_oihw.transpose(2, 3, 1, 0)
    want = oracle.conv2d(x.transpose(0, 2, 3, 1), w_hwio, (2, 2), "SAME", (1, 1)).transpose(0, 3, 1, 2)
    x_nhwc = np.abs(x).transpose(0, 2, 3, 1)
    magnitude = oracle.conv2d(x_nhwc, np.abs(w_hwio), (2, 2), "SAME", (1, 1)).transpose(0, 3, 1, 2)
    assert got.shape == (2, 8, 6, 5)
    assert_within(got, want, conv_bound(want, magnitude, reduction_length(w_hwio.shape), np.float32), "OIHW conv2d")
    # the same weights declared HWIO are TensorFlow's reading: a different (8x3 kernel) conv
    hwio = _no_warning(lambda: convops.conv2d(x, w_oihw, data_format="NCHW", filters_format="HWIO"))
    assert hwio.shape == (2, 3, 4, 7)


def test_nchw_with_filters_that_read_as_oihw_warns_and_still_follows_tensorflow():
    x = np.ones((1, 3, 64, 64), np.float32)
    with pytest.warns(UserWarning, match=r"read as HWIO \(KH=8, KW=3.*PyTorch OIHW.*filters_format='OIHW'"):
        y = convops.conv2d(x, np.ones((8, 3, 3, 3), np.float32), data_format="NCHW")
    assert y.shape == (1, 3, 57, 62)  # TensorFlow's answer, not silently another one


def test_nchw_with_filters_that_only_fit_as_oihw_is_an_error_saying_so():
    x = np.ones((1, 4, 16, 16), np.float32)
    with pytest.raises(ValueError, match=r"C_in=4 channels: .*PyTorch OIHW weights .*filters_format='OIHW'"):
        convops.conv2d(x, np.ones((16, 4, 3, 3), np.float32), data_format="NCHW")


def test_square_hwio_filters_and_nhwc_data_do_not_warn():
    _no_warning(
        lambda: convops.conv2d(np.ones((1, 3, 8, 8), np.float32), np.ones((3, 3, 3, 4), np.float32), data_format="NCHW")
    )
    _no_warning(lambda: convops.conv2d(np.ones((1, 8, 8, 3), np.float32), np.ones((8, 3, 3, 3), np.float32)))


def test_bad_filters_format_names_the_argument():
    with pytest.raises(ValueError, match=r"`filters_format` must be one of \('HWIO', 'OIHW'\); got 'IOHW'"):
        convops.conv2d(np.ones((1, 4, 4, 1), np.float32), np.ones((1, 1, 1, 1), np.float32), filters_format="IOHW")


@pytest.mark.parametrize("op", [convops.max_pool2d, convops.avg_pool2d])
def test_pooling_an_nchw_looking_batch_without_data_format_warns(op):
    x = RNG.standard_normal((2, 3, 32, 32)).astype(np.float32)
    with pytest.warns(UserWarning, match=r"read as NHWC \(H=3, W=32, C=32\).*looks like NCHW.*data_format='NCHW'"):
        op(x, 2, 2)
    nchw = _no_warning(lambda: op(x, 2, 2, data_format="NCHW"))
    assert nchw.shape == (2, 3, 16, 16)
    _no_warning(lambda: op(x, 1, 1, data_format="NHWC"))  # said explicitly: no warning
    _no_warning(lambda: op(np.ones((2, 32, 32, 3), np.float32), 2, 2))  # an ordinary NHWC batch


# --------------------------------------------------------------------------- TensorFlow's habits


def test_tensorflows_positional_order_is_named_in_the_error():
    x, w = np.ones((1, 8, 8, 1), np.float32), np.ones((3, 3, 1, 1), np.float32)
    with pytest.raises(
        TypeError, match=r"tf\.nn\.conv2d's is \(input, filters, strides, padding, data_format, dilations\)"
    ):
        convops.conv2d(x, w, 1, "SAME", "NHWC", 1)


@pytest.mark.parametrize(
    "call",
    [
        lambda: convops.conv2d(np.ones((1, 5, 5, 1), "f4"), np.ones((3, 3, 1, 1), "f4"), name="conv1"),
        lambda: convops.conv2d_transpose(
            np.ones((1, 2, 2, 1), "f4"), np.ones((2, 2, 1, 1), "f4"), (1, 4, 4, 1), 2, name="up"
        ),
        lambda: convops.max_pool2d(np.ones((1, 4, 4, 1), "f4"), 2, 2, name="pool"),
        lambda: convops.avg_pool2d(np.ones((1, 4, 4, 1), "f4"), 2, 2, name="pool"),
        lambda: convops.max_pool2d_with_argmax(np.ones((1, 4, 4, 1), "f4"), 2, 2, name="pool"),
        lambda: convops.pad(np.ones((2, 2), "f4"), [[1, 1], [1, 1]], name="pad"),
    ],
    ids=["conv2d", "conv2d_transpose", "max_pool2d", "avg_pool2d", "max_pool2d_with_argmax", "pad"],
)
def test_tensorflows_name_keyword_is_accepted(call):
    assert call() is not None


def test_name_must_be_a_string():
    with pytest.raises(TypeError, match=r"`name` must be a string or None .*got 3 \(int\)"):
        convops.max_pool2d(np.ones((1, 4, 4, 1), "f4"), 2, 2, name=3)

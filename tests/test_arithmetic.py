"""convops.arithmetic against brute force and against TensorFlow.

Output sizes are checked by counting window positions one by one; SAME padding by TensorFlow
itself (its SAME result equals its explicit-padding result with our pads); receptive fields by
tracking, layer by layer, which input pixels each unit sees; parameter counts by counting the
entries of the weight arrays and, for the tutorial's network, by Keras.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import oracle
from convops import arithmetic

sizes = st.integers(0, 40)
kernels = st.integers(1, 7)
strides = st.integers(1, 5)
dilations = st.integers(1, 4)
pads = st.tuples(st.integers(0, 6), st.integers(0, 6))


def _windows(i: int, k: int, s: int, d: int, before: int, after: int) -> int:
    """Count output positions by walking the window along the padded axis."""
    span = (k - 1) * d + 1
    count, start = 0, 0
    while start + span <= i + before + after:
        count += 1
        start += s
    return count


@given(i=sizes, k=kernels, s=strides, d=dilations, p=pads)
@example(i=2, k=3, s=1, d=1, p=(0, 0))  # kernel larger than the input: 0
@example(i=8, k=3, s=2, d=1, p=(0, 0))  # the floor drops the last row
def test_conv_output_size_counts_window_positions(i, k, s, d, p):
    assert arithmetic.conv_output_size(i, k, s, p, d) == _windows(i, k, s, d, *p)
    assert arithmetic.conv_output_size(i, k, s, "VALID", d) == _windows(i, k, s, d, 0, 0)


@given(i=sizes, k=kernels, s=strides, d=dilations)
def test_same_padding_properties(i, k, s, d):
    """SAME: ceil(i / s) outputs; the least total padding that gives them; the odd pixel after."""
    before, after = arithmetic.same_padding(i, k, s, d)
    assert 0 <= before <= after <= before + 1
    assert arithmetic.conv_output_size(i, k, s, "SAME", d) == -(-i // s)
    assert _windows(i, k, s, d, before, after) == -(-i // s)
    if before + after > 0 and i > 0:
        # one pixel less and the last window would not fit
        assert _windows(i, k, s, d, before, after - 1) < -(-i // s)


@given(i=sizes, k=kernels, s=strides, p=pads)
def test_pool_output_size_is_conv_output_size_without_dilation(i, k, s, p):
    assert arithmetic.pool_output_size(i, k, s, p) == _windows(i, k, s, 1, *p)


@pytest.mark.tf
@given(
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    sh=st.integers(1, 4),
    sw=st.integers(1, 4),
    dh=st.integers(1, 3),
    dw=st.integers(1, 3),
)
@example(h=5, w=6, kh=2, kw=4, sh=2, sw=2, dh=1, dw=1)  # even kernels, stride 2: pads differ by 1
def test_same_padding_and_output_size_match_tensorflow(h, w, kh, kw, sh, sw, dh, dw):
    """TF's SAME conv equals TF's conv with our explicit pads, and has our output size. Values are
    small integers in float64, so any summation order gives the same exact result."""
    rng = np.random.default_rng(h * 1000 + w)
    x = rng.integers(-3, 4, size=(1, h, w, 2)).astype(np.float64)
    f = rng.integers(-3, 4, size=(kh, kw, 2, 1)).astype(np.float64)
    explicit = (arithmetic.same_padding(h, kh, sh, dh), arithmetic.same_padding(w, kw, sw, dw))
    same = oracle.conv2d(x, f, (sh, sw), "SAME", (dh, dw))
    padded = oracle.conv2d(x, f, (sh, sw), explicit, (dh, dw))
    np.testing.assert_array_equal(same, padded, err_msg=f"same_padding gave {explicit}")
    assert same.shape[1:3] == (
        arithmetic.conv_output_size(h, kh, sh, "SAME", dh),
        arithmetic.conv_output_size(w, kw, sw, "SAME", dw),
    )
    if (kh - 1) * dh + 1 <= h and (kw - 1) * dw + 1 <= w:
        valid = oracle.conv2d(x, f, (sh, sw), "VALID", (dh, dw))
        assert valid.shape[1:3] == (
            arithmetic.conv_output_size(h, kh, sh, "VALID", dh),
            arithmetic.conv_output_size(w, kw, sw, "VALID", dw),
        )


@pytest.mark.tf
@given(h=st.integers(1, 12), k=st.integers(1, 5), s=st.integers(1, 4), padding=st.sampled_from(["SAME", "VALID"]))
def test_pool_output_size_matches_tensorflow(h, k, s, padding):
    if padding == "VALID" and k > h:
        return  # an empty axis: compared with the reference in test_pool.py, not with TF
    x = np.zeros((1, h, h + 1, 1), dtype=np.float32)
    out = oracle.max_pool2d(x, (k, k), (s, s), padding)
    assert out.shape[1:3] == (
        arithmetic.pool_output_size(h, k, s, padding),
        arithmetic.pool_output_size(h + 1, k, s, padding),
    )


# --------------------------------------------------------------------------- receptive fields


def _field(layers, pads, layer_index, unit):
    """(first, last) input pixel seen by ``unit`` of layer ``layer_index`` (0 = the input itself),
    found by expanding every tap of every window: no recurrence formula involved."""
    if layer_index == 0:
        return unit, unit
    k, s, *rest = layers[layer_index - 1]
    d = rest[0] if rest else 1
    p = pads[layer_index - 1]
    taps = [_field(layers, pads, layer_index - 1, unit * s - p + t * d) for t in range(k)]
    return min(t[0] for t in taps), max(t[1] for t in taps)


layer_stacks = st.lists(st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 2)), min_size=1, max_size=4)


@given(layers=layer_stacks, data=st.data())
def test_receptive_fields_by_expanding_windows(layers, data):
    pads = data.draw(st.lists(st.integers(0, 2), min_size=len(layers), max_size=len(layers)))
    fields = arithmetic.receptive_fields(layers, pads)
    for index, field in enumerate(fields, start=1):
        first, last = _field(layers, pads, index, 0)
        second = _field(layers, pads, index, 1)[0]
        assert field.size == last - first + 1, (index, field)
        assert field.jump == second - first, (index, field)
        assert field.start == (first + last) / 2, (index, field)


def test_receptive_fields_of_the_tutorial_network():
    """conv 3, pool 2, conv 3, pool 2, conv 3: 3/1, 4/2, 8/2, 10/4, 18/4 (tests/TF-SEMANTICS.md,
    "The MNIST convnet") — the
    tutorial's "7x7 after one pooling" is really 8x8."""
    stack = [(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)]
    assert [(rf.size, rf.jump) for rf in arithmetic.receptive_fields(stack)] == [
        (3, 1),
        (4, 2),
        (8, 2),
        (10, 4),
        (18, 4),
    ]
    assert arithmetic.receptive_field(stack) == 18
    assert arithmetic.receptive_field(stack[:3]) == 8


# --------------------------------------------------------------------------- parameters, flops


@given(kh=kernels, kw=kernels, groups=st.integers(1, 3), c=st.integers(1, 4), o=st.integers(1, 4), bias=st.booleans())
def test_conv2d_params_counts_weights(kh, kw, groups, c, o, bias):
    weights = np.zeros((kh, kw, c, o * groups))  # HWIO with C_in / groups in-channels
    expected = weights.size + (o * groups if bias else 0)
    assert arithmetic.conv2d_params((kh, kw), c * groups, o * groups, use_bias=bias, groups=groups) == expected
    if kh == kw:
        assert arithmetic.conv2d_params(kh, c * groups, o * groups, use_bias=bias, groups=groups) == expected


@given(n_in=st.integers(1, 50), n_out=st.integers(1, 50), bias=st.booleans())
def test_dense_params_counts_weights(n_in, n_out, bias):
    assert arithmetic.dense_params(n_in, n_out, use_bias=bias) == np.zeros((n_in, n_out)).size + (n_out if bias else 0)


@given(
    ho=st.integers(0, 6),
    wo=st.integers(0, 6),
    kh=kernels,
    kw=kernels,
    groups=st.integers(1, 2),
    c=st.integers(1, 3),
    o=st.integers(1, 3),
)
def test_conv2d_flops_counts_multiply_adds(ho, wo, kh, kw, groups, c, o):
    """Two flops per multiply-add, counted one output element at a time."""
    multiply_adds = sum(kh * kw * c for _ in range(ho * wo * o * groups))
    assert arithmetic.conv2d_flops((ho, wo), (kh, kw), c * groups, o * groups, groups=groups) == 2 * multiply_adds


@pytest.mark.tf
def test_parameter_counts_match_keras_for_the_tutorial_network():
    """Keras counts 320 + 18,496 + 73,856 + 11,530 = 104,202 for the tutorial's network."""
    oracle.load()
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(128, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    ours = [
        arithmetic.conv2d_params(3, 1, 32),
        arithmetic.conv2d_params(3, 32, 64),
        arithmetic.conv2d_params(3, 64, 128),
    ]
    assert ours == [layer.count_params() for layer in convs]
    flat = model.layers[-2].output.shape[-1]
    assert flat == 3 * 3 * 128
    assert sum(ours) + arithmetic.dense_params(flat, 10) == model.count_params() == 104_202


def _same_windows(i: int, k: int, s: int, d: int) -> int:
    """SAME by its definition: TF's total padding, then counting window positions."""
    span = (k - 1) * d + 1
    out = -(-i // s)
    total = max((out - 1) * s + span - i, 0)
    return _windows(i, k, s, d, total // 2, total - total // 2)


@given(
    o=st.integers(0, 12),
    k=kernels,
    s=strides,
    d=dilations,
    padding=st.one_of(st.sampled_from(["SAME", "VALID", "same"]), pads),
)
@example(o=0, k=3, s=1, d=1, padding="VALID")  # the kernel does not fit: inputs 0..2
@example(o=1, k=1, s=1, d=1, padding=(2, 2))  # padding alone gives 5 outputs: no input gives 1
@example(o=0, k=5, s=2, d=1, padding="SAME")  # only the empty input gives 0
def test_input_size_range_is_every_input_size_giving_the_output(o, k, s, d, padding):
    """Brute force: walk every input size that could give ``o`` (any larger input gives a
    larger output) and keep those whose counted windows are ``o``."""
    limit = (o + 1) * s + (k - 1) * d + 2
    if isinstance(padding, str) and padding.upper() == "SAME":
        want = [i for i in range(limit) if _same_windows(i, k, s, d) == o]
    else:
        before, after = (0, 0) if isinstance(padding, str) else padding
        want = [i for i in range(limit) if _windows(i, k, s, d, before, after) == o]
    got = arithmetic.input_size_range(o, k, s, d, padding)
    assert isinstance(got, range) and got.step == 1
    assert list(got) == want, (o, k, s, d, padding)


def test_input_size_range_handles_huge_sizes_and_refuses_bad_arguments():
    got = arithmetic.input_size_range(2**62, 3, 2**40, 1, "VALID")
    assert got.start == (2**62 - 1) * 2**40 + 3 and got.stop == 2**62 * 2**40 + 3
    assert arithmetic.conv_output_size(got.start, 3, 2**40) == 2**62
    assert arithmetic.conv_output_size(got.stop - 1, 3, 2**40) == 2**62
    assert arithmetic.conv_output_size(got.stop, 3, 2**40) == 2**62 + 1
    for kwargs, kind, name in [
        (dict(output_size=-1), ValueError, "output_size"),
        (dict(output_size=2.0), TypeError, "output_size"),
        (dict(kernel_size=0), ValueError, "kernel_size"),
        (dict(stride="2"), TypeError, "stride"),
        (dict(dilation=True), TypeError, "dilation"),
        (dict(padding="FULL"), ValueError, "padding"),
        (dict(padding=(1, -1)), ValueError, "padding"),
        (dict(padding=None), ValueError, "padding"),
    ]:
        args = dict(output_size=3, kernel_size=3, stride=1, dilation=1, padding="VALID") | kwargs
        with pytest.raises(kind, match=f"`{name}`"):
            arithmetic.input_size_range(**args)

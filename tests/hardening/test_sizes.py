"""Sizes: requests larger than memory fail fast, sizes beyond 32-bit indices are right.

* An output (or the contiguous copy of an input) that cannot fit in this machine's memory must
  raise ``MemoryError`` at once, before anything is computed: no thrashing, no OOM kill. The
  requests here are ~10^4 times this machine's 24 GiB (and beyond AddressSanitizer's 1 TiB
  allocation limit, so they behave the same under scripts/sanitize.sh); zero-strided
  ``np.broadcast_to`` views make the huge *inputs* free.
* An output whose byte size does not fit in ``intp`` cannot even be described to NumPy: refused
  with a ValueError that says so.
* Element offsets beyond 2**31 - 1 (where a C ``int`` index would wrap) are computed right:
  checked on pad and max-pool with ~2.1e9-element int8 arrays (~2.2 GB each, one at a time).
  conv2d at that size would need 8.6 GB (float32); its kernels were reviewed instead: every index
  is Py_ssize_t/ptrdiff_t, and every BLAS dimension (a C int) is chunked or checked below 2**31.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import convops

#: Seconds a refusal may take (it should take microseconds; CI machines are noisy and shared).
FAST = 10.0
#: Resident-memory growth allowed while an absurd request is refused.
RSS_SLACK = 256 << 20

F32 = np.float32


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def huge(shape, dtype=F32, value=0):
    """A read-only array of any shape that costs one element of memory (all strides 0)."""
    return np.broadcast_to(np.asarray(value, dtype=dtype), shape)


N = 10**4
BIG_PAD = [[0, 0], [10**6, 10**6], [10**6, 10**6], [0, 0]]  # a million cells on each side of H and W
W11 = np.ones((1, 1, 1, 1), F32)
CUBE = (N, N, N, 1)  # 10^12 elements: 4 TB of float32

ABSURD_CALLS = {
    # outputs of 4e16 elements (1.6e17 bytes) from small or free inputs
    "conv2d, explicit padding 10**6 on a batch of 10**4": lambda: convops.conv2d(
        huge((N, 1, 1, 1)), W11, padding=BIG_PAD
    ),
    "conv2d, a 4 TB broadcast input": lambda: convops.conv2d(huge(CUBE), W11),
    "conv2d int32, a 4 TB broadcast input": lambda: convops.conv2d(huge(CUBE, np.int32), W11.astype(np.int32)),
    "conv2d float16, a 2 TB broadcast input": lambda: convops.conv2d(huge(CUBE, np.float16), W11.astype(np.float16)),
    "max_pool2d, a 4 TB broadcast input": lambda: convops.max_pool2d(huge(CUBE), 1, 1),
    "max_pool2d int8, 1 TB": lambda: convops.max_pool2d(huge(CUBE, np.int8), 1, 1),
    "avg_pool2d, a 4 TB broadcast input": lambda: convops.avg_pool2d(huge(CUBE), 1, 1),
    "avg_pool2d float16, 2 TB": lambda: convops.avg_pool2d(huge(CUBE, np.float16), 1, 1),
    "pad CONSTANT 10**6 on a batch of 10**4": lambda: convops.pad(np.zeros((N, 1, 1, 1), F32), BIG_PAD),
    "pad REFLECT of a 4 TB broadcast input": lambda: convops.pad(
        huge(CUBE), [[0, 0], [1, 1], [1, 1], [0, 0]], "REFLECT"
    ),
    "pad MEAN 10**6 on a batch of 10**4": lambda: convops.pad(np.ones((N, 1, 1, 1), F32), BIG_PAD, "MEAN"),
    "padding_index of 10**15 positions": lambda: convops.padding_index(1, 10**15, 0),
    "conv2d_backprop_input to a 1.6e17-byte input": lambda: convops.conv2d_backprop_input(
        (N, 2 * 10**6, 2 * 10**6, 1), W11, huge((N, 2 * 10**6, 2 * 10**6, 1))
    ),
    "conv2d_transpose to a 1.6e17-byte output": lambda: convops.conv2d_transpose(
        huge((N, 2 * 10**6, 2 * 10**6, 1)), W11, (N, 2 * 10**6, 2 * 10**6, 1), 1, "VALID"
    ),
    "conv2d_backprop_filter of a 4 TB input": lambda: convops.conv2d_backprop_filter(
        huge(CUBE), (1, 1, 1, 1), huge(CUBE)
    ),
    "max_pool2d_grad of a 4 TB input": lambda: convops.max_pool2d_grad(huge(CUBE), huge(CUBE), 1, 1),
    "max_pool2d_with_argmax of a 4 TB input": lambda: convops.max_pool2d_with_argmax(huge(CUBE), 1, 1),
    "avg_pool2d_grad to a 4 TB input": lambda: convops.avg_pool2d_grad(CUBE, huge(CUBE), 1, 1),
    "pad_grad of a 4 TB gradient": lambda: convops.pad_grad(huge(CUBE), [[0, 0], [1, 1], [0, 0], [0, 0]]),
}


@pytest.mark.parametrize("name", list(ABSURD_CALLS))
def test_requests_larger_than_memory_raise_memory_error_at_once(name):
    before = rss_bytes()
    start = time.perf_counter()
    with pytest.raises(MemoryError):
        ABSURD_CALLS[name]()
    elapsed = time.perf_counter() - start
    grown = rss_bytes() - before
    assert elapsed < FAST, f"{name}: MemoryError after {elapsed:.1f} s (it must not compute or page first)"
    assert grown < RSS_SLACK, f"{name}: resident memory grew by {grown / 2**20:.0f} MiB before the MemoryError"


BEYOND_INTP = {
    # outputs whose byte size overflows: here beyond what NumPy can index at all
    "conv2d with padding 2**59 on both axes": (
        lambda: convops.conv2d(np.ones((1, 1, 1, 1), F32), W11, padding=[[2**59, 2**59], [2**59, 2**59]]),
        "conv2d",
    ),
    "pad by 2**60 on two axes": (lambda: convops.pad(np.zeros((1, 1), np.int8), [[2**60, 2**60], [2**60, 0]]), "pad"),
    "pad whose output is empty yet has an extent of 2**62": (
        lambda: convops.pad(np.zeros((0, 4, 1), np.int64), [[0, 0], [0, 0], [2**60, 2**60]]),
        "pad",
    ),
    "padding_index of 2**61 positions": (lambda: convops.padding_index(1, 2**60, 2**60), "padding_index"),
    "conv2d_backprop_input to a 2**120-element input": (
        lambda: convops.conv2d_backprop_input(
            (1, 2**60, 2**60, 1), W11, np.ones((1, 1, 1, 1), F32), strides=2**60, padding="SAME"
        ),
        None,
    ),
}


@pytest.mark.parametrize("name", list(BEYOND_INTP))
def test_sizes_numpy_cannot_index_are_refused_with_a_clear_error(name):
    call, op = BEYOND_INTP[name]
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert "too large" in message or "at most 2**60" in message, message
    if op is not None:
        assert op in message, message


def test_empty_results_with_huge_extents_are_right():
    # Representable: a 2**40-row pad of an array with no columns is an empty (2**40 + 1, 0) array.
    out = convops.pad(np.zeros((1, 0), np.float32), [[2**40, 0], [0, 0]])
    assert out.shape == (2**40 + 1, 0) and out.dtype == np.float32
    # a 2**60 stride leaves one output position, computed from the first cell only
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 4, 1)
    assert convops.max_pool2d(x, 1, 2**60).tolist() == [[[[0.0]]]]
    assert convops.conv2d(x, W11, strides=2**60).tolist() == [[[[0.0]]]]
    # a window of 2**60 with SAME padding sees the whole (small) image from every position
    np.testing.assert_array_equal(convops.max_pool2d(x, 2**60, 1, "SAME"), np.full((1, 3, 4, 1), 11.0, F32))


# --------------------------------------------------------------------------- beyond 2**31 elements

#: A side that puts the element count just beyond 2**31 - 1 in a square image.
SIDE = 46341  # 46341**2 = 2147488281 > 2**31 - 1


def test_pad_output_beyond_2_31_elements():
    x = np.array([[[[5]]]], dtype=np.int8)
    half = SIDE // 2
    out = convops.pad(x, [[0, 0], [half, half], [half, half], [0, 0]], constant_values=7)
    assert out.shape == (1, SIDE, SIDE, 1) and out.size > 2**31 - 1
    assert out[0, half, half, 0] == 5  # the one input cell, in the middle
    assert out[0, 0, 0, 0] == 7 and out[0, -1, -1, 0] == 7 and out[0, -1, 0, 0] == 7
    # every other cell is the constant: the sum counts them all (int64 accumulation, no temporaries)
    assert int(out.sum(dtype=np.int64)) == 7 * (out.size - 1) + 5


def test_max_pool2d_reads_input_offsets_beyond_2_31():
    height, width = 2**16, 2**15 + 4  # 2147745792 elements > 2**31 - 1
    x = np.empty((1, height, width, 1), dtype=np.int8)
    x[0, :, :, 0] = (np.arange(height) % 127).astype(np.int8)[:, None]  # each row holds its number mod 127
    # windows of 2 rows x 1 column, far apart: the last ones start ~2.1e9 elements into the input
    strides = (height // 16, width // 4)
    out = convops.max_pool2d(x, (2, 1), strides)
    rows = np.arange(0, height - 1, strides[0])
    want = np.maximum(rows % 127, (rows + 1) % 127).astype(np.int8)
    assert out.shape == (1, len(rows), 4, 1)
    np.testing.assert_array_equal(out[0, :, :, 0], np.repeat(want[:, None], 4, axis=1))
    # the same windows through the general (padded) path: SAME with an odd extra row at the bottom
    out = convops.max_pool2d(x[:, -3:], (2, 1), 1, "SAME")
    np.testing.assert_array_equal(
        out[0, :, 0, 0],
        [max((height - 3) % 127, (height - 2) % 127), max((height - 2) % 127, (height - 1) % 127), (height - 1) % 127],
    )

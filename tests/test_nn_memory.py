"""convops' cache of freed large blocks (convops/_kernels/src/memory_cache.h): installed by
convops.nn around a training step, it hands the blocks one step frees to the next, zeroed where
NumPy asks for zeros, never beyond its limits; it is installed only for the step's thread and only
during the step; and a step's results do not depend on it. The public ops take their large results
from it too (a result freed by the caller serves the next call of its size), and only those.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import convops
from convops._kernels import load
from convops.nn import models
from test_nn import tutorial as tutorial_model

memory = load("memory")
handler_name = np._core.multiarray.get_handler_name


@pytest.fixture(autouse=True)
def empty_cache():
    memory.release()
    yield
    memory.release()


def installed(fn):
    previous = memory.install()
    try:
        return fn()
    finally:
        memory.restore(previous)


def test_a_freed_large_block_serves_the_next_request_of_its_size():
    n = memory.MIN_BYTES // 4  # float32 elements: exactly the smallest block kept
    first = installed(lambda: np.full(n, 7.0, np.float32))
    assert handler_name(first) == "convops_cache"
    address = first.ctypes.data
    del first
    assert memory.stats()["kept_bytes"] == memory.MIN_BYTES
    hits = memory.stats()["hits"]
    again = installed(lambda: np.empty(n, np.float32))
    assert again.ctypes.data == address and memory.stats()["hits"] == hits + 1
    del again
    zeros = installed(lambda: np.zeros(n, np.float32))  # the same block, with 7.0 in it: zeroed
    assert zeros.ctypes.data == address and not zeros.any()
    del zeros
    other = installed(lambda: np.empty(n + 1, np.float32))  # another size: a new block
    assert other.ctypes.data != address
    assert memory.release() == memory.MIN_BYTES  # the first block; `other` is still alive
    del other
    assert memory.stats()["kept_blocks"] == 1


def test_small_blocks_are_not_kept_and_a_full_cache_keeps_the_newest():
    small = installed(lambda: np.ones(memory.MIN_BYTES // 4 - 1, np.float32))
    del small
    assert memory.stats()["kept_blocks"] == 0
    sizes = [memory.MIN_BYTES + 16 * i for i in range(memory.SLOTS + 5)]
    many = installed(lambda: [np.empty(size, np.uint8) for size in sizes])
    while many:  # freed in order (list.clear() frees from the end): the first five are pushed out
        many.pop(0)
    assert memory.stats()["kept_blocks"] == memory.SLOTS
    served = []
    held = []
    for size in (sizes[-1], sizes[5], sizes[4]):  # the newest, the oldest kept, one pushed out
        hits = memory.stats()["hits"]
        held.append(installed(lambda size=size: np.empty(size, np.uint8)))
        served.append(memory.stats()["hits"] - hits)
    assert served == [1, 1, 0]
    del held
    memory.release()
    # Blocks of 60% of the byte limit (never touched: no memory is written): the second freed
    # pushes the first out; one larger than the limit is never kept.
    big = installed(lambda: [np.empty(memory.MAX_BYTES * 3 // 5 + k, np.uint8) for k in range(2)])
    addresses = [a.ctypes.data for a in big]
    while big:
        big.pop(0)
    assert memory.stats()["kept_blocks"] == 1 and memory.stats()["kept_bytes"] == memory.MAX_BYTES * 3 // 5 + 1
    again = installed(lambda: np.empty(memory.MAX_BYTES * 3 // 5 + 1, np.uint8))
    assert again.ctypes.data == addresses[1]
    del again
    memory.release()
    huge = installed(lambda: np.empty(memory.MAX_BYTES + 1, np.uint8))
    del huge
    assert memory.stats()["kept_blocks"] == 0


def test_arrays_from_the_cache_resize_and_copy_like_any_other():
    a = installed(lambda: np.arange(memory.MIN_BYTES // 8, dtype=np.float64))
    b = a.copy()
    a.resize(a.size * 2, refcheck=False)  # realloc through the allocator
    np.testing.assert_array_equal(a[: b.size], b)
    assert not a[b.size :].any()  # NumPy zero-fills the growth
    c = installed(lambda: np.concatenate([a, a]))
    np.testing.assert_array_equal(c, np.concatenate([a, a]))


def test_every_block_starts_on_a_cache_line():
    """64-byte alignment (a cache line, an AVX-512 vector) for blocks of every size, new or kept,
    zeroed or not, and after a resize moves them."""
    sizes = (1, 3, 100, 4096, memory.MIN_BYTES - 1, memory.MIN_BYTES, memory.MIN_BYTES + 8, 5 << 20)
    arrays = installed(lambda: [np.empty(n, np.uint8) for n in sizes] + [np.ones(n, np.uint8) for n in sizes])
    assert [a.ctypes.data % 64 for a in arrays] == [0] * len(arrays)
    del arrays  # the large ones are kept ...
    hits = memory.stats()["hits"]
    again = installed(lambda: [np.zeros(n, np.uint8) for n in sizes])  # ... and served again, zeroed
    assert memory.stats()["hits"] == hits + 3
    assert [a.ctypes.data % 64 for a in again] == [0] * len(sizes) and not any(a.any() for a in again)
    grown = installed(lambda: np.arange(1000, dtype=np.float64))
    for n in (3000, memory.MIN_BYTES // 8 + 5, 10):
        grown.resize(n, refcheck=False)
        assert grown.ctypes.data % 64 == 0, n
    np.testing.assert_array_equal(grown, np.arange(10.0))


def test_installed_for_one_context_only_and_put_back():
    before = handler_name()
    seen = {}

    def other_thread():
        seen["name"] = handler_name()

    def inside():
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        return handler_name()

    assert installed(inside) == "convops_cache"
    assert seen["name"] == before and handler_name() == before


def tutorial(seed: int):
    """The tutorial's network (tests/test_nn.py) with seeded weights."""
    model = tutorial_model()
    rng = np.random.default_rng(seed)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.1 for w in model.get_weights()])
    return model


def test_training_steps_reuse_their_memory_and_give_the_same_bits(monkeypatch):
    rng = np.random.default_rng(1)
    x, y = rng.random((64, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 64)
    cached = tutorial(0)
    for _ in range(3):  # the first step's blocks come from malloc, later ones reuse them
        cached.train_on_batch(x, y)
    misses, hits = memory.stats()["misses"], memory.stats()["hits"]
    for _ in range(3):
        cached.train_on_batch(x, y)
    assert memory.stats()["misses"] == misses  # every large array of a step from the cache
    assert memory.stats()["hits"] >= hits + 3 * 10  # ten or more per step
    assert handler_name() != "convops_cache"
    predicted = cached.predict(x, verbose=0)

    class NoCache:
        install = staticmethod(lambda: None)
        restore = staticmethod(lambda previous: None)

    monkeypatch.setattr(models, "_step_memory", NoCache)
    plain = tutorial(0)
    for _ in range(6):
        plain.train_on_batch(x, y)
    for mine, theirs in zip(cached.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(mine.view(np.uint32), theirs.view(np.uint32))
    np.testing.assert_array_equal(predicted, plain.predict(x, verbose=0))


def test_a_step_that_raises_puts_the_allocator_back(monkeypatch):
    model = tutorial(0)
    before = handler_name()

    def fails(*args):
        assert handler_name() == "convops_cache"
        raise RuntimeError("inside the step")

    monkeypatch.setattr(model, "_backprop_and_apply", fails)
    with pytest.raises(RuntimeError, match="inside the step"):
        model.train_on_batch(np.zeros((2, 28, 28, 1), np.float32), [0, 1])
    assert handler_name() == before


def test_weights_start_on_a_cache_line_and_stay_there():
    """A built model's weights start on a 64-byte boundary, and set_weights and training steps
    write into those arrays (the optimizers update in place) rather than replacing them."""
    model = tutorial_model()
    weights = [w for layer in model.layers for w in layer.params.values()]
    assert weights and [w.ctypes.data % 64 for w in weights] == [0] * len(weights)
    addresses = [w.ctypes.data for w in weights]
    model.set_weights([w * 0.5 for w in model.get_weights()])
    rng = np.random.default_rng(0)
    model.train_on_batch(rng.random((4, 28, 28, 1), dtype=np.float32), np.arange(4))
    assert [w.ctypes.data for layer in model.layers for w in layer.params.values()] == addresses


LARGE_RESULTS = {  # each op's result has at least MIN_BYTES (256 KiB): 64 x 32 x 32 x 32 float32 = 8 MiB
    "conv2d (fast path)": lambda x, w: convops.conv2d(x, w, 1, "SAME"),
    "conv2d (general path)": lambda x, w: convops.conv2d(x, w, 1, "SAME", dilations=2),
    "conv2d winograd": lambda x, w: convops.conv2d(x, w, 1, "SAME", algorithm="winograd"),
    "conv2d fft": lambda x, w: convops.conv2d(x, w, 1, "VALID", algorithm="fft"),
    "conv2d_backprop_input": lambda x, w: convops.conv2d_backprop_input(x.shape, w, x, 1, "SAME"),
    "max_pool2d": lambda x, w: convops.max_pool2d(x, 1, 1, "VALID"),
    "avg_pool2d": lambda x, w: convops.avg_pool2d(x, 1, 1, "VALID"),
    "max_pool2d_with_argmax": lambda x, w: convops.max_pool2d_with_argmax(x, 1, 1, "VALID")[1],
    "max_pool2d_grad": lambda x, w: convops.max_pool2d_grad(x, x, 1, 1, "VALID"),
    "avg_pool2d_grad": lambda x, w: convops.avg_pool2d_grad(x.shape, x, 1, 1, "VALID"),
    "pad (fast path)": lambda x, w: convops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]),
    "pad MEAN": lambda x, w: convops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], "MEAN"),
    "pad_grad": lambda x, w: convops.pad_grad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]),
    "pad_grad REFLECT": lambda x, w: convops.pad_grad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], "REFLECT"),
    "pad_grad MEAN": lambda x, w: convops.pad_grad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], "MEAN"),
}


@pytest.mark.parametrize("op", list(LARGE_RESULTS))
def test_a_large_result_comes_from_the_cache_and_serves_the_next_call(op):
    """The page faults of a new large array cost a call in a loop more than many kernels (a
    2 MiB result ~0.9 ms in a VM): a freed result's block serves the next call of its size."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 32, 32, 32)).astype(np.float32)
    w = rng.standard_normal((3, 3, 32, 32)).astype(np.float32)
    call = LARGE_RESULTS[op]
    first = call(x, w)
    assert handler_name(first) == "convops_cache" and first.ctypes.data % 64 == 0
    assert handler_name() != "convops_cache"  # installed for the allocation only
    expected = first.copy()
    del first
    misses, hits = memory.stats()["misses"], memory.stats()["hits"]
    again = call(x, w)
    assert memory.stats()["hits"] > hits and memory.stats()["misses"] == misses  # nothing new
    np.testing.assert_array_equal(again, expected)


def test_small_results_stay_numpy_s_own():
    x = np.ones((1, 8, 8, 4), np.float32)  # 1 KiB results: no Python call added to a small call
    for result in (
        convops.conv2d(x, np.ones((3, 3, 4, 4), np.float32)),
        convops.max_pool2d(x, 2, 2, "VALID"),
        convops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]),
    ):
        assert handler_name(result) == "default_allocator"


def test_a_call_that_raises_leaves_numpy_s_allocator_in_place():
    before = handler_name()
    with pytest.raises(ValueError, match="padding"):
        convops.conv2d(np.ones((64, 32, 32, 32), np.float32), np.ones((3, 3, 32, 32), np.float32), 1, "FULL")
    assert handler_name() == before

"""The training step's allocator (convops/_kernels/src/memory_cache.h, installed by convops.nn):
large blocks freed by one step are handed to the next, zeroed where NumPy asks for zeros, never
beyond its limits; it is installed only for the step's thread and only during the step; and a
step's results do not depend on it.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

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
    assert handler_name(first) == "convops_step_cache"
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

    assert installed(inside) == "convops_step_cache"
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
    assert handler_name() != "convops_step_cache"
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
        assert handler_name() == "convops_step_cache"
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

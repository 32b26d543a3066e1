"""The memory convops keeps for reuse, and how to give it back.

convops takes large arrays (at least 256 KiB) from a cache of freed blocks: the results of its
public ops, and every array of a ``convops.nn`` training step. When such an array is freed its
block is kept and serves the next request of exactly its size, instead of new pages from the
system, each a page fault on first touch: in a VM at ~2 us a fault, a 2 MiB result cost a call
~0.9 ms, more than the tutorial's second convolution itself on one thread. TensorFlow keeps a pool
of its own for the same reason. The cache keeps at most 64 blocks and 256 MiB; a block freed into a
full cache pushes out the oldest. Every block starts on a 64-byte boundary (a cache line, one
AVX-512 vector). The allocator is in ``convops/_kernels/src/memory_cache.h``.
"""

from __future__ import annotations

from convops._kernels import load

_cache = load("memory")


def release_memory() -> int:
    """Free the blocks convops keeps for reuse and return how many bytes that was.

    convops keeps freed large arrays (its ops' results and a training step's arrays of at least
    256 KiB, at most 256 MiB in all) to serve the next array of the same size without new pages
    from the system. Arrays still in use are not touched; the cache fills again as they are freed.

    Returns
    -------
    int
        The bytes of the blocks freed (0 when none were kept).

    Examples
    --------
    >>> import numpy as np
    >>> import convops
    >>> y = convops.conv2d(np.ones((8, 64, 64, 8), np.float32), np.ones((3, 3, 8, 16), np.float32))
    >>> del y  # its 2 MiB stay with convops for the next result of that size
    >>> convops.release_memory() >= 8 * 62 * 62 * 16 * 4
    True
    >>> convops.release_memory()
    0
    """
    return int(_cache.release())

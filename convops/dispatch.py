"""Which kernel runs a call, and how to force one (tests, benchmarks, the docs' speed ladder).

Every public op chooses exactly one kernel from facts it knows in Python -- dtype, shapes,
strides, whether a window reaches the padding and whether the values there are finite, and the
instruction sets this CPU runs -- and the kernel never declines. :func:`force` overrides the
choice inside a ``with`` block; the result does not change (every path is tested against
TensorFlow), only the speed does.

The override is per thread (and per asyncio task): a ``with force(...)`` in one thread never
changes what another thread runs. A forced method applies to the calls it can run; a call it
cannot run (a "direct" input gradient with strides > 1, say) keeps the default choice.

>>> import numpy as np
>>> import convops
>>> from convops.dispatch import force
>>> x = np.ones((1, 5, 5, 1), np.float32)
>>> w = np.ones((3, 3, 1, 1), np.float32)
>>> with force(conv2d="naive"):          # the readable seven-loop kernel
...     float(convops.conv2d(x, w)[0, 0, 0, 0])
9.0
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from types import MappingProxyType

__all__ = ["METHODS", "ISAS", "force", "forced_method", "forced_isa", "nothing_forced"]

#: The kernels each op can run, by name (the default choice depends on the call).
METHODS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "conv2d": ("naive", "direct", "image", "gemm"),
        "conv2d_backprop_input": ("direct", "gemm"),
        "conv2d_backprop_filter": ("direct", "gemm"),
        "avg_pool2d_grad": ("fast", "readable"),
    }
)

#: Instruction-set variants of the float kernels, narrowest first. ``"cython"`` is the pooling
#: loops without SIMD (what a build without the C kernels runs); the conv kernels have no such
#: variant and keep their default under it.
ISAS: tuple[str, ...] = ("cython", "base", "avx2", "avx512")

_NOTHING: tuple[Mapping[str, str], str | None] = (MappingProxyType({}), None)
_forced: contextvars.ContextVar[tuple[Mapping[str, str], str | None]] = contextvars.ContextVar(
    "convops_forced", default=_NOTHING
)


def nothing_forced() -> bool:
    """Whether no :func:`force` block is active in this thread.

    Returns
    -------
    bool
        True when every op makes its default choice (the small-call fast path asks: one
        ContextVar read, ~50 ns).
    """
    return _forced.get() is _NOTHING


def forced_method(op: str) -> str | None:
    """The method forced for one op in this thread.

    Parameters
    ----------
    op : str
        An op of :data:`METHODS`, e.g. ``"conv2d"``.

    Returns
    -------
    str or None
        The forced method, or None: the op makes its default choice.
    """
    return _forced.get()[0].get(op)


def forced_isa() -> str | None:
    """The instruction set forced in this thread.

    Returns
    -------
    str or None
        One of :data:`ISAS`, or None: each kernel family uses its default (the widest this CPU
        runs for the convolutions, AVX2 where available for pooling).
    """
    return _forced.get()[1]


@contextlib.contextmanager
def force(*, isa: str | None = None, **methods: str) -> Iterator[None]:
    """Run the ``with`` block with the given kernels.

    Parameters
    ----------
    isa : {"cython", "base", "avx2", "avx512"}, optional
        Instruction set of the float kernels. A kernel family that does not have it, or a CPU
        that does not run it, keeps its default (``convops._kernels.simd.supported_isas()``
        lists what this build and CPU run), so a test forcing every ISA must loop over those.
    **methods : str
        ``op=method`` pairs from :data:`METHODS`, e.g. ``conv2d="gemm"``.

    Raises
    ------
    ValueError
        For an unknown op, a method the op does not have, or an instruction set not in
        :data:`ISAS`.
    """
    for op, method in methods.items():
        if op not in METHODS:
            raise ValueError(f"force: unknown op {op!r}; choose from {sorted(METHODS)}")
        if method not in METHODS[op]:
            raise ValueError(f"force: `{op}` must be one of {METHODS[op]}; got {method!r}")
    if isa is not None and isa not in ISAS:
        raise ValueError(f"force: `isa` must be one of {ISAS}; got {isa!r}")
    outer = _forced.get()
    merged = MappingProxyType({**outer[0], **methods})
    # Restored by value, in two nested `finally` clauses: an exception raised by a signal handler
    # (Ctrl-C) between any two bytecodes -- even inside the first restore -- still leaves this
    # thread's switchboard exactly as it was before the block.
    try:
        try:
            _forced.set((merged, isa if isa is not None else outer[1]))
            yield
        finally:
            _forced.set(outer)
    finally:
        _forced.set(outer)

"""One seed for a whole training run, as ``keras.utils.set_random_seed``.

Every random choice of the network module — initial weights, the order of the batches — draws
its own seed from one :class:`numpy.random.SeedSequence`. After :func:`set_random_seed` the
sequence of draws, and therefore a whole ``build`` + ``fit``, is reproducible bit for bit; without
it each run starts from fresh OS entropy, like Keras without a seed.
"""

from __future__ import annotations

import numpy as np

from convops._validation import as_int

_sequence: np.random.SeedSequence | None = None


def set_random_seed(seed: int) -> None:
    """Make every following weight initialisation and batch shuffle reproducible.

    Parameters
    ----------
    seed : int
        A non-negative integer (any size).

    Examples
    --------
    >>> from convops import nn
    >>> nn.set_random_seed(0); a = nn.initializers.GlorotUniform()((2, 2))
    >>> nn.set_random_seed(0); b = nn.initializers.GlorotUniform()((2, 2))
    >>> bool((a == b).all())
    True
    """
    global _sequence
    seed = as_int(seed, "seed")
    if seed < 0:
        raise ValueError(f"`seed` must be a non-negative integer; got {seed}")
    _sequence = np.random.SeedSequence(seed)


def next_generator(seed: int | None = None) -> np.random.Generator:
    """A generator for one random choice: from ``seed`` when given, else the next one of the
    global sequence (fresh entropy when no global seed was set)."""
    if seed is not None:
        return np.random.default_rng(as_int(seed, "seed"))
    if _sequence is None:
        return np.random.default_rng()
    (child,) = _sequence.spawn(1)
    return np.random.default_rng(child)

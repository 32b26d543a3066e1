"""TensorFlow's output-size and padding rules, written from TF's documentation for the tests.

Independent of ``convops.arithmetic`` on purpose: the tests compare convops against these, so a
bug in convops' own formula shows up as a mismatch instead of being copied into the expectation.
Source: the ``padding`` section of TF's convolution guide (``tf.nn.convolution``'s docstring) and
tests/TF-SEMANTICS.md ("Shapes and padding"), which records the rules as checked against TF 2.21.

* VALID: ``out = ceil((in - k_eff + 1) / s)``, ``k_eff = (k - 1) * d + 1``; 0 when ``k_eff > in``.
* SAME: ``out = ceil(in / s)``; total padding ``max((out - 1) * s + k_eff - in, 0)``, of which
  ``total // 2`` goes before and the odd extra pixel **after** (bottom / right).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Pair = tuple[int, int]


def effective_kernel(k: int, d: int = 1) -> int:
    """The span of a dilated kernel: ``(k - 1) * d + 1``."""
    return (k - 1) * d + 1


def same_output_size(size: int, s: int) -> int:
    """SAME: ``ceil(size / s)``, whatever the kernel."""
    return -(-size // s)


def valid_output_size(size: int, k: int, s: int, d: int = 1) -> int:
    """VALID: ``ceil((size - k_eff + 1) / s)``, 0 (an empty axis) when the kernel is larger."""
    span = size - effective_kernel(k, d)
    return 0 if span < 0 else span // s + 1


def same_pads(size: int, k: int, s: int, d: int = 1) -> Pair:
    """SAME's ``(before, after)`` padding along one axis: the odd pixel goes after."""
    total = max((same_output_size(size, s) - 1) * s + effective_kernel(k, d) - size, 0)
    return total // 2, total - total // 2


def output_size(size: int, k: int, s: int, pads: Pair = (0, 0), d: int = 1) -> int:
    """Output extent for explicit ``(before, after)`` pads: VALID on the padded axis."""
    return valid_output_size(size + pads[0] + pads[1], k, s, d)


def explicit_pads(
    padding: Any, hw: Sequence[int], khw: Sequence[int], strides: Sequence[int], dilations: Sequence[int] = (1, 1)
) -> tuple[Pair, Pair]:
    """``"SAME"``/``"VALID"`` (any case) or ``((top, bottom), (left, right))`` as explicit pads."""
    if isinstance(padding, str):
        if padding.upper() == "VALID":
            return (0, 0), (0, 0)
        if padding.upper() == "SAME":
            (h, w), (kh, kw), (sh, sw), (dh, dw) = hw, khw, strides, dilations
            return same_pads(h, kh, sh, dh), same_pads(w, kw, sw, dw)
        raise ValueError(f"padding must be 'SAME', 'VALID' or explicit pairs; got {padding!r}")
    (top, bottom), (left, right) = padding
    return (top, bottom), (left, right)

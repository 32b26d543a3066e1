"""Argument checks shared by the network module: each returns the canonical value or raises
``ValueError``/``TypeError`` naming the argument, the rule and what was received."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from convops._validation import as_int

#: The dtypes a layer computes in: those of convops' kernels.
LAYER_DTYPES = ("float32", "float64")


def describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def layer_dtype(dtype: Any) -> np.dtype:
    """float32 or float64; ``None`` means Keras's default, float32.

    float16 (and Keras's ``"mixed_float16"`` policy) is refused rather than computed in float32:
    Keras computes float16 layers *in* float16, so results computed in float32 would match
    neither Keras nor the memory a float16 user expects to save -- a careful Keras user would
    rather be told at construction than get different numbers at ``predict``.
    """
    if dtype is None:
        return np.dtype("float32")
    rule = "`dtype` of a layer must be 'float32' or 'float64' (convops computes in these only)"
    if isinstance(dtype, str) and "mixed" in dtype:
        raise ValueError(
            f"{rule}; got {dtype!r}: Keras's mixed-precision policies compute in float16, "
            f"which convops cannot reproduce. Use 'float32'"
        )
    try:
        parsed = np.dtype(dtype)
    except (TypeError, ValueError):
        kind = ValueError if isinstance(dtype, str) else TypeError
        raise kind(f"{rule}; got {describe(dtype)}") from None
    if parsed.name not in LAYER_DTYPES:
        hint = (
            (
                ": Keras computes float16 layers in float16, which convops cannot reproduce; build the model "
                "in float32 and cast inputs with x.astype('float32')"
            )
            if parsed.kind == "f"
            else ""
        )
        raise ValueError(f"{rule}; got {parsed}{hint}")
    return parsed


def as_bool(value: Any, name: str) -> bool:
    """A Python bool from a bool or NumPy bool; ints and strings are refused (``"False"`` is truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a bool; got {describe(value)}")
    return bool(value)


def as_float(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite Python float in ``[low, high]`` (open ends where asked); strings, bools refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number; got {describe(value)}")
    number = float(value)
    if high is None:
        interval = f"{'>' if low_open else '>='} {low}"
    else:
        interval = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    bad = not math.isfinite(number)
    bad = bad or (low is not None and (number < low or (low_open and number == low)))
    bad = bad or (high is not None and (number > high or (high_open and number == high)))
    if bad:
        raise ValueError(f"`{name}` must be a finite number {interval}; got {value!r}")
    return number


def positive_int(value: Any, name: str) -> int:
    number = as_int(value, name)
    if number < 1:
        raise ValueError(f"`{name}` must be >= 1; got {number}")
    return number


def shape(value: Any, name: str, minimum: int = 1) -> tuple[int, ...]:
    """A non-empty tuple of ints >= ``minimum``: a layer's input shape without the batch axis."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"`{name}` must be a tuple of positive ints (without the batch axis); got {describe(value)}")
    items = tuple(value)
    if not items:
        raise ValueError(f"`{name}` must have at least one axis; got ()")
    sides = tuple(as_int(s, name) for s in items)
    if min(sides) < minimum:
        raise ValueError(
            f"`{name}` must be >= {minimum} in every axis (an empty input has nothing to learn from); got {sides}"
        )
    return sides

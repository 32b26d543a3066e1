"""Convolution arithmetic in pure Python: output sizes, padding, receptive fields, parameters.

These small functions are the single source of truth for every shape in convops: the ops call
them to size their outputs, the documentation's figures call them to label their axes, and you
can call them for homework. Every function works on one spatial axis or on plain integers, so
the formulas can be read directly from the code.

Symbols (the same as in the docs and in the op docstrings):

=========  ===================================================================
``i``      input size along one spatial axis (``H`` or ``W``)
``k``      kernel (window) size along that axis (``KH`` or ``KW``)
``s``      stride
``d``      dilation (1 = no dilation, as in TensorFlow)
``k_eff``  effective kernel size ``(k - 1) * d + 1``
``p``      padding, a pair ``(before, after)``
``o``      output size
=========  ===================================================================

References: V. Dumoulin and F. Visin, *A guide to convolution arithmetic for deep learning*,
arXiv:1603.07285 (2016); the CS231n notes on convolutional networks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from convops._docstrings import fill_doc

__all__ = [
    "effective_kernel_size",
    "same_padding",
    "conv_output_size",
    "input_size_range",
    "pool_output_size",
    "resolve_padding",
    "ReceptiveField",
    "receptive_field",
    "receptive_fields",
    "conv2d_params",
    "dense_params",
    "conv2d_flops",
]

Padding1D = str | tuple[int, int]


def _positive(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) and not hasattr(value, "__index__"):
        raise TypeError(f"`{name}` must be an integer; got {value!r} ({type(value).__name__})")
    value = int(value.__index__()) if not isinstance(value, int) else value
    if value < 1:
        raise ValueError(f"`{name}` must be >= 1; got {value}")
    return value


def _non_negative(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) and not hasattr(value, "__index__"):
        raise TypeError(f"`{name}` must be an integer; got {value!r} ({type(value).__name__})")
    value = int(value.__index__()) if not isinstance(value, int) else value
    if value < 0:
        raise ValueError(f"`{name}` must be >= 0; got {value}")
    return value


def _pair(value: Any, name: str, check: Callable[[Any, str], int]) -> tuple[int, int]:
    """An int or a sequence of two ints, each passed through ``check``, as ``(h, w)``."""
    if isinstance(value, bool) or isinstance(value, int) or hasattr(value, "__index__"):
        return check(value, name), check(value, name)
    try:
        h, w = value
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be an integer or a pair of integers; got {value!r}") from None
    return check(h, name), check(w, name)


# The formulas, for arguments already checked (convops.conv's geometry validates them once, where
# the public functions below would check every one again: a third of a small call's time).
def _same_pads(i: int, k: int, s: int, d: int) -> tuple[int, int]:
    """TensorFlow's SAME ``(before, after)``: ``o = ceil(i / s)``, total ``max((o - 1) * s + k_eff - i, 0)``,
    the odd pixel after."""
    total = max((-(-i // s) - 1) * s + (k - 1) * d + 1 - i, 0)
    return total // 2, total - total // 2


def _output_size(i: int, k: int, s: int, d: int, before: int, after: int) -> int:
    """``floor((i + before + after - k_eff) / s) + 1``, or 0 when the padded input is shorter than ``k_eff``."""
    span = i + before + after - (k - 1) * d - 1
    return 0 if span < 0 else span // s + 1


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a bool; got {value!r} ({type(value).__name__})")
    return bool(value)


@fill_doc
def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: ``k_eff = (k - 1) * d + 1``.

    Parameters
    ----------
    %(kernel_size)s
    %(dilation)s

    Returns
    -------
    int
        ``k_eff``.

    Examples
    --------
    >>> from convops.arithmetic import effective_kernel_size
    >>> effective_kernel_size(3, dilation=2)
    5
    """
    k = _positive(kernel_size, "kernel_size")
    d = _positive(dilation, "dilation")
    return (k - 1) * d + 1


@fill_doc
def same_padding(input_size: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's ``"SAME"`` padding for one axis, as ``(before, after)``.

    ``o = ceil(i / s)``; total padding ``max((o - 1) * s + k_eff - i, 0)``; ``before = total // 2``
    and the odd extra pixel goes *after* (bottom / right). PyTorch and several textbooks put it
    before instead, which changes results at stride 2.

    Parameters
    ----------
    %(input_size)s
    %(kernel_size)s
    %(stride)s
    %(dilation)s

    Returns
    -------
    (int, int)
        ``(before, after)``.

    Examples
    --------
    >>> from convops.arithmetic import same_padding
    >>> same_padding(28, 3)
    (1, 1)
    >>> same_padding(28, 2, stride=2)   # even kernel: nothing needed
    (0, 0)
    >>> same_padding(5, 4)              # total 3: 1 before, 2 after
    (1, 2)
    """
    i = _non_negative(input_size, "input_size")
    s = _positive(stride, "stride")
    k, d = _positive(kernel_size, "kernel_size"), _positive(dilation, "dilation")
    return _same_pads(i, k, s, d)


@fill_doc
def resolve_padding(
    padding: Padding1D, input_size: int, kernel_size: int, stride: int = 1, dilation: int = 1
) -> tuple[int, int]:
    """Turn ``"SAME"``, ``"VALID"`` or ``(before, after)`` into explicit ``(before, after)``.

    Parameters
    ----------
    %(axis_padding)s
    %(input_size)s
    %(kernel_size)s
    %(stride)s
    %(dilation)s

    Returns
    -------
    (int, int)
        ``(before, after)``.

    Examples
    --------
    >>> from convops.arithmetic import resolve_padding
    >>> resolve_padding("VALID", 28, 3)
    (0, 0)
    >>> resolve_padding("same", 28, 3)
    (1, 1)
    >>> resolve_padding((2, 0), 28, 3)
    (2, 0)
    """
    # Every argument is checked, whatever the mode (VALID used to return (0, 0) for stride 0).
    _non_negative(input_size, "input_size")
    effective_kernel_size(kernel_size, dilation)
    _positive(stride, "stride")
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return 0, 0
        if mode == "SAME":
            return same_padding(input_size, kernel_size, stride, dilation)
        raise ValueError(f"`padding` must be 'SAME', 'VALID' or explicit (before, after); got {padding!r}")
    try:
        before, after = padding
    except (TypeError, ValueError):
        raise ValueError(f"`padding` must be 'SAME', 'VALID' or a pair (before, after); got {padding!r}") from None
    return _non_negative(before, "padding"), _non_negative(after, "padding")


@fill_doc
def conv_output_size(
    input_size: int, kernel_size: int, stride: int = 1, padding: Padding1D = "VALID", dilation: int = 1
) -> int:
    """Output size of a convolution along one axis.

    ``o = floor((i + p_before + p_after - k_eff) / s) + 1``, or 0 when the (padded) input is
    smaller than the effective kernel. With ``"SAME"`` this is ``ceil(i / s)``; with ``"VALID"``
    it is ``ceil((i - k_eff + 1) / s)``.

    Parameters
    ----------
    %(input_size)s
    %(kernel_size)s
    %(stride)s
    %(axis_padding)s
    %(dilation)s

    Returns
    -------
    int
        ``o >= 0``.

    Examples
    --------
    >>> from convops.arithmetic import conv_output_size
    >>> conv_output_size(28, 3)                      # the tutorial's first layer
    26
    >>> conv_output_size(28, 3, padding="SAME")
    28
    >>> conv_output_size(7, 3, stride=2)             # (7 - 3) / 2 + 1
    3
    >>> conv_output_size(8, 3, stride=2)             # floor drops the last row
    3
    >>> conv_output_size(2, 3)                       # kernel larger than input: empty
    0
    """
    i = _non_negative(input_size, "input_size")
    s = _positive(stride, "stride")
    k, d = _positive(kernel_size, "kernel_size"), _positive(dilation, "dilation")
    before, after = resolve_padding(padding, i, k, s, d)
    return _output_size(i, k, s, d, before, after)


@fill_doc
def input_size_range(
    output_size: int, kernel_size: int, stride: int = 1, dilation: int = 1, padding: Padding1D = "VALID"
) -> range:
    """The input sizes that a convolution maps to ``output_size``: the inverse of
    :func:`conv_output_size`.

    Solving the output-size formula for ``i`` (``p = p_before + p_after``):

    * ``"SAME"``: ``o = ceil(i / s)``, so ``(o - 1) * s + 1 <= i <= o * s`` (and ``i = 0`` for
      ``o = 0``);
    * ``"VALID"`` or explicit: ``o = floor((i + p - k_eff) / s) + 1`` when ``i + p >= k_eff``,
      so ``(o - 1) * s + k_eff - p <= i <= o * s - 1 + k_eff - p``; and ``o = 0`` exactly when
      ``i + p < k_eff``, i.e. ``0 <= i <= k_eff - p - 1``.

    Every input size is ``>= 0``; the lower end is clipped there. Several input sizes give the
    same output when ``s > 1`` (the formula's floor): that is why a transposed convolution needs
    its output size spelled out.

    Parameters
    ----------
    output_size : int
        ``o >= 0``.
    %(kernel_size)s
    %(stride)s
    %(dilation)s
    %(axis_padding)s

    Returns
    -------
    range
        Every ``i`` with ``conv_output_size(i, ...) == output_size``, in increasing order; empty
        when no input size gives it (explicit padding wider than the kernel can make the
        smallest outputs impossible). Works for sizes of any magnitude (no search).

    Raises
    ------
    ValueError, TypeError
        An argument that is not an integer of the allowed range, or an unknown padding.

    Examples
    --------
    >>> from convops.arithmetic import input_size_range, conv_output_size
    >>> input_size_range(13, 2, stride=2)             # the tutorial's pool: 26 and 27 give 13
    range(26, 28)
    >>> [conv_output_size(i, 2, stride=2) for i in input_size_range(13, 2, stride=2)]
    [13, 13]
    >>> input_size_range(4, 3, stride=2, padding="SAME")
    range(7, 9)
    >>> input_size_range(0, 3)                        # the kernel does not fit
    range(0, 3)
    >>> input_size_range(1, 1, padding=(2, 2))        # padding alone gives 5 outputs already
    range(0, 0)
    """
    o = _non_negative(output_size, "output_size")
    s = _positive(stride, "stride")
    k_eff = effective_kernel_size(kernel_size, dilation)
    if isinstance(padding, str):
        mode = padding.upper()
        if mode not in ("SAME", "VALID"):
            raise ValueError(f"`padding` must be 'SAME', 'VALID' or explicit (before, after); got {padding!r}")
        if mode == "SAME":
            return range(0, 1) if o == 0 else range((o - 1) * s + 1, o * s + 1)
        total = 0
    else:
        before, after = resolve_padding(padding, 0, kernel_size, s, dilation)
        total = before + after
    if o == 0:
        low, high = 0, k_eff - total - 1
    else:
        low, high = max(0, (o - 1) * s + k_eff - total), o * s - 1 + k_eff - total
    return range(low, max(low, high + 1))


@fill_doc
def pool_output_size(input_size: int, window_size: int, stride: int, padding: Padding1D = "VALID") -> int:
    """Output size of a pooling layer along one axis (a convolution without dilation).

    Parameters
    ----------
    %(input_size)s
    window_size : int
        ``k >= 1``.
    %(stride)s
    %(axis_padding)s

    Returns
    -------
    int
        ``o >= 0``.

    Examples
    --------
    >>> from convops.arithmetic import pool_output_size
    >>> pool_output_size(26, 2, 2)     # the tutorial: 26 x 26 -> 13 x 13
    13
    >>> pool_output_size(11, 2, 2)     # 11 -> 5: the last row and column are dropped
    5
    """
    _positive(window_size, "window_size")  # named as the caller spelled it
    return conv_output_size(input_size, window_size, stride, padding, 1)


class ReceptiveField(NamedTuple):
    """Receptive field of one unit after a layer.

    Parameters
    ----------
    size : int
        How many input pixels (along one axis) can influence one output unit.
    jump : int
        The distance in input pixels between two neighbouring output units.
    start : float
        The input coordinate of the centre of the first unit's field (negative when padding
        is used).
    """

    size: int
    jump: int
    start: float


@fill_doc
def receptive_fields(
    layers: Iterable[Sequence[int]], padding_before: Sequence[int] | None = None
) -> list[ReceptiveField]:
    """Receptive field after each layer of a stack, along one axis.

    Each layer is ``(kernel_size, stride)`` or ``(kernel_size, stride, dilation)``; pooling layers
    are ``(window, stride)``. The recurrence is::

        size_out  = size_in + (k_eff - 1) * jump_in
        jump_out  = jump_in * s
        start_out = start_in + ((k_eff - 1) / 2 - p_before) * jump_in

    Parameters
    ----------
    %(layers)s
    padding_before : sequence of int, optional
        Padding before the first pixel, per layer (default 0s): moves ``start`` only.

    Returns
    -------
    list of ReceptiveField
        One per layer.

    Examples
    --------
    The tutorial's network (conv 3, pool 2, conv 3, pool 2, conv 3):

    >>> from convops.arithmetic import receptive_fields
    >>> [(rf.size, rf.jump) for rf in receptive_fields([(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)])]
    [(3, 1), (4, 2), (8, 2), (10, 4), (18, 4)]
    """
    try:
        layers = list(layers)
        pads = list(padding_before) if padding_before is not None else [0] * len(layers)
    except TypeError as exc:
        raise TypeError(f"`layers` and `padding_before` must be sequences: {exc}") from None
    if len(pads) != len(layers):
        raise ValueError(f"`padding_before` must have one entry per layer ({len(layers)}); got {len(pads)}")
    size, jump, start = 1, 1, 0.0  # one input pixel, centred on pixel 0
    out = []
    for index, layer in enumerate(layers):
        try:
            layer = tuple(layer)
        except TypeError:
            raise TypeError(
                f"layer {index} of `layers` must be (kernel_size, stride[, dilation]); got {layer!r}"
            ) from None
        if len(layer) not in (2, 3):
            raise ValueError(
                f"layer {index} of `layers` must be (kernel_size, stride) or (kernel_size, stride, dilation); "
                f"got {layer!r}"
            )
        k, s = layer[0], layer[1]
        d = layer[2] if len(layer) == 3 else 1
        try:
            k_eff = effective_kernel_size(k, d)
            s = _positive(s, "stride")
        except (TypeError, ValueError) as exc:  # say which argument the bad number came from
            raise type(exc)(f"layer {index} of `layers`: {exc}") from None
        p = _non_negative(pads[index], "padding_before")
        start = start + ((k_eff - 1) / 2 - p) * jump
        size = size + (k_eff - 1) * jump
        jump = jump * s
        out.append(ReceptiveField(size, jump, start))
    return out


@fill_doc
def receptive_field(layers: Iterable[Sequence[int]]) -> int:
    """Receptive field size (one axis) of a unit after the whole stack.

    Parameters
    ----------
    %(layers)s

    Returns
    -------
    int
        1 for an empty stack.

    Examples
    --------
    >>> from convops.arithmetic import receptive_field
    >>> receptive_field([(3, 1), (2, 2), (3, 1)])   # conv 3, pool 2, conv 3: 8, not 7
    8
    """
    fields = receptive_fields(layers)
    return fields[-1].size if fields else 1


@fill_doc
def conv2d_params(
    kernel_size: int | tuple[int, int], in_channels: int, out_channels: int, use_bias: bool = True, groups: int = 1
) -> int:
    """Number of trainable parameters of a 2-D convolution: ``(KH·KW·C_in/groups + 1)·C_out``.

    Parameter sharing is why this does not depend on the image size.

    Parameters
    ----------
    %(kernel_size_2d)s
    %(channels)s
    %(use_bias)s
    %(groups)s

    Returns
    -------
    int
        The number of weights.

    Examples
    --------
    >>> from convops.arithmetic import conv2d_params
    >>> conv2d_params(3, 1, 32)      # the tutorial's first layer: (9·1 + 1)·32
    320
    >>> conv2d_params(3, 32, 64)     # (9·32 + 1)·64
    18496
    """
    kh, kw = _pair(kernel_size, "kernel_size", _positive)
    c_in = _positive(in_channels, "in_channels")
    c_out = _positive(out_channels, "out_channels")
    g = _positive(groups, "groups")
    if c_in % g or c_out % g:
        raise ValueError(f"`in_channels` ({c_in}) and `out_channels` ({c_out}) must be multiples of `groups` ({g})")
    return (kh * kw * (c_in // g) + (1 if _bool(use_bias, "use_bias") else 0)) * c_out


@fill_doc
def dense_params(in_features: int, out_features: int, use_bias: bool = True) -> int:
    """Number of trainable parameters of a dense (fully connected) layer: ``(n_in + 1)·n_out``.

    Parameters
    ----------
    in_features, out_features : int
        ``n_in, n_out >= 1``.
    %(use_bias)s

    Returns
    -------
    int
        The number of weights.

    Examples
    --------
    >>> from convops.arithmetic import dense_params
    >>> dense_params(3 * 3 * 128, 10)   # the tutorial's classifier
    11530
    >>> dense_params(28 * 28, 26 * 26 * 32)  # a dense layer with the first conv's output size
    16981120
    """
    n_in = _positive(in_features, "in_features")
    n_out = _positive(out_features, "out_features")
    return (n_in + (1 if _bool(use_bias, "use_bias") else 0)) * n_out


@fill_doc
def conv2d_flops(
    output_hw: tuple[int, int], kernel_size: int | tuple[int, int], in_channels: int, out_channels: int, groups: int = 1
) -> int:
    """Floating-point operations of one image through a conv layer (multiply and add count as 2).

    ``2 · H_out · W_out · KH · KW · C_in/groups · C_out``

    Parameters
    ----------
    output_hw : (int, int)
        ``(H_out, W_out)``.
    %(kernel_size_2d)s
    %(channels)s
    %(groups)s

    Returns
    -------
    int
        Operations per image.

    Examples
    --------
    >>> from convops.arithmetic import conv2d_flops
    >>> conv2d_flops((26, 26), 3, 1, 32)
    389376
    """
    ho, wo = _pair(output_hw, "output_hw", _non_negative)
    kh, kw = _pair(kernel_size, "kernel_size", _positive)
    g = _positive(groups, "groups")
    c_in, c_out = _positive(in_channels, "in_channels"), _positive(out_channels, "out_channels")
    if c_in % g or c_out % g:
        raise ValueError(f"`in_channels` ({c_in}) and `out_channels` ({c_out}) must be multiples of `groups` ({g})")
    return 2 * ho * wo * kh * kw * (c_in // g) * c_out

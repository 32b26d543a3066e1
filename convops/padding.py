"""Padding with ``tf.pad``'s contract, plus the modes learners and PyTorch users expect.

Every mode is an *index map* per axis: output index ``i`` reads input index ``source(i)``, or a
constant. :func:`padding_index` gives that map, so you can see exactly where each border value
comes from; the kernel only copies bytes along these maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeAlias, cast

import numpy as np

from convops import _threads
from convops._kernels import load
from convops._typing import ArrayLike, Int
from convops._validation import (
    GRAD_DTYPES,
    _describe,
    as_int,
    check_dtype,
    check_extent,
    check_name,
    check_output_size,
    compute_dtype,
    to_array,
)

__all__ = ["pad", "padding_index", "PAD_MODES"]

_kernels = load("pad")
pad_copy = _kernels.pad_copy
pad_fast = load("fastpath").pad_fast
_memory = load("memory")  # large results from a cache of freed blocks: no new pages per call

#: A mode of :func:`pad`, in the spellings the docs use (any case is accepted at run time).
PadMode: TypeAlias = Literal[
    "CONSTANT",
    "REFLECT",
    "SYMMETRIC",
    "EDGE",
    "CIRCULAR",
    "MEAN",
    "constant",
    "reflect",
    "symmetric",
    "edge",
    "circular",
    "mean",
]
#: ``paddings``: one ``(before, after)`` pair per dimension, as a nested sequence or an (rank, 2)
#: integer array.
Paddings: TypeAlias = Sequence[Sequence[Int]] | np.ndarray

#: Modes of :func:`pad`. The first three are ``tf.pad``'s; EDGE and CIRCULAR are PyTorch's
#: ``replicate`` and ``circular``; MEAN pads with the mean of the padded axes (see :func:`pad`).
PAD_MODES = ("CONSTANT", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR", "MEAN")


def padding_index(size: Int, before: Int, after: Int, mode: PadMode = "CONSTANT") -> np.ndarray:
    """Source index of every output position along one axis (-1 where a constant goes).

    ========== ===================================== ===========================
    mode       border (``k = i - before`` outside)   e.g. ``[a b c]``, pad 2/2
    ========== ===================================== ===========================
    CONSTANT   constant                              ``0 0 a b c 0 0``
    REFLECT    mirror, edge not repeated             ``c b a b c b a``
    SYMMETRIC  mirror, edge repeated                 ``b a a b c c b``
    EDGE       nearest edge value                    ``a a a b c c c``
    CIRCULAR   wrap around (``k mod size``)          ``b c a b c a b``
    ========== ===================================== ===========================

    Parameters
    ----------
    size : int
        Length of the input axis, >= 0.
    before, after : int
        Padding before and after it, >= 0 (REFLECT: <= size - 1, SYMMETRIC: <= size).
    mode : str, any case
        One of :data:`PAD_MODES` (MEAN maps like CONSTANT: its border is a computed constant).

    Returns
    -------
    ndarray of intp, shape (before + size + after,)
        ``out[i]`` = the input index output position ``i`` copies, or -1 for a constant.

    Examples
    --------
    >>> from convops import padding_index
    >>> padding_index(3, 2, 2, "REFLECT")
    array([2, 1, 0, 1, 2, 1, 0])
    >>> padding_index(3, 2, 2, "SYMMETRIC")
    array([1, 0, 0, 1, 2, 2, 1])
    """
    size, before, after = (as_int(v, name) for v, name in ((size, "size"), (before, "before"), (after, "after")))
    if min(size, before, after) < 0:
        raise ValueError(f"`size`, `before` and `after` must be non-negative; got {(size, before, after)}")
    for value, name in ((size, "size"), (before, "before"), (after, "after")):
        check_extent(value, name)
    check_output_size((size + before + after,), np.dtype(np.intp), "padding_index")
    if not isinstance(mode, str) or mode.upper() not in PAD_MODES:
        raise ValueError(f"`mode` must be one of {PAD_MODES} (any case); got {_describe(mode)}")
    upper = mode.upper()
    # The same limits as pad(): beyond them the mirror would point outside the input.
    limit = {"REFLECT": size - 1, "SYMMETRIC": size}.get(upper)
    if limit is not None and max(before, after) > limit:
        raise ValueError(f"`before`/`after` for {upper} mode must be <= {limit} for size {size}; got {(before, after)}")
    if upper in ("EDGE", "CIRCULAR") and size == 0 and before + after > 0:
        raise ValueError(f"{upper} padding needs `size` >= 1 to copy from; got size 0")
    k = np.arange(-before, size + after, dtype=np.intp)
    inside = (k >= 0) & (k < size)
    if upper in ("CONSTANT", "MEAN"):
        return np.where(inside, k, -1)
    if size == 0:
        return np.full(k.shape, -1, dtype=np.intp)
    if upper == "REFLECT":
        k = np.abs(k)
        return np.where(k >= size, 2 * (size - 1) - k, k)
    if upper == "SYMMETRIC":
        k = np.where(k < 0, -k - 1, k)
        return np.where(k >= size, 2 * size - 1 - k, k)
    if upper == "EDGE":
        return np.clip(k, 0, size - 1)
    return np.mod(k, size)  # CIRCULAR


def _parse_paddings(paddings: Any, ndim: int, array: str = "input") -> tuple[tuple[int, int], ...]:
    """``paddings`` as one (before, after) pair of non-negative ints per dimension of ``array``."""
    if isinstance(paddings, np.ndarray):
        if paddings.dtype.kind not in "iu":
            raise TypeError(f"`paddings` must hold integers; got dtype {paddings.dtype}")
        paddings = paddings.tolist()
    if not isinstance(paddings, (list, tuple)):
        raise TypeError(f"`paddings` must be a sequence of (before, after) pairs; got {_describe(paddings)}")
    if len(paddings) != ndim:
        raise ValueError(
            f"`paddings` must have shape [rank, 2] = [{ndim}, 2] (one pair per dimension of `{array}`); "
            f"got {len(paddings)} entries"
        )
    pairs = []
    for axis, item in enumerate(paddings):
        if isinstance(item, np.ndarray):
            item = item.tolist()
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ValueError(f"`paddings`[{axis}] must be a pair (before, after); got {_describe(item)}")
        before, after = as_int(item[0], "paddings"), as_int(item[1], "paddings")
        if before < 0 or after < 0:
            raise ValueError(f"`paddings` must be non-negative; got {(before, after)} for dimension {axis}")
        pairs.append((before, after))
    return tuple(pairs)


def _pad_spec(
    op: str, shape: tuple[int, ...], paddings: Any, mode: Any, array: str, padded: bool, copy_modes: tuple[str, ...]
) -> tuple[str, tuple[tuple[int, int], ...], tuple[int, ...]]:
    """Validate ``mode`` and ``paddings`` for an array of ``shape`` -- the input of :func:`pad`,
    or (``padded``) the padded gradient of :func:`pad_grad` -- and return the upper-case mode,
    the (before, after) pairs and the input's shape. ``copy_modes`` need a non-empty input
    dimension wherever they pad."""
    if not isinstance(mode, str):
        raise TypeError(f"`mode` must be a string, one of {PAD_MODES}; got {_describe(mode)}")
    mode_upper = mode.upper()
    if mode_upper not in PAD_MODES:
        raise ValueError(f"`mode` must be one of {PAD_MODES} (any case); got {mode!r}")
    pairs = _parse_paddings(paddings, len(shape), array)
    in_shape = []
    for axis, ((before, after), size) in enumerate(zip(pairs, shape)):
        n_in = size - before - after if padded else size
        if n_in < 0:
            raise ValueError(
                f"{op}: `paddings` {(before, after)} in dimension {axis} exceed the size of `{array}` "
                f"there ({size}); `{array}` must have the padded shape"
            )
        # Beyond these limits the mirror would point outside the input (tf.pad refuses them too).
        limit = {"REFLECT": n_in - 1, "SYMMETRIC": n_in}.get(mode_upper)
        if limit is not None and max(before, after) > limit:
            if padded:
                rule, where = ("size - 1" if mode_upper == "REFLECT" else "size"), f"input size {n_in}"
            else:
                rule = "size - 1 (the edge is not repeated)" if mode_upper == "REFLECT" else "size"
                where = f"size {n_in}"
            raise ValueError(
                f"`paddings` for {mode_upper} mode must be <= {rule} = {limit} in dimension {axis} "
                f"({where}); got {(before, after)}"
            )
        if mode_upper in copy_modes and n_in == 0 and before + after > 0:
            raise ValueError(
                f"{mode_upper} padding needs a non-empty dimension to copy from; the input's dimension "
                f"{axis} has size 0 and `paddings` {(before, after)} for it"
            )
        in_shape.append(n_in)
    return mode_upper, pairs, tuple(in_shape)


def pad(
    input: ArrayLike,
    paddings: Paddings,
    mode: PadMode = "CONSTANT",
    constant_values: ArrayLike = 0,
    name: str | None = None,
) -> np.ndarray:
    """Pad an array, as ``tf.pad``.

    Parameters
    ----------
    input : array_like, any rank >= 1
        For a batch of images, (N, H, W, C).
    paddings : sequence of ``(before, after)`` int pairs, shape (rank, 2)
        E.g. ``[[0, 0], [1, 1], [1, 1], [0, 0]]`` adds one pixel around every NHWC image.
    mode : str, any case
        ``"CONSTANT"``, ``"REFLECT"`` (mirror without the edge; pads <= size - 1) and
        ``"SYMMETRIC"`` (mirror with the edge; pads <= size) as ``tf.pad``; ``"EDGE"`` (repeat the
        edge value, PyTorch's ``replicate``) and ``"CIRCULAR"`` (wrap around, any pad) which
        TensorFlow lacks; and ``"MEAN"``: pad with the mean of the values along the padded axes,
        taken separately for every index of the unpadded axes — for NHWC images padded in H and W
        that is one mean per image and channel. (``tf.pad(x, p, constant_values=tf.reduce_mean(x))``
        instead uses one mean of the whole tensor; pass ``constant_values=x.mean()`` for that.)
    constant_values : scalar
        Value of the border in ``"CONSTANT"`` mode, cast to the input dtype.
    name : str, optional
        Accepted and ignored: TensorFlow's op name, so that pasted ``tf.pad`` calls run.

    Returns
    -------
    ndarray of the input dtype, shape ``input.shape[i] + before_i + after_i`` on every axis

    Notes
    -----
    For integer inputs the MEAN border is the mean rounded to the nearest integer (halves to even).

    Examples
    --------
    >>> import numpy as np
    >>> import convops
    >>> x = np.array([[1, 2, 3], [4, 5, 6]])
    >>> convops.pad(x, [[1, 1], [2, 2]], "REFLECT")
    array([[6, 5, 4, 5, 6, 5, 4],
           [3, 2, 1, 2, 3, 2, 1],
           [6, 5, 4, 5, 6, 5, 4],
           [3, 2, 1, 2, 3, 2, 1]])
    >>> convops.pad(np.array([[1., 2.], [3., 6.]]), [[1, 0], [0, 1]], "MEAN")
    array([[3., 3., 3.],
           [1., 2., 3.],
           [3., 6., 3.]])
    """
    check_name(name)
    # The common call (ndarray, int pairs, CONSTANT 0 / REFLECT / SYMMETRIC) in compiled code;
    # None for anything else, including every argument the checks below would reject.
    out = pad_fast(input, paddings, mode, constant_values, _threads.get_num_threads())
    if out is not None:
        return out
    x = np.asarray(input) if isinstance(input, np.ndarray) else to_array(input, "input")
    if not x.dtype.isnative:  # the same numbers in the other byte order: the same dtype
        x = x.astype(x.dtype.newbyteorder("="))
    if x.dtype.kind not in "biuf":
        raise TypeError(f"`input` of pad must have a boolean, integer or floating dtype; got {x.dtype}")
    if x.ndim == 0:
        raise ValueError("`input` of pad must have rank >= 1; got a scalar")
    mode_upper, pairs, _ = _pad_spec("pad", x.shape, paddings, mode, "input", False, ("EDGE", "CIRCULAR"))
    out_shape = tuple(size + before + after for size, (before, after) in zip(x.shape, pairs))
    # Every argument is checked before the output's size, so a bad one is always named.
    value = _constant(constant_values, x.dtype) if mode_upper != "MEAN" else np.zeros((), x.dtype)
    if (
        mode_upper == "MEAN"
        and 0 not in out_shape
        and any(size == 0 and (before or after) for size, (before, after) in zip(x.shape, pairs))
    ):
        raise ValueError("MEAN padding needs a non-empty `input` along every padded dimension")
    check_output_size(out_shape, x.dtype, "pad")

    if mode_upper == "MEAN":
        return _pad_mean(x, pairs, out_shape)
    out = _memory.empty(out_shape, x.dtype)
    if out.size == 0:
        return out
    maps = [
        padding_index(size, before, after, cast(PadMode, mode_upper)) for size, (before, after) in zip(x.shape, pairs)
    ]
    offsets = np.cumsum([0] + [len(m) for m in maps[:-1]]).astype(np.intp)
    src = np.ascontiguousarray(x)
    pad_copy(
        src.reshape(-1).view(np.uint8),
        out.reshape(-1).view(np.uint8),
        np.asarray(x.shape, dtype=np.intp),
        np.asarray(out_shape, dtype=np.intp),
        np.concatenate(maps).astype(np.intp),
        offsets,
        np.asarray([before for before, _ in pairs], dtype=np.intp),
        np.frombuffer(value.tobytes(), dtype=np.uint8),
        x.dtype.itemsize,
        _threads.get_num_threads(),
    )
    return out


def _constant(constant_values: Any, dtype: np.dtype) -> np.ndarray:
    value = np.asarray(constant_values)
    if value.ndim != 0:
        raise ValueError(f"`constant_values` must be a scalar (as in tf.pad); got shape {value.shape}")
    if value.dtype.kind not in "biuf":
        raise TypeError(f"`constant_values` must be a real number; got {_describe(constant_values)}")
    # tf.pad's conversions: a float must be a finite integer (in range) to pad an integer array,
    # a bool array takes only bools or 0/1; an int out of an integer dtype's range wraps (tf.pad
    # pads uint8 with 300 as 44); a float too large for the dtype becomes inf.
    if dtype.kind in "iu" and value.dtype.kind == "f":
        if not np.isfinite(value) or value != np.floor(value):
            raise ValueError(f"`constant_values` {value} cannot be stored in an {dtype} array")
        info = np.iinfo(dtype)
        if not info.min <= float(value) <= info.max:  # Python's exact int/float comparison
            raise ValueError(f"`constant_values` {value} is outside the range of {dtype} [{info.min}, {info.max}]")
    if dtype.kind == "b" and value.dtype.kind != "b" and float(value) not in (0.0, 1.0):
        raise ValueError(
            f"`constant_values` for a bool array must be a bool (or 0/1); got {_describe(constant_values)}"
        )
    if dtype.kind in "iu" and value.dtype.kind in "iu":
        return value.astype(dtype)  # array-to-array integer casts wrap, as tf.pad does
    with np.errstate(over="ignore"):
        return np.asarray(value, dtype=dtype)


def _pad_mean(x: np.ndarray, pairs: Sequence[tuple[int, int]], out_shape: tuple[int, ...]) -> np.ndarray:
    padded_axes = tuple(axis for axis, (before, after) in enumerate(pairs) if before or after)
    out = _memory.empty(out_shape, x.dtype)
    if out.size == 0:
        return out
    # The mean of a C-contiguous copy: NumPy's summation order (pairwise along the contiguous
    # axis) follows the memory layout, and a Fortran or strided input must not change the result.
    x_c = np.ascontiguousarray(x)
    if not padded_axes:
        mean = x
    elif x.dtype.kind in "iub":
        mean = _integer_mean(x, padded_axes)
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # inf - inf is NaN, as it should be
            mean = x_c.mean(axis=padded_axes, keepdims=True, dtype=np.float64)
        # float64 data near its largest value overflows the float64 sum (the mean of [max, max]
        # came out inf, of [inf, -max, -max] NaN): there, divide by the count before summing.
        overflow = ~np.isfinite(mean) & ~np.isnan(x).any(axis=padded_axes, keepdims=True)
        if overflow.any():
            count = int(np.prod([x.shape[axis] for axis in padded_axes]))
            with np.errstate(over="ignore", invalid="ignore"):
                scaled = (x_c / count).sum(axis=padded_axes, keepdims=True, dtype=np.float64)
            mean = np.where(overflow, scaled, mean)
    out[...] = mean.astype(x.dtype)
    out[tuple(slice(before, before + size) for size, (before, _) in zip(x.shape, pairs))] = x
    return out


def _integer_mean(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Exact mean of integers along ``axes`` (keepdims), rounded half to even.

    A float64 mean is not enough: it rounds int64 values (the mean of two 2**62 + 1 was 2**62) and
    the mean of int64.max became 2**63, which wrapped to int64.min when cast back. So sum exactly —
    in int64 for narrow types, in Python ints for 64-bit ones — and round with integer division.
    """
    count = int(np.prod([x.shape[axis] for axis in axes]))
    wide = x.astype(object) if x.dtype.itemsize >= 8 or count >= 2**31 else x.astype(np.int64)
    total = wide.sum(axis=axes, keepdims=True)
    quotient = total // count  # floor division: the remainder is in [0, count)
    remainder = total - quotient * count
    round_up = (2 * remainder > count) | ((2 * remainder == count) & (quotient % 2 == 1))
    return (quotient + round_up.astype(np.int64)).astype(x.dtype)


# --------------------------------------------------------------------------- gradient
#
# Every output cell of pad is a copy of one input cell or a constant: pad is linear, and its
# gradient is the transpose of the copy, a sum of the copies back onto their sources.


def pad_grad(grad: ArrayLike, paddings: Paddings, mode: PadMode = "CONSTANT") -> np.ndarray:
    """Gradient of :func:`convops.pad` with respect to its input.

    Every output cell of ``pad`` is a copy of one input cell (or a constant), so the gradient
    sends each cell of ``grad`` back to the input cell it copied and adds up the copies:

    ============  ===================================================================
    CONSTANT      crop: the border came from the constant, not from the input
    REFLECT,      fold the border back onto the cells it mirrors (TF's MirrorPadGrad)
    SYMMETRIC
    EDGE          the whole border row/column goes to the edge cell
    CIRCULAR      the border wraps around onto the opposite side
    MEAN          crop, plus each border cell's gradient shared equally (``1/count``) by all the
                  cells its mean was taken over
    ============  ===================================================================

    Parameters
    ----------
    grad : array_like
        ``dL/d(pad(x))``, shape ``x.shape[i] + before_i + after_i``, floating dtype.
    paddings : sequence of ``(before, after)`` pairs, shape (rank, 2)
        As given to :func:`convops.pad`.
    mode : str, any case
        As given to :func:`convops.pad`.

    Returns
    -------
    ndarray of shape ``x.shape``, dtype of ``grad``

    Notes
    -----
    Implemented axis by axis with the inverse of :func:`convops.padding_index`'s map (padding
    is separable, so the gradient is too). float16 is computed in float32.

    Examples
    --------
    >>> import numpy as np
    >>> import convops
    >>> convops.pad_grad(np.ones(7), [[2, 2]], "REFLECT")      # pad [a b c] -> c b a b c b a
    array([2., 3., 2.])
    >>> convops.pad_grad(np.ones(7), [[2, 2]], "EDGE")         # a a a b c c c
    array([3., 1., 3.])
    >>> convops.pad_grad(np.arange(5.), [[1, 1]], "CONSTANT")
    array([1., 2., 3.])
    """
    op = "pad_grad"
    dy = to_array(grad, "grad")
    check_dtype(dy, "grad", GRAD_DTYPES, op)
    if dy.ndim == 0:
        raise ValueError(f"`grad` of {op} must have rank >= 1; got a scalar")
    mode_upper, pairs, in_shape = _pad_spec(op, dy.shape, paddings, mode, "grad", True, ("EDGE", "CIRCULAR", "MEAN"))
    compute = compute_dtype(dy.dtype)
    if mode_upper == "MEAN":
        dx = _mean_pad_grad(dy.astype(compute, copy=False), pairs, tuple(in_shape))
    elif mode_upper == "CONSTANT":
        # A crop, as TF's Slice: copying keeps a -0.0 upstream gradient (the fold kernel sums
        # from +0.0, and +0.0 + -0.0 is +0.0).
        interior = tuple(slice(before, before + n) for (before, _), n in zip(pairs, in_shape))
        dx = _memory.empty(tuple(in_shape), compute)
        np.copyto(dx, dy[interior])
    else:
        dx = np.ascontiguousarray(dy, dtype=compute)
        for axis, ((before, after), n_in) in enumerate(zip(pairs, in_shape)):
            if before == 0 and after == 0:
                continue
            dx = _fold_axis(dx, axis, n_in, before, after, mode_upper)
        if dx is dy or np.shares_memory(dx, dy):
            dx = dx.copy()
    return dx.astype(dy.dtype) if compute != dy.dtype else dx


def _fold_axis(dy: np.ndarray, axis: int, n_in: int, before: int, after: int, mode: str) -> np.ndarray:
    """Sum the copies along ``axis``: input index j gets every output index i with map[i] == j."""
    source = padding_index(n_in, before, after, cast(PadMode, mode))
    order = np.argsort(source, kind="stable")  # output indices grouped by source, ascending i
    order = order[source[order] >= 0]  # constants feed no input cell
    indptr = np.zeros(n_in + 1, dtype=np.intp)
    np.cumsum(np.bincount(source[source >= 0], minlength=n_in), out=indptr[1:])
    outer = int(np.prod(dy.shape[:axis], dtype=np.int64))
    inner = int(np.prod(dy.shape[axis + 1 :], dtype=np.int64))
    out_shape = dy.shape[:axis] + (n_in,) + dy.shape[axis + 1 :]
    dx = _memory.empty(out_shape, dy.dtype)
    if dx.size:
        _kernels.pad_fold_axis(
            dy.reshape(outer, dy.shape[axis], inner),
            dx.reshape(outer, n_in, inner),
            indptr,
            np.ascontiguousarray(order, dtype=np.intp),
            _threads.get_num_threads(),
        )
    return dx


def _mean_pad_grad(dy: np.ndarray, pairs: Sequence[tuple[int, int]], in_shape: tuple[int, ...]) -> np.ndarray:
    """MEAN mode: border = mean of x over the padded axes (one mean per index of the others)."""
    interior = tuple(slice(before, before + n) for (before, _), n in zip(pairs, in_shape))
    dx = _memory.empty(in_shape, dy.dtype)
    np.copyto(dx, dy[interior])
    padded_axes = tuple(axis for axis, (before, after) in enumerate(pairs) if before or after)
    if not padded_axes or dx.size == 0:
        return dx
    count = int(np.prod([in_shape[axis] for axis in padded_axes]))
    # The border's total gradient per fibre, summed over the border cells themselves: "everything
    # minus the interior" gave NaN for an infinite interior cell (inf - inf) next to a finite border.
    outside = np.ones(dy.shape, dtype=bool)
    outside[interior] = False
    with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf within the border is NaN, rightly
        border = np.where(outside, dy, 0).sum(axis=padded_axes, keepdims=True, dtype=np.float64)
        dx += (border / count).astype(dy.dtype)
    return dx

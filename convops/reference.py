# Size: every op's readable loop beside its gradient's loop, in the one file the docs quote.
"""Readable NumPy reference implementations, with TensorFlow's semantics.

Written for a reader, not for speed: one loop per output position, the window taken with a
slice, the arithmetic spelled out. They are the first oracle of the test suite (and are
themselves checked against TensorFlow), and the "step 0" of the docs' road to Cython.

The forward references take already-validated NHWC arrays and explicit paddings; the public
ops in :mod:`convops` do the argument handling. The gradient references (the second half of
this file) take the arguments of their public twins in ``convops.gradients`` -- NHWC only,
``padding`` as ``"SAME"``, ``"VALID"`` or ``((top, bottom), (left, right))`` -- and return what
``tf.GradientTape`` returns: for ``y = op(x)`` and an upstream gradient ``dy = dL/dy``, the
gradient ``dL/dx`` (or ``dL/dfilters``).

Each reference is named after its op: ``reference.conv2d`` is ``convops.conv2d``'s (the older
names with a ``_reference`` suffix remain, as aliases).

One file on purpose, over the project's ~600 lines: every op and its gradient side by side, so
that a reader comparing a forward loop with its backward loop finds both here, and the docs
quote these functions from this one path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

__all__ = [
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "pad",
    "conv2d_backprop_input",
    "conv2d_backprop_filter",
    "conv2d_transpose",
    "max_pool2d_grad",
    "max_pool2d_with_argmax",
    "avg_pool2d_grad",
    "pad_grad",
]

Pair = tuple[int, int]


def conv2d(
    x: np.ndarray,
    filters: np.ndarray,
    strides: Pair = (1, 1),
    padding: tuple[Pair, Pair] = ((0, 0), (0, 0)),
    dilations: Pair = (1, 1),
) -> np.ndarray:
    r"""Cross-correlation of ``x`` with ``filters`` (``tf.nn.conv2d``), one output position at a time.

    .. math::

       y[n, i, j, o] = \sum_{k_y, k_x, c} x_{\mathrm{pad}}[n, i s_h + k_y d_h, j s_w + k_x d_w, g\,C_g + c]
       \; w[k_y, k_x, c, o]

    (``g`` the group of output channel ``o``, ``C_g = C_in / groups``), with
    ``H_out = floor((H + top + bottom - ((KH - 1) * dh + 1)) / sh) + 1`` (0 if negative).

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C_in)
    filters : ndarray, shape (KH, KW, C_in / groups, C_out)
        ``groups = C_in / filters.shape[2]``.
    strides, dilations : (h, w)
    padding : ((top, bottom), (left, right))
        Explicit zero padding.

    Returns
    -------
    ndarray, shape (N, H_out, W_out, C_out), dtype of ``x``
        Accumulated in float64 (int64 for integers, wrapped back to int32).

    Examples
    --------
    >>> import numpy as np
    >>> from convops import reference
    >>> x = np.arange(4.).reshape(1, 1, 4, 1)                  # [0, 1, 2, 3]
    >>> reference.conv2d(x, np.array([1., 10.]).reshape(1, 2, 1, 1))[0, 0, :, 0]
    array([10., 21., 32.])
    """
    (sh, sw), ((top, bottom), (left, right)), (dh, dw) = strides, padding, dilations
    n, height, width, c_in = x.shape
    kh, kw, c_group, c_out = filters.shape
    groups = c_in // c_group
    c_out_group = c_out // groups
    acc_dtype = np.int64 if x.dtype.kind in "iu" else np.float64

    # 1. Pad with zeros so that every window lies inside the array.
    xp = np.pad(x.astype(acc_dtype), ((0, 0), (top, bottom), (left, right), (0, 0)))
    # 2. The span of the dilated kernel, and how many positions fit.
    span_h, span_w = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    h_out = max((xp.shape[1] - span_h) // sh + 1, 0)
    w_out = max((xp.shape[2] - span_w) // sw + 1, 0)
    out = np.zeros((n, h_out, w_out, c_out), dtype=acc_dtype)
    w = filters.astype(acc_dtype)
    # 3. Slide the window: at each position, multiply the patch by each filter and sum.
    for y in range(h_out):
        for x_ in range(w_out):
            # Every dh-th row and dw-th column of the span: the taps of the dilated kernel.
            patch = xp[:, y * sh : y * sh + span_h : dh, x_ * sw : x_ * sw + span_w : dw, :]  # (N, KH, KW, C_in)
            for g in range(groups):
                channels = slice(g * c_group, (g + 1) * c_group)
                outputs = slice(g * c_out_group, (g + 1) * c_out_group)
                # sum over ky, kx, c of patch[n, ky, kx, c] * w[ky, kx, c, o]
                # (einsum, not tensordot: tensordot goes through BLAS, whose matrix-vector
                # kernels skip zero multipliers, so NaN * 0 came out 0 instead of NaN)
                out[:, y, x_, outputs] = np.einsum("nhwc,hwco->no", patch[..., channels], w[..., outputs])
    return out.astype(x.dtype)


def _windows(
    height: int, width: int, ksize: Pair, strides: Pair, padding: tuple[Pair, Pair]
) -> Iterator[tuple[int, int, slice, slice]]:
    """Yield (y, x, rows, cols): each output position and the *real* input cells of its window."""
    (kh, kw), (sh, sw), ((top, bottom), (left, right)) = ksize, strides, padding
    h_out = max((height + top + bottom - kh) // sh + 1, 0)
    w_out = max((width + left + right - kw) // sw + 1, 0)
    for y in range(h_out):
        for x in range(w_out):
            y0, x0 = y * sh - top, x * sw - left
            yield y, x, slice(max(y0, 0), min(y0 + kh, height)), slice(max(x0, 0), min(x0 + kw, width))


def _pool_shape(x: np.ndarray, ksize: Pair, strides: Pair, padding: tuple[Pair, Pair]) -> tuple[int, int, int, int]:
    (kh, kw), (sh, sw), ((top, bottom), (left, right)) = ksize, strides, padding
    return (
        x.shape[0],
        max((x.shape[1] + top + bottom - kh) // sh + 1, 0),
        max((x.shape[2] + left + right - kw) // sw + 1, 0),
        x.shape[3],
    )


def max_pool2d(x: np.ndarray, ksize: Pair, strides: Pair, padding: tuple[Pair, Pair] = ((0, 0), (0, 0))) -> np.ndarray:
    """Max pooling (``tf.nn.max_pool2d``): ``y[n, i, j, c] = max x[n, i*sh - top + a, j*sw - left + b, c]``
    over the window's real cells ``0 <= a < KH``, ``0 <= b < KW`` (padded cells are not part of
    any window).

    TensorFlow's CPU rule: start from the dtype's lowest finite value and, in row-major order,
    keep a value only if it is *strictly* larger. So NaN (never larger) is ignored, ``-inf`` and
    an all-NaN window give the lowest finite value, and of ``-0.0`` and ``0.0`` (equal) the
    first one in the window is kept, sign included.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C)
    ksize, strides : (h, w)
    padding : ((top, bottom), (left, right))
        Explicit, each side smaller than the window.

    Returns
    -------
    ndarray, shape (N, H_out, W_out, C), dtype of ``x``
        ``H_out = floor((H + top + bottom - KH) / sh) + 1`` (0 if negative).

    Examples
    --------
    >>> import numpy as np
    >>> from convops import reference
    >>> x = np.array([[1., 2., 5., 0.], [3., 4., 1., 1.]]).reshape(1, 2, 4, 1)
    >>> reference.max_pool2d(x, (2, 2), (2, 2))[0, :, :, 0]
    array([[4., 5.]])
    """
    lowest = np.finfo(x.dtype).min if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    out = np.full(_pool_shape(x, ksize, strides, padding), lowest, dtype=x.dtype)
    if out.size == 0:
        return out
    for y, x_, rows, cols in _windows(x.shape[1], x.shape[2], ksize, strides, padding):
        best = out[:, y, x_, :]  # (N, C), the lowest value
        for iy in range(rows.start, rows.stop):
            for ix in range(cols.start, cols.stop):
                value = x[:, iy, ix, :]
                best = np.where(value > best, value, best)
        out[:, y, x_, :] = best
    return out


def avg_pool2d(
    x: np.ndarray,
    ksize: Pair,
    strides: Pair,
    padding: tuple[Pair, Pair] = ((0, 0), (0, 0)),
    count_include_pad: bool = False,
) -> np.ndarray:
    """Average pooling (``tf.nn.avg_pool2d``): ``y[n, i, j, c] = (sum of the window's real cells) / count``.

    The real cells are summed in row-major order in the input dtype, then divided by their
    number ``count`` (TensorFlow's rule: a SAME border window counts only the cells inside the
    input), or by ``KH * KW`` when ``count_include_pad``.

    Parameters
    ----------
    x : ndarray, shape (N, H, W, C), floating
    ksize, strides : (h, w)
    padding : ((top, bottom), (left, right))
        Explicit, each side smaller than the window.
    count_include_pad : bool
        Divide by ``KH * KW`` (PyTorch's default) instead of the real cells.

    Returns
    -------
    ndarray, shape (N, H_out, W_out, C), dtype of ``x``
        Output size as for :func:`max_pool2d`.

    Examples
    --------
    >>> import numpy as np
    >>> from convops import reference
    >>> x = np.arange(9.).reshape(1, 3, 3, 1)
    >>> reference.avg_pool2d(x, (2, 2), (2, 2), ((0, 1), (0, 1)))[0, :, :, 0]  # 4, 2, 2, 1 cells
    array([[2. , 3.5],
           [6.5, 8. ]])
    """
    out = np.zeros(_pool_shape(x, ksize, strides, padding), dtype=x.dtype)
    for y, x_, rows, cols in _windows(x.shape[1], x.shape[2], ksize, strides, padding):
        total = np.zeros((x.shape[0], x.shape[3]), dtype=x.dtype)
        for iy in range(rows.start, rows.stop):
            for ix in range(cols.start, cols.stop):
                total = total + x[:, iy, ix, :]  # one addition at a time, in the input dtype
        cells = ksize[0] * ksize[1] if count_include_pad else (rows.stop - rows.start) * (cols.stop - cols.start)
        with np.errstate(invalid="ignore", divide="ignore"):
            # The count is exact (a float16 count would round above 2048); one rounding of the quotient.
            out[:, y, x_, :] = (total.astype(np.float64) / cells).astype(x.dtype)
    return out


def pad(x: np.ndarray, paddings: Sequence[Pair], mode: str = "CONSTANT", constant_values: Any = 0) -> np.ndarray:
    """Padding (``tf.pad``) by NumPy's own ``np.pad``, an independent implementation of the same modes.

    Axis ``i`` grows from ``x.shape[i]`` to ``before_i + x.shape[i] + after_i``. REFLECT =
    ``reflect``, SYMMETRIC = ``symmetric``, EDGE = ``edge``, CIRCULAR = ``wrap``. MEAN is one mean
    per index of the unpadded axes, over the padded axes (see :func:`convops.pad`).

    Parameters
    ----------
    x : ndarray, any rank
    paddings : sequence of (before, after) pairs, one per axis
    mode : "CONSTANT", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR" or "MEAN" (any case)
    constant_values : scalar
        The value of CONSTANT's border, in ``x``'s dtype.

    Returns
    -------
    ndarray, dtype of ``x``
        Shape ``x.shape[i] + before_i + after_i`` on each axis.

    Examples
    --------
    >>> import numpy as np
    >>> from convops import reference
    >>> reference.pad(np.array([1, 2, 3]), [(2, 2)], "REFLECT")
    array([3, 2, 1, 2, 3, 2, 1])
    """
    mode = mode.upper()
    pairs = [tuple(p) for p in paddings]
    if mode == "CONSTANT":
        return np.pad(x, pairs, mode="constant", constant_values=np.asarray(constant_values, x.dtype))
    if mode == "MEAN":
        axes = tuple(i for i, p in enumerate(pairs) if p != (0, 0))
        count = int(np.prod([x.shape[i] for i in axes]))
        if not axes:
            mean = x
        elif x.dtype.kind in "iub":
            # Exactly: Python ints do not overflow, and round(Fraction) rounds half to even.
            from fractions import Fraction

            total = x.astype(object).sum(axis=axes, keepdims=True)
            mean = np.vectorize(lambda t: round(Fraction(int(t), count)), otypes=[object])(total)
        else:
            # Divide first: summing float64 values near the maximum would overflow to inf.
            mean = (x.astype(np.float64) / count).sum(axis=axes, keepdims=True)
        out = np.broadcast_to(mean.astype(x.dtype), [s + a + b for s, (a, b) in zip(x.shape, pairs)]).copy()
        out[tuple(slice(a, a + s) for s, (a, _) in zip(x.shape, pairs))] = x
        return out
    numpy_mode: Any = {"REFLECT": "reflect", "SYMMETRIC": "symmetric", "EDGE": "edge", "CIRCULAR": "wrap"}[mode]
    return np.pad(x, pairs, mode=numpy_mode)


# --------------------------------------------------------------------------- gradients
#
# Backpropagation through one op: given the op's input and the upstream gradient dy = dL/dy (the
# shape of the op's output), return dL/dinput. Each function below visits the forward op's
# windows in the same order as the forward op and sends each dy value back to the cells that
# produced it: the chain rule, one window at a time.


def _pair(value: Any) -> Pair:
    """An int ``k`` means ``(k, k)``; a pair stays a pair."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    height, width = value
    return int(height), int(width)


def _explicit_padding(
    padding: Any, size: Pair, kernel: Pair, strides: Pair, dilations: Pair = (1, 1)
) -> tuple[Pair, Pair]:
    """``((top, bottom), (left, right))`` for ``"VALID"``, ``"SAME"`` or explicit ``padding``.

    TensorFlow's SAME: ``out = ceil(in / s)``, total padding ``max((out - 1) * s + span - in, 0)``
    with ``span = (k - 1) * d + 1``; the odd extra cell goes after (bottom, right).
    """
    if not isinstance(padding, str):
        (top, bottom), (left, right) = padding
        return (int(top), int(bottom)), (int(left), int(right))
    if padding.upper() == "VALID":
        return (0, 0), (0, 0)
    pairs = []
    for n_in, k, s, d in zip(size, kernel, strides, dilations):
        n_out = -(-n_in // s)  # ceil(n_in / s)
        total = max((n_out - 1) * s + (k - 1) * d + 1 - n_in, 0)
        pairs.append((total // 2, total - total // 2))
    return pairs[0], pairs[1]


def conv2d_backprop_input(
    input_sizes: Sequence[int],
    filters: np.ndarray,
    out_backprop: np.ndarray,
    strides: Any = 1,
    padding: Any = "VALID",
    dilations: Any = 1,
) -> np.ndarray:
    r"""Gradient of :func:`conv2d` with respect to its input (TF's ``Conv2DBackpropInput``).

    The forward op read input pixel ``x[n, y*sh + ky*dh - top, x*sw + kx*dw - left, c]`` through tap
    ``(ky, kx)`` of the window at output ``(y, x)``. By the chain rule that pixel's gradient is the
    sum, over every window and tap that read it, of ``dy[n, y, x, o] * filters[ky, kx, c, o]``:

    .. math::

       \frac{\partial L}{\partial x[n, i, j, c]} = \sum_{y, x, k_y, k_x, o:\
       y s_h + k_y d_h - \mathrm{top} = i,\ x s_w + k_x d_w - \mathrm{left} = j}
       dy[n, y, x, o] \, w[k_y, k_x, c, o]

    Seen from the input pixel this is a *full* correlation of ``dy`` (zeros inserted between its
    cells when the stride is > 1) with the kernel rotated by 180 degrees: a transposed
    convolution.

    Parameters
    ----------
    input_sizes : sequence of 4 ints
        ``(N, H, W, C_in)``, the shape of the forward op's input.
    filters : ndarray, shape (KH, KW, C_in / groups, C_out)
        The forward op's filters (HWIO). ``groups = C_in / filters.shape[2]``.
    out_backprop : ndarray, shape (N, H_out, W_out, C_out)
        ``dy = dL/dy``.
    strides, dilations : int or (h, w)
    padding : "VALID", "SAME" or ((top, bottom), (left, right))
        As given to the forward convolution.

    Returns
    -------
    ndarray, shape ``input_sizes``, dtype of ``filters``
        Summed in float64, rounded once. Pixels that no window read (rows dropped by a stride) get 0.

    Examples
    --------
    A 1x2 kernel ``[2, 3]`` read each pair of neighbours; each upstream value goes back to both:

    >>> import numpy as np
    >>> from convops import reference
    >>> w = np.array([2., 3.]).reshape(1, 2, 1, 1)
    >>> dy = np.array([1., 10., 100.]).reshape(1, 1, 3, 1)
    >>> reference.conv2d_backprop_input((1, 1, 4, 1), w, dy)[0, 0, :, 0]
    array([  2.,  23., 230., 300.])
    """
    n, height, width, c_in = input_sizes
    (sh, sw), (dh, dw) = _pair(strides), _pair(dilations)
    kh, kw, c_group, c_out = filters.shape
    groups = c_in // c_group
    c_out_group = c_out // groups
    pads = _explicit_padding(padding, (height, width), (kh, kw), (sh, sw), (dh, dw))
    (top, _), (left, _) = pads
    w, dy = filters.astype(np.float64), out_backprop.astype(np.float64)
    dx = np.zeros((n, height, width, c_in))
    # Visit the windows as the forward op did; send each output's dy back through each tap.
    for y in range(dy.shape[1]):
        for x_ in range(dy.shape[2]):
            for ky in range(kh):
                for kx in range(kw):
                    # the pixel this tap read
                    iy, ix = y * sh + ky * dh - top, x_ * sw + kx * dw - left
                    if not (0 <= iy < height and 0 <= ix < width):
                        continue  # it read padding: a constant, its gradient goes nowhere
                    for g in range(groups):
                        channels = slice(g * c_group, (g + 1) * c_group)
                        outputs = slice(g * c_out_group, (g + 1) * c_out_group)
                        # dx[n, iy, ix, c] += sum over o of dy[n, y, x, o] * w[ky, kx, c, o]
                        dx[:, iy, ix, channels] += np.einsum("no,co->nc", dy[:, y, x_, outputs], w[ky, kx, :, outputs])
    return dx.astype(filters.dtype)


def conv2d_backprop_filter(
    input: np.ndarray,
    filter_sizes: Sequence[int],
    out_backprop: np.ndarray,
    strides: Any = 1,
    padding: Any = "VALID",
    dilations: Any = 1,
) -> np.ndarray:
    r"""Gradient of :func:`conv2d` with respect to its filters (TF's ``Conv2DBackpropFilter``).

    Weight ``w[ky, kx, c, o]`` multiplied, at every output position, the pixel under tap
    ``(ky, kx)``; so its gradient is the sum over the batch and every position of that pixel times
    the position's upstream gradient -- a correlation of the (padded) input with ``dy``:

    .. math::

       \frac{\partial L}{\partial w[k_y, k_x, c, o]} = \sum_{n, y, x}
       x_{\mathrm{pad}}[n, y s_h + k_y d_h, x s_w + k_x d_w, g\,C_g + c] \; dy[n, y, x, o]

    (``g`` the group of output channel ``o``, ``C_g = C_in / groups``). One filter serves every
    position, so it learns from every position.

    Parameters
    ----------
    input : ndarray, shape (N, H, W, C_in)
        The forward op's input.
    filter_sizes : sequence of 4 ints
        ``(KH, KW, C_in / groups, C_out)``.
    out_backprop : ndarray, shape (N, H_out, W_out, C_out)
        ``dy = dL/dy``.
    strides, dilations : int or (h, w)
    padding : "VALID", "SAME" or ((top, bottom), (left, right))

    Returns
    -------
    ndarray, shape ``filter_sizes``, dtype of ``input``
        Summed in float64, rounded once.

    Examples
    --------
    >>> import numpy as np
    >>> from convops import reference
    >>> x = np.arange(4.).reshape(1, 1, 4, 1)              # [0, 1, 2, 3]
    >>> dy = np.ones((1, 1, 3, 1))                          # a 1x2 VALID conv has 3 outputs
    >>> reference.conv2d_backprop_filter(x, (1, 2, 1, 1), dy)[0, :, 0, 0]
    array([3., 6.])
    """
    kh, kw, c_group, c_out = filter_sizes
    (sh, sw), (dh, dw) = _pair(strides), _pair(dilations)
    groups = input.shape[3] // c_group
    c_out_group = c_out // groups
    pads = _explicit_padding(padding, input.shape[1:3], (kh, kw), (sh, sw), (dh, dw))
    (top, bottom), (left, right) = pads
    xp = np.pad(input.astype(np.float64), ((0, 0), (top, bottom), (left, right), (0, 0)))
    dy = out_backprop.astype(np.float64)
    span_h, span_w = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    dwts = np.zeros((kh, kw, c_group, c_out))
    for y in range(dy.shape[1]):
        for x_ in range(dy.shape[2]):
            # The patch the forward op read at (y, x): every dh-th row, dw-th column of the span.
            # (N, KH, KW, C_in)
            patch = xp[:, y * sh : y * sh + span_h : dh, x_ * sw : x_ * sw + span_w : dw, :]
            for g in range(groups):
                channels = slice(g * c_group, (g + 1) * c_group)
                outputs = slice(g * c_out_group, (g + 1) * c_out_group)
                # dw[ky, kx, c, o] += sum over n of patch[n, ky, kx, c] * dy[n, y, x, o]
                dwts[..., outputs] += np.einsum("nhwc,no->hwco", patch[..., channels], dy[:, y, x_, outputs])
    return dwts.astype(input.dtype)


def conv2d_transpose(
    input: np.ndarray,
    filters: np.ndarray,
    output_shape: Sequence[int],
    strides: Any,
    padding: Any = "SAME",
    dilations: Any = 1,
) -> np.ndarray:
    """Transposed convolution (``tf.nn.conv2d_transpose``): :func:`conv2d_backprop_input`
    under another name and argument order.

    Each input pixel paints ``input[n, y, x, i] * filters[:, :, o, i]`` onto the output at
    ``(y*sh - top, x*sw - left)``; overlapping paints add up.

    Parameters
    ----------
    input : ndarray, shape (N, H, W, C_in)
        The small map (it has the shape of the forward convolution's *output*).
    filters : ndarray, shape (KH, KW, C_out / groups, C_in)
        TF's layout: the filters of the forward convolution that maps C_out channels to C_in.
    output_shape : sequence of 4 ints
        ``(N, H_out, W_out, C_out)``, the large map's shape.
    strides, dilations : int or (h, w)
    padding : "SAME" (TF's default), "VALID" or ((top, bottom), (left, right))

    Returns
    -------
    ndarray, shape ``output_shape``, dtype of ``filters``

    Examples
    --------
    Stride 2 with a 2x2 kernel of ones turns each pixel into a 2x2 block:

    >>> import numpy as np
    >>> from convops import reference
    >>> x = np.array([[1., 2.], [3., 4.]]).reshape(1, 2, 2, 1)
    >>> reference.conv2d_transpose(x, np.ones((2, 2, 1, 1)), (1, 4, 4, 1), 2)[0, :, :, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [3., 3., 4., 4.],
           [3., 3., 4., 4.]])
    """
    return conv2d_backprop_input(output_shape, filters, input, strides, padding, dilations)


def _pool_padding(x_shape: Sequence[int], ksize: Pair, strides: Pair, padding: Any) -> tuple[Pair, Pair]:
    return _explicit_padding(padding, (x_shape[1], x_shape[2]), ksize, strides)


def _first_maxima(
    x: np.ndarray, ksize: Any, strides: Any, padding: Any
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """Yield ``(y, x, rows, cols)``: each output position and, for every image and channel (arrays
    of shape (N, C)), the row and column of the cell TensorFlow's max-pool picks in its window.

    TF's CPU rule: start at the window's first real cell and move only to a *strictly* greater
    value, in row-major order. So of equal maxima the first wins, and a NaN never wins (every
    comparison with NaN is false) unless it sits in the first cell.
    """
    ksize, strides = _pair(ksize), _pair(strides)
    pads = _pool_padding(x.shape, ksize, strides, padding)
    for y, x_, rows, cols in _windows(x.shape[1], x.shape[2], ksize, strides, pads):
        if rows.start >= rows.stop or cols.start >= cols.stop:
            continue  # a window of padding only (empty input)
        best = x[:, rows.start, cols.start, :]  # (N, C)
        best_row = np.full(best.shape, rows.start)
        best_col = np.full(best.shape, cols.start)
        for iy in range(rows.start, rows.stop):
            for ix in range(cols.start, cols.stop):
                value = x[:, iy, ix, :]
                better = value > best  # strictly: the first of equal maxima stays
                best = np.where(better, value, best)
                best_row = np.where(better, iy, best_row)
                best_col = np.where(better, ix, best_col)
        yield y, x_, best_row, best_col


def max_pool2d_grad(
    orig_input: np.ndarray, grad: np.ndarray, ksize: Any, strides: Any, padding: Any = "VALID"
) -> np.ndarray:
    """Gradient of :func:`max_pool2d` with respect to its input (TF's ``MaxPoolGrad``).

    Only the maximum of each window reached the output, so each window's upstream gradient goes,
    whole, to that one cell (the first maximum in row-major order when several are equal, see
    :func:`max_pool2d_with_argmax`); every other cell of the window gets nothing from it.
    Overlapping windows that pick the same cell add up.

    Parameters
    ----------
    orig_input : ndarray, shape (N, H, W, C)
        The forward op's input, floating.
    grad : ndarray, shape (N, H_out, W_out, C)
        ``dy = dL/dy``, same dtype.
    ksize, strides : int or (h, w)
    padding : "VALID", "SAME" or ((top, bottom), (left, right))
        Padded cells are never a maximum, so they never receive gradient.

    Returns
    -------
    ndarray, shape and dtype of ``orig_input``
        Added in output order (TensorFlow's), in the input dtype (float16: in float32, rounded once).

    Examples
    --------
    >>> import numpy as np
    >>> from convops import reference
    >>> x = np.array([[1., 3.], [3., 2.]]).reshape(1, 2, 2, 1)   # two maxima: the first one wins
    >>> reference.max_pool2d_grad(x, np.ones((1, 1, 1, 1)), 2, 2)[0, :, :, 0]
    array([[0., 1.],
           [0., 0.]])
    """
    compute = np.float32 if grad.dtype == np.float16 else grad.dtype
    dy = grad.astype(compute)
    dx: np.ndarray = np.zeros(orig_input.shape, dtype=compute)
    for y, x_, rows, cols in _first_maxima(orig_input, ksize, strides, padding):
        for n in range(dx.shape[0]):
            for c in range(dx.shape[3]):
                dx[n, rows[n, c], cols[n, c], c] += dy[n, y, x_, c]
    return dx.astype(orig_input.dtype)


def max_pool2d_with_argmax(
    input: np.ndarray, ksize: Any, strides: Any, padding: Any = "VALID", include_batch_in_index: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling and where each maximum came from (``tf.nn.max_pool_with_argmax``).

    Parameters
    ----------
    input : ndarray, shape (N, H, W, C)
    ksize, strides : int or (h, w)
    padding : "VALID", "SAME" or ((top, bottom), (left, right))
    include_batch_in_index : bool
        Whether the flat index counts the earlier images of the batch.

    Returns
    -------
    output : ndarray, shape (N, H_out, W_out, C), dtype of ``input``
        The value at the argmax (unlike :func:`max_pool2d` on NaN and ``-inf``).
    argmax : ndarray of int64, shape (N, H_out, W_out, C)
        The flat index ``(y * W + x) * C + c`` of the chosen cell in its image (plus
        ``n * H * W * C`` with ``include_batch_in_index``): the first maximum in row-major order.

    Examples
    --------
    >>> import numpy as np
    >>> from convops import reference
    >>> x = np.array([[1., 2., 5., 0.], [3., 4., 1., 1.]]).reshape(1, 2, 4, 1)
    >>> out, argmax = reference.max_pool2d_with_argmax(x, 2, 2)
    >>> out[0, :, :, 0], argmax[0, :, :, 0]            # 4 is at (1, 1): 1*4 + 1; 5 at (0, 2)
    (array([[4., 5.]]), array([[5, 2]]))
    """
    n, height, width, channels = input.shape
    ksize, strides = _pair(ksize), _pair(strides)
    shape = _pool_shape(input, ksize, strides, _pool_padding(input.shape, ksize, strides, padding))
    out = np.zeros(shape, dtype=input.dtype)
    argmax = np.zeros(shape, dtype=np.int64)
    for y, x_, rows, cols in _first_maxima(input, ksize, strides, padding):
        for b in range(n):
            for c in range(channels):
                out[b, y, x_, c] = input[b, rows[b, c], cols[b, c], c]
                argmax[b, y, x_, c] = (rows[b, c] * width + cols[b, c]) * channels + c
                if include_batch_in_index:
                    argmax[b, y, x_, c] += b * height * width * channels
    return out, argmax


def avg_pool2d_grad(
    orig_input_shape: Sequence[int],
    grad: np.ndarray,
    ksize: Any,
    strides: Any,
    padding: Any = "VALID",
    count_include_pad: bool = False,
) -> np.ndarray:
    """Gradient of :func:`avg_pool2d` with respect to its input (TF's ``AvgPoolGrad``).

    Each output was ``(sum of the window's real cells) / count``, so each real cell of the window
    gets ``dy / count`` from it: the upstream value spread evenly. ``count`` is the number of real
    cells in the window (a SAME border window counts only the cells inside the input), or ``KH*KW``
    with ``count_include_pad``. Overlapping windows add up; padding gets nothing.

    Parameters
    ----------
    orig_input_shape : sequence of 4 ints
        ``(N, H, W, C)``.
    grad : ndarray, shape (N, H_out, W_out, C)
        ``dy = dL/dy``, floating.
    ksize, strides : int or (h, w)
    padding : "VALID", "SAME" or ((top, bottom), (left, right))
    count_include_pad : bool
        Divide by ``KH*KW`` (PyTorch's default) instead of the real cells (TensorFlow's rule).

    Returns
    -------
    ndarray, shape ``orig_input_shape``, dtype of ``grad``
        TensorFlow's arithmetic: the share ``1/count`` rounded to the dtype, each cell adding its
        windows' ``dy * share`` in output order (float16: in float32, rounded once).

    Examples
    --------
    A 3x3 input, 2x2 windows, stride 2, SAME: windows of 4, 2, 2 and 1 real cells.

    >>> import numpy as np
    >>> from convops import reference
    >>> g = reference.avg_pool2d_grad((1, 3, 3, 1), np.ones((1, 2, 2, 1)), 2, 2, "SAME")
    >>> g[0, :, :, 0]
    array([[0.25, 0.25, 0.5 ],
           [0.25, 0.25, 0.5 ],
           [0.5 , 0.5 , 1.  ]])
    """
    ksize, strides = _pair(ksize), _pair(strides)
    n, height, width, channels = orig_input_shape
    pads = _explicit_padding(padding, (height, width), ksize, strides)
    compute = np.dtype(np.float32 if grad.dtype == np.float16 else grad.dtype)
    dy = grad.astype(compute)
    dx = np.zeros((n, height, width, channels), dtype=compute)
    for y, x_, rows, cols in _windows(height, width, ksize, strides, pads):
        count = ksize[0] * ksize[1] if count_include_pad else (rows.stop - rows.start) * (cols.stop - cols.start)
        if count == 0:
            continue  # a window of padding only (empty input)
        share = compute.type(1.0 / count)  # 1/count rounded to the dtype, as TF does
        dx[:, rows, cols, :] += (dy[:, y, x_, :] * share)[:, None, None, :]
    return dx.astype(grad.dtype)


def _source_index(i: int, size: int, before: int, mode: str) -> int:
    """Index of the input cell that :func:`convops.pad` copied to index ``i`` of a padded axis
    (``size`` input cells, ``before`` added in front); -1 for a constant."""
    p = i - before
    if 0 <= p < size:
        return p  # the input itself
    if mode == "CONSTANT":
        return -1
    if mode == "REFLECT":  # d c b | a b c d | c b a: the edge is not repeated
        return -p if p < 0 else 2 * (size - 1) - p
    if mode == "SYMMETRIC":  # c b a | a b c d | d c b: the edge is repeated
        return -p - 1 if p < 0 else 2 * size - 1 - p
    if mode == "EDGE":  # a a a | a b c d | d d d
        return 0 if p < 0 else size - 1
    if mode == "CIRCULAR":  # b c d | a b c d | a b c
        return p % size
    raise ValueError(f"no source index in mode {mode!r}")


def pad_grad(grad: np.ndarray, paddings: Sequence[Pair], mode: str = "CONSTANT") -> np.ndarray:
    """Gradient of :func:`convops.pad` with respect to its input (TF's ``MirrorPadGrad`` and slice).

    Every cell of the padded array is a copy of one input cell (or the constant), so each input
    cell's gradient is the sum of ``grad`` over its copies: CONSTANT crops the border off (the
    constant is not the input); REFLECT and SYMMETRIC add each border cell back onto the cell it
    mirrors; EDGE adds the whole border to the edge cell; CIRCULAR wraps it around. Padding is
    separable, so this folds one axis at a time. MEAN: the border cells are means of the input
    (over the padded axes), so each border cell's gradient is shared equally by the cells it
    averaged.

    Parameters
    ----------
    grad : ndarray
        ``dy = dL/d(pad(x))``, any rank, floating; ``grad.shape[i] = x.shape[i] + before_i + after_i``.
    paddings : sequence of (before, after) pairs, one per axis
    mode : "CONSTANT", "REFLECT", "SYMMETRIC", "EDGE", "CIRCULAR" or "MEAN" (any case)

    Returns
    -------
    ndarray, shape of ``x``, dtype of ``grad``
        Each input cell adds its copies in increasing index order, axis 0 first (float16: in float32,
        rounded once).

    Examples
    --------
    REFLECT pads ``[a, b, c]`` with 2 on each side into ``c b a b c b a``: ``a`` and ``c`` have two
    copies, ``b`` three.

    >>> import numpy as np
    >>> from convops import reference
    >>> reference.pad_grad(np.ones(7), [(2, 2)], "REFLECT")
    array([2., 3., 2.])
    >>> reference.pad_grad(np.arange(5.), [(1, 1)], "CONSTANT")
    array([1., 2., 3.])
    """
    mode = mode.upper()
    paddings = [(int(before), int(after)) for before, after in paddings]
    compute = np.float32 if grad.dtype == np.float16 else grad.dtype
    dx = grad.astype(compute)
    if mode == "MEAN":
        return _mean_pad_grad_reference(dx, paddings).astype(grad.dtype)
    for axis, (before, after) in enumerate(paddings):
        if before == 0 and after == 0:
            continue
        size = dx.shape[axis] - before - after
        padded = np.moveaxis(dx, axis, 0)  # this axis first
        folded = np.zeros((size,) + padded.shape[1:], dtype=compute)
        seen = np.zeros(size, dtype=bool)  # the first copy is taken as is: -0.0 stays -0.0
        for i in range(padded.shape[0]):
            j = _source_index(i, size, before, mode)
            if j >= 0:  # add the copy back onto its source
                folded[j] = folded[j] + padded[i] if seen[j] else padded[i]
                seen[j] = True
        dx = np.moveaxis(folded, 0, axis)
    return np.ascontiguousarray(dx).astype(grad.dtype)


def _mean_pad_grad_reference(dy: np.ndarray, paddings: Sequence[Pair]) -> np.ndarray:
    """MEAN mode: interior cells are the input; every border cell is the mean of the input over the
    padded axes (one mean per index of the other axes), so it hands ``1/count`` of its gradient to
    each of the ``count`` cells it averaged."""
    interior = tuple(slice(before, size - after) for size, (before, after) in zip(dy.shape, paddings))
    dx = dy[interior].copy()
    axes = tuple(axis for axis, pair in enumerate(paddings) if pair != (0, 0))
    if not axes or dx.size == 0:
        return dx
    count = int(np.prod([dx.shape[axis] for axis in axes]))
    border = np.ones(dy.shape, dtype=bool)
    border[interior] = False
    with np.errstate(invalid="ignore", over="ignore"):
        # The border's gradient, summed per fibre of the unpadded axes (in float64), shared by `count`.
        total = np.where(border, dy, 0).sum(axis=axes, keepdims=True, dtype=np.float64)
        dx += (total / count).astype(dy.dtype)
    return dx


# --------------------------------------------------------------------------- old names
# Each reference is named after its op (``reference.conv2d`` is the reference of
# ``convops.conv2d``); the names with a ``_reference`` suffix stay as aliases.
conv2d_reference = conv2d
max_pool2d_reference = max_pool2d
avg_pool2d_reference = avg_pool2d
pad_reference = pad
conv2d_backprop_input_reference = conv2d_backprop_input
conv2d_backprop_filter_reference = conv2d_backprop_filter
conv2d_transpose_reference = conv2d_transpose
max_pool2d_grad_reference = max_pool2d_grad
max_pool2d_with_argmax_reference = max_pool2d_with_argmax
avg_pool2d_grad_reference = avg_pool2d_grad
pad_grad_reference = pad_grad

"""Argument checking and normalisation shared by every public op.

Each helper turns one of TensorFlow's argument forms into one canonical Python value, or raises
``ValueError``/``TypeError`` naming the argument, the rule and what was received. Nothing here
touches array data beyond ``np.asarray``; the kernels trust what these helpers hand them.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

DATA_FORMATS = ("NHWC", "NCHW")
PADDING_STRINGS = ("SAME", "VALID")
#: Largest stride, dilation, window or padding the kernels accept. Their index arithmetic is in
#: Py_ssize_t (int64): with every term at most 2**60, no sum they form (``oy*s - pad + ky*d``) can
#: overflow, and no array can be that large anyway. Larger values raise ValueError (they used to
#: reach the kernels and fail with OverflowError).
MAX_EXTENT = 2**60
# The byte-order character of a non-native array (NumPy writes native order as "=" or "|").
_FOREIGN_BYTE_ORDER = ">" if sys.byteorder == "little" else "<"


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def as_int(value: Any, name: str) -> int:
    """An exact Python int from an int-like value; floats, bools and strings are refused."""
    if type(value) is int:  # the usual case, first: the ABC check below costs ~1 us per value
        return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be an integer, not a bool; got {_describe(value)}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
        return int(value)
    raise TypeError(f"`{name}` must be an integer; got {_describe(value)}")


FILTERS_FORMATS = ("HWIO", "OIHW")


def check_name(name: Any) -> None:
    """TensorFlow's ``name=``: accepted (a string or None) and ignored."""
    if name is not None and not isinstance(name, str):
        raise TypeError(f"`name` must be a string or None (TensorFlow's op name, ignored); got {_describe(name)}")


def check_data_format(data_format: Any) -> str:
    if not isinstance(data_format, str) or data_format.upper() not in DATA_FORMATS:
        raise ValueError(f"`data_format` must be one of {DATA_FORMATS}; got {_describe(data_format)}")
    return data_format.upper()


def spatial_pair(value: Any, name: str, data_format: str = "NHWC") -> tuple[int, int]:
    """``strides``/``dilations``/``ksize`` in any form ``tf.nn`` accepts, as ``(h, w)`` >= 1.

    Accepted: an int, a sequence of 1 or 2 ints, or TF's 4-list (``[1, h, w, 1]`` for NHWC,
    ``[1, 1, h, w]`` for NCHW) whose batch and channel entries must be 1.
    """
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        items = [as_int(v, name) for v in value]
        if len(items) == 1:
            h = w = items[0]
        elif len(items) == 2:
            h, w = items
        elif len(items) == 4:
            if data_format == "NHWC":
                batch, h, w, channel = items
            else:
                batch, channel, h, w = items
            if batch != 1 or channel != 1:
                layout = "[1, h, w, 1]" if data_format == "NHWC" else "[1, 1, h, w]"
                raise ValueError(
                    f"`{name}` as a 4-list must be {layout} for {data_format} (no striding "
                    f"over batch or channels); got {list(value)}"
                )
        else:
            raise ValueError(
                f"`{name}` must be an int or a sequence of 1, 2 or 4 ints; got {len(items)} values: {list(value)}"
            )
    else:
        h = w = as_int(value, name)
    if h < 1 or w < 1:
        raise ValueError(f"`{name}` must be >= 1 in every spatial dimension; got {(h, w)}")
    check_extent(max(h, w), name)
    return h, w


def check_extent(value: int, name: str) -> None:
    """Refuse a stride/dilation/window/padding above :data:`MAX_EXTENT` (see there)."""
    if value > MAX_EXTENT:
        raise ValueError(f"`{name}` must be at most 2**60 (the kernels index with 64-bit integers); got {value}")


def _pad_pair(item: Any, name: str) -> tuple[int, int]:
    if isinstance(item, np.ndarray):
        item = item.tolist()
    if not isinstance(item, (list, tuple)) or len(item) != 2:
        raise ValueError(f"each entry of `{name}` must be a pair (before, after); got {_describe(item)}")
    before, after = as_int(item[0], name), as_int(item[1], name)
    if before < 0 or after < 0:
        raise ValueError(f"`{name}` must be non-negative; got {(before, after)}")
    check_extent(max(before, after), name)
    return before, after


def parse_padding(padding: Any, data_format: str = "NHWC", name: str = "padding") -> Any:
    """``"SAME"``/``"VALID"`` (any case) or explicit padding as ``((top, bottom), (left, right))``.

    Explicit forms: TF's 4x2 list (``[[0, 0], [t, b], [l, r], [0, 0]]`` for NHWC,
    ``[[0, 0], [0, 0], [t, b], [l, r]]`` for NCHW) or the short 2x2 ``((t, b), (l, r))``.
    """
    if isinstance(padding, str):
        mode = padding.upper()
        if mode not in PADDING_STRINGS:
            raise ValueError(f"`{name}` must be 'SAME', 'VALID' or explicit [[t, b], [l, r]]; got {padding!r}")
        return mode
    if isinstance(padding, np.ndarray):
        padding = padding.tolist()
    if not isinstance(padding, (list, tuple)):
        raise TypeError(f"`{name}` must be 'SAME', 'VALID' or a nested sequence of ints; got {_describe(padding)}")
    if len(padding) == 2:
        return _pad_pair(padding[0], name), _pad_pair(padding[1], name)
    if len(padding) == 4:
        pairs = [_pad_pair(item, name) for item in padding]
        if data_format == "NHWC":
            batch, top_bottom, left_right, channel = pairs
        else:
            batch, channel, top_bottom, left_right = pairs
        if batch != (0, 0) or channel != (0, 0):
            raise ValueError(f"explicit `{name}` must not pad the batch or channel dimension; got {list(padding)}")
        return top_bottom, left_right
    raise ValueError(
        f"explicit `{name}` must be 2 pairs ((t, b), (l, r)) or 4 pairs (TF's form); "
        f"got {len(padding)} entries: {_describe(padding)}"
    )


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or hasattr(value, "__array__") or hasattr(value, "__array_interface__")


def to_array(value: Any, name: str, like: np.ndarray | None = None) -> np.ndarray:  # noqa: C901 (one branch per TF rule)
    """``value`` as an ndarray, following ``tf.convert_to_tensor``'s dtype rules for non-arrays.

    An array keeps its dtype. A list, tuple or scalar takes ``like``'s dtype when given;
    otherwise Python ints become int32 and Python floats float32, as in TensorFlow.
    """
    if _is_array(value):
        try:
            array = np.asarray(value)
        except Exception as exc:  # noqa: BLE001 - report any conversion failure as a TypeError
            raise TypeError(f"`{name}` could not be converted to an array: {exc}") from None
        if array.dtype.byteorder == _FOREIGN_BYTE_ORDER:
            # The same numbers in the other byte order (a big-endian ``>f4`` from a file or a
            # network protocol) are the same dtype to a user: one copy in native order, so every op
            # accepts them as ``pad`` always did (the kernels read native elements only).
            return array.astype(array.dtype.newbyteorder("="))
        # The kernels read typed elements: data at an address that is not a multiple of the item
        # size (a view at a byte offset into a buffer) is undefined behaviour in C (UBSan's
        # "misaligned load"; an aligned SIMD load would fault), so such arrays are copied.
        return array if array.flags.aligned else array.copy()
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"`{name}` must be a rectangular array-like of numbers: {exc}") from None
    if array.dtype.kind in "OUSVmM":
        raise TypeError(f"`{name}` must contain real numbers; got an array of dtype {array.dtype}")
    if like is not None and array.dtype.kind in "iuf" and like.dtype.kind in "iuf":
        if like.dtype.kind in "iu" and array.size:
            # As tf.convert_to_tensor: refuse values the integer dtype cannot hold (a bare astype
            # would wrap 2**40 to 0 and turn 1e20 into garbage).
            if array.dtype.kind == "f":
                with np.errstate(invalid="ignore"):
                    integral = np.isfinite(array) & (np.mod(array, 1) == 0)
                if not np.all(integral):
                    raise TypeError(f"`{name}` holds non-integer values but the other operand is {like.dtype}")
            info = np.iinfo(like.dtype)
            if array.min() < info.min or array.max() > info.max:
                raise ValueError(
                    f"`{name}` holds values outside the range of {like.dtype} (the other operand's "
                    f"dtype): min {array.min()}, max {array.max()}"
                )
        with np.errstate(over="ignore"):  # a float too large for float16/32 becomes inf, as in TF
            return array.astype(like.dtype)
    if array.dtype.kind in "iu":
        info = np.iinfo(np.int32)
        if array.size and (array.min() < info.min or array.max() > info.max):
            return array.astype(np.int64)
        return array.astype(np.int32)
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    return array


def _dtype_fix(dtype: np.dtype, allowed: tuple[np.dtype, ...]) -> str:
    """The one line that turns a refused array into an accepted one, where there is one."""
    if dtype.kind in "biuf" and np.dtype(np.float32) in allowed:
        scale = " (uint8 pixels keep their values 0..255: divide by 255 for [0, 1])" if dtype == np.uint8 else ""
        return f". Convert it first: `x.astype('float32')`{scale}"
    return ""


def check_dtype(array: np.ndarray, name: str, allowed: tuple[np.dtype, ...], op: str) -> None:
    if array.dtype not in allowed:
        names = ", ".join(str(np.dtype(d)) for d in allowed)
        raise TypeError(
            f"`{name}` of {op} must have one of the dtypes {names}; got {array.dtype}"
            + _dtype_fix(array.dtype, allowed)
        )


def check_rank(array: np.ndarray, name: str, op: str, layout: str) -> None:
    if array.ndim != 4:
        hint = ""
        if array.ndim == 3:
            one = layout.replace("(N, ", "(")
            hint = f". For one image of shape {one}, pass `x[None]` (adds the batch axis: {layout})"
        raise ValueError(
            f"`{name}` of {op} must be 4-D {layout} (or 2-D (H, W) for one grayscale image); "
            f"got {array.ndim}-D with shape {array.shape}{hint}"
        )


def _integer_bytes(value: Any, array: np.ndarray) -> int:
    """Bytes an integer operand needs: its itemsize, except for a list or scalar (which has no
    dtype of its own, only TensorFlow's int32 by convention): 2 when its values fit in int16."""
    if not _is_array(value) and array.size and array.min() >= -(2**15) and array.max() < 2**15:
        return 2
    return array.dtype.itemsize


def promote_2d_pair(
    first: Any, second: Any, first_name: str, second_name: str, allowed: tuple[np.dtype, ...]
) -> tuple[Any, Any]:
    """The learner's 2-D form (one ``(H, W)`` image and one ``(KH, KW)`` kernel) with integer or
    bool operands, as float: the float dtype among the operands (their wider one); else float32
    when every integer operand has at most 16 bits (uint8 pixels, int16 kernels: exact in
    float32), float64 for wider integers (exact up to 2**53, where float32 would round above 2**24).

    This is the one place convops is more lenient than TensorFlow: an image read with PIL,
    imageio or scikit-image is ``uint8`` and a kernel typed as ``[[-1, 0, 1]] * 3`` is integer,
    and the 2-D form exists for exactly that first call. Values are converted, not rescaled
    (``255`` stays ``255.0``). Anything else -- a pair that is already valid (``int32`` with
    ``int32``), a 4-D call, a non-numeric operand -- is returned unchanged for the usual checks.
    """
    a, b = to_array(first, first_name), to_array(second, second_name)
    if a.ndim != 2 or b.ndim != 2 or (a.dtype == b.dtype and a.dtype in allowed):
        return first, second
    kinds = a.dtype.kind + b.dtype.kind
    if any(kind not in "biuf" for kind in kinds) or not any(kind in "biu" for kind in kinds):
        return first, second
    floats = [d for d in (a.dtype, b.dtype) if d.kind == "f"]
    if floats:
        target = np.result_type(*floats)
    else:
        widest = max(_integer_bytes(first, a), _integer_bytes(second, b))
        target = np.dtype(np.float32 if widest <= 2 else np.float64)
    if target not in allowed:
        return first, second
    return a.astype(target), b.astype(target)


def promote_2d_image(value: Any, name: str, allowed: tuple[np.dtype, ...]) -> Any:
    """One 2-D image for average pooling: integer or bool pixels as float32 (float64 for integers
    wider than 16 bits, which float32 would round), values unchanged."""
    array = to_array(value, name)
    if array.ndim == 2 and array.dtype.kind in "biu" and array.dtype not in allowed and np.float32 in allowed:
        return array.astype(np.float32 if _integer_bytes(value, array) <= 2 else np.float64)
    return value


def check_output_size(shape: tuple[int, ...], dtype: np.dtype, op: str) -> None:
    """Refuse outputs whose byte size cannot be indexed, before anything is allocated."""
    # NumPy cannot create even an *empty* array whose non-zero extents multiply (times the item
    # size) beyond intp: padding 2**60 along an axis next to an empty one must be refused here too.
    count = 1
    for extent in shape:
        count *= max(extent, 1)
    if count * np.dtype(dtype).itemsize > np.iinfo(np.intp).max:
        raise ValueError(
            f"{op} output of shape {tuple(shape)} is too large to index "
            f"({count} elements of {np.dtype(dtype).itemsize} bytes, counting empty extents as 1)"
        )


# --------------------------------------------------------------------------- shared by the gradients

#: dtypes that have gradients: float16 is computed in float32 and rounded once, as TF's CPU does
#: for its float16 convolutions.
GRAD_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def compute_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def to_nhwc(array: np.ndarray, data_format: str) -> np.ndarray:
    return array.transpose(0, 2, 3, 1) if data_format == "NCHW" else array


def from_nhwc(array: np.ndarray, data_format: str) -> np.ndarray:
    return np.ascontiguousarray(array.transpose(0, 3, 1, 2)) if data_format == "NCHW" else array


def check_4d(array: np.ndarray, name: str, op: str, layout: str) -> None:
    if array.ndim != 4:
        raise ValueError(f"`{name}` of {op} must be 4-D {layout}; got {array.ndim}-D with shape {array.shape}")


def int_vector(value: Any, name: str, lengths: Sequence[int], what: str) -> tuple[int, ...]:
    """A shape argument (list, tuple or integer array) as a tuple of non-negative ints."""
    if isinstance(value, np.ndarray):
        if value.ndim != 1 or value.dtype.kind not in "iu":
            raise TypeError(
                f"`{name}` must be a 1-D sequence of integers {what}; got an array of dtype "
                f"{value.dtype} and shape {value.shape}"
            )
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"`{name}` must be a sequence of integers {what}; got {_describe(value)}")
    items = tuple(as_int(v, name) for v in value)
    if len(items) not in lengths:
        raise ValueError(
            f"`{name}` must have {' or '.join(map(str, lengths))} entries {what}; got {len(items)}: {list(items)}"
        )
    if any(v < 0 for v in items):
        raise ValueError(f"`{name}` must be non-negative; got {list(items)}")
    return items

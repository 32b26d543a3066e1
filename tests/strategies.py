# Size: every composite Hypothesis strategy of the suite, in the one place the suites share.
"""Hypothesis strategies for every op, in one place: ``conv2d_cases``, ``pool2d_cases``, ``pad_cases``.

Each strategy draws a *case*: the canonical problem (NHWC arrays, ``(h, w)`` pairs, padding
``"SAME"``/``"VALID"``/``((top, bottom), (left, right))``) that the oracles receive, plus how convops
is called: each argument *spelled* in one of the forms convops accepts (an int, a pair, TF's 4-list,
lower-case padding, TF's 4x2 explicit padding, NumPy arrays), the data format, and how the input
array is laid out in memory (C, Fortran, negative strides, gapped strides, read-only, a list).
The translation from spelling to canonical form is written here, independently of convops'
parser, so that a parsing bug shows up as a mismatch.

Shapes are small (sides <= ~17) so each example is fast and failures shrink to a few pixels;
kernel and stride sizes along H and W are drawn independently (non-square everything).
Array *values* come from a NumPy generator seeded by Hypothesis: drawing thousands of elements
one by one through Hypothesis is slow, and value shrinking matters less here than shape
shrinking. The value *style* (normal, small integers with many ties, extremes, NaN and inf,
all negative) is drawn by Hypothesis, so it shrinks too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from hypothesis import strategies as st

import tf_rules

Pair = tuple[int, int]

CONV_DTYPES = ("float16", "float32", "float64", "int32")
MAX_POOL_DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16")
AVG_POOL_DTYPES = ("float16", "float32", "float64")
PAD_DTYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
)
LAYOUTS = ("C", "F", "negative", "gapped", "readonly", "list")
#: Channel counts that cross SIMD vector widths (4 float64 lanes under AVX2, 8 float32 under AVX2
#: or float64 under AVX-512, 16 float32 under AVX-512) and leave scalar tails: the kernels'
#: vector loops and their tails both run. Drawn beside the small counts of every op's strategy.
WIDE_CHANNELS = (8, 9, 16, 17, 33)


# --------------------------------------------------------------------------- values


def make_values(rng: np.random.Generator, shape: Sequence[int], dtype: np.dtype, style: str) -> np.ndarray:
    """An array of ``shape`` and ``dtype`` in one of the value styles (C-contiguous, writeable).

    Any dtype NumPy has, and 0-d shapes: the hardening harness draws complex, object, string,
    datetime and void arrays (which convops must refuse) and non-native byte orders through here.
    """
    dtype = np.dtype(dtype)
    # np.asarray: a 0-d draw is a NumPy scalar (rng.random(()) is a float), not an array.
    return np.asarray(_values(rng, tuple(shape), dtype, style), dtype=dtype)


def _values(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype, style: str) -> Any:
    if dtype.kind not in "biuf":
        return _exotic_values(rng, shape, dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if style == "ties":
        # Few distinct small integers: many equal maxima, exact sums.
        values = rng.integers(-2, 3, size=shape)
        if dtype.kind == "u":
            values = np.abs(values)
        return values.astype(dtype)
    if style == "negative":
        if dtype.kind == "u":
            return rng.integers(0, 3, size=shape).astype(dtype)
        if dtype.kind == "f":
            return (-1.0 - 8.0 * rng.random(shape)).astype(dtype)
        return rng.integers(-100, -1, size=shape, endpoint=True).astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if style == "extremes":
            pool = np.array([info.min, info.min + 1, 0, 1, info.max - 1, info.max], dtype=dtype)
            return rng.choice(pool, size=shape)
        return rng.integers(max(info.min, -50), min(info.max, 50), size=shape, endpoint=True).astype(dtype)
    info = np.finfo(dtype)
    if style == "extremes":
        pool = np.array([info.min, -1.0, -info.tiny, -0.0, 0.0, info.tiny, 1.0, info.max, np.inf, -np.inf], dtype=dtype)
        return rng.choice(pool, size=shape)
    if style == "large":
        # float16: products and sums beyond 65504 overflow to inf (after the float32 sum, in TF too).
        # float32/64: huge but far from overflow (~1e34 / ~1e300 per product), because where a
        # partial sum overflows depends on the summation order, which differs between libraries.
        scale = {2: 150.0, 4: 1e17, 8: 1e150}[dtype.itemsize]
        return (rng.standard_normal(shape) * scale).astype(dtype)
    # np.array: a 0-d product is a NumPy scalar, which item assignment below cannot change.
    values = np.array(rng.standard_normal(shape) * (2.0 if dtype.itemsize == 2 else 10.0))
    if style == "sparse_nonfinite":
        # A few NaN and ±inf among finite values, and zeros (0 * inf = NaN), so that only some
        # outputs are non-finite.
        values[rng.random(shape) < 0.1] = 0.0
        values[rng.random(shape) < 0.03] = np.nan
        values[rng.random(shape) < 0.03] = np.inf
        values[rng.random(shape) < 0.03] = -np.inf
    if style == "nan":
        values[rng.random(shape) < 0.3] = np.nan
        values[rng.random(shape) < 0.05] = np.inf
        values[rng.random(shape) < 0.05] = -np.inf
    return values.astype(dtype)


def _exotic_values(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """Values for dtypes no op accepts (the hardening harness checks they are refused)."""
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j).astype(dtype)
    if dtype.kind == "O":
        return rng.standard_normal(shape).astype(object)
    if dtype.kind in "US":
        return np.full(shape, "ab", dtype=dtype)
    return np.zeros(shape, dtype=dtype)  # datetime, timedelta, void; longdouble is kind "f"


def filter_style(style: str) -> str:
    """The filters' value style for an input style: ties with ties (exact sums), non-finite and
    large values on both operands, otherwise normal."""
    return style if style in ("ties", "sparse_nonfinite", "large") else "normal"


# --------------------------------------------------------------------------- layouts


class ArrayLike:
    """Not an ndarray, but convertible with ``__array__`` (as pandas or xarray objects are)."""

    def __init__(self, array: np.ndarray):
        self._array = array

    def __array__(self, dtype=None, copy=None):
        return self._array if dtype is None else self._array.astype(dtype)

    def __repr__(self) -> str:
        from checks import format_value  # (checks does not import strategies: no cycle)

        return f"ArrayLike({format_value(self._array)})"


def present(array: np.ndarray, layout: str) -> Any:
    """``array``'s values, presented to convops in another memory layout (or as a list).

    ``LAYOUTS`` are the ones every op's property tests draw; the hardening harness also draws
    ``broadcast`` (zero strides: only the first index along axis 0 survives, so the caller must
    take its expected values from what is returned), ``unaligned`` (a view at byte offset 1) and
    ``arraylike`` (an object with ``__array__``). 0-d arrays stay 0-d in every layout.
    """
    # (np.ascontiguousarray and np.asfortranarray would turn a 0-d array into a 1-d one.)
    if layout in ("C", "F"):
        return np.array(array, order=layout)
    if layout == "readonly":
        view = np.array(array)
        view.setflags(write=False)
        return view
    if layout == "list":
        return array.tolist()
    if layout == "arraylike":
        return ArrayLike(np.array(array))
    if layout == "unaligned":
        if array.dtype.itemsize <= 1 or array.dtype.kind in "OV":
            return np.array(array)  # byte-sized items are always aligned; objects cannot be viewed
        raw = np.zeros(array.nbytes + 1, dtype=np.uint8)
        view = raw[1:].view(array.dtype).reshape(array.shape)
        view[...] = array
        return view
    if array.ndim == 0:
        return array.copy()  # no strides to play with
    if layout == "negative":
        flip = (slice(None, None, -1),) * array.ndim
        return np.ascontiguousarray(array[flip])[flip]
    if layout == "gapped":
        return np.repeat(array, 2, axis=-1)[..., ::2]
    if layout == "broadcast":
        return np.broadcast_to(array[:1] if array.shape[0] else array, array.shape)
    raise ValueError(f"unknown layout {layout!r}")


# --------------------------------------------------------------------------- spellings


def spell_pair(draw, pair: Pair, data_format: str, name: str) -> Any:
    """``strides``/``dilations``/``ksize`` in one of the forms ``tf.nn`` accepts."""
    h, w = pair
    forms = ["pair_tuple", "pair_list", "four", "numpy"]
    if h == w:
        forms += ["int", "one", "numpy_int"]
    form = draw(st.sampled_from(forms), label=f"{name} spelling")
    if form == "int":
        return h
    if form == "numpy_int":
        return np.int64(h)
    if form == "one":
        return [h]
    if form == "pair_tuple":
        return (h, w)
    if form == "pair_list":
        return [h, w]
    if form == "four":
        return [1, h, w, 1] if data_format == "NHWC" else [1, 1, h, w]
    return np.array([h, w])


def spell_padding(draw, padding: Any, data_format: str, allow_lower: bool = True) -> Any:
    if isinstance(padding, str):
        choices = [padding, padding.lower(), padding.capitalize()] if allow_lower else [padding]
        return draw(st.sampled_from(choices), label="padding spelling")
    (top, bottom), (left, right) = padding
    form = draw(st.sampled_from(["short", "short_list", "tf", "numpy"]), label="padding spelling")
    if form == "short":
        return ((top, bottom), (left, right))
    if form == "short_list":
        return [[top, bottom], [left, right]]
    full = (
        [[0, 0], [top, bottom], [left, right], [0, 0]]
        if data_format == "NHWC"
        else [[0, 0], [0, 0], [top, bottom], [left, right]]
    )
    return np.array(full) if form == "numpy" else full


# --------------------------------------------------------------------------- cases


@dataclass
class ConvCase:
    """One conv2d problem. ``x`` is NHWC (N, H, W, C_in), ``w`` HWIO (KH, KW, C_in/groups, C_out)."""

    x: np.ndarray
    w: np.ndarray
    strides: Pair = (1, 1)
    padding: Any = "VALID"
    dilations: Pair = (1, 1)
    data_format: str = "NHWC"
    image_2d: bool = False
    layout: str = "C"
    filter_layout: str = "C"
    spelled: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    style: str = "normal"

    def with_dtype(self, dtype: Any) -> ConvCase:
        """The same geometry with values of ``dtype``: regenerated from the seed in the same style,
        or (pinned examples, which hold small integers) cast exactly."""
        dtype = np.dtype(dtype)
        if self.x.dtype == dtype and self.w.dtype == dtype:
            return self
        if self.seed is None:
            x, w = self.x.astype(dtype), self.w.astype(dtype)
        else:
            rng = np.random.default_rng(self.seed)
            x = make_values(rng, self.x.shape, dtype, self.style)
            w = make_values(rng, self.w.shape, dtype, filter_style(self.style))
        layout, filter_layout = self.layout, self.filter_layout
        if layout == "list" and filter_layout == "list" and dtype.name not in ("float32", "int32"):
            filter_layout = "C"
        return replace(self, x=x, w=w, layout=layout, filter_layout=filter_layout)

    def convops_args(self) -> tuple[tuple, dict]:
        """Positional and keyword arguments for ``convops.conv2d``."""
        if self.image_2d:
            x, w = self.x[0, :, :, 0], self.w[:, :, 0, 0]
        elif self.data_format == "NCHW":
            x, w = self.x.transpose(0, 3, 1, 2), self.w
        else:
            x, w = self.x, self.w
        kwargs = {
            "strides": self.spelled.get("strides", self.strides),
            "padding": self.spelled.get("padding", self.padding),
            "dilations": self.spelled.get("dilations", self.dilations),
        }
        if self.data_format != "NHWC":
            kwargs["data_format"] = self.data_format
        return (present(x, self.layout), present(w, self.filter_layout)), kwargs

    def to_nhwc(self, result: np.ndarray) -> np.ndarray:
        """convops' result seen as NHWC (N, H_out, W_out, C_out)."""
        if self.image_2d:
            return result[None, :, :, None]
        return result.transpose(0, 2, 3, 1) if self.data_format == "NCHW" else result

    @property
    def explicit_padding(self) -> tuple[Pair, Pair]:
        """The padding as ((top, bottom), (left, right)), SAME resolved by TF's rule, written out here."""
        return resolve_same(self.padding, self.x.shape[1:3], self.w.shape[:2], self.strides, self.dilations)

    @property
    def output_hw(self) -> Pair:
        (top, bottom), (left, right) = self.explicit_padding
        spans = [(k - 1) * d + 1 for k, d in zip(self.w.shape[:2], self.dilations)]
        sizes = [self.x.shape[1] + top + bottom, self.x.shape[2] + left + right]
        return tuple(max((i - k) // s + 1, 0) for i, k, s in zip(sizes, spans, self.strides))


@dataclass
class PoolCase:
    """One pooling problem on NHWC ``x`` (N, H, W, C)."""

    x: np.ndarray
    ksize: Pair
    strides: Pair
    padding: Any = "VALID"
    data_format: str = "NHWC"
    image_2d: bool = False
    layout: str = "C"
    spelled: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    style: str = "normal"

    def with_dtype(self, dtype: Any) -> PoolCase:
        """Same geometry, values of ``dtype`` (regenerated from the seed, or cast when pinned)."""
        dtype = np.dtype(dtype)
        if self.x.dtype == dtype:
            return self
        if self.seed is None:
            # Pinned examples hold small integers (and NaN, which integer dtypes cannot hold: 0 there).
            x = (np.nan_to_num(self.x, nan=0.0) if dtype.kind != "f" else self.x).astype(dtype)
        else:
            style = self.style if (self.style != "nan" or dtype.kind == "f") else "extremes"
            x = make_values(np.random.default_rng(self.seed), self.x.shape, dtype, style)
        layout = self.layout if self.layout != "list" or dtype.name in ("float32", "int32") else "C"
        return replace(self, x=x, layout=layout)

    def convops_args(self) -> tuple[tuple, dict]:
        if self.image_2d:
            x = self.x[0, :, :, 0]
        elif self.data_format == "NCHW":
            x = self.x.transpose(0, 3, 1, 2)
        else:
            x = self.x
        kwargs = {
            "ksize": self.spelled.get("ksize", self.ksize),
            "strides": self.spelled.get("strides", self.strides),
            "padding": self.spelled.get("padding", self.padding),
        }
        if self.data_format != "NHWC":
            kwargs["data_format"] = self.data_format
        return (present(x, self.layout),), kwargs

    def to_nhwc(self, result: np.ndarray) -> np.ndarray:
        if self.image_2d:
            return result[None, :, :, None]
        return result.transpose(0, 2, 3, 1) if self.data_format == "NCHW" else result

    @property
    def explicit_padding(self) -> tuple[Pair, Pair]:
        return resolve_same(self.padding, self.x.shape[1:3], self.ksize, self.strides, (1, 1))

    @property
    def output_hw(self) -> Pair:
        (top, bottom), (left, right) = self.explicit_padding
        sizes = [self.x.shape[1] + top + bottom, self.x.shape[2] + left + right]
        return tuple(max((i - k) // s + 1, 0) for i, k, s in zip(sizes, self.ksize, self.strides))


@dataclass
class PadCase:
    """One pad problem: ``x`` of any rank, one ``(before, after)`` pair per axis."""

    x: np.ndarray
    paddings: tuple[Pair, ...]
    mode: str = "CONSTANT"
    constant_values: Any = 0
    layout: str = "C"
    spelled_mode: str | None = None
    seed: int | None = None
    style: str = "normal"

    def with_dtype(self, dtype: Any) -> PadCase:
        """Same shape and paddings; values (and the constant) of ``dtype``, regenerated from the seed."""
        dtype = np.dtype(dtype)
        if self.x.dtype == dtype:
            return self
        if self.seed is None:
            x, constant = self.x.astype(dtype), np.asarray(self.constant_values).astype(dtype)[()]
        else:
            rng = np.random.default_rng(self.seed)
            style = self.style if (self.style != "nan" or dtype.kind == "f") else "extremes"
            x = make_values(rng, self.x.shape, dtype, style)
            constant = constant_from(rng, dtype)
        layout = self.layout if self.layout != "list" or dtype.name in ("bool", "int32", "float32") else "C"
        return replace(self, x=x, constant_values=constant, layout=layout)

    def convops_args(self) -> tuple[tuple, dict]:
        kwargs: dict[str, Any] = {"mode": self.spelled_mode or self.mode}
        if self.mode.upper() == "CONSTANT":
            kwargs["constant_values"] = self.constant_values
        # An empty list has no dtype (and [] loses the shape (0, 3)): present empty arrays as arrays.
        layout = "C" if self.layout == "list" and self.x.size == 0 else self.layout
        return (present(self.x, layout), [list(p) for p in self.paddings]), kwargs


def constant_from(rng: np.random.Generator, dtype: np.dtype) -> Any:
    """A ``constant_values`` exactly representable in ``dtype``: a Python number or a NumPy scalar,
    including the dtype's extremes, NaN and infinities."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return bool(rng.integers(0, 2))
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        pool = [int(info.min), int(info.max), 0, 7, int(info.min) + 1]
    else:
        info = np.finfo(dtype)
        pool = [float(info.max), float(info.min), 1.5, -0.0, float("nan"), float("inf"), -float("inf"), 0.25]
    value = pool[int(rng.integers(0, len(pool)))]
    return dtype.type(value) if rng.integers(0, 2) else value


def resolve_same(
    padding: Any, hw: Sequence[int], khw: Sequence[int], strides: Pair, dilations: Pair
) -> tuple[Pair, Pair]:
    """``padding`` as explicit ``((top, bottom), (left, right))`` by TF's rule (tests/tf_rules.py)."""
    return tf_rules.explicit_pads(padding, hw, khw, strides, dilations)


def _side(draw, span: int, pads: int, allow_empty: bool, extra: int, label: str) -> int:
    """An input side such that the (padded) input holds at least one window, unless allow_empty."""
    low = 1 if allow_empty else max(1, span - pads)
    return draw(st.integers(low, low + extra), label=label)


@st.composite
def conv2d_cases(
    draw,
    dtypes: Sequence[str] = CONV_DTYPES,
    data_formats: Sequence[str] = ("NHWC", "NCHW"),
    layouts: Sequence[str] = LAYOUTS,
    max_groups: int = 3,
    max_kernel: int = 4,
    max_dilation: int = 3,
    max_stride: int = 4,
    allow_empty: bool = False,
    styles: Sequence[str] = ("normal", "ties", "negative"),
    spell: bool = True,
    paddings: Sequence[str] = ("VALID", "SAME", "explicit"),
    max_group_channels: int = 3,
    max_out_per_group: int = 3,
    max_batch: int = 3,
    wide_channels: bool = True,
) -> ConvCase:
    dtype = np.dtype(draw(st.sampled_from(dtypes), label="dtype"))
    kh, kw = draw(st.integers(1, max_kernel), label="KH"), draw(st.integers(1, max_kernel), label="KW")
    dh, dw = draw(st.integers(1, max_dilation), label="dh"), draw(st.integers(1, max_dilation), label="dw")
    sh, sw = draw(st.integers(1, max_stride), label="sh"), draw(st.integers(1, max_stride), label="sw")
    kind = draw(st.sampled_from(paddings), label="padding kind")
    if kind == "explicit":
        pad_values = [draw(st.integers(0, 3), label=f"pad {side}") for side in ("top", "bottom", "left", "right")]
        padding: Any = ((pad_values[0], pad_values[1]), (pad_values[2], pad_values[3]))
    else:
        pad_values = [0, 0, 0, 0]
        padding = kind
    same = kind == "SAME"
    height = _side(draw, (kh - 1) * dh + 1, pad_values[0] + pad_values[1], allow_empty or same, 7, "H")
    width = _side(draw, (kw - 1) * dw + 1, pad_values[2] + pad_values[3], allow_empty or same, 7, "W")
    groups = draw(st.integers(1, max_groups), label="groups")
    wide = draw(st.integers(0, 3), label="wide channels") == 0 if wide_channels else False
    if wide:
        # Vector widths and their tails, in the output channels (what the direct kernels
        # vectorise) and sometimes the input channels; one group keeps the call small.
        groups = 1
        c_group = draw(st.sampled_from((1, 3) + WIDE_CHANNELS[:2]), label="C_in/groups")
        c_out = draw(st.sampled_from(WIDE_CHANNELS), label="C_out/groups")
    else:
        c_group = draw(st.integers(1, max_group_channels), label="C_in/groups")
        c_out = groups * draw(st.integers(1, max_out_per_group), label="C_out/groups")
    n = draw(st.integers(1, max_batch), label="N")
    data_format = draw(st.sampled_from(data_formats), label="data_format")
    style = draw(st.sampled_from(styles), label="value style")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    x = make_values(rng, (n, height, width, groups * c_group), dtype, style)
    w = make_values(rng, (kh, kw, c_group, c_out), dtype, filter_style(style))
    layout = draw(st.sampled_from(layouts), label="input layout")
    # A list takes the other operand's dtype (or TF's default float32/int32 when both are lists).
    filter_layouts = [
        lay for lay in layouts if lay != "list" or (layout != "list" or dtype.name in ("float32", "int32"))
    ]
    filter_layout = draw(st.sampled_from(filter_layouts), label="filter layout")
    spelled: dict[str, Any] = {}
    if spell:
        spelled = {
            "strides": spell_pair(draw, (sh, sw), data_format, "strides"),
            "dilations": spell_pair(draw, (dh, dw), data_format, "dilations"),
            "padding": spell_padding(draw, padding, data_format),
        }
    return ConvCase(x, w, (sh, sw), padding, (dh, dw), data_format, False, layout, filter_layout, spelled, seed, style)


@st.composite
def conv2d_image_cases(draw, dtypes: Sequence[str] = CONV_DTYPES) -> ConvCase:
    """conv2d(image2d, kernel2d): one grayscale (H, W) image and one (KH, KW) kernel, with either
    ``data_format`` (a 2-D image is one grayscale image whatever it says: NCHW must not transpose it)."""
    case = draw(conv2d_cases(dtypes=dtypes, max_groups=1))
    x, w = case.x[:1, :, :, :1], case.w[:, :, :1, :1]
    return replace(case, x=np.ascontiguousarray(x), w=np.ascontiguousarray(w), image_2d=True)


@st.composite
def conv2d_empty_cases(draw, **kwargs) -> ConvCase:
    """A conv2d whose output has an empty axis: the (dilated) kernel is widened along H or W until
    its span exceeds the padded input there (TF with oneDNN returns garbage for these)."""
    case = draw(conv2d_cases(paddings=("VALID", "explicit"), **kwargs))
    axis = draw(st.sampled_from([0, 1]), label="empty axis")
    (top, bottom), (left, right) = case.explicit_padding
    padded = case.x.shape[1 + axis] + ((top + bottom) if axis == 0 else (left + right))
    d = case.dilations[axis]
    k = -(-padded // d) + 1 + draw(st.integers(0, 1), label="extra taps")  # (k - 1) * d + 1 > padded
    shape = list(case.w.shape)
    shape[axis] = k
    w = make_values(np.random.default_rng(case.seed), shape, case.w.dtype, "normal")
    return replace(case, w=w)


@st.composite
def pool2d_empty_cases(draw, **kwargs) -> PoolCase:
    """A pool whose window is larger than the padded input along H or W (TF with oneDNN: SIGFPE)."""
    case = draw(pool2d_cases(paddings=("VALID", "explicit"), **kwargs))
    axis = draw(st.sampled_from([0, 1]), label="empty axis")
    (top, bottom), (left, right) = case.explicit_padding
    padded = case.x.shape[1 + axis] + ((top + bottom) if axis == 0 else (left + right))
    ksize = list(case.ksize)
    ksize[axis] = padded + 1 + draw(st.integers(0, 2), label="extra cells")
    spelled = dict(case.spelled)
    spelled.pop("ksize", None)
    return replace(case, ksize=tuple(ksize), spelled=spelled)


@st.composite
def pool2d_cases(
    draw,
    dtypes: Sequence[str] = MAX_POOL_DTYPES,
    data_formats: Sequence[str] = ("NHWC", "NCHW"),
    layouts: Sequence[str] = LAYOUTS,
    paddings: Sequence[str] = ("VALID", "SAME", "explicit"),
    allow_empty: bool = False,
    max_window: int = 4,
    max_stride: int = 4,
    styles: Sequence[str] = ("normal", "ties", "negative", "extremes", "nan"),
    spell: bool = True,
    image_2d: bool | None = None,
) -> PoolCase:
    dtype = np.dtype(draw(st.sampled_from(dtypes), label="dtype"))
    kh, kw = draw(st.integers(1, max_window), label="KH"), draw(st.integers(1, max_window), label="KW")
    sh, sw = draw(st.integers(1, max_stride), label="sh"), draw(st.integers(1, max_stride), label="sw")
    kind = draw(st.sampled_from(paddings), label="padding kind")
    if kind == "explicit":
        # TF's rule for pools: each pad must be smaller than the window.
        pad_values = [
            draw(st.integers(0, k - 1), label=f"pad {side}")
            for side, k in (("top", kh), ("bottom", kh), ("left", kw), ("right", kw))
        ]
        padding: Any = ((pad_values[0], pad_values[1]), (pad_values[2], pad_values[3]))
    else:
        pad_values = [0, 0, 0, 0]
        padding = kind
    same = kind == "SAME"
    height = _side(draw, kh, pad_values[0] + pad_values[1], allow_empty or same, 8, "H")
    width = _side(draw, kw, pad_values[2] + pad_values[3], allow_empty or same, 8, "W")
    flat = draw(st.booleans(), label="2-D image") if image_2d is None else image_2d
    n = 1 if flat else draw(st.integers(1, 3), label="N")
    c = 1 if flat else draw(st.one_of(st.integers(1, 4), st.sampled_from(WIDE_CHANNELS)), label="C")
    # A 2-D image is one grayscale image whatever data_format says: NCHW must not transpose it.
    data_format = draw(st.sampled_from(data_formats), label="data_format")
    usable = [s for s in styles if not (s == "nan" and dtype.kind != "f")]
    style = draw(st.sampled_from(usable), label="value style")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    x = make_values(np.random.default_rng(seed), (n, height, width, c), dtype, style)
    # Lists become int32/float32 (TF's rule for Python numbers); only those dtypes survive the trip.
    allowed = [lay for lay in layouts if lay != "list" or dtype.name in ("float32", "int32")]
    layout = draw(st.sampled_from(allowed), label="layout")
    spelled: dict[str, Any] = {}
    if spell:
        spelled = {
            "ksize": spell_pair(draw, (kh, kw), data_format, "ksize"),
            "strides": spell_pair(draw, (sh, sw), data_format, "strides"),
            "padding": spell_padding(draw, padding, data_format),
        }
    return PoolCase(x, (kh, kw), (sh, sw), padding, data_format, flat, layout, spelled, seed, style)


@st.composite
def pad_cases(
    draw,
    modes: Sequence[str] = ("CONSTANT", "REFLECT", "SYMMETRIC"),
    dtypes: Sequence[str] = PAD_DTYPES,
    min_rank: int = 1,
    max_rank: int = 5,
    layouts: Sequence[str] = LAYOUTS,
    allow_zero_size: bool = True,
) -> PadCase:
    mode = draw(st.sampled_from(modes), label="mode")
    dtype = np.dtype(draw(st.sampled_from(dtypes), label="dtype"))
    rank = draw(st.integers(min_rank, max_rank), label="rank")
    # Keep the total small: rank 5 with sides up to 3 is at most 243 elements before padding.
    max_side = {1: 8, 2: 6, 3: 5, 4: 4, 5: 3}[rank]
    upper = mode.upper()
    low_side = 0 if allow_zero_size and upper == "CONSTANT" else 1
    shape = tuple(draw(st.integers(low_side, max_side), label=f"dim {axis}") for axis in range(rank))
    if rank <= 3 and draw(st.integers(0, 3), label="wide last axis") == 0:
        # The contiguous axis across vector widths and tails (the copy loops' vector paths).
        shape = shape[:-1] + (draw(st.sampled_from(WIDE_CHANNELS), label=f"dim {rank - 1}"),)
    pairs = []
    for axis, size in enumerate(shape):
        if upper == "REFLECT":
            limit = size - 1  # the edge is not repeated
        elif upper == "SYMMETRIC":
            limit = size
        elif upper == "CIRCULAR":
            limit = 2 * size + 1  # wraps around more than once
        else:
            limit = 4
        pairs.append(
            (draw(st.integers(0, limit), label=f"before {axis}"), draw(st.integers(0, limit), label=f"after {axis}"))
        )
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    style = draw(
        st.sampled_from(["normal", "extremes", "nan"] if dtype.kind == "f" else ["normal", "extremes"]),
        label="value style",
    )
    x = make_values(rng, shape, dtype, style)
    constant = constant_from(rng, dtype) if upper == "CONSTANT" else 0
    # A list of Python numbers becomes int32/float32 (TF's rule); only those dtypes (and bool) survive.
    allowed = [lay for lay in layouts if lay != "list" or dtype.name in ("bool", "int32", "float32")]
    layout = draw(st.sampled_from(allowed), label="layout")
    spelled_mode = draw(st.sampled_from([mode, mode.lower(), mode.capitalize()]), label="mode spelling")
    return PadCase(x, tuple(pairs), mode, constant, layout, spelled_mode, seed, style)

"""The benchmark cases and, for each, one callable per implementation.

Every implementation of a case computes the same thing from the same data, already converted
to its own array type outside the timed call (a TensorFlow tensor, a torch tensor in the
layout torch wants): the timings compare the operations, not conversions. Each builder also
returns the result of one call so that the runner can check that everyone agrees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import convops
from convops import reference
from convops.arithmetic import resolve_padding


@dataclass
class Case:
    name: str  # short, stable id (used as the JSON key and in the docs plot)
    op: str  # "conv2d", "max_pool2d", "avg_pool2d", "pad"
    shape: tuple[int, ...]
    dtype: str = "float32"
    kernel: tuple[int, ...] = ()  # conv: filters HWIO; pool: (KH, KW)
    strides: int = 1
    padding: str = "VALID"  # conv/pool: SAME/VALID; pad: mode
    group: str = ""  # "small", "compute", "memory", "image": what the target is
    reference: bool = False  # time convops.reference too (slow: small cases only)
    label: str = ""
    # conv2d: also time convops.conv2d(..., algorithm=A) for each A here (impl "alg_A")
    algorithms: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    def describe(self) -> str:
        if self.label:
            return self.label
        dims = "x".join(map(str, self.shape))
        if self.op == "conv2d":
            kh, kw, ci, co = self.kernel
            text = f"conv {dims}->{co} k{kh}x{kw} s{self.strides} {self.padding}"
        elif self.op == "pad":
            text = f"pad {self.padding} 1 {dims}"
        else:
            kh, kw = self.kernel
            text = f"{self.op.split('_')[0]}pool {kh}x{kw}/{self.strides} {dims}"
        return text + ("" if self.dtype == "float32" else f" {self.dtype}")


def _conv(name, n, h, w, ci, co, k=3, s=1, padding="VALID", group="compute", **kw):
    return Case(name, "conv2d", (n, h, w, ci), kernel=(k, k, ci, co), strides=s, padding=padding, group=group, **kw)


# The explicit algorithms timed on the compute-bound 3x3 stride-1 cases; the seven-loop "naive"
# kernel only on a batch-1 case (on batch 64 one call takes seconds), FFT also on a 9x9 case.
ALGORITHMS_3X3 = ("direct", "winograd", "im2col", "fft")
ALGORITHMS_LARGE_KERNEL = ("direct", "im2col", "fft")
ALGORITHM_IMPLS = tuple(f"alg_{a}" for a in ("direct", "winograd", "fft", "im2col", "naive"))

CASES = [
    _conv("conv_tiny", 1, 8, 8, 1, 1, group="small", reference=True),
    _conv("conv_l1_b1", 1, 28, 28, 1, 32, group="small", reference=True),
    _conv("conv_l2_b1", 1, 13, 13, 32, 64, group="small", reference=True, algorithms=ALGORITHMS_3X3 + ("naive",)),
    _conv("conv_l3_b1", 1, 5, 5, 64, 128, group="small", reference=True),
    _conv("conv_l1_b64", 64, 28, 28, 1, 32, group="large"),
    _conv("conv_l2_b64", 64, 13, 13, 32, 64, group="compute", algorithms=ALGORITHMS_3X3),
    # The tutorial network's third conv layer (64 -> 128 filters) on conv2's 11x11 output, as in that
    # network without its second pool: the tutorial's widest filters on a map large enough to be
    # compute-bound. conv3 itself reads the pooled 5x5 map (conv_l3_b64).
    _conv("conv_l3t_b64", 64, 11, 11, 64, 128, group="compute", algorithms=ALGORITHMS_3X3),
    _conv("conv_l3_b64", 64, 5, 5, 64, 128, group="large"),
    _conv("conv_56", 8, 56, 56, 64, 64, padding="SAME", group="compute", algorithms=ALGORITHMS_3X3),
    # A large kernel, where the FFT's cost (independent of the kernel's size) can pay.
    _conv("conv_k9_112", 4, 112, 112, 16, 16, k=9, padding="SAME", group="large", algorithms=ALGORITHMS_LARGE_KERNEL),
    _conv("conv_s2", 4, 112, 112, 32, 64, s=2, padding="SAME", group="compute"),
    _conv("conv_gray512", 1, 512, 512, 1, 1, k=5, padding="SAME", group="large"),
    # Fewer output channels than a vector (a network's head, a bottleneck): the direct kernel's
    # blocks are one partial vector wide.
    _conv("conv_narrow_b64", 64, 28, 28, 32, 8, group="compute"),
    _conv("conv_l1_b1_f64", 1, 28, 28, 1, 32, group="small", dtype="float64"),
    _conv("conv_l2_b64_f64", 64, 13, 13, 32, 64, group="compute", dtype="float64"),
    _conv("conv_56_f64", 8, 56, 56, 64, 64, padding="SAME", group="compute", dtype="float64"),
    Case("maxpool_26", "max_pool2d", (64, 26, 26, 32), kernel=(2, 2), strides=2, group="memory", reference=True),
    Case("avgpool_26", "avg_pool2d", (64, 26, 26, 32), kernel=(2, 2), strides=2, group="memory", reference=True),
    Case("maxpool_112", "max_pool2d", (8, 112, 112, 64), kernel=(2, 2), strides=2, group="memory"),
    Case("avgpool_112", "avg_pool2d", (8, 112, 112, 64), kernel=(2, 2), strides=2, group="memory"),
    Case("maxpool_26_f64", "max_pool2d", (64, 26, 26, 32), kernel=(2, 2), strides=2, group="memory", dtype="float64"),
    Case("pad_constant", "pad", (64, 28, 28, 32), padding="CONSTANT", group="memory"),
    Case("pad_reflect", "pad", (64, 28, 28, 32), padding="REFLECT", group="memory"),
    Case("pad_reflect_f64", "pad", (64, 28, 28, 32), padding="REFLECT", group="memory", dtype="float64"),
    # Gradients (convops.gradients vs TF's GradientTape / torch.autograd): the backward pass only,
    # the forward op recorded once outside the timing.
    Case(
        "grad_conv_l2_b64",
        "conv2d_grad",
        (64, 13, 13, 32),
        kernel=(3, 3, 32, 64),
        group="gradient",
        label="grad conv 64x13x13x32->64 k3 VALID (dx, dw)",
    ),
    Case(
        "grad_conv_l1_b64",
        "conv2d_grad",
        (64, 28, 28, 1),
        kernel=(3, 3, 1, 32),
        group="gradient",
        label="grad conv 64x28x28x1->32 k3 VALID (dx, dw)",
    ),
    Case(
        "grad_conv_56",
        "conv2d_grad",
        (8, 56, 56, 64),
        kernel=(3, 3, 64, 64),
        padding="SAME",
        group="gradient",
        label="grad conv 8x56x56x64->64 k3 SAME (dx, dw)",
    ),
    Case(
        "grad_maxpool_26",
        "max_pool2d_grad",
        (64, 26, 26, 32),
        kernel=(2, 2),
        strides=2,
        group="gradient",
        label="grad maxpool 2x2/2 64x26x26x32",
    ),
    Case(
        "grad_avgpool_26",
        "avg_pool2d_grad",
        (64, 26, 26, 32),
        kernel=(2, 2),
        strides=2,
        group="gradient",
        label="grad avgpool 2x2/2 64x26x26x32",
    ),
    Case(
        "grad_pad_reflect",
        "pad_grad",
        (64, 28, 28, 32),
        padding="REFLECT",
        group="gradient",
        label="grad pad REFLECT 1 64x28x28x32",
    ),
]


def flops(case: Case) -> float | None:
    """Multiply-adds x 2 of a convolution (x 2 again for its two gradients; None otherwise)."""
    if case.op not in ("conv2d", "conv2d_grad"):
        return None
    n, h, w, ci = case.shape
    kh, kw, _, co = case.kernel
    ho, wo = _out_hw(case)
    return (2.0 if case.op == "conv2d" else 4.0) * n * ho * wo * co * kh * kw * ci


def _out_hw(case: Case) -> tuple[int, int]:
    n, h, w, c = case.shape
    kh, kw = case.kernel[:2]
    s = case.strides
    if case.padding == "SAME":
        return -(-h // s), -(-w // s)
    return (h - kh) // s + 1, (w - kw) // s + 1


def bytes_moved(case: Case) -> float | None:
    """Bytes read + written by a memory-bound op (input once, output once)."""
    item = np.dtype(case.dtype).itemsize
    n, h, w, c = case.shape
    if case.op == "pad":
        return float(item * (n * h * w * c + n * (h + 2) * (w + 2) * c))
    if case.op in ("max_pool2d", "avg_pool2d", "max_pool2d_grad", "avg_pool2d_grad", "pad_grad"):
        if case.op == "pad_grad":
            return float(item * (n * h * w * c + n * (h + 2) * (w + 2) * c))
        ho, wo = _out_hw(case)
        return float(item * (n * h * w * c + n * ho * wo * c))
    return None


def _pads(case: Case):
    n, h, w, c = case.shape
    kh, kw = case.kernel[:2]
    if case.padding == "VALID":
        return (0, 0), (0, 0)
    return resolve_padding("SAME", h, kh, case.strides), resolve_padding("SAME", w, kw, case.strides)


# ---------------------------------------------------------------------------------------------
# NumPy's best vectorised baselines


def numpy_conv(x, w, strides, pads):
    """im2col the NumPy way: a strided window view, then one tensordot (which copies the view)."""
    (top, bottom), (left, right) = pads
    if top or bottom or left or right:
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw = w.shape[:2]
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::strides, ::strides]  # (N, Ho, Wo, C, KH, KW)
    return np.tensordot(windows, w, axes=([3, 4, 5], [2, 0, 1]))


def numpy_pool(x, k, s, reduce):
    n, h, w, c = x.shape
    if k == s and h % k == 0 and w % k == 0:
        # Non-overlapping windows that tile the image: a reshape exposes them without copying.
        return reduce(x.reshape(n, h // k, k, w // k, k, c), axis=(2, 4))
    return reduce(sliding_window_view(x, (k, k), axis=(1, 2))[:, ::s, ::s], axis=(-2, -1))


# ---------------------------------------------------------------------------------------------
# Builders: name -> zero-argument callable


def build(case: Case, tf=None, torch=None, rng=None) -> dict[str, Callable]:
    rng = rng or np.random.default_rng(0)
    dtype = np.dtype(case.dtype)
    x = rng.standard_normal(case.shape).astype(dtype)
    impls: dict[str, Callable] = {}
    builders = {"conv2d": _build_conv, "max_pool2d": _build_pool, "avg_pool2d": _build_pool, "pad": _build_pad}
    if case.op in builders:
        builders[case.op](case, x, impls, tf, torch, rng)
    elif case.op.endswith("_grad"):
        _build_grad(case, x, impls, tf, torch, rng)
    else:  # pragma: no cover - a typo in CASES
        raise ValueError(f"unknown op {case.op!r}")
    return impls


def _build_conv(case: Case, x, impls, tf, torch, rng):
    """conv2d: convops, TF (eager and tf.function), torch (NCHW and channels-last), NumPy."""
    dtype = x.dtype
    w = (rng.standard_normal(case.kernel) / np.sqrt(np.prod(case.kernel[:3]))).astype(dtype)
    s, pad = case.strides, case.padding
    pads = _pads(case)
    impls["convops"] = lambda: convops.conv2d(x, w, s, pad)
    if tf is not None:
        xt, wt = tf.constant(x), tf.constant(w)
        impls["tf_eager"] = lambda: tf.nn.conv2d(xt, wt, s, pad)
        fn = tf.function(lambda a, b: tf.nn.conv2d(a, b, s, pad), jit_compile=False)
        impls["tf_function"] = lambda: fn(xt, wt)
    if torch is not None:
        F = torch.nn.functional
        (top, bottom), (left, right) = pads
        # torch pads symmetrically; TF's SAME with stride 2 on an even side pads (0, 1). Padding
        # (1, 1) instead costs the same and gives the same output shape, only shifted by one
        # pixel, so the timing is fair but the values are not compared (see `exact`).
        tp = (max(top, bottom), max(left, right))
        x_nchw = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        x_cl = x_nchw.contiguous(memory_format=torch.channels_last)
        w_oihw = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
        w_cl = w_oihw.contiguous(memory_format=torch.channels_last)
        impls["torch_nchw"] = lambda: F.conv2d(x_nchw, w_oihw, None, s, tp)
        impls["torch_cl"] = lambda: F.conv2d(x_cl, w_cl, None, s, tp)
        case.extra["torch_exact"] = (top, left) == (bottom, right)
    impls["numpy"] = lambda: numpy_conv(x, w, s, pads)
    if case.reference:
        impls["reference"] = lambda: reference.conv2d_reference(x, w, (s, s), pads)
    for algorithm in case.algorithms:
        impls[f"alg_{algorithm}"] = lambda a=algorithm: convops.conv2d(x, w, s, pad, algorithm=a)


def _build_pool(case: Case, x, impls, tf, torch, rng):
    """max_pool2d / avg_pool2d, with the same peers as conv2d."""
    k, s = case.kernel[0], case.strides
    is_max = case.op == "max_pool2d"
    op = convops.max_pool2d if is_max else convops.avg_pool2d
    impls["convops"] = lambda: op(x, k, s, case.padding)
    if tf is not None:
        tf_op = tf.nn.max_pool2d if is_max else tf.nn.avg_pool2d
        xt = tf.constant(x)
        impls["tf_eager"] = lambda: tf_op(xt, k, s, case.padding)
        fn = tf.function(lambda a: tf_op(a, k, s, case.padding), jit_compile=False)
        impls["tf_function"] = lambda: fn(xt)
    if torch is not None:
        F = torch.nn.functional
        t_op = F.max_pool2d if is_max else F.avg_pool2d
        x_nchw = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        x_cl = x_nchw.contiguous(memory_format=torch.channels_last)
        impls["torch_nchw"] = lambda: t_op(x_nchw, k, s)
        impls["torch_cl"] = lambda: t_op(x_cl, k, s)
        case.extra["torch_exact"] = True
    impls["numpy"] = lambda: numpy_pool(x, k, s, np.max if is_max else np.mean)
    if case.reference:
        ref = reference.max_pool2d_reference if is_max else reference.avg_pool2d_reference
        impls["reference"] = lambda: ref(x, (k, k), (s, s))


def _build_pad(case: Case, x, impls, tf, torch, rng):
    """pad (one pixel each side, the case's mode), with the same peers as conv2d."""
    mode = case.padding
    paddings = [[0, 0], [1, 1], [1, 1], [0, 0]]
    impls["convops"] = lambda: convops.pad(x, paddings, mode)
    if tf is not None:
        xt = tf.constant(x)
        impls["tf_eager"] = lambda: tf.pad(xt, paddings, mode)
        fn = tf.function(lambda a: tf.pad(a, paddings, mode), jit_compile=False)
        impls["tf_function"] = lambda: fn(xt)
    if torch is not None:
        F = torch.nn.functional
        t_mode = mode.lower()
        x_nchw = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        x_cl = x_nchw.contiguous(memory_format=torch.channels_last)
        impls["torch_nchw"] = lambda: F.pad(x_nchw, (1, 1, 1, 1), t_mode)
        impls["torch_cl"] = lambda: F.pad(x_cl, (1, 1, 1, 1), t_mode)
        case.extra["torch_exact"] = True
    impls["numpy"] = lambda: np.pad(x, paddings, mode.lower())
    if case.reference:
        impls["reference"] = lambda: reference.pad_reference(x, paddings, mode)


def _build_grad(case: Case, x, impls, tf, torch, rng):
    """Backward passes. Each returns the input gradient (conv: and the filter gradient)."""
    from convops import gradients as G

    dtype = x.dtype
    paddings = [[0, 0], [1, 1], [1, 1], [0, 0]]
    if case.op == "conv2d_grad":
        w = (rng.standard_normal(case.kernel) / np.sqrt(np.prod(case.kernel[:3]))).astype(dtype)
        pad = case.padding
        y = convops.conv2d(x, w, 1, pad)
        dy = rng.standard_normal(y.shape).astype(dtype)
        impls["convops"] = lambda: (
            G.conv2d_backprop_input(x.shape, w, dy, 1, pad),
            G.conv2d_backprop_filter(x, w.shape, dy, 1, pad),
        )
        forward = lambda a, b: tf.nn.conv2d(a, b, 1, pad)  # noqa: E731
        tf_args = (x, w)
        torch_forward = lambda a, b: torch.nn.functional.conv2d(a, b, None, 1, 1 if pad == "SAME" else 0)  # noqa
        torch_args = (x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1))
    else:
        k, s = (case.kernel[0], case.strides) if case.kernel else (None, None)
        if case.op == "max_pool2d_grad":
            y = convops.max_pool2d(x, k, s)
            dy = rng.standard_normal(y.shape).astype(dtype)
            impls["convops"] = lambda: (G.max_pool2d_grad(x, dy, k, s),)
            forward = lambda a: tf.nn.max_pool2d(a, k, s, "VALID")  # noqa: E731
            torch_forward = lambda a: torch.nn.functional.max_pool2d(a, k, s)  # noqa: E731
        elif case.op == "avg_pool2d_grad":
            y = convops.avg_pool2d(x, k, s)
            dy = rng.standard_normal(y.shape).astype(dtype)
            impls["convops"] = lambda: (G.avg_pool2d_grad(x.shape, dy, k, s),)
            forward = lambda a: tf.nn.avg_pool2d(a, k, s, "VALID")  # noqa: E731
            torch_forward = lambda a: torch.nn.functional.avg_pool2d(a, k, s)  # noqa: E731
        else:
            mode = case.padding
            y = convops.pad(x, paddings, mode)
            dy = rng.standard_normal(y.shape).astype(dtype)
            impls["convops"] = lambda: (G.pad_grad(dy, paddings, mode),)
            forward = lambda a: tf.pad(a, paddings, mode)  # noqa: E731
            torch_forward = lambda a: torch.nn.functional.pad(a, (1, 1, 1, 1), mode.lower())  # noqa: E731
        tf_args = (x,)
        torch_args = (x.transpose(0, 3, 1, 2),)
    if tf is not None:
        variables = [tf.constant(a) for a in tf_args]
        with tf.GradientTape(persistent=True) as tape:
            for v in variables:
                tape.watch(v)
            out = forward(*variables)
        dy_t = tf.constant(dy)
        impls["tf_eager"] = lambda: tuple(tape.gradient(out, variables, output_gradients=dy_t))
    if torch is not None:
        with torch.enable_grad():
            leaves = [
                torch.from_numpy(np.ascontiguousarray(a))
                .contiguous(memory_format=torch.channels_last)
                .requires_grad_(True)
                for a in torch_args
            ]
            out_t = torch_forward(*leaves)
        dy_torch = torch.from_numpy(np.ascontiguousarray(dy.transpose(0, 3, 1, 2)))
        impls["torch_cl"] = lambda: torch.autograd.grad(out_t, leaves, dy_torch, retain_graph=True)
        case.extra["torch_exact"] = case.padding != "SAME"
    case.extra["grad"] = True


def to_nhwc_numpy(name: str, value) -> np.ndarray:
    """Any implementation's result as an NHWC NumPy array, for the agreement check (gradients:
    the input gradient, the first of the tuple)."""
    if isinstance(value, tuple):
        value = value[0]
    if hasattr(value, "detach"):  # torch
        return value.detach().numpy().transpose(0, 2, 3, 1)
    if hasattr(value, "numpy"):  # TensorFlow
        return value.numpy()
    return np.asarray(value)

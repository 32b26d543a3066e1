"""docs/concepts/cython.rst: from naive Python to Cython: timings measured while the docs are built.

This module only measures and draws. The ladder's own steps are code a reader copies: step 1 and
step 3 live in ``docs/ladder/`` (one file per step, shown on the page by ``literalinclude``), step 2
is :func:`convops.reference.conv2d`, steps 4-6 are convops' kernels.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time

import numpy as np
from matplotlib import pyplot as plt

import convops
from convops.reference import conv2d as conv2d_reference
from ladder.step1_python import conv2d_python
from ladder.step3_numpy import conv2d_numpy_im2col

from . import grammar as g
from .i18n import N_, _


def best_time(func, budget: float = 0.25, repeats: int = 5) -> float:
    """Best of `repeats` runs of `func`, each run looping until `budget` / repeats seconds."""
    start = time.perf_counter()
    func()
    once = time.perf_counter() - start
    loops = max(1, int(budget / repeats / max(once, 1e-7)))
    best = float("inf")
    for _repeat in range(repeats):
        start = time.perf_counter()
        for _loop in range(loops):
            func()
        best = min(best, (time.perf_counter() - start) / loops)
    return best


def tensorflow():
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError:
        return None
    return tf


# The cases and the steps are named in English (N_: translated where they are drawn, so that the
# measurements, cached per process, are the same in both editions).
CASES = {
    N_("MNIST layer 1, one image\nx (1, 28, 28, 1) ⋆ w (3, 3, 1, 32)"): ((1, 28, 28, 1), (3, 3, 1, 32)),
    N_("MNIST layer 2, batch of 32\nx (32, 13, 13, 32) ⋆ w (3, 3, 32, 64)"): ((32, 13, 13, 32), (3, 3, 32, 64)),
}
REFERENCE = N_("2. convops.reference\n(NumPy, loop over positions)")
#: The step timed with all of convops' threads (a template: its name is formatted when drawn).
THREADED = N_("6. ... with {n} threads")


@contextlib.contextmanager
def kernel(method: str):
    """Force convops.conv2d onto one of its Cython kernels (convops.dispatch.METHODS), as its tests do."""
    from convops.dispatch import force

    with force(conv2d=method):  # ValueError for a method conv2d does not have
        yield


@functools.cache
def measure():
    """{case: [(step, seconds)]} measured now, each step's result checked against convops.conv2d."""
    rng = np.random.default_rng(0)
    tf = tensorflow()
    results = {}
    for case, (xs, ws) in CASES.items():
        x = rng.normal(size=xs).astype(np.float32)
        w = rng.normal(size=ws).astype(np.float32)
        expected = convops.conv2d(x, w)

        def check(got):
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)

        steps = []
        if xs[0] == 1:  # pure Python on the batch case would take seconds per call
            xl, wl = x.tolist(), w.tolist()
            check(np.array(conv2d_python(xl, wl), np.float32))
            steps.append((N_("1. pure Python loops"), best_time(lambda: conv2d_python(xl, wl), repeats=2)))
        no_pad = ((0, 0), (0, 0))
        check(conv2d_reference(x, w, (1, 1), no_pad))
        steps.append((REFERENCE, best_time(lambda: conv2d_reference(x, w, (1, 1), no_pad))))
        check(conv2d_numpy_im2col(x, w))
        steps.append((N_("3. NumPy, all windows at once"), best_time(lambda: conv2d_numpy_im2col(x, w))))
        with convops.num_threads(1):
            for method, name in [
                ("naive", N_("4. Cython, the same loops typed\n(conv2d_naive, 1 thread)")),
                ("gemm", N_("5. Cython im2col + BLAS\n(1 thread)")),
                (None, N_("6. Cython register-blocked SIMD\n(convops' kernel, 1 thread)")),
            ]:
                # steps 4-5 force one of conv2d's kernels through convops.dispatch.force
                with kernel(method) if method else contextlib.nullcontext():
                    check(convops.conv2d(x, w))
                    steps.append((name, best_time(lambda: convops.conv2d(x, w))))
        threads = convops.get_num_threads()
        if threads > 1:
            steps.append((THREADED.format(n=threads), best_time(lambda: convops.conv2d(x, w))))
        if tf is not None:
            tx, tw = tf.constant(x), tf.constant(w)
            check(tf.nn.conv2d(tx, tw, 1, "VALID").numpy())
            steps.append((N_("TensorFlow tf.nn.conv2d"), best_time(lambda: tf.nn.conv2d(tx, tw, 1, "VALID"))))
        results[case] = steps
    return results


def _fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def _step(name: str) -> str:
    """A step's name in the language being drawn."""
    threads = convops.get_num_threads()
    if name == THREADED.format(n=threads):
        return _(THREADED).format(n=threads)
    return _(name)


def timings():
    results = measure()
    fig, axes = plt.subplots(2, 1, figsize=(g.MAX_WIDTH, 9.0))
    for ax, (case, steps) in zip(axes, results.items()):
        names = [name for name, _seconds in steps][::-1]
        values = [t for _name, t in steps][::-1]
        colours = [
            g.WINDOW if "TensorFlow" in n else (g.OUTPUT if n.startswith(("4", "5", "6")) else g.INPUT) for n in names
        ]
        bars = ax.barh([_step(name) for name in names], values, color=colours, log=True)
        reference = dict(steps)[REFERENCE]
        for bar, value in zip(bars, values):
            y = bar.get_y() + bar.get_height() / 2
            ax.text(value * 1.15, y, f"{_fmt_time(value)}  (×{reference / value:.3g})", va="center", fontsize=9)
        ax.set_xlim(min(values) / 2, max(values) * 60)
        g.log_axis(ax, "x")
        ax.set_title(_(case), fontsize=9.5)
        ax.set_xlabel(_("seconds per call (log scale)"))
        ax.tick_params(axis="y", labelsize=9)
        ax.spines[["top", "right"]].set_visible(False)
    note = "" if tensorflow() is not None else _("TensorFlow was not importable in this build. ")
    measured = _(
        "Measured while building these docs, float32; convops threads: {threads}, OpenMP: {openmp}, {cpus} CPUs,\n"
        "load average {load:.1f} (other jobs make timings noisy). (×n) = speed-up over step 2."
    ).format(
        threads=convops.get_num_threads(), openmp=convops.openmp_enabled(), cpus=os.cpu_count(), load=os.getloadavg()[0]
    )
    # The note on a line of its own: beside the measurement it runs past the figure's edge.
    text = note.rstrip() + "\n" + measured if note else measured
    fig.text(0.01, 0.01, text, fontsize=9)
    fig.tight_layout(rect=(0, 0.08 if note else 0.06, 1, 1))
    return fig

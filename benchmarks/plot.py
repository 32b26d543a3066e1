"""The docs' performance figure, drawn from the benchmark results the docs show (benchmarks/published.py).

``plot_results()`` returns a matplotlib Figure: one panel per thread mode, one row per case, and
for each implementation its speed relative to TensorFlow eager: a bar from 1 to the ratio (log
scale, right of 1 = faster than TF, left = slower). Use it from a Sphinx plot directive::

    .. plot::

       from benchmarks.plot import plot_results
       plot_results()

or ``python -m benchmarks.plot out.png``. Needs only matplotlib and the JSON file (no TensorFlow).

Every word it draws goes through ``translate`` (English to the language drawn; the identity by
default): the docs' Chinese edition passes its catalogue's lookup (``docs/figures/performance.py``),
so that this module needs nothing from the docs. Templates are translated, then formatted.
"""

from __future__ import annotations

import json
import os
import sys

from benchmarks.published import results_json


def N_(text: str) -> str:
    """Marks a string ``translate`` will be asked for (the docs' catalogue check finds it by this name)."""
    return text


# Drawn in this order, with these labels and colours (convops stands out; peers are muted).
SERIES = (
    ("convops", N_("convops"), "#d62728"),
    ("tf_function", N_("TF tf.function"), "#9ecae1"),
    ("torch_cl", N_("torch channels-last"), "#fdae6b"),
    ("torch_nchw", N_("torch NCHW"), "#fdd0a2"),
    ("numpy", N_("NumPy (windows + tensordot)"), "#a1d99b"),
)


def load(path: str | os.PathLike | None = None) -> dict:
    with open(path if path is not None else results_json()) as f:
        return json.load(f)


def speed_vs_tf(case: dict, impl: str):
    """TF eager's median time / ``impl``'s: above 1, ``impl`` is faster than TF eager."""
    impls = case["impls"]
    if impl not in impls or "tf_eager" not in impls:
        return None
    return impls["tf_eager"]["median_s"] / impls[impl]["median_s"]


def _same(text: str) -> str:
    return text


def plot_results(results=None, path: str | os.PathLike | None = None, figsize=None, translate=_same):
    """The figure (see the module docstring); ``translate`` maps each English string or template to
    the language drawn (the identity: English)."""
    import matplotlib.pyplot as plt

    results = results if results is not None else load(path)
    runs = results["runs"]
    n_cases = max(len(run["cases"]) for run in runs)
    fig, axes = plt.subplots(
        1, len(runs), sharey=True, squeeze=False, figsize=figsize or (5.5 * len(runs) + 2.5, 0.38 * n_cases + 1.8)
    )
    height = 0.8 / len(SERIES)
    for ax, run in zip(axes[0], runs):
        cases = run["cases"]
        labels = [case["label"] for case in cases]
        for k, (impl, name, colour) in enumerate(SERIES):
            ys, xs = [], []
            for i, case in enumerate(cases):
                value = speed_vs_tf(case, impl)
                if value is not None:
                    ys.append(i + (k - (len(SERIES) - 1) / 2) * height)
                    xs.append(value)
            # Bars grow from 1 (as fast as TF): right = faster, left = slower, length = the factor
            # on the log axis (a bar from 0 has no start on a log axis).
            ax.barh(ys, [x - 1 for x in xs], height=height, color=colour, label=translate(name), left=1)
        ax.axvline(1.0, color="black", linewidth=1)
        ax.set_xscale("log")
        ax.set_yticks(range(len(cases)))
        ax.set_yticklabels(labels, fontsize=8)
        lim = run["limits"]
        title = (
            N_("{threads} threads: speed vs TF eager\n(matmul {gflops} GFLOP/s, copy {gbs} GB/s)")
            if run["threads"] > 1
            else N_("{threads} thread: speed vs TF eager\n(matmul {gflops} GFLOP/s, copy {gbs} GB/s)")
        )
        gflops, gbs = f"{lim['matmul_f32']['gflops']:.0f}", f"{lim['copy']['gbs']:.0f}"
        ax.set_title(translate(title).format(threads=run["threads"], gflops=gflops, gbs=gbs), fontsize=9)
        ax.set_xlabel(translate("TF eager time / time (log; right of 1 = faster than TF)"), fontsize=8)
        ax.grid(axis="x", which="both", alpha=0.3)
    axes[0][0].invert_yaxis()  # once: the panels share the y axis
    m = results["machine"]
    machine = translate("{cpu}, {cores} cores, {date} (convops {commit})")
    fig.suptitle(machine.format(cpu=m["cpu"], cores=m["cores"], date=m["date"], commit=m.get("git_commit")), fontsize=9)
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=8, loc="lower center", ncol=len(SERIES), frameon=False)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


if __name__ == "__main__":  # pragma: no cover
    out = sys.argv[1] if len(sys.argv) > 1 else "benchmark.png"
    plot_results().savefig(out, dpi=120)
    print(f"wrote {out}")

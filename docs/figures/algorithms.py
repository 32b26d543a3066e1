"""docs/concepts/algorithms.rst: six ways to compute one convolution, from committed measurements.

Nothing is timed while the docs are built (a shared build machine would make the curves noise):
the speed figure reads the benchmark run the performance page shows (its cases time conv2d with
every ``algorithm=``; ``benchmarks/published.py`` says which run: the published one, or your own
``python -m benchmarks``), the error figure reads ``benchmarks/results/algorithm-error.json``
(``python -m benchmarks.algorithm_error``).
"""

from __future__ import annotations

import json
import pathlib

from matplotlib import pyplot as plt

from benchmarks.published import RESULTS, results_json

from . import grammar as g
from .i18n import _

ERROR = RESULTS / "algorithm-error.json"

# One colour and one marker per algorithm (the grammar's colours; shapes tell them apart without colour).
STYLE = {
    "naive": (g.PAD_EDGE, "v"),
    "im2col": (g.SAME, "s"),
    "direct": (g.INPUT, "o"),
    "winograd": (g.OUTPUT, "D"),
    "fft": (g.WINDOW, "^"),
    "auto": (g.TEXT, "x"),
    "TF eager": (g.CHANGED_EDGE, "+"),
}


def load_run(path: pathlib.Path | None = None) -> dict:
    with open(path or results_json()) as f:
        return json.load(f)


def _short(case: dict) -> str:
    """'64x13x13x32->64 k3' from a case's shape and kernel."""
    n, h, w, c = case["shape"]
    kh, _kw, _ci, co = case["kernel"]
    return f"{n}x{h}x{w}x{c}→{co}\n{kh}x{kh} {case['padding']}"


def speed_points(run: dict, by_cpu: bool = False) -> dict[str, list[tuple[float, float, str]]]:
    """{algorithm: [(direct GFLOP of the case, GFLOP/s direct-equivalent, case label)]} of one
    thread mode, for the cases that timed explicit algorithms, plus "auto" and TF eager; per
    median wall time, or per CPU time (``by_cpu``: with one thread, what a call costs on a machine
    of its own, whatever else ran)."""
    key = "cpu_s" if by_cpu else "median_s"
    impl_of = {"auto": "convops", "TF eager": "tf_eager"}
    points: dict[str, list] = {}
    for case in run["cases"]:
        if not case.get("algorithms"):
            continue
        size = case["flops"] / 1e9
        names = ["auto", *case["algorithms"]] + (["TF eager"] if "tf_eager" in case["impls"] else [])
        rows = {name: case["flops"] / case["impls"][impl_of.get(name, f"alg_{name}")][key] / 1e9 for name in names}
        for name, gflops in rows.items():
            points.setdefault(name, []).append((size, gflops, _short(case)))
    return points


def speed():
    """GFLOP/s (the direct convolution's multiply-adds x 2 per second) against the problem's size,
    one panel per thread mode, with the mode's measured FMA peak as a line."""
    results = load_run()
    runs = sorted(results["runs"], key=lambda r: r["threads"])
    fig, axes = plt.subplots(len(runs), 1, figsize=(g.MAX_WIDTH, 4.2 * len(runs)), squeeze=False)
    for ax, run in zip(axes[:, 0], runs):
        by_cpu = run["threads"] == 1
        points = speed_points(run, by_cpu)
        # The cases in order of size, evenly spaced (two of them differ in work by only 40%).
        sizes = sorted({p[0]: p[2] for pts in points.values() for p in pts}.items())
        position = {size: i for i, (size, _) in enumerate(sizes)}
        for name in STYLE:
            if name not in points:
                continue
            colour, marker = STYLE[name]
            pts = sorted(points[name])
            ax.plot(
                [position[p[0]] for p in pts],
                [p[1] for p in pts],
                marker=marker,
                color=colour,
                linestyle="-" if name in ("direct", "winograd", "fft", "im2col") else ":",
                label=name,
                markersize=7,
            )
        peak = (run["limits"].get("fma_peak") or {}).get("float32")
        if peak:
            ax.axhline(peak, color=g.TEXT, linewidth=1, linestyle="--")
            ax.text(
                0.01,
                peak * 1.1,
                _("FMA peak {peak:.0f} GFLOP/s").format(peak=peak),
                fontsize=g.MIN_FONT,
                transform=ax.get_yaxis_transform(),
            )
        values = [p[1] for pts in points.values() for p in pts]
        ax.set_yscale("log")
        ax.set_ylim(min(values) / 2, max(values + [peak or 0]) * 3)  # room for the peak's label
        ax.set_xticks(range(len(sizes)))
        ax.set_xticklabels([f"{label}\n{size:.2g} GFLOP" for size, label in sizes], fontsize=g.MIN_FONT)
        ax.set_xlim(-0.4, len(sizes) - 0.6)
        g.log_axis(ax, "y")
        ax.set_ylabel(_("GFLOP/s (direct-FLOP equivalent)"))
        threads = run["threads"]
        timing = (
            _("by CPU time per call") if by_cpu else _("by median wall time per call, under the load of the moment")
        )
        title = _("{n} threads for everyone, {timing}") if threads > 1 else _("{n} thread for everyone, {timing}")
        ax.set_title(title.format(n=threads, timing=timing), fontsize=g.MIN_FONT + 1)
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1, 0].set_xlabel(_("case, in order of the direct convolution's work per call"))
    handles, names = axes[0, 0].get_legend_handles_labels()
    height = fig.get_figheight()
    fig.legend(
        handles,
        names,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.3 / height),
        ncol=4,
        frameon=False,
        fontsize=g.MIN_FONT,
    )
    machine = results["machine"]
    fig.text(
        0.01,
        0.05 / height,
        _("{cpu}, {cores} cores, {date}; float32, medians of interleaved samples on a shared machine.").format(
            cpu=machine["cpu"], cores=machine["cores"], date=machine["date"][:10]
        ),
        fontsize=g.MIN_FONT,
    )
    g.min_font(fig)
    fig.tight_layout(rect=(0, 1.0 / height, 1, 1))
    return fig


def error_points(data: dict, kind: str | None = None) -> dict[str, list[tuple[int, float]]]:
    """{algorithm: [(K, worst max|error| / TF-parity bound)]}: the worst over the kinds of data
    when ``kind`` is None, else over that kind only."""
    worst: dict[str, dict[int, float]] = {}
    for row in data["error"]:
        if kind is not None and row["data"] != kind:
            continue
        cell = worst.setdefault(row["algorithm"], {})
        cell[row["K"]] = max(cell.get(row["K"], 0.0), row["fraction_of_tf_bound"])
    return {name: sorted(by_k.items()) for name, by_k in worst.items()}


def _error_style(name: str):
    base = name.split()[0]
    colour, marker = STYLE.get(base, (g.GRID_EDGE, "o"))
    dashed = "F(4x4" in name or "float32" in name
    return colour, marker, "--" if dashed else "-"


def error():
    """Worst error against the TF-parity bound as a function of K = 9 C_in, per algorithm: on
    Gaussian data, and the worst over every kind of data measured (image-like, ReLU, mixed scales)."""
    with open(ERROR) as f:
        data = json.load(f)
    panels = [("normal x1", _("Gaussian inputs and filters")), (None, _("worst over every kind of data measured"))]
    fig, axes = plt.subplots(1, 2, figsize=(g.MAX_WIDTH, 4.6), sharey=True)
    for ax, (kind, title) in zip(axes, panels):
        for name, pts in error_points(data, kind).items():
            colour, marker, line = _error_style(name)
            ax.plot([k for k, _ in pts], [v for _, v in pts], marker=marker, linestyle=line, color=colour, label=name)
        ax.axhline(1.0, color=g.TEXT, linewidth=1.2)
        ax.text(0.98, 1.3, _("TF-parity bound"), fontsize=g.MIN_FONT, ha="right", transform=ax.get_yaxis_transform())
        ax.set_xscale("log")
        ax.set_yscale("log")
        g.log_axis(ax, "y")
        ax.set_xlabel(_("K = 9·C_in (terms per output)"))
        ax.set_title(title, fontsize=g.MIN_FONT + 1)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylabel(_("max |error| / bound"))
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=3, frameon=False, fontsize=g.MIN_FONT)
    g.min_font(fig)
    fig.tight_layout(rect=(0, 0.2, 1, 1))
    return fig

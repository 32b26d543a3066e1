"""The performance page: benchmarks/plot.py's figure of the run the docs show (benchmarks/published.py).

``benchmarks.plot.plot_results`` draws every thread mode side by side; at the width of a page
that makes its labels unreadable, so the page shows one thread mode per figure (the same
function, given the results of one run).
"""

from __future__ import annotations

from benchmarks.plot import load, plot_results
from benchmarks.published import results_json

from . import grammar as g
from .i18n import _


def speed_vs_tf(threads: int):
    """The figure of one thread mode of the shown run (``threads`` as recorded in the run)."""
    results = load()
    runs = [run for run in results["runs"] if run["threads"] == threads]
    if not runs:
        raise ValueError(
            f"{results_json()} has no run with {threads} thread(s); it has "
            f"{[run['threads'] for run in results['runs']]}"
        )
    n_cases = len(runs[0]["cases"])
    fig = plot_results({**results, "runs": runs}, figsize=(g.MAX_WIDTH, 0.36 * n_cases + 2.8), translate=_)
    # the column's rules: no text under 9 pt, and a legend that wraps instead of running off the page
    g.min_font(fig)
    for ax in fig.axes:
        g.log_axis(ax, "x")
    for legend in list(fig.legends):
        legend.remove()
    handles, names = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=3, frameon=False, fontsize=g.MIN_FONT)
    fig.tight_layout(rect=(0, 1.0 / (0.36 * n_cases + 2.8), 1, 1))
    return fig

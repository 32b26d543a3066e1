"""The performance page: benchmarks/plot.py's figure of benchmarks/results/latest.json.

``benchmarks.plot.plot_results`` draws every thread mode side by side; at the width of a page
that makes its labels unreadable, so the page shows one thread mode per figure (the same
function, given the results of one run).
"""

from __future__ import annotations

from benchmarks.plot import load, plot_results

from . import grammar as g  # noqa: F401  (the site's rcParams: white card, font sizes)


def speed_vs_tf(threads: int):
    """The figure of one thread mode of latest.json (``threads`` as recorded in the run)."""
    results = load()
    runs = [run for run in results["runs"] if run["threads"] == threads]
    if not runs:
        raise ValueError(f"benchmarks/results/latest.json has no run with {threads} thread(s); it has "
                         f"{[run['threads'] for run in results['runs']]}")
    n_cases = len(runs[0]["cases"])
    return plot_results({**results, "runs": runs}, figsize=(8.5, 0.34 * n_cases + 2.2))

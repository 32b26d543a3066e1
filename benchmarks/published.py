"""Which benchmark run the docs show, in one place.

Runs worth publishing are committed under a name: ``python -m benchmarks --tag I`` writes
``results/run-I.json`` and ``.md``. ``results/latest.*`` is the last run on *this* machine and is
git-ignored, so it never duplicates a committed run. The docs' performance page, its site test and
``python -m benchmarks.plot`` read :func:`results_json`:

* ``CONVOPS_BENCHMARK_RUN=NAME`` set: ``results/NAME.json`` (``latest`` or ``run-F``, say);
* otherwise your own ``results/latest.json`` when you have run the benchmarks here, so that
  rebuilding the site after ``python -m benchmarks`` shows your run -- if it can stand in for the
  published run: the pages quote every case in both thread modes of a 2-core machine, so a run
  narrowed by ``--filter``, ``--threads`` or ``--quick``, or made with another number of cores,
  cannot (:func:`unfit_for_pages` says why; ``CONVOPS_BENCHMARK_RUN=latest`` shows it anyway);
* otherwise (a fresh clone, CI) the published run, :data:`PUBLISHED_RUN`.

The page's table of convops against its fastest peer on every kind of CPU measured reads the
committed runs :data:`MACHINE_RUNS` names, whatever the above chooses.

Nothing heavy is imported: the docs' build and the site test use this without NumPy's threads.
"""

from __future__ import annotations

import json
import os
import pathlib

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
#: The committed run the published site shows (change it when a new run is committed).
PUBLISHED_RUN = "run-O"
#: The latest committed run of each CPU the suite has run on, which the performance page sets side
#: by side (one run per microarchitecture, oldest first; add a run when a new kind of CPU is measured).
MACHINE_RUNS = ("run-N", "run-O", "run-R", "run-S")


def results_json() -> pathlib.Path:
    """The benchmark results the docs show (see the module docstring for the order)."""
    name = os.environ.get("CONVOPS_BENCHMARK_RUN")
    if name:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            raise FileNotFoundError(
                f"CONVOPS_BENCHMARK_RUN={name!r}, but {path} does not exist; committed runs: "
                f"{sorted(p.stem for p in RESULTS.glob('run-*.json'))}"
            )
        return path
    latest = RESULTS / "latest.json"
    if latest.exists() and not latest_passed_over():
        return latest
    return RESULTS / f"{PUBLISHED_RUN}.json"


def latest_passed_over() -> str:
    """Why :func:`results_json` passes over your ``results/latest.json`` for the published run
    ('' when it does not: no run is named, and latest.json is missing or fit for the pages)."""
    latest = RESULTS / "latest.json"
    if os.environ.get("CONVOPS_BENCHMARK_RUN") or not latest.exists():
        return ""
    return unfit_for_pages(latest)


def _coverage(path: pathlib.Path) -> dict[int, set[str]]:
    """Each thread mode of a run's results and its case names (a quick run's modes count as none)."""
    with open(path) as f:
        runs = json.load(f)["runs"]
    return {run["threads"]: {case["name"] for case in run["cases"]} for run in runs if not run.get("quick")}


def unfit_for_pages(path: pathlib.Path) -> str:
    """Why the run in ``path`` cannot stand in for the published run on the pages ('' if it can):
    the thread modes or cases of the published run it lacks."""
    have = _coverage(path)
    reasons = []
    for threads, cases in sorted(_coverage(RESULTS / f"{PUBLISHED_RUN}.json").items(), reverse=True):
        if threads not in have:
            reasons.append(f"no {threads}-thread run (it has {sorted(have) or 'only quick ones'})")
        elif cases - have[threads]:
            missing = sorted(cases - have[threads])
            reasons.append(
                f"{len(missing)} of the {len(cases)} cases missing at {threads} thread(s), {missing[0]} first"
            )
    return "; ".join(reasons)

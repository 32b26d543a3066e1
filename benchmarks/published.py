"""Which benchmark run the docs show, in one place.

Runs worth publishing are committed under a name: ``python -m benchmarks --tag I`` writes
``results/run-I.json`` and ``.md``. ``results/latest.*`` is the last run on *this* machine and is
git-ignored, so it never duplicates a committed run. The docs' performance page, its site test and
``python -m benchmarks.plot`` read :func:`results_json`:

* ``CONVOPS_BENCHMARK_RUN=NAME`` set: ``results/NAME.json`` (``latest`` or ``run-F``, say);
* otherwise your own ``results/latest.json`` when you have run the benchmarks here, so that
  rebuilding the site after ``python -m benchmarks`` shows your run;
* otherwise (a fresh clone, CI) the published run, :data:`PUBLISHED_RUN`.

The page's table of convops against its fastest peer on every kind of CPU measured reads the
committed runs :data:`MACHINE_RUNS` names, whatever the above chooses.

Nothing heavy is imported: the docs' build and the site test use this without NumPy's threads.
"""

from __future__ import annotations

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
    return latest if latest.exists() else RESULTS / f"{PUBLISHED_RUN}.json"

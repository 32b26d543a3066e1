"""Benchmark results and example output written into the pages at build time.

Size: one directive or role per generated table and number of the performance and training pages,
with the helpers they share.

Nothing on the performance and training pages that a new benchmark run can change is typed by
hand: it is read from ``benchmarks/results/*.json`` (or produced by running the example) while
the site is built.

``:bench:`KEY``` — one number or fact, e.g. ``:bench:`matmul.1``` (the 1-thread run's matmul
  GFLOP/s), ``:bench:`fma.1``` (its FMA peak, float32, the instruction set in use; ``fma.1.avx2``,
  ``fma.1.float64``: another), ``:bench:`conv_tiny.1.us``` (convops' time per call of that case),
  ``:bench:`conv_l3_b1.1.xtorch_cl``` (its speed vs one implementation), ``:bench:`compute.1.
  pct_matmul``` (the range over a group's float32 cases), ``:bench:`slower.1``` (the cases where
  convops is slower than TF eager; ``slower.1.peer``: than the case's fastest peer, named). An
  unknown key, or one the run did not record, fails the build.
``.. benchmark-machine::`` — the results file, machine, date, commit and versions of the run shown
  (``benchmarks/published.py`` says which run that is).
``.. benchmark-cases:: THREADS`` — the table of every case of one thread mode.
``.. benchmark-machines::`` — convops against each case's fastest peer in every committed run of
  ``MACHINE_RUNS`` (one per kind of CPU measured), both thread modes.
``.. training-speed::`` — forward/step time and peak memory of the tutorial's convnet, convops vs
  Keras, from training.json.
``.. training-accuracy::`` — test accuracy on the docs' real-MNIST split: the tutorial's claim,
  convops trained while the page is built, convops and Keras as recorded in training.json's
  ``mnist`` section (html builds only).
``:training:`KEY``` — one number of the training example page, computed while the site is built
  (``figures.train_convnet.values()``; html builds only).
``.. example-output::`` — what ``python examples/train_mnist_convnet.py`` printed in the run that
  trained the site's network (``figures.mnist``; html builds only).

The words around the data (headers, labels, sentences) are written in the edition's language:
templates looked up with ``figures.i18n._`` (catalogue ``docs/locales/zh_TW/LC_MESSAGES/figures/
directives.po``), then filled with the data, which stays as measured (machine, case and commit names).
"""

from __future__ import annotations

import json
import pathlib
import statistics
import subprocess
import sys

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from benchmarks.published import (  # (docs/conf.py puts the repository root on sys.path)
    MACHINE_RUNS,
    latest_passed_over,
    results_json,
)
from figures.i18n import _

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
# The run the pages show: the committed published run, or your own latest.json (benchmarks/published.py).
LATEST = results_json()
TRAINING = RESULTS / "training.json"

IMPL_NAMES = {
    "tf_eager": "TF eager",
    "tf_function": "TF tf.function",
    "torch_cl": "torch channels-last",
    "torch_nchw": "torch NCHW",
    "numpy": "NumPy",
    "reference": "convops.reference",
}
GROUPS = {
    "small": "small call",
    "compute": "compute-bound",
    "large": "large conv",
    "memory": "memory-bound",
    "gradient": "gradient",
}


def group_name(group: str) -> str:
    """A case group's name (GROUPS) in the edition's language; an unknown group as it is."""
    names = {
        "small": _("small call"),
        "compute": _("compute-bound"),
        "large": _("large conv"),
        "memory": _("memory-bound"),
        "gradient": _("gradient"),
    }
    return names.get(group, group)


def load(path: pathlib.Path) -> dict:
    with open(path) as f:
        return json.load(f)


def _run(results: dict, threads: str) -> dict:
    for run in results["runs"]:
        if str(run["threads"]) == threads:
            return run
    raise KeyError(f"no run with {threads} thread(s); runs: {[r['threads'] for r in results['runs']]}")


def _num(value: float, digits: int = 3) -> str:
    """``digits`` significant digits, no exponent, for prose and tables."""
    if value == 0:
        return "0"
    text = f"{value:.{digits}g}"
    if "e" in text:
        text = f"{value:.0f}"
    return text


# Between a number and its unit: a no-break space, so that a narrow table cell (a phone) wraps
# between values, never inside "0.39 ms".
NBSP = "\u00a0"


def _time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{_num(seconds * 1e6)}{NBSP}µs"
    if seconds < 1:
        return f"{_num(seconds * 1e3)}{NBSP}ms"
    return f"{_num(seconds)}{NBSP}s"


def _x(value: float) -> str:
    return f"{value:.2f}×" if value < 10 else f"{value:.0f}×"


# What ``:bench:`CASE.THREADS.FIELD``` prints for each FIELD of one benchmark case.
_CASE_FIELDS = {
    "us": lambda case: f"{_num(case['impls']['convops']['median_s'] * 1e6)}{NBSP}µs",
    "time": lambda case: _time(case["impls"]["convops"]["median_s"]),
    "tf_us": lambda case: f"{_num(case['impls']['tf_eager']['median_s'] * 1e6)}{NBSP}µs",
    "tf_time": lambda case: _time(case["impls"]["tf_eager"]["median_s"]),
    "xtf": lambda case: _x(case["speedup"]["tf_eager"]),
    "xpeer": lambda case: _x(case["speedup_vs_fastest_peer"]),
    "peer": lambda case: IMPL_NAMES[case["fastest_peer"]],
    "gflops": lambda case: _num(case["gflops"]),
    "gbs": lambda case: _num(case["gbs"]),
    "pct_matmul": lambda case: f"{case['pct_matmul']:.0f}%",
    "pct_copy": lambda case: f"{case['pct_copy']:.0f}%",
    "pct_fma": lambda case: f"{case['pct_fma']:.0f}%",  # of the thread mode's FMA peak (runs that measured it)
    "pct_fma_beside": lambda case: f"{case['pct_fma_beside']:.0f}%",  # of the peak timed between its samples
    "mb": lambda case: f"{_num(case['bytes'] / 1e6, 2)} MB",  # bytes read + written by a pooling or padding
    "label": lambda case: case["label"],
    "other_cores": lambda case: f"{case['load'].get('other_cores', '?')}",
}


def _case_field(case: dict, field: str) -> str:
    if field in _CASE_FIELDS:
        return _CASE_FIELDS[field](case)
    impls = case["impls"]
    if field.endswith("_time") and field[:-5] in impls:  # any implementation's time, e.g. torch_cl_time
        return _time(impls[field[:-5]]["median_s"])
    if field.startswith("x") and field[1:] in case["speedup"]:  # speed vs any implementation, e.g. xtorch_cl
        return _x(case["speedup"][field[1:]])
    raise KeyError(f"unknown case field {field!r}")


def _machine_field(machine: dict, field: str) -> str:
    if field == "commit":
        return str(machine.get("git_commit"))
    if field == "date":
        return machine["date"].split()[0]
    if field == "isa":
        return machine.get("convops_cpu_features", {}).get("in_use", "?")
    return str(machine[field])


def _rate(case: dict) -> str:
    """A convolution's GFLOP/s and its share of the ceiling in its own dtype: the run's matmul of
    that dtype, or for a float64 case of a run that timed only the float32 matmul, the float64 FMA
    peak (float64 does half the multiply-adds per instruction: float32's matmul is not its limit)."""
    gflops = _num(case["gflops"])
    if case.get("dtype", "float32") == "float32":
        return _("{gflops} GFLOP/s ({pct}% of matmul)").format(gflops=gflops, pct=f"{case['pct_matmul']:.0f}")
    if case.get("pct_matmul") is not None:
        return _("{gflops} GFLOP/s ({pct}% of float64 matmul)").format(gflops=gflops, pct=f"{case['pct_matmul']:.0f}")
    if case.get("pct_fma") is not None:
        return _("{gflops} GFLOP/s ({pct}% of the float64 FMA peak)").format(
            gflops=gflops, pct=f"{case['pct_fma']:.0f}"
        )
    return _("{gflops} GFLOP/s").format(gflops=gflops)


def _group_range(run: dict, group: str, field: str) -> str:
    """``low–high`` of ``field`` over the float32 cases of ``group``."""
    cases = [c for c in run["cases"] if c["group"] == group and c.get("dtype", "float32") == "float32"]
    values = [c[field] for c in cases if c.get(field) is not None]
    if not values:
        raise KeyError(f"no float32 case of group {group!r} has {field!r}")
    low, high = min(values), max(values)
    if field.startswith("pct"):
        return f"{low:.0f}–{high:.0f}%" if round(low) != round(high) else f"{low:.0f}%"
    if field == "speedup_vs_fastest_peer":
        return f"{low:.2f}–{high:.2f}×"
    return f"{_num(low)}–{_num(high)}"


def _fma_peak(results: dict, threads: str, options: list[str]) -> str:
    """``fma.THREADS[.ISA][.DTYPE]``: the FMA peak the benchmark measured, in GFLOP/s. Without an
    ISA, the ceiling the thread mode's "% FMA peak" divides by (the instruction set in use);
    with one, the machine section's measurement of that instruction set (1 thread, or all)."""
    dtype = options.pop() if options and options[-1] in ("float32", "float64") else "float32"
    if len(options) > 1:
        raise KeyError(f"fma.{threads}: unknown options {options}")
    if not options:
        peak = _run(results, threads)["limits"].get("fma_peak")
        if not peak:
            raise KeyError("this run did not measure the FMA peak")
        return f"{peak[dtype]:.0f} GFLOP/s"
    measured = results["machine"].get("fma_peak_gflops") or {}
    if options[0] not in measured:
        raise KeyError(f"no FMA peak of {options[0]!r}; measured: {sorted(k for k in measured if k != 'threads_all')}")
    row = measured[options[0]]
    return f"{row[f'{dtype}_1_thread' if threads == '1' else f'{dtype}_all_threads']:.0f} GFLOP/s"


def _slower(run: dict, than: str) -> str:
    """The cases where convops is slower than ``than``: an implementation (``tf_eager``), or
    ``peer``, each case's fastest peer, named after its ratio."""
    if than == "peer":
        slow = [c for c in run["cases"] if c.get("fastest_peer") and c["speedup_vs_fastest_peer"] < 1.0]
        text = [f"{c['label']} ({_x(c['speedup_vs_fastest_peer'])}, {IMPL_NAMES[c['fastest_peer']]})" for c in slow]
    else:
        slow = [c for c in run["cases"] if c["speedup"].get(than, 1.0) < 1.0]
        text = [f"{c['label']} ({_x(c['speedup'][than])})" for c in slow]
    return _("; ").join(text) or _("none")


def bench_value(key: str) -> str:
    """The text of ``:bench:`KEY``` (see the module docstring)."""
    results = load(LATEST)
    parts = key.split(".")
    if parts[0] == "machine":
        return _machine_field(results["machine"], parts[1])
    if parts[0] in ("matmul", "copy"):
        limits = _run(results, parts[1])["limits"]
        return (
            f"{limits['matmul_f32']['gflops']:.0f} GFLOP/s"
            if parts[0] == "matmul"
            else f"{limits['copy']['gbs']:.0f} GB/s"
        )
    if parts[0] == "fma":
        return _fma_peak(results, parts[1], parts[2:])
    run = _run(results, parts[1])
    if parts[0] == "load":  # other programs' mean load over the run's cases, in cores
        loads = [c["load"]["other_cores"] for c in run["cases"] if c["load"].get("other_cores") is not None]
        return f"{statistics.fmean(loads):.1f}" if loads else "?"
    if parts[0] == "slower":  # every case where convops is slower than TF eager (or another)
        return _slower(run, parts[2] if len(parts) > 2 else "tf_eager")
    if parts[0] in GROUPS:
        return _group_range(run, parts[0], parts[2])
    cases = {c["name"]: c for c in run["cases"]}
    if parts[0] not in cases:
        raise KeyError(f"no case {parts[0]!r}; cases: {sorted(cases)}")
    return _case_field(cases[parts[0]], parts[2])


def bench_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    env = inliner.document.settings.env
    env.note_dependency(str(LATEST))
    try:
        value = bench_value(text.strip())
    except (KeyError, IndexError, ValueError) as exc:
        message = inliner.reporter.error(f":bench:`{text}`: {exc}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    return [nodes.Text(value)], []


def _list_table(header, rows, widths=None, title=None) -> list[str]:
    lines = [f".. list-table::{' ' + title if title else ''}", "   :header-rows: 1", "   :class: benchmark-table"]
    if widths:
        lines.append(f"   :widths: {' '.join(map(str, widths))}")
    lines.append("")
    for row in [header] + rows:
        for k, cell in enumerate(row):
            lines.append(f"   {'* -' if k == 0 else '  -'} {cell if cell != '' else '..'}")
    return lines + [""]


class _ResultsDirective(SphinxDirective):
    def render(self, lines: list[str]) -> list[nodes.Node]:
        return self.parse_text_to_nodes("\n".join(lines))


class BenchmarkMachine(_ResultsDirective):
    """Which results file the page shows, where and when it was measured, and with what."""

    def run(self):
        self.env.note_dependency(str(LATEST))
        m = load(LATEST)["machine"]
        features = m.get("convops_cpu_features", {})
        blas = [b for b in m.get("blas", []) if isinstance(b, dict) and b.get("internal_api") == "openblas"]
        versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        flags = ", ".join(f"``{flag}``" for flag in m.get("cpu_flags", []))
        lines = [
            _("- **Results**: ``benchmarks/results/{name}``").format(name=LATEST.name),
            _("- **Machine**: {cpu}, {cores} cores").format(cpu=m["cpu"], cores=m["cores"])
            + (
                _(" ({vendor} virtual machine)").format(vendor=m["hypervisor_vendor"])
                if m.get("hypervisor_vendor")
                else ""
            )
            + (_(", {memory} GiB").format(memory=m["memory_gib"]) if m.get("memory_gib") else "")
            + (
                _("; caches L1d {l1d}, L2 {l2}, L3 {l3}").format(l1d=m["l1d_cache"], l2=m["l2_cache"], l3=m["l3_cache"])
                if m.get("l3_cache")
                else ""
            )
            + (_("; instruction sets {flags}").format(flags=flags) if flags else ""),
            _("- **When**: {date}, convops at commit ``{commit}``, Python {python}").format(
                date=m["date"], commit=m.get("git_commit"), python=m.get("python")
            ),
            _("- **Versions**: {versions}").format(versions=versions),
            _(
                "- **Back ends**: TensorFlow with oneDNN {onednn}; convops' kernels compiled for {supported}, "
                "running ``{in_use}``"
            ).format(
                onednn=_("on") if m.get("tf_onednn") else _("off"),
                supported=", ".join(features.get("supported", [])) or "?",
                in_use=features.get("in_use", "?"),
            )
            + (
                _("; NumPy's BLAS: OpenBLAS {version} ({arch} kernels)").format(
                    version=blas[-1].get("version"), arch=blas[-1].get("architecture")
                )
                if blas
                else ""
            ),
        ]
        return self.render(lines)


class BenchmarkCases(_ResultsDirective):
    """Every case of one thread mode: times, ratios, rate, share of the machine's limit."""

    required_arguments = 1

    def run(self):
        self.env.note_dependency(str(LATEST))
        results = load(LATEST)
        try:
            run = _run(results, self.arguments[0])
        except KeyError as exc:
            raise self.error(str(exc)) from None
        lim = run["limits"]
        header = [
            _("case (kind)"),
            "convops",
            "TF eager",
            _("speed vs TF eager"),
            _("fastest peer: speed vs it"),
            _("convops' rate (share of the limit)"),
            _("other load"),
        ]
        rows = []
        for case in run["cases"]:
            impls = case["impls"]
            if case.get("gflops") is not None:
                rate = _rate(case)
            elif case.get("gbs") is not None:
                rate = _("{gbs} GB/s ({pct}% of copy)").format(gbs=_num(case["gbs"]), pct=f"{case['pct_copy']:.0f}")
            else:
                rate = ""
            speed = case["speedup"].get("tf_eager")
            speed_text = "" if speed is None else (f"**{_x(speed)}**" if speed < 1 else _x(speed))
            peer = (
                f"{IMPL_NAMES[case['fastest_peer']]}: {_x(case['speedup_vs_fastest_peer'])}"
                if case.get("fastest_peer")
                else ""
            )
            rows.append(
                [
                    _("{label} (*{kind}*)").format(label=case["label"], kind=group_name(case["group"])),
                    _time(impls["convops"]["median_s"]),
                    _time(impls["tf_eager"]["median_s"]) if "tf_eager" in impls else "",
                    speed_text,
                    peer,
                    rate,
                    _("{n} cores").format(n=case["load"].get("other_cores", "?")),
                ]
            )
        title = (
            _("{threads} threads for everyone: matmul {gflops} GFLOP/s, copy {gbs} GB/s")
            if run["threads"] > 1
            else _("{threads} thread for everyone: matmul {gflops} GFLOP/s, copy {gbs} GB/s")
        ).format(threads=run["threads"], gflops=f"{lim['matmul_f32']['gflops']:.0f}", gbs=f"{lim['copy']['gbs']:.0f}")
        return self.render(_list_table(header, rows, widths=[30, 9, 9, 9, 15, 18, 10], title=title))


def training_provenance(section: str) -> str:
    """When and where a section ("speed", "accuracy") of training.json was recorded: its own record
    if it has one, else the commit that last changed the file (older runs did not record it)."""
    data = load(TRAINING)
    m = data.get(section, {}).get("machine")
    if m:
        return _(
            "recorded by ``python -m benchmarks.training`` on {date} on {cpu}, {cores} cores (convops at ``{commit}``)"
        ).format(
            date=m.get("date", "?"), cpu=m.get("cpu", "?"), cores=m.get("cores", "?"), commit=m.get("git_commit", "?")
        )
    try:
        log = subprocess.run(
            [
                "git",
                "log",
                "-1",
                "--format=%h %cd",
                "--date=format-local:%Y-%m-%d %H:%M UTC",
                "--",
                str(TRAINING.relative_to(ROOT)),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
        )
        commit, _sep, date = log.stdout.strip().partition(" ")
    except (OSError, subprocess.SubprocessError):
        commit = date = ""
    where = (
        _("committed in ``{commit}`` on {date}").format(commit=commit, date=date)
        if commit
        else _("its date was not recorded")
    )
    return _(
        "recorded by ``python -m benchmarks.training`` on the benchmarks' development machine "
        "(this run predates the machine record in training.json; {where})"
    ).format(where=where)


def _cpu_name(machine: dict) -> str:
    """A run's CPU in a few words: its microarchitecture where the record names it ("Zen 3",
    "Emerald Rapids"), else the model name."""
    return (machine.get("cpu_id") or {}).get("microarchitecture") or str(machine["cpu"])


def machines_table(runs: list[tuple[str, dict]]) -> tuple[list[str], list[list[str]], list[str]]:
    """The header, rows and source lines of ``.. benchmark-machines::`` for ``runs``, (file name,
    results) pairs: one column per run and thread mode (fewest threads first), one row per case of
    any run, each cell convops' speed against that case's fastest peer (bold below 1)."""
    columns, sources = [], []
    for file_name, results in runs:
        m = results["machine"]
        cpu = _cpu_name(m)
        for run in sorted(results["runs"], key=lambda r: r["threads"]):
            template = _("{cpu}, {threads} threads") if run["threads"] > 1 else _("{cpu}, {threads} thread")
            columns.append((template.format(cpu=cpu, threads=run["threads"]), {c["name"]: c for c in run["cases"]}))
        sources.append(
            _(
                "- {cpu}: ``benchmarks/results/{file}`` ({model}, ``{isa}`` kernels; {date}, commit ``{commit}``)"
            ).format(
                cpu=cpu,
                file=file_name,
                model=m["cpu"],
                isa=_machine_field(m, "isa"),
                date=_machine_field(m, "date"),
                commit=_machine_field(m, "commit"),
            )
        )
    rows = []
    for case_name in dict.fromkeys(n for _title, cases in columns for n in cases):
        label = next(cases[case_name]["label"] for _title, cases in columns if case_name in cases)
        cells = []
        for _title, cases in columns:
            case = cases.get(case_name) or {}
            ratio = case.get("speedup_vs_fastest_peer") if case.get("fastest_peer") else None
            cells.append("" if ratio is None else (f"**{_x(ratio)}**" if ratio < 1 else _x(ratio)))
        rows.append([label] + cells)
    return [_("case")] + [title for title, _cases in columns], rows, sources


class BenchmarkMachines(_ResultsDirective):
    """convops' speed against each case's fastest peer on every kind of CPU measured (the runs
    ``MACHINE_RUNS`` names), one column per CPU and thread mode, and where each run comes from."""

    def run(self):
        runs = []
        for name in MACHINE_RUNS:
            path = RESULTS / f"{name}.json"
            self.env.note_dependency(str(path))
            runs.append((path.name, load(path)))
        header, rows, sources = machines_table(runs)
        widths = [32] + [max(1, 68 // (len(header) - 1))] * (len(header) - 1)
        title = _("convops' speed against the fastest peer of each case, on each kind of CPU")
        return self.render(_list_table(header, rows, widths=widths, title=title) + sources + [""])


class TrainingSpeed(_ResultsDirective):
    """Forward and training-step time and peak step memory of the tutorial's convnet."""

    def run(self):
        self.env.note_dependency(str(TRAINING))
        data = load(TRAINING)
        speed = data["speed"]
        header = [
            _("TensorFlow back end"),
            _("Keras forward"),
            _("convops forward"),
            _("speed vs Keras"),
            _("Keras training step"),
            _("convops training step"),
            _("speed vs Keras"),
        ]
        rows = []
        for run in speed["runs"]:
            t = {k: v["median_ms"] for k, v in run["times"].items()}
            rows.append(
                [
                    "oneDNN " + (_("on (TF default)") if run["onednn"] else _("off")),
                    f"{t['keras_forward']:.1f}{NBSP}ms",
                    f"{t['convops_forward']:.1f}{NBSP}ms",
                    _x(t["keras_forward"] / t["convops_forward"]),
                    f"{t['keras_step']:.1f}{NBSP}ms",
                    f"{t['convops_step']:.1f}{NBSP}ms",
                    _x(t["keras_step"] / t["convops_step"]),
                ]
            )
        lines = _list_table(header, rows, title=_("Time per batch of 64 images (medians), same process, alternating"))
        mem = speed["memory"]
        mine = mem["convops"]["step_peak_bytes"]
        off = mem["keras_onednn_off"]["step_peak_bytes"]
        on = mem["keras_onednn_on"].get("allocator_peak_bytes")
        mib = lambda b: f"{b / 2**20:.1f} MiB"  # noqa: E731
        rows = [
            [
                _("resident memory a step adds (Keras with oneDNN off: plain malloc)"),
                mib(mine),
                mib(off),
                f"{mine / off:.2f}",
            ]
        ]
        if on:
            rows.append([_("Keras with oneDNN on: its allocator's own peak"), mib(mine), mib(on), f"{mine / on:.2f}"])
        kept = mem["convops"].get("kept_between_steps_bytes")
        if kept is not None:
            rows.append([_("kept between steps for the next one (convops' step allocator)"), mib(kept), "", ""])
        lines += _list_table(
            [_("measure"), "convops", "Keras", "convops / Keras"],
            rows,
            widths=[50, 15, 15, 20],
            title=_("Peak memory added by one training step"),
        )
        lines += _step_profile_table(speed.get("profile"))
        lines += [_("These numbers were {provenance}.").format(provenance=training_provenance("speed")), ""]
        return self.render(lines)


def _step_profile_table(profile: dict | None) -> list[str]:
    """Where convops' training step spends its time, per layer (none for a run recorded without)."""
    if not profile:
        return []
    step = profile["step_ms"]
    ms = lambda value: f"{value:.2f}{NBSP}ms"  # noqa: E731
    share = lambda value: f"{100 * value / step:.0f}%"  # noqa: E731
    rows = [
        [
            f"``{layer['name']}`` ({layer['kind']})",
            ms(layer["forward_ms"]),
            # a backward that ran inside another layer's (a first Conv2D's one pass takes its max pool's)
            _("in ``{layer}``'s").format(layer=layer["backward_in"])
            if "backward_in" in layer
            else ms(layer["backward_ms"]),
            share(layer["forward_ms"] + layer["backward_ms"]),
        ]
        for layer in profile["layers"]
    ]
    rows += [
        [_("loss"), "", "", share(profile["loss_ms"])],
        [_("optimizer update ({name})").format(name=profile["optimizer"]), "", "", share(profile["optimizer_ms"])],
        [_("the rest of the step (the model's Python)"), "", "", share(profile["other_ms"])],
    ]
    return _list_table(
        [_("layer"), _("forward"), _("backward"), _("share of the step")],
        rows,
        title=_("Where convops' training step spends its time ({step} per step, {threads} threads)").format(
            step=ms(step), threads=profile["convops_threads"]
        ),
    )


def _spread(values) -> str:
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {statistics.stdev(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def training_value(key: str) -> str:
    """The text of ``:training:`KEY```: a number of the training example page, computed while the
    site is built (:func:`figures.train_convnet.values`)."""
    from figures import train_convnet

    table = train_convnet.values()
    if key not in table:
        raise KeyError(f"unknown key; known: {', '.join(sorted(table))}")
    return table[key]


def training_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    env = inliner.document.settings.env
    env.note_dependency(str(TRAINING))
    if env.app.builder.format != "html":  # the doctest builder reads pages too: no training there
        return [nodes.Text(text)], []
    try:
        value = training_value(text.strip())
    except KeyError as exc:
        message = inliner.reporter.error(f":training:`{text}`: {exc}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    return [nodes.Text(value)], []


class TrainingAccuracy(_ResultsDirective):
    """Test accuracy on the real-MNIST split: the tutorial's claim, convops trained while the page
    is built, and the recorded convops and Keras runs (training.json's ``mnist`` section)."""

    def run(self):
        self.env.note_dependency(str(TRAINING))
        if self.env.app.builder.format != "html":  # training runs only where the page is drawn
            return []
        from figures import mnist, train_convnet

        recorded = train_convnet.recorded()
        e, last = train_convnet.epochs(), train_convnet.recorded_epochs()
        (x_train, _y_train), (x_test, _y_test) = mnist.load_split()
        after = _("after {n} epochs")
        header = [_("run"), _("training digits"), _("seeds"), after.format(n=e), after.format(n=last)]
        build = train_convnet.build_runs()
        rows = [
            [
                _("the tutorial (Keras), as it reports"),
                f"{train_convnet.TUTORIAL_TRAIN:,}",
                _("one run"),
                f"{train_convnet.TUTORIAL_ACCURACY:.3f}",
                "",
            ],
            [
                _("**convops, trained while this page was built**"),
                f"{len(x_train):,}",
                train_convnet._seeds(build),
                _spread([r["val_accuracy"][e - 1] for r in build]),
                "",
            ],
        ]
        names = {"convops": _("convops (recorded)"), "keras_reshuffled": _("Keras (recorded), TensorFlow back end")}
        for fw, label in names.items():
            runs = recorded.get(fw, [])
            if runs:
                rows.append(
                    [
                        label,
                        f"{len(x_train):,}",
                        train_convnet._seeds(runs),
                        _spread([r["val_accuracy"][e - 1] for r in runs]),
                        _spread([r["val_accuracy"][last - 1] for r in runs]),
                    ]
                )
        lines = _list_table(
            header,
            rows,
            widths=[30, 12, 10, 24, 24],
            title=_(
                "Test accuracy on the {n} test digits: mean ± standard deviation over seeds (lowest–highest)"
            ).format(n=f"{len(x_test):,}"),
        )
        versions = {}
        for run in recorded.get("keras_reshuffled", []):
            versions.update(run.get("versions", {}))
        seconds = [r["seconds"] for r in build]
        lines += [
            _(
                "The rows marked *recorded* were {provenance}, with {versions}, on the same {train} / {test} "
                "split (checked by a hash of its arrays) and with the same recipe; Keras draws a new batch order "
                "every epoch, as convops' ``fit`` does, and each framework starts from its own seeded initial "
                "weights. The {runs} convops runs of this build took {seconds} s each (on the machine that built "
                "the site; the runs are cached between builds)."
            ).format(
                provenance=training_provenance("mnist"),
                versions=", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
                train=f"{len(x_train):,}",
                test=f"{len(x_test):,}",
                runs=len(build),
                seconds=f"{statistics.fmean(seconds):.0f}",
            ),
            "",
        ]
        return self.render(lines)


class ExampleOutput(SphinxDirective):
    """What ``python examples/train_mnist_convnet.py`` prints: the run that trained the site's
    network (:func:`figures.mnist.trained_model`, seed 0), captured while the site was built."""

    def run(self):
        from figures import mnist

        self.env.note_dependency(str(mnist.SCRIPT))
        if self.env.app.builder.format != "html":  # the doctest builder reads pages too: no training there
            return []
        text, seconds = mnist.script_output(), mnist.training_seconds()
        block = nodes.literal_block(text, text, language="text")
        caption = _(
            "Output of python examples/train_mnist_convnet.py, run while this site was built (training: {seconds} s)"
        ).format(seconds=f"{seconds:.0f}")
        container = nodes.container("", literal_block=True, classes=["literal-block-wrapper", "example-output"])
        container += nodes.caption(caption, caption)
        container += block
        return [container]


def setup(app):
    passed_over = latest_passed_over()
    if passed_over:
        # A narrowed run of yours is kept out of the pages rather than failing their build: say so
        # (on stderr: scripts/site.sh builds with -q, which hides Sphinx's info messages).
        print(
            f"benchmarks: the pages show {LATEST.name}, not your latest.json ({passed_over}); "
            "CONVOPS_BENCHMARK_RUN=latest shows it anyway",
            file=sys.stderr,
        )
    app.add_role("bench", bench_role)
    app.add_directive("benchmark-machine", BenchmarkMachine)
    app.add_directive("benchmark-cases", BenchmarkCases)
    app.add_directive("benchmark-machines", BenchmarkMachines)
    app.add_directive("training-speed", TrainingSpeed)
    app.add_directive("training-accuracy", TrainingAccuracy)
    app.add_directive("example-output", ExampleOutput)
    app.add_role("training", training_role)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

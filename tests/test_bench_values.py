"""The performance page's generated numbers (``:bench:`KEY``` of docs/_ext/results.py) on the
published benchmark run, checked against the run's raw record without building the site:

* every key the page and its Chinese catalogue use resolves (an unknown key fails the build late);
* the FMA peak keys state what the machine section measured, per instruction set and thread mode;
* ``slower.THREADS.peer`` lists exactly the cases where some peer's median time beats convops',
  naming the quickest, and ``xIMPL`` is that implementation's median time over convops'.

And the machine line every run and page starts with: which CPU a run measured, by
/proc/cpuinfo's numbers (``benchmarks/machine.py``), since a cloud VM's model name ("AMD EPYC")
does not tell Zen 3 from Zen 4.
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
for path in (ROOT, DOCS, DOCS / "_ext"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import results  # noqa: E402  (docs/_ext/results.py)

from benchmarks.machine import cpu_identity, describe_cpu  # noqa: E402
from benchmarks.published import PUBLISHED_RUN, RESULTS  # noqa: E402

PUBLISHED = RESULTS / f"{PUBLISHED_RUN}.json"
PEERS = ("tf_eager", "tf_function", "torch_cl", "torch_nchw")
PAGES = (DOCS / "performance.rst", DOCS / "locales" / "zh_TW" / "LC_MESSAGES" / "performance.po")


@pytest.fixture(autouse=True)
def published_run(monkeypatch):
    """The committed published run, whatever ``results/latest.json`` this machine has."""
    monkeypatch.setattr(results, "LATEST", PUBLISHED)


def _record() -> dict:
    return json.loads(PUBLISHED.read_text())


def _gflops(text: str) -> float:
    number, unit = text.split()
    assert unit == "GFLOP/s", text
    return float(number)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_key_of_the_performance_page_resolves(page):
    keys = sorted(set(re.findall(r":bench:`([^`]+)`", page.read_text(encoding="utf-8"))))
    assert keys, f"no :bench: key in {page}"
    failed = {}
    for key in keys:
        try:
            results.bench_value(key)
        except (KeyError, IndexError, ValueError) as exc:
            failed[key] = str(exc)
    assert not failed, f"keys of {page.name} that {PUBLISHED.name} cannot fill: {failed}"


def test_fma_keys_state_the_measured_peak():
    machine = _record()["machine"]
    measured, isa = machine["fma_peak_gflops"], machine["convops_cpu_features"]["in_use"]
    for name in (isa, "avx2"):
        for dtype in ("float32", "float64"):
            one = measured[name][f"{dtype}_1_thread"]
            assert _gflops(results.bench_value(f"fma.1.{name}.{dtype}")) == pytest.approx(one, abs=0.5)
            assert _gflops(results.bench_value(f"fma.2.{name}.{dtype}")) == pytest.approx(
                measured[name][f"{dtype}_all_threads"], abs=0.5
            )
    # Without an instruction set: the ceiling of the thread mode (the one in use, 1 thread x threads),
    # within the spread of two measurements of the same peak (the machine section's and the thread
    # mode's own, minutes apart: 2% on Zen 3, up to 6% on an Emerald Rapids VM whose clock varies, 177.5
    # and 185.8 GFLOP/s in float32, 85.6 and 90.6 in float64), and a peak per thread, not two summed.
    one = measured[isa]["float32_1_thread"]
    assert _gflops(results.bench_value("fma.1")) == pytest.approx(one, rel=0.08)
    assert _gflops(results.bench_value("fma.2")) == pytest.approx(2 * one, rel=0.08)
    assert _gflops(results.bench_value("fma.1.float64")) == pytest.approx(measured[isa]["float64_1_thread"], rel=0.08)
    with pytest.raises(KeyError, match="no FMA peak"):
        results.bench_value("fma.1.sse9")


@pytest.mark.parametrize("threads", ["1", "2"])
def test_slower_peer_lists_the_cases_a_peer_wins(threads):
    run = next(r for r in _record()["runs"] if str(r["threads"]) == threads)
    expected = {}
    for case in run["cases"]:
        impls = case["impls"]
        mine = impls["convops"]["median_s"]
        times = {p: impls[p]["median_s"] for p in PEERS if p in impls}
        best = min(times, key=times.get)
        if times[best] < mine:
            expected[case["label"]] = (times[best] / mine, results.IMPL_NAMES[best])  # below 1: convops slower
    text = results.bench_value(f"slower.{threads}.peer")
    listed = {}
    if expected:
        for item in text.split("; "):
            label, _sep, rest = item.rpartition(" (")
            ratio, name = rest.rstrip(")").split(", ")
            listed[label] = (float(ratio.rstrip("×")), name)
    assert listed.keys() == expected.keys(), text
    for label, (ratio, name) in listed.items():
        assert name == expected[label][1], label
        assert ratio == pytest.approx(expected[label][0], abs=0.006), label


def test_speed_vs_any_implementation():
    run = next(r for r in _record()["runs"] if r["threads"] == 1)
    checked = 0
    for case in run["cases"]:
        impls = case["impls"]
        for impl in ("torch_cl", "torch_nchw", "tf_function"):
            if impl not in impls:
                continue
            text = results.bench_value(f"{case['name']}.1.x{impl}")
            expected = impls[impl]["median_s"] / impls["convops"]["median_s"]
            assert float(text.rstrip("×")) == pytest.approx(expected, rel=0.05, abs=0.006), (case["name"], impl)
            checked += 1
    assert checked, f"{PUBLISHED.name} has no PyTorch or tf.function times"
    with pytest.raises(KeyError, match="unknown case field"):
        results.bench_value(f"{run['cases'][0]['name']}.1.xjax")


def test_share_of_the_peak_measured_beside_each_case():
    """``pct_fma_beside``: the case's GFLOP/s over the FMA peak measured between its own samples
    (the case's dtype, the mode's threads), not over the machine section's."""
    checked = 0
    for run in _record()["runs"]:
        for case in run["cases"]:
            peak = case.get("fma_peak_beside_gflops")
            if not peak or case.get("gflops") is None:
                continue
            text = results.bench_value(f"{case['name']}.{run['threads']}.pct_fma_beside")
            assert float(text.rstrip("%")) == pytest.approx(100 * case["gflops"] / peak, abs=0.5), case["name"]
            checked += 1
    assert checked, f"{PUBLISHED.name} measured no peak beside its cases"


def _cpuinfo(vendor: str, family: int, model: int, stepping: int, name: str, cpus: int = 2) -> str:
    """/proc/cpuinfo as Linux writes it: one block per logical CPU, a blank line between."""
    block = (
        "processor\t: {n}\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n"
        "model name\t: {name}\nstepping\t: {stepping}\nflags\t\t: fpu avx2 fma\n"
    )
    return "\n".join(
        block.format(n=n, vendor=vendor, family=family, model=model, name=name, stepping=stepping) for n in range(cpus)
    )


@pytest.mark.parametrize(
    ("vendor", "family", "model", "expected"),
    [
        ("AuthenticAMD", 25, 0x01, "Zen 3"),  # EPYC 7003 (Milan): the AVX2-only machine here
        ("AuthenticAMD", 25, 0x11, "Zen 4"),  # EPYC 9004 (Genoa): AVX-512
        ("AuthenticAMD", 25, 0x21, "Zen 3"),  # Ryzen 5000 (Vermeer)
        ("AuthenticAMD", 23, 0x31, "Zen 2"),  # EPYC 7002 (Rome)
        ("AuthenticAMD", 23, 0x01, "Zen"),  # EPYC 7001 (Naples): AVX2 as two 128-bit halves
        ("AuthenticAMD", 23, 0x08, "Zen+"),  # Ryzen 2000 (Pinnacle Ridge)
        ("AuthenticAMD", 26, 0x02, "Zen 5"),  # EPYC 9005 (Turin)
        ("GenuineIntel", 6, 0x8F, "Sapphire Rapids"),  # Xeon 4th generation
        ("GenuineIntel", 6, 0x55, "Skylake-SP/Cascade Lake"),
        ("GenuineIntel", 6, 0x9A, None),  # Alder Lake (mobile): not in the table
        ("CentaurHauls", 6, 0x0F, None),
    ],
)
def test_cpu_identity_names_the_microarchitecture(vendor, family, model, expected):
    identity = cpu_identity(_cpuinfo(vendor, family, model, 1, "Some CPU"))
    assert identity == {
        "vendor": vendor,
        "family": family,
        "model": model,
        "stepping": 1,
        "microarchitecture": expected,
    }


def test_cpu_identity_reads_the_first_cpu_only_and_nothing_on_other_systems():
    first = _cpuinfo("AuthenticAMD", 25, 0x11, 1, "AMD EPYC", cpus=1)
    second = _cpuinfo("GenuineIntel", 6, 0x8F, 8, "Intel Xeon", cpus=1)
    assert cpu_identity(first + "\n\n" + second)["microarchitecture"] == "Zen 4"
    assert cpu_identity("") == {}
    assert cpu_identity("Processor\t: ARMv8 Processor rev 1 (v8l)\nBogoMIPS\t: 48.00\n") == {}
    assert cpu_identity("vendor_id\t: GenuineIntel\ncpu family\t: six\n")["family"] is None


def test_describe_cpu():
    zen3 = cpu_identity(_cpuinfo("AuthenticAMD", 25, 1, 1, "AMD EPYC"))
    assert describe_cpu({"cpu": "AMD EPYC", "cpu_id": zen3}) == "AMD EPYC (Zen 3; family 25, model 1)"
    unknown = cpu_identity(_cpuinfo("GenuineIntel", 6, 0x9A, 3, "12th Gen Intel(R) Core(TM) i7-1260P"))
    assert describe_cpu({"cpu": "i7-1260P", "cpu_id": unknown}) == "i7-1260P (family 6, model 154)"
    # Runs recorded before the identity was kept (the published one among them) keep their line.
    assert describe_cpu({"cpu": "AMD EPYC"}) == "AMD EPYC"
    assert describe_cpu({"cpu": "AMD EPYC", "cpu_id": {}}) == "AMD EPYC"


def test_machines_table_gives_each_runs_ratio_against_its_fastest_peer():
    """``.. benchmark-machines::``: every committed run of MACHINE_RUNS (one per kind of CPU), a
    column per thread mode whose cells are that run's ratio against the case's fastest peer."""
    from benchmarks.published import MACHINE_RUNS  # noqa: PLC0415

    runs = [(f"{name}.json", json.loads((RESULTS / f"{name}.json").read_text())) for name in MACHINE_RUNS]
    cpus = [describe_cpu(r["machine"]) for _name, r in runs]
    assert len(set(cpus)) == len(cpus), f"MACHINE_RUNS should name one run per kind of CPU: {cpus}"
    header, rows, sources = results.machines_table(runs)
    assert len(header) == 1 + sum(len(r["runs"]) for _name, r in runs)
    assert len(sources) == len(runs) and all(name in line for (name, _r), line in zip(runs, sources))
    by_label = {row[0]: row[1:] for row in rows}
    column = 0
    for _name, record in runs:
        for run in sorted(record["runs"], key=lambda r: r["threads"]):
            assert f"{run['threads']} thread" in header[1 + column]
            for case in run["cases"]:
                cell = by_label[case["label"]][column]
                ratio = case["speedup_vs_fastest_peer"]
                expected = f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.0f}×"
                assert cell == (f"**{expected}**" if ratio < 1 else expected), (case["name"], cell, ratio)
            column += 1


def test_step_profile_says_where_a_backward_ran_inside_another_layer():
    """The training step's per-layer table (``benchmarks/step_profile.py``, timed inside real
    steps): the tutorial's first Conv2D takes its max pool's backward in one pass, so the pool's
    row says so instead of reporting 0 ms, in the Markdown report and on the site (both
    editions' string), while every other layer's backward is timed."""
    from benchmarks import step_profile  # noqa: PLC0415

    profile = step_profile.measure(repeats=1)
    layers = {layer["name"]: layer for layer in profile["layers"]}
    first_conv, first_pool = (layer["name"] for layer in profile["layers"][:2])
    assert layers[first_pool] == {**layers[first_pool], "backward_in": first_conv, "backward_ms": 0.0}
    assert layers[first_conv]["backward_ms"] > 0
    assert [name for name, layer in layers.items() if "backward_in" in layer] == [first_pool]
    assert all(layer["backward_ms"] > 0 for name, layer in layers.items() if name not in (first_pool, "flatten"))
    report = "\n".join(step_profile.report(profile))
    assert f"| {first_pool} (MaxPooling2D) | {layers[first_pool]['forward_ms']:.2f} ms | in {first_conv}'s |" in report
    table = "\n".join(results._step_profile_table(profile))
    assert f"in ``{first_conv}``'s" in table and table.count("in ``") == 1


def _conv_case(dtype: str, gflops: float, tf_speedup: float) -> dict:
    """A compute-group case measured at ``gflops`` (1 GFLOP in 1/gflops s) and ``tf_speedup``."""
    t = 1.0 / gflops
    return {
        "dtype": dtype,
        "group": "compute",
        "flops": 1e9,
        "bytes": None,
        "impls": {"convops": {"median_s": t}, "tf_eager": {"median_s": t * tf_speedup}},
    }


def test_float64_convolutions_are_held_to_float64_arithmetic():
    """A float64 conv's share of matmul is of a float64 matmul (half the multiply-adds per
    instruction); a run that timed only float32's leaves it blank and its target unjudged."""
    from benchmarks import report

    limits = {"matmul_f32": {"gflops": 200.0}, "matmul_f64": {"gflops": 100.0}, "copy": {"gbs": 20.0}}
    f64 = report.derived(_conv_case("float64", 70.0, 2.0), limits)
    assert f64["pct_matmul"] == pytest.approx(70.0)  # not 35% of float32's 200
    assert f64["met"] is True
    f32 = report.derived(_conv_case("float32", 70.0, 2.0), limits)
    assert f32["pct_matmul"] == pytest.approx(35.0) and f32["met"] is False

    old_run = {"matmul_f32": {"gflops": 200.0}, "copy": {"gbs": 20.0}}
    unjudged = report.derived(_conv_case("float64", 70.0, 2.0), old_run)
    assert "pct_matmul" not in unjudged and unjudged["met"] is None
    assert report.derived(_conv_case("float64", 70.0, 0.5), old_run)["met"] is False  # slower than TF: missed


def test_the_page_gives_float64_rates_against_float64_ceilings():
    """The performance table's rate column: float32 rows against the float32 matmul, float64 rows
    against float64 arithmetic (the published run timed no float64 matmul: its FMA peak)."""
    record = _record()
    seen = set()
    for run in record["runs"]:
        peak64 = run["limits"]["fma_peak"]["float64"]
        for case in run["cases"]:
            if case.get("gflops") is None:
                continue
            text = results._rate(case)
            if case["dtype"] == "float32":
                share = 100 * case["gflops"] / run["limits"]["matmul_f32"]["gflops"]
                assert text.endswith(f"({share:.0f}% of matmul)"), text
            else:
                assert "matmul_f64" not in run["limits"]
                share = 100 * case["gflops"] / peak64
                assert text.endswith(f"({share:.0f}% of the float64 FMA peak)"), text
            seen.add(case["dtype"])
    assert seen == {"float32", "float64"}

"""benchmarks/winograd_rule.py: the sweep behind "auto"'s Winograd size rule times what it says
(F(2x2) in one arm, the direct kernels in the other), leaves "auto" as it found it, and the
committed table holds the whole grid for every kind of CPU it was run on. benchmarks/isa_rule.py,
the sweep behind the register-blocked kernels' choice of AVX2 or AVX-512, likewise."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import isa_rule, winograd_rule
from convops import _algorithms


def _below_the_size_rule(batch: int = 8, side: int = 11) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, side + 2, side + 2, 32)).astype(np.float32)
    w = rng.standard_normal((3, 3, 32, 64)).astype(np.float32)
    return x, w


def test_the_lifted_rule_runs_winograd_where_auto_does_not():
    x, w = _below_the_size_rule()
    saved = (_algorithms.AUTO_WINOGRAD_MIN_SIDE, _algorithms.AUTO_WINOGRAD_MIN_POSITIONS)
    assert 11 < _algorithms.AUTO_WINOGRAD_MIN_SIDE  # the shape is below the rule ...
    assert _algorithms.choose_auto(_geometry(x, w), x, w) == "direct"  # ... so "auto" runs direct
    assert winograd_rule.runs_winograd(x, w)  # ... and the sweep's arm runs F(2x2)
    assert (_algorithms.AUTO_WINOGRAD_MIN_SIDE, _algorithms.AUTO_WINOGRAD_MIN_POSITIONS) == saved


def test_the_lift_is_undone_when_the_call_fails():
    saved = _algorithms.AUTO_WINOGRAD_MIN_SIDE
    with pytest.raises(ZeroDivisionError), winograd_rule.size_rule_lifted():
        assert _algorithms.AUTO_WINOGRAD_MIN_SIDE == 1
        _ = 1 / 0
    assert _algorithms.AUTO_WINOGRAD_MIN_SIDE == saved


def test_a_cell_and_its_table():
    cell = winograd_rule.cell(32, 64, 9, 8, threads=1, pairs=1)
    assert cell["ratio"] == pytest.approx(cell["direct_ms"] / cell["winograd_ms"])
    assert cell["direct_ms"] > 0 and cell["winograd_ms"] > 0
    text = winograd_rule.table([cell])
    assert text.splitlines()[2].startswith("| 32 -> 64 | 8 | 1 | ") and f"{cell['ratio']:.2f}" in text


def test_the_committed_table_holds_the_whole_grid():
    with open(winograd_rule.OUT) as f:
        tables = json.load(f)
    assert tables, "no CPU measured"
    grid = {
        (c_in, c_out, side, batch, threads)
        for c_in, c_out in winograd_rule.CHANNELS
        for side in winograd_rule.SIDES
        for batch in winograd_rule.BATCHES
        for threads in (1, 2)
    }
    for cpu, entry in tables.items():
        cells = {(c["c_in"], c["c_out"], c["side"], c["batch"], c["threads"]): c for c in entry["cells"]}
        assert set(cells) == grid, cpu
        for c in cells.values():
            assert c["ratio"] > 0 and c["direct_ms"] > 0 and c["winograd_ms"] > 0, (cpu, c)


def _geometry(x: np.ndarray, w: np.ndarray):
    from convops.nn._conv_calls import geometry

    return geometry(x.shape, w.shape, (1, 1), "VALID", (1, 1), x.dtype)


# --------------------------------------------------------------------------- isa_rule


@pytest.mark.parametrize("kernel", isa_rule.KERNELS)
def test_each_isa_rule_problem_blocks_the_channels_it_names(kernel):
    """The channels a cell names are the ones the kernel's register blocks hold: the forward's
    and the filter gradient's C_out, the input gradient's C_in (its outputs)."""
    result = isa_rule.problem(kernel, 12, "float32")()
    assert result.dtype == np.float32 and result.shape[-1] == 12
    assert (
        result.shape
        == {
            "forward": (isa_rule.BATCH, isa_rule.SIDE - 2, isa_rule.SIDE - 2, 12),
            "input_grad": (isa_rule.BATCH, isa_rule.SIDE, isa_rule.SIDE, 12),
            "filter_grad": (3, 3, isa_rule.OTHER, 12),
        }[kernel]
    )


def test_the_picks_cost_is_its_time_over_the_faster_ones():
    # ratio = AVX2 time / AVX-512 time
    assert isa_rule.pick_cost(1.25, "avx512") == 1.0 and isa_rule.pick_cost(0.8, "avx2") == 1.0
    assert isa_rule.pick_cost(1.25, "avx2") == pytest.approx(1.25)
    assert isa_rule.pick_cost(0.8, "avx512") == pytest.approx(1.25)


def test_an_isa_cell_and_its_table():
    cell = isa_rule.cell("forward", 24, "float32", threads=1, pairs=1, margin=0.05)
    assert cell["ratio"] == pytest.approx(cell["avx2_ms"] / cell["avx512_ms"])
    assert cell["rule"] == isa_rule.rule_pick(24, "float32")
    assert cell["rule_ok"] == (isa_rule.pick_cost(cell["ratio"], cell["rule"]) <= 1.05)
    row = next(line for line in isa_rule.table([cell]).splitlines() if line.startswith("| forward | 1 |"))
    assert f"{cell['ratio']:.2f} {cell['rule']}" in row


def test_isa_rule_writes_nothing_without_both_sets(monkeypatch, tmp_path, capsys):
    class NoAvx512:
        @staticmethod
        def supported_isas():
            return ("base", "avx2")

    monkeypatch.setattr(isa_rule, "load", lambda name: NoAvx512)
    out = tmp_path / "isa-rule.json"
    assert isa_rule.main(["--out", str(out)]) == 0
    assert not out.exists() and "nothing written" in capsys.readouterr().out


def test_the_committed_isa_table_holds_the_whole_grid():
    with open(isa_rule.OUT) as f:
        tables = json.load(f)
    assert tables, "no CPU measured"
    grid = {
        (kernel, dtype, channels, threads)
        for kernel in isa_rule.KERNELS
        for dtype, counts in isa_rule.CHANNELS.items()
        for channels in counts
        for threads in (1, 2)
    }
    for cpu, entry in tables.items():
        cells = {(c["kernel"], c["dtype"], c["channels"], c["threads"]): c for c in entry["cells"]}
        assert set(cells) == grid, cpu
        for c in cells.values():
            assert c["ratio"] > 0 and c["avx2_ms"] > 0 and c["avx512_ms"] > 0, (cpu, c)
            assert c["rule"] in ("avx2", "avx512"), (cpu, c)


def test_a_sweep_keeps_one_entry_per_kind_of_cpu(tmp_path, capsys):
    from benchmarks.machine import merge_per_cpu

    path = str(tmp_path / "rule.json")
    merge_per_cpu(path, "CPU A", {"cells": [1]})
    merge_per_cpu(path, "CPU B", {"cells": [2]})
    merge_per_cpu(path, "CPU A", {"cells": [3]})  # a newer run of A replaces the older one
    with open(path) as f:
        assert json.load(f) == {"CPU A": {"cells": [3]}, "CPU B": {"cells": [2]}}
    assert capsys.readouterr().out.count(f"merged into {path}") == 3


def _narrowed(run: dict, *, threads=None, keep_cases=None, quick=False) -> dict:
    """A copy of a results file as `python -m benchmarks` writes it with --threads, --filter or --quick."""
    out = json.loads(json.dumps(run))
    out["runs"] = [r for r in out["runs"] if threads is None or r["threads"] in threads]
    for r in out["runs"]:
        r["quick"] = quick
        if keep_cases is not None:
            r["cases"] = r["cases"][:keep_cases]
    return out


@pytest.mark.parametrize(
    ("narrowing", "shown"),
    [
        ({}, "latest"),  # a whole run on a 2-core machine: the pages show it
        ({"threads": [1]}, "published"),  # --threads 1
        ({"keep_cases": 2}, "published"),  # --filter
        ({"quick": True}, "published"),  # --quick: a smoke test, not a result
    ],
)
def test_the_pages_show_your_run_only_when_it_covers_theirs(monkeypatch, tmp_path, narrowing, shown):
    """A run narrowed by --threads, --filter or --quick cannot fill the performance page (it quotes
    every case in both thread modes): the pages keep the published run instead of failing to build."""
    from benchmarks import published

    with open(published.RESULTS / f"{published.PUBLISHED_RUN}.json") as f:
        run = json.load(f)
    assert sorted(r["threads"] for r in run["runs"]) == [1, 2]
    (tmp_path / f"{published.PUBLISHED_RUN}.json").write_text(json.dumps(run))
    (tmp_path / "latest.json").write_text(json.dumps(_narrowed(run, **narrowing)))
    monkeypatch.setattr(published, "RESULTS", tmp_path)
    monkeypatch.delenv("CONVOPS_BENCHMARK_RUN", raising=False)
    expected = tmp_path / ("latest.json" if shown == "latest" else f"{published.PUBLISHED_RUN}.json")
    assert published.results_json() == expected
    reason = published.unfit_for_pages(tmp_path / "latest.json")
    assert (reason == "") == (shown == "latest")
    monkeypatch.setenv("CONVOPS_BENCHMARK_RUN", "latest")  # asked for by name: shown whatever it lacks
    assert published.results_json() == tmp_path / "latest.json"


def test_a_run_on_more_cores_does_not_fill_the_pages(monkeypatch, tmp_path):
    from benchmarks import published

    with open(published.RESULTS / f"{published.PUBLISHED_RUN}.json") as f:
        run = json.load(f)
    (tmp_path / f"{published.PUBLISHED_RUN}.json").write_text(json.dumps(run))
    for r in run["runs"]:
        r["threads"] = 8 if r["threads"] == 2 else r["threads"]  # an 8-core machine's run: 8 and 1
    (tmp_path / "latest.json").write_text(json.dumps(run))
    monkeypatch.setattr(published, "RESULTS", tmp_path)
    monkeypatch.delenv("CONVOPS_BENCHMARK_RUN", raising=False)
    assert published.results_json() == tmp_path / f"{published.PUBLISHED_RUN}.json"
    assert published.unfit_for_pages(tmp_path / "latest.json") == "no 2-thread run (it has [1, 8])"

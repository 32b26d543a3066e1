"""benchmarks/winograd_rule.py: the sweep behind "auto"'s Winograd size rule times what it says
(F(2x2) in one arm, the direct kernels in the other), leaves "auto" as it found it, and the
committed table holds the whole grid for every kind of CPU it was run on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import winograd_rule
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

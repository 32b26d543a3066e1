"""The autotuner (convops/_autotune.py): every blocking gives the same bits, its choices are cached
and read back safely, and CONVOPS_AUTOTUNE is honoured or rejected with a clear message."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import convops
from convops import _autotune, dispatch
from convops._kernels.simd import supported_isas
from convops.gradients import conv2d_backprop_filter, conv2d_backprop_input

# Vector ISAs only: "base" runs without FMA, so it rounds differently from avx2/avx512 (by design,
# as before); each ISA is compared with itself, and with the first.
ISAS = [isa for isa in supported_isas() if isa != "base"] or ["base"]

# (x shape, filter shape, strides, padding, dilations): strides 1 and 2, SAME / VALID / explicit,
# dilation, groups (C_in / filters' C_in), and channel counts that are not whole vectors.
CASES = [
    ((2, 9, 11, 5), (3, 3, 5, 19), 1, "SAME", 1),
    ((1, 13, 10, 16), (3, 3, 16, 72), 1, "VALID", 1),
    ((2, 12, 12, 8), (3, 3, 8, 40), 2, "SAME", 1),
    ((1, 15, 14, 6), (3, 2, 6, 33), (2, 1), "VALID", 1),
    ((1, 11, 12, 4), (3, 3, 4, 24), 1, "SAME", 2),
    ((2, 8, 9, 12), (3, 3, 4, 48), 1, "SAME", 1),
    ((1, 7, 7, 3), (1, 1, 3, 130), 1, [[0, 0], [1, 2], [2, 0], [0, 0]], 1),
    # Rows of 36 outputs and a reduction of 500 (5 x 5 x 20): one vector of channels runs rows of
    # 12 or 16 evenly spaced pixels, addressed from a few registers (conv_ukernel.h's
    # even_pixel), blocks that wrap a row through a pointer each, and the border's one-column
    # spans down 14 rows of an image, even until they cross into the next image.
    ((2, 14, 36, 20), (5, 5, 20, 16), 1, "SAME", 1),
]


# Every register blocking with every cache blocking over taps the tuner tries, and passes that end
# in the middle of a row of taps (2 and 5 taps of a 3-wide window) or cover the window in one.
# Passes also switch the kernel's calls: a short reduction in one pass runs a row of blocks per
# call (conv_ukernel.h's runs), in several passes one block per call -- the same bits either way.
DIRECTS = [
    d._replace(taps_per_pass=t, group_blocks=g)
    for d in _autotune.DIRECT_CANDIDATES
    for t, g in _autotune.TAP_CANDIDATES + ((1, 4), (2, 3), (5, 2), (9, 32))
]


@pytest.fixture(autouse=True)
def _fresh_autotuner(monkeypatch):
    monkeypatch.delenv(_autotune.ENV, raising=False)
    _autotune.reset()
    yield
    monkeypatch.delenv(_autotune.ENV, raising=False)
    _autotune.reset()


def _force(monkeypatch, value: str) -> None:
    monkeypatch.setenv(_autotune.ENV, value)
    _autotune.reset()


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


def _run_all(case, dtype, isa, threads):
    xs, ws, strides, padding, dilations = case
    rng = np.random.default_rng(sum(xs) + sum(ws))
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    convops.set_num_threads(threads)
    try:
        with dispatch.force(isa=isa, conv2d="direct", conv2d_backprop_input="direct"):
            y = convops.conv2d(x, w, strides, padding, dilations=dilations)
            dy = rng.standard_normal(y.shape).astype(dtype)
            dx = conv2d_backprop_input(xs, w, dy, strides, padding, dilations=dilations)
            dw = conv2d_backprop_filter(x, ws, dy, strides, padding, dilations=dilations)
    finally:
        convops.set_num_threads(None)
    return x, w, y, dx, dw


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[0])) + f"-{c[1][3]}")
def test_every_blocking_gives_the_same_bits(monkeypatch, case, dtype):
    first = None
    for isa in ISAS:
        _force(monkeypatch, "off")
        x, w, y0, dx0, dw0 = _run_all(case, dtype, isa, 1)
        # And every vector ISA the bits of the first: each element's sum runs in the same order,
        # one FMA per multiply-add, whatever the vector width (AVX-512 beside AVX2: on a CPU with
        # AVX-512, or in the AVX2 build of its kernels, scripts/avx512_on_avx2.sh).
        if first is None:
            first = (isa, y0, dx0, dw0)
        for name, got, want in zip(("y", "dx", "dw"), (y0, dx0, dw0), first[1:]):
            assert np.array_equal(_bits(got), _bits(want)), f"{name}: {isa} differs from {first[0]} {case}"
        # The default itself is right (so "identical" below is not "identically wrong"): the
        # seven-loop kernel, another summation, agrees to rounding.
        _, _, strides, padding, dilations = case
        with dispatch.force(conv2d="naive"):
            expected = convops.conv2d(x, w, strides, padding, dilations=dilations)
        np.testing.assert_allclose(y0, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
        # Every candidate of each kernel at least once, on 1 and on 2 threads.
        n = max(len(DIRECTS), len(_autotune.FILTER_CANDIDATES))
        for i in range(2 * n):
            direct = DIRECTS[i % len(DIRECTS)]
            filt = _autotune.FILTER_CANDIDATES[i % len(_autotune.FILTER_CANDIDATES)]
            threads = 1 + (i // n)
            _force(monkeypatch, f"direct={direct.spec()},filter={filt.spec()}")
            _, _, y, dx, dw = _run_all(case, dtype, isa, threads)
            repro = f"{isa} {direct.spec()} {filt.spec()} threads={threads} {case}"
            assert np.array_equal(_bits(y), _bits(y0)), repro
            assert np.array_equal(_bits(dx), _bits(dx0)), repro
            assert np.array_equal(_bits(dw), _bits(dw0)), repro


def test_every_filter_chunk_gives_the_same_bits(monkeypatch):
    case = ((3, 20, 17, 8), (3, 3, 8, 24), 1, "SAME", 1)
    _force(monkeypatch, "off")
    *_, dw0 = _run_all(case, np.float32, ISAS[-1], 1)
    for filt in _autotune.FILTER_CANDIDATES + (_autotune.FilterBlocking(4, 1),):
        _force(monkeypatch, f"filter={filt.spec()}")
        *_, dw = _run_all(case, np.float32, ISAS[-1], 2)
        assert np.array_equal(_bits(dw), _bits(dw0)), filt


# (x shape, KH, KW, C_out, strides, padding as (top, left) with as much after, groups, dilation_w,
#  whether a filter row's taps may share a block). A first layer (one input channel, VALID) and
# a few channels; horizontal padding clips a border tap and not the others (SAME: one block per
# tap, as groups and dilation also keep it). A whole 3-row filter of 3 * KW * C_in <= 9 rows may be
# one block where no filter row reads vertical padding (the first cases: 9 and 6 rows, with 32, 70
# and 16 output channels, vertical stride 2).
ROW_CASES = [
    ((3, 12, 13, 1), 3, 3, 32, (1, 1), (0, 0), 1, 1, True),
    ((2, 9, 11, 1), 3, 2, 70, (2, 1), (0, 0), 1, 1, True),
    ((2, 7, 8, 1), 3, 3, 16, (2, 2), (0, 0), 1, 1, True),
    ((2, 11, 16, 2), 3, 5, 20, (1, 2), (0, 0), 1, 1, True),
    ((2, 9, 10, 3), 2, 3, 70, (2, 1), (1, 0), 1, 1, True),  # vertical padding only
    ((2, 10, 9, 1), 3, 3, 16, (1, 1), (1, 1), 1, 1, False),  # SAME: kx = 0 reads padding at ox = 0
    ((2, 10, 9, 2), 3, 3, 16, (1, 1), (0, 0), 2, 1, False),
    ((2, 10, 12, 1), 3, 3, 16, (1, 1), (0, 0), 1, 2, False),
    ((2, 8, 8, 1), 3, 1, 16, (1, 1), (0, 0), 1, 1, False),  # one tap per row: nothing to share
]


@pytest.mark.parametrize("case", ROW_CASES, ids=lambda c: f"{c[0]}k{c[1]}x{c[2]}s{c[4]}p{c[5]}g{c[6]}d{c[7]}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_filter_row_of_taps_in_one_block_gives_the_same_bits(case, dtype):
    # The filter gradient's blocks may take R rows (kx, ci) of a whole filter row when C_in is
    # small; each element's sum is the same either way, for every width of block and chunk.
    from convops._kernels import load
    from convops._kernels.simd import ISA_NAMES

    xs, kh, kw, c_out, (sh, sw), (top, left), groups, dil_w, shared = case
    rng = np.random.default_rng(sum(xs) + kh * kw)
    x = rng.standard_normal(xs).astype(dtype)
    h_out = (xs[1] + 2 * top - kh) // sh + 1
    w_out = (xs[2] + 2 * left - (kw - 1) * dil_w - 1) // sw + 1
    dy = rng.standard_normal((xs[0], h_out, w_out, c_out)).astype(dtype)
    kernel = load("conv_grad").conv2d_backprop_filter_direct
    for isa in ISAS:
        for vectors in (1, 2, 4):
            for chunk in (256, 1 << 17):
                for threads in (1, 2):
                    runs = []
                    for whole_rows, whole_filter in ((True, True), (True, False), (False, False)):
                        dw = np.full((kh, kw, xs[3] // groups, c_out), np.nan, dtype=dtype)
                        lines = kernel(
                            x, dy, dw, sh, sw, 1, dil_w, top, left, groups, ISA_NAMES.index(isa), chunk, threads,
                            vectors, whole_rows, whole_filter,
                        )  # fmt: skip
                        runs.append((lines, dw))
                    (lines, merged), (row_lines, by_rows), (tap_lines, per_tap) = runs
                    repro = (case, dtype.__name__, isa, vectors, chunk, threads)
                    assert tap_lines == kh * kw, repro
                    # Blocks hold several taps only where every tap of a row reads the same
                    # positions, and always for one input channel (every block has room for 3 rows).
                    assert row_lines in (kh, kh * kw), repro
                    if row_lines == kh and kw > 1:
                        assert shared, repro
                    if shared and xs[3] // groups == 1:
                        assert row_lines == kh, repro
                    # A whole filter in one block: 3 rows of taps, none reading vertical padding;
                    # always for the tutorial's first layer (3 x 3 x 1 -> 32) on AVX-512 in float32,
                    # whose blocks of one or two vectors have room for its 9 rows.
                    if lines == 1:
                        assert row_lines == kh == 3 and top == 0, repro
                    else:
                        assert lines == row_lines, repro
                    if case is ROW_CASES[0] and isa == "avx512" and dtype == np.float32:
                        assert lines == 1, repro
                    for other in (by_rows, per_tap):
                        assert np.isfinite(other).all(), repro
                        assert np.array_equal(_bits(merged), _bits(other)), repro


def test_large_fast_path_calls_are_tuned_and_agree(monkeypatch):
    # A plain call takes conv2d's compiled fast path; above the threshold it asks the autotuner.
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 24, 24, 16)).astype(np.float32)
    assert 2 * 24 * 24 * 32 * 9 * 16 >= _autotune.MIN_TUNED_FLOPS
    w = rng.standard_normal((3, 3, 16, 32)).astype(np.float32)
    _force(monkeypatch, "process")
    tuned = convops.conv2d(x, w, padding="SAME")
    assert any(k.startswith("direct|") for k in _autotune._state["choices"])
    for spec in ("v1a", "v2b", "v4a", "v4at1g8", "v3bt2g32"):
        _force(monkeypatch, f"direct={spec}")
        assert np.array_equal(_bits(convops.conv2d(x, w, padding="SAME")), _bits(tuned)), spec


def _counting_measure(monkeypatch, result: str) -> list:
    calls = []

    def measure(*args):
        calls.append(args)
        return _autotune.parse_direct(result)

    monkeypatch.setattr(_autotune, "_measure_direct", measure)
    monkeypatch.setattr(_autotune, "MIN_TUNED_FLOPS", 0)
    return calls


def _choose(dtype=np.float32):
    return _autotune.direct_blocking(np.dtype(dtype), 1, 16, 64, 3, 3, True, 10**9)


def test_cache_file_round_trip(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _force(monkeypatch, "persist")
    calls = _counting_measure(monkeypatch, "v2bt3g8")
    assert _choose() == _autotune.DirectBlocking(2, 1, 3, 8)
    assert _choose() == _autotune.DirectBlocking(2, 1, 3, 8) and len(calls) == 1  # cached in the process
    path = _autotune.cache_path()
    assert path.startswith(str(tmp_path)) and os.path.basename(path).startswith("autotune-")
    with open(path) as f:
        assert list(json.load(f)["entries"].values()) == ["v2bt3g8"]
    assert not [p for p in os.listdir(os.path.dirname(path)) if p.startswith(".autotune-")]  # no temp left
    _autotune.reset()  # a new process: the file answers, nothing is timed
    assert _choose() == _autotune.DirectBlocking(2, 1, 3, 8) and len(calls) == 1
    _choose(np.float64)  # another shape class is timed and added to the file
    with open(path) as f:
        assert len(json.load(f)["entries"]) == 2 and len(calls) == 2


def test_process_mode_writes_no_file(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _force(monkeypatch, "process")
    _counting_measure(monkeypatch, "v3a")
    assert _choose() == _autotune.DirectBlocking(3, 0)
    assert not os.path.exists(tmp_path / "convops")


@pytest.mark.parametrize(
    "content",
    [
        "not json {",
        "[1, 2]",
        json.dumps({"format": 99, "entries": {}}),
        json.dumps({"format": 1, "entries": {"direct|f|1|v8|c5|s1|k3x3": "__import__('os').system('x')"}}),
        json.dumps({"format": 1, "entries": {"direct|f|1|v8|c5|s1|k3x3": "v9a"}}),
        json.dumps({"format": 1, "entries": {"filter|f|1|v8|c5|s1|k3x3": 128}}),
        json.dumps({"format": 1, "entries": ["v4a"]}),
    ],
)
def test_corrupt_or_malicious_cache_is_ignored(monkeypatch, tmp_path, content):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _force(monkeypatch, "persist")
    path = _autotune.cache_path()
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write(content)
    calls = _counting_measure(monkeypatch, "v1b")
    with pytest.warns(RuntimeWarning, match="ignoring the autotuning cache"):
        assert _choose() == _autotune.DirectBlocking(1, 1)
    assert len(calls) == 1  # measured instead
    with open(path) as f:  # and replaced by a well-formed file
        assert json.load(f)["format"] == 1


def test_off_and_forced_settings_time_nothing(monkeypatch):
    calls = _counting_measure(monkeypatch, "v1b")
    _force(monkeypatch, "off")
    assert _choose() == _autotune.DEFAULT_DIRECT
    _force(monkeypatch, "direct=v3b")
    assert _choose() == _autotune.DirectBlocking(3, 1)
    assert _autotune.filter_blocking(np.dtype(np.float32), 1, 16, 64, 3, 3, True, 10**9) == _autotune.default_filter(1)
    _force(monkeypatch, " filter=v2/64 ")
    assert _choose() == _autotune.DEFAULT_DIRECT
    assert _autotune.filter_blocking(np.dtype(np.float32), 1, 16, 64, 3, 3, True, 10**9) == (2, 64)
    assert calls == []


def test_real_measurement_picks_a_candidate(monkeypatch):
    monkeypatch.setattr(_autotune, "MIN_TUNED_FLOPS", 0)
    isa = ["base", "avx2", "avx512"].index(ISAS[-1])
    direct = _autotune.direct_blocking(np.dtype(np.float32), isa, 8, 24, 3, 3, False, 1)
    assert direct[:2] + (0, 1) in _autotune.DIRECT_CANDIDATES
    assert direct[2:] in _autotune.TAP_CANDIDATES
    assert _autotune.filter_blocking(np.dtype(np.float64), isa, 8, 24, 3, 3, True, 1) in _autotune.FILTER_CANDIDATES


def test_filter_tuning_times_widths_then_chunks_on_a_probe_larger_than_l2(monkeypatch):
    # The chunk decides how out_backprop and the input stream through the caches, so it is timed
    # on arrays larger than a core's L2 (on a probe that fits there every chunk looked alike),
    # of the call's own output size, with the block width the first, small probe chose.
    real = _autotune.load("conv_grad")
    calls: list[tuple[int, int, int]] = []
    sides: set[tuple[int, int]] = set()

    class Recording:
        def conv2d_backprop_filter_direct(self, x, dy, w, *args):
            chunk_bytes, max_vectors = args[-3], args[-1]
            calls.append((x.nbytes + dy.nbytes, max_vectors, chunk_bytes >> 10))
            if x.nbytes + dy.nbytes >= _autotune._STREAM_PROBE_BYTES:
                sides.add(dy.shape[1:3])
            return real.conv2d_backprop_filter_direct(x, dy, w, *args)

    monkeypatch.setattr(_autotune, "load", lambda name: Recording())
    isa = ["base", "avx2", "avx512"].index(ISAS[-1])
    chosen = _autotune.filter_blocking(np.dtype(np.float32), isa, 32, 64, 3, 3, True, 10**9, out_hw=(11, 13))
    small = [c for c in calls if c[0] < _autotune._STREAM_PROBE_BYTES]
    large = [c for c in calls if c[0] >= _autotune._STREAM_PROBE_BYTES]
    default_chunk = _autotune.default_filter(isa).chunk_kib
    assert small and {kib for _, _, kib in small} == {default_chunk}
    # 64 channels: with 8 lanes (AVX2) 8 vectors, which at most 4, 3, 2 or 1 per block split into
    # 2, 3, 4 or 8 blocks -- four distinct widths; with 16 (AVX-512) 4 vectors: 1 block of 4, 2 of
    # 2 (at most 3 or 2 per block: one candidate, the first, 3), or 4 of 1.
    widths_tried = {8: {4, 3, 2, 1}, 16: {4, 3, 1}}[_autotune.simd_lanes(np.dtype(np.float32), isa)]
    assert {v for _, v, _ in small} == widths_tried
    assert large and calls.index(large[0]) == len(small)  # the chunks after every width
    assert {kib for _, _, kib in large} == set(_autotune.FILTER_CHUNKS_KIB)
    assert len({v for _, v, _ in large}) == 1 and chosen.max_vectors == large[0][1]
    assert chosen in _autotune.FILTER_CANDIDATES
    assert sides == {(11, 13)}


def test_direct_tuning_times_taps_per_pass_on_a_probe_of_the_calls_size(monkeypatch):
    # Passes over the taps read their group's inputs again: cheap from L2, not from L3 or memory,
    # so the tap stage runs on ~2 MiB of the call's own output size, after the register blocking.
    real = _autotune.load("conv")
    stages: list[tuple[bool, tuple[int, int], int]] = []

    class Recording:
        def block_shape(self, *args):
            return real.block_shape(*args)

        def conv2d_direct(self, x, w, out, *args):
            stages.append((x.nbytes + out.nbytes >= _autotune._STREAM_PROBE_BYTES, out.shape[1:3], args[-2]))
            return real.conv2d_direct(x, w, out, *args)

    monkeypatch.setattr(_autotune, "load", lambda name: Recording())
    isa = ["base", "avx2", "avx512"].index(ISAS[-1])
    chosen = _autotune.direct_blocking(np.dtype(np.float32), isa, 32, 64, 3, 3, True, 10**9, out_hw=(11, 13))
    first_large = next(i for i, (large, _, _) in enumerate(stages) if large)
    assert all(not large and taps == 0 for large, _, taps in stages[:first_large])  # register blocking
    assert all(large and side == (11, 13) for large, side, _ in stages[first_large:])
    assert {taps for _, _, taps in stages[first_large:]} == {t for t, _ in _autotune.TAP_CANDIDATES}
    assert chosen[:2] + (0, 1) in _autotune.DIRECT_CANDIDATES


def test_register_blocking_is_timed_on_rows_as_long_as_the_calls(monkeypatch):
    # A row's whole blocks of pixels run together, evenly spaced (conv_ukernel.h's even_pixel); a
    # block that wraps to the next row does not. The register stage's probe has the call's row
    # length (up to _PROBE_MAX_WIDTH), so 16-pixel blocks are judged on rows where they fit: on
    # the square probe of a 9x9 layer (10 x 10 outputs) every one of them wrapped.
    real = _autotune.load("conv")
    widths: list[int] = []

    class Recording:
        def block_shape(self, *args):
            return real.block_shape(*args)

        def conv2d_direct(self, x, w, out, *args):
            if x.nbytes + out.nbytes < _autotune._STREAM_PROBE_BYTES:  # the register stage (see above)
                widths.append(out.shape[2])
                assert x.shape[1:3] == (out.shape[1] + w.shape[0] - 1, out.shape[2] + w.shape[1] - 1)
                assert out.shape[1] * out.shape[2] >= 64
            return real.conv2d_direct(x, w, out, *args)

    monkeypatch.setattr(_autotune, "load", lambda name: Recording())
    isa = ["base", "avx2", "avx512"].index(ISAS[-1])
    _autotune.direct_blocking(np.dtype(np.float32), isa, 16, 16, 9, 9, True, 10**9, out_hw=(112, 112))
    assert set(widths) == {112}
    widths.clear()
    _autotune.reset()
    _autotune.direct_blocking(np.dtype(np.float32), isa, 16, 16, 9, 9, True, 10**9, out_hw=(300, 300))
    assert set(widths) == {_autotune._PROBE_MAX_WIDTH}
    widths.clear()
    _autotune.reset()
    _autotune.direct_blocking(np.dtype(np.float32), isa, 16, 16, 9, 9, True, 10**9)  # no row length: square
    assert len(set(widths)) == 1 and widths[0] < 112


def test_fast_path_calls_tell_the_tuner_their_output_size(monkeypatch):
    asked = []
    real = _autotune.direct_blocking

    def spy(*args, **kwargs):
        asked.append(kwargs.get("out_hw"))
        return real(*args, **kwargs)

    monkeypatch.setattr(_autotune, "direct_blocking", spy)
    _force(monkeypatch, "process")
    x = np.random.default_rng(3).standard_normal((1, 24, 40, 16)).astype(np.float32)
    w = np.random.default_rng(4).standard_normal((3, 3, 16, 32)).astype(np.float32)
    convops.conv2d(x, w, padding="VALID")
    assert asked == [(22, 38)]


@pytest.mark.parametrize(
    "value",
    [
        "on",
        "v4a",
        "direct=v5a",
        "direct=v4c",
        "direct=v4at0g8",
        "direct=v4at1g33",
        "direct=v4at1",
        "filter=v4",
        "filter=v4/0",
        "direct=v4a,direct=v3a",
        "direct",
    ],
)
def test_bad_settings_are_rejected(monkeypatch, value):
    _force(monkeypatch, value)
    x = np.ones((1, 6, 6, 4), np.float32)
    w = np.ones((3, 3, 4, 8), np.float32)
    with pytest.raises(ValueError, match=f"CONVOPS_AUTOTUNE must be .*got {value!r}"):
        with dispatch.force(conv2d="direct"):
            convops.conv2d(x, w)


# --------------------------------------------------------------------------- the selection rule


def _fake_timing(duration):
    """A `run` and a `timer` for _autotune._best on a fake clock: the n-th call (warm-ups
    included, from 0) of candidate `cand` advances the clock by ``duration(cand, n, k)``, k the
    call's index among all calls; `calls` records the order."""
    clock = [0.0]
    calls: list = []

    def run(cand):
        clock[0] += duration(cand, calls.count(cand), len(calls))
        calls.append(cand)

    return run, lambda: clock[0], calls


def test_tuner_warms_up_then_times_interleaved_rounds_from_a_rotating_start():
    run, timer, calls = _fake_timing(lambda cand, n, k: 1.0)
    _autotune._best(run, "abc", "a", rounds=5, timer=timer)
    assert "".join(calls) == "abc" + "abc" + "bca" + "cab" + "abc" + "bca"


@pytest.mark.parametrize(
    ("speeds", "chosen"),
    [
        ({"a": 100, "b": 96, "c": 110}, "a"),  # 4% faster: within the margin, the default stays
        ({"a": 100, "b": 94, "c": 110}, "b"),  # 6% faster: beats the margin
        ({"a": 100, "b": 94, "c": 93}, "b"),  # b and c tie within the margin: the earlier one
        ({"a": 100, "b": 94, "c": 80}, "c"),  # c beats b by more than the margin
        ({"b": 100, "c": 90}, "c"),  # the default is not a candidate: the fastest
    ],
)
def test_tuner_keeps_the_default_unless_beaten_by_the_margin(speeds, chosen):
    assert _autotune._MARGIN == 0.95
    run, timer, _ = _fake_timing(lambda cand, n, k: speeds[cand])
    assert _autotune._best(run, list(speeds), "a", rounds=5, timer=timer) == chosen


def test_one_outlier_round_does_not_flip_the_choice():
    # b is 4% faster than the default a: a tie, a stays. In one round a runs 4x slower and b
    # once runs twice as fast: the best of each candidate's times would pick b; the median of
    # its five does not.
    def duration(cand, n, k):
        if n == 3:  # each candidate's third timed call
            return {"a": 400, "b": 48, "c": 110}[cand]
        return {"a": 100, "b": 96, "c": 110}[cand]

    run, timer, _ = _fake_timing(duration)
    assert _autotune._best(run, "abc", "a", rounds=5, timer=timer) == "a"
    # A burst of load over four consecutive calls (all of one candidate's calls if they ran in
    # a row) slows at most two calls of any candidate: still a.
    run, timer, _ = _fake_timing(lambda cand, n, k: {"a": 100, "b": 96, "c": 110}[cand] * (3 if 5 <= k < 9 else 1))
    assert _autotune._best(run, "abc", "a", rounds=5, timer=timer) == "a"
    # And a candidate that is faster by more than the margin wins despite its slow round.
    run, timer, _ = _fake_timing(lambda cand, n, k: 300 if n == 2 else {"a": 100, "b": 90, "c": 110}[cand])
    assert _autotune._best(run, "abc", "a", rounds=5, timer=timer) == "b"

"""The blocking of the direct convolution kernels, chosen on the CPU they run on.

The direct kernels (conv2d's, which also computes the stride-1 input gradient, and the filter
gradient's) keep a block of results in SIMD registers while a reduction runs. How big a block is
best depends on the microarchitecture (registers, load ports, FMA latency, cache sizes), so the
first call of each *shape class* times a few candidate blockings on a small synthetic problem
(conv2d's with output rows as long as the call's), in interleaved rounds, and keeps the one of
the lowest median time for the rest of the process unless it is within a margin of the default
(:func:`_best`). The stages that decide how data streams through the caches (conv2d's taps per
pass, the filter gradient's chunk) are timed on ~2 MiB of data of the call's own output size, more
than a core's L2 cache. Tuning one shape class costs one thread ~20-60 ms of CPU for conv2d's
kernel (up to ~180 ms for 64 channels at 56 x 56 outputs) and ~50-75 ms for the filter gradient's
(~10 ms for a first layer; Zen 3), once per process.

**Results never depend on the blocking.** A blocking decides which output elements are computed
together, never the order of any element's sum: each one runs over (ky, kx, c) -- over output
positions for the filter gradient -- in the same order, one multiply-add at a time, for every
candidate. So results are bit-identical across candidates, thread counts, runs and processes
(tests/test_autotune.py forces every candidate on random shapes).

Blockings
---------
``direct``: ``v<M><a|b>``, e.g. ``v4a`` (the built-in default): blocks of at most M (1-4) SIMD
vectors of output channels, split as evenly as possible, times P output pixels, P from the first
(``a``) or second (``b``) table of ``convops/_kernels/src/conv_simd.h`` for that width and ISA;
optionally ``t<T>g<G>`` (e.g. ``v4at3g8``), cache blocking over taps: groups of G (1-32) blocks
run T (1-9) taps at a time, so that those taps' weights stay in cache for the whole group, each
pass resuming the float sums the previous one stored in the output (the same multiply-adds in
the same order: bit-identical). The register blocking is timed first, then these on a larger probe.

``filter``: ``v<M>/<KiB>``, e.g. ``v4/128`` (the AVX-512 default; ``v3/32`` with 16 registers):
blocks of at most M vectors of output channels, and ``out_backprop`` streamed in chunks of that
many KiB (kept in cache while every block of the filter gradient reads it). The width is timed
first, then the chunks (16, 32 and 128 KiB) on a larger probe.

Shape class: the kernel, dtype, instruction set, output-channel vectors per group (up to 16),
input channels per group (power-of-two buckets), stride 1 or not and the kernel size. Calls of
fewer than ~4 MFLOP use the default without timing anything (tuning could not pay off, and small
calls keep their overhead).

The environment variable ``CONVOPS_AUTOTUNE`` (read at import; :func:`reset` re-reads it):

- unset or ``process``: tune on first use, remember for this process only.
- ``persist``: also keep the choices in ``$XDG_CACHE_HOME/convops/autotune-<cpu>.json``
  (``~/.cache`` without XDG_CACHE_HOME), ``<cpu>`` a hash of the CPU model and flags, so a
  home directory shared by different machines keeps one file per CPU. Written atomically
  (a temporary file renamed over it); read defensively: JSON only, every entry checked against the
  grammar above, and a file that is not exactly that is ignored with a warning, never executed.
- ``off``: the built-in default blocking everywhere, nothing timed.
- a blocking: ``direct=v2b``, ``filter=v4/64`` or both, comma-separated: forced for every call
  (an omitted kernel keeps its default). Anything else raises ValueError on the first call.

conv2d's compiled fast path (plain NHWC calls) asks only about calls of at least the tuning
threshold; smaller ones run the default blocking whatever the setting, with no Python call. The
test suite's results do not depend on this setting; its Hypothesis examples are smaller than
the threshold, so they run the default blocking unless a test forces another.
"""

from __future__ import annotations

import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar

import numpy as np

from convops._kernels import load

ENV = "CONVOPS_AUTOTUNE"
_FORMAT = 1
# Below this many flops a call runs the default blocking: ~40 us of work, where a better
# blocking saves microseconds and the timing would cost milliseconds.
MIN_TUNED_FLOPS = 4_000_000
# Flops of the synthetic problem timed per candidate: ~30-60 us at 60-120 GFLOP/s.
_PROBE_FLOPS = 3_000_000
# The widest row of conv2d's register-blocking probe (_probe_arrays): 8 blocks of 16 pixels.
_PROBE_MAX_WIDTH = 128
# A candidate replaces the default only if this much faster: timing noise on a shared machine
# must not flip the choice between runs (though a flip would not change results).
_MARGIN = 0.95
# Timed runs of each candidate (after one warm-up), whose median decides: one slow or fast
# outlier among them cannot.
_ROUNDS = 5


_C = TypeVar("_C")  # a candidate blocking


class DirectBlocking(NamedTuple):
    max_vectors: int  # 1..4
    pixel_choice: int  # 0 (table a) or 1 (table b)
    taps_per_pass: int = 0  # 0: all taps in one pass
    group_blocks: int = 1  # 1..32 blocks per pass

    def spec(self) -> str:
        tail = f"t{self.taps_per_pass}g{self.group_blocks}" if self.taps_per_pass else ""
        return f"v{self.max_vectors}{'ab'[self.pixel_choice]}{tail}"


class FilterBlocking(NamedTuple):
    max_vectors: int  # 1..4
    chunk_kib: int

    def spec(self) -> str:
        return f"v{self.max_vectors}/{self.chunk_kib}"

    @property
    def chunk_bytes(self) -> int:
        return self.chunk_kib << 10


DEFAULT_DIRECT = DirectBlocking(4, 0)
# AVX-512: 4 vectors, 128 KiB: measured on 8x56x56x64, 64x13x13x32 and 4x112x112x32 (1 core):
# 8 KiB to 1 MiB within ~10%, 128 KiB best. AVX2 (16 registers; Zen 4, 1 core, float32, the
# three 3x3 cases of the benchmark): v4/128 ran at 60-67 GFLOP/s, v3/32 at 76-93, v2/32 at 74-94.
DEFAULT_FILTER = FilterBlocking(4, 128)
DEFAULT_FILTER_16_REGISTERS = FilterBlocking(3, 32)


def default_filter(isa: int) -> FilterBlocking:
    """The built-in filter-gradient blocking of instruction set `isa` (an index into ISA_NAMES)."""
    return DEFAULT_FILTER if isa == 2 else DEFAULT_FILTER_16_REGISTERS


DIRECT_CANDIDATES = tuple(DirectBlocking(m, c) for m in (4, 3, 2, 1) for c in (0, 1))
# Cache blocking over taps (taps per pass, blocks per group), tried for the best register
# blocking of DIRECT_CANDIDATES: (0, 1) is one pass over all the taps. One tap per pass (a
# reload and store of the accumulators every C_g multiply-adds) never won on Zen 4 (1 core,
# float32, the three 3x3 benchmark cases, AVX-512 and AVX2), so it is not timed.
TAP_CANDIDATES = ((0, 1), (3, 8), (3, 32))
# Chunks of 16 KiB of out_backprop (with the input rows they read, about an L1 data cache of 32
# KiB): on Zen 3 (AVX2, float32) the tutorial's conv2 ran 13-18% faster than at 32 KiB, on 1
# and 2 threads; larger caches and AVX-512 preferred 128 KiB.
FILTER_CHUNKS_KIB = (128, 32, 16)  # 512 KiB, a candidate before, was the slowest in every case
FILTER_CANDIDATES = tuple(FilterBlocking(m, k) for m in (4, 3, 2, 1) for k in FILTER_CHUNKS_KIB)
# The filter gradient's chunk is timed on out_backprop and an input of this many bytes together:
# more than a core's L2 cache on the CPUs measured (512 KiB Zen 3, 1 MiB Zen 4, 2 MiB Sapphire
# Rapids), as the calls worth tuning have.
_STREAM_PROBE_BYTES = 2 << 20

_DIRECT_RE = re.compile(r"v([1-4])([ab])(?:t([1-9])g([1-9]|[12][0-9]|3[0-2]))?")
_FILTER_RE = re.compile(r"v([1-4])/([1-9][0-9]{0,5})")


def parse_direct(text: str) -> DirectBlocking:
    m = _DIRECT_RE.fullmatch(text)
    if m is None:
        raise ValueError(
            f"a direct blocking must look like 'v4a' or 'v4at1g8' (v1-v4, then a or b, then optionally "
            f"t<taps per pass 1-9>g<blocks per group 1-32>); got {text!r}"
        )
    taps, group = (int(m.group(3)), int(m.group(4))) if m.group(3) else (0, 1)
    return DirectBlocking(int(m.group(1)), "ab".index(m.group(2)), taps, group)


def parse_filter(text: str) -> FilterBlocking:
    m = _FILTER_RE.fullmatch(text)
    if m is None:
        raise ValueError(f"a filter blocking must look like 'v4/128' (v1-v4, then a chunk in KiB); got {text!r}")
    return FilterBlocking(int(m.group(1)), int(m.group(2)))


def parse_setting(value: str | None) -> tuple[str, DirectBlocking | None, FilterBlocking | None]:
    """The mode ("process", "persist", "off" or "forced") and the forced blockings of a value of
    CONVOPS_AUTOTUNE; ValueError naming the variable for anything else."""
    value = (value or "").strip()
    if value in ("", "process", "persist", "off"):
        return value or "process", None, None
    direct = filt = None
    try:
        for item in value.split(","):
            key, sep, spec = item.strip().partition("=")
            if key == "direct" and sep and direct is None:
                direct = parse_direct(spec.strip())
            elif key == "filter" and sep and filt is None:
                filt = parse_filter(spec.strip())
            else:
                raise ValueError(f"unknown or repeated item {item.strip()!r}")
    except ValueError as exc:
        raise ValueError(
            f"{ENV} must be 'process', 'persist', 'off' or blockings like 'direct=v4a,filter=v4/128'; "
            f"got {value!r}: {exc}"
        ) from None
    return "forced", direct, filt


# --------------------------------------------------------------------------- state

_lock = threading.Lock()
_state: dict = {}


def reset() -> None:
    """Forget every choice and re-read CONVOPS_AUTOTUNE (tests; a long-lived process whose
    environment changed)."""
    with _lock:
        _state.clear()
        _state["raw"] = os.environ.get(ENV)
        _state["choices"] = {}
        _state["loaded"] = False


reset()


def _setting() -> tuple[str, DirectBlocking | None, FilterBlocking | None]:
    parsed = _state.get("parsed")
    if parsed is None:
        parsed = _state["parsed"] = parse_setting(_state["raw"])
    return parsed


def cpu_id() -> str:
    """A short hash of this CPU's model and flags (/proc/cpuinfo), naming its cache file."""
    text = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "flags", "Features", "CPU part")):
                    text += line
                if line.strip() == "" and text:
                    break
    except OSError:
        import platform

        text = platform.processor() + platform.machine()
    import hashlib  # here, not at import: `import convops` stays cheap

    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "convops", f"autotune-{cpu_id()}.json")


def read_cache(path: str) -> dict[str, str]:
    """The entries of a cache file, each checked; {} (with a warning) for anything malformed."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        warnings.warn(f"convops: ignoring the autotuning cache {path}: {exc}", RuntimeWarning, stacklevel=2)
        return {}
    try:
        if not (isinstance(data, dict) and data.get("format") == _FORMAT and isinstance(data.get("entries"), dict)):
            raise ValueError(f"expected {{'format': {_FORMAT}, 'entries': {{...}}}}")
        entries = data["entries"]
        for key, spec in entries.items():
            if not (isinstance(key, str) and isinstance(spec, str)):
                raise ValueError(f"entry {key!r}: {spec!r} is not a string pair")
            (parse_direct if key.startswith("direct|") else parse_filter)(spec)
    except ValueError as exc:
        warnings.warn(f"convops: ignoring the autotuning cache {path}: {exc}", RuntimeWarning, stacklevel=2)
        return {}
    return dict(entries)


def write_cache(path: str, entries: dict[str, str]) -> None:
    """Replace the cache file atomically (a reader sees the old file or the new one, never half)."""
    import json
    import tempfile

    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".autotune-", suffix=".json", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"format": _FORMAT, "entries": entries}, f, indent=0, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------------- choice


def _key(kernel: str, dtype: np.dtype, isa: int, vectors: int, c_group: int, stride1: bool, kh: int, kw: int) -> str:
    c_bucket = min(c_group, 256).bit_length()
    return f"{kernel}|{dtype.char}|{isa}|v{min(vectors, 16)}|c{c_bucket}|s{int(stride1)}|k{min(kh, 7)}x{min(kw, 7)}"


def simd_lanes(dtype: np.dtype, isa: int) -> int:
    """Elements of `dtype` per SIMD vector of instruction set `isa` (an index into ISA_NAMES)."""
    return (64 if isa == 2 else 32 if isa == 1 else 16) // dtype.itemsize


def _choose(kernel: str, key: str, measure: Callable[[], str]) -> str:
    choices = _state["choices"]
    spec = choices.get(key)
    if spec is not None:
        return spec
    with _lock:
        spec = choices.get(key)
        if spec is not None:
            return spec
        persist = _setting()[0] == "persist"
        if persist and not _state["loaded"]:
            _state["loaded"] = True
            choices.update(read_cache(cache_path()))
            spec = choices.get(key)
            if spec is not None:
                return spec
        spec = measure()
        choices[key] = spec
        if persist:
            try:
                write_cache(cache_path(), dict(choices))
            except OSError as exc:
                warnings.warn(f"convops: could not write the autotuning cache: {exc}", RuntimeWarning, stacklevel=3)
        return spec


def _best(
    run: Callable[[_C], object],
    candidates: Sequence[_C],
    default: _C,
    rounds: int = _ROUNDS,
    timer: Callable[[], float] = time.thread_time,
) -> _C:
    """The default, unless a candidate's median time beats the default's by the margin.

    Every candidate runs once untimed (a warm-up: caches, page faults), then `rounds` rounds
    time each candidate once, round-robin from a start that moves one candidate on each round.
    A burst of load lasting a few calls then slows one or two calls of several candidates
    instead of every call of one, and the median drops an outlier round whichever way it goes
    (a minimum would keep one lucky call).

    The choice is the default if the fastest median is not ``_MARGIN`` times the default's,
    else the first of `candidates` within that margin of the fastest: candidates closer than
    the margin are a tie that timing noise would decide differently in every process, so a
    fixed order of preference decides it.

    Timed by ``timer``, the calling thread's CPU time: the probes run on the calling thread,
    so other processes on a busy machine (which stretch the wall clock by whole time slices) do
    not decide the choice; what thread CPU time does not remove -- other cores' traffic through
    the shared caches and memory -- the interleaving and the median are for."""
    order = list(candidates)
    for cand in order:
        run(cand)
    times: dict[_C, list[float]] = {cand: [] for cand in order}
    for r in range(rounds):
        for i in range(len(order)):
            cand = order[(r + i) % len(order)]
            start = timer()
            run(cand)
            times[cand].append(timer() - start)
    import statistics

    median = {cand: statistics.median(t) for cand, t in times.items()}
    fastest = min(median.values())
    return next(cand for cand in (default, *order) if cand in median and _MARGIN * median[cand] <= fastest)


def _probe_arrays(
    dtype: np.dtype,
    c_group: int,
    c_out: int,
    kh: int,
    kw: int,
    stride: int,
    min_side: int = 8,
    out_w: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, w and out of a one-image VALID probe of about _PROBE_FLOPS: square, or with ``out_w``
    (the call's output columns, up to _PROBE_MAX_WIDTH) wider than that square, rows of the call's
    own length. conv2d's kernels run a row's whole blocks of pixels together and address their
    evenly spaced pixels from a few registers, while a block that wraps to the next row holds a
    pointer per pixel: on a 10 x 10 probe every block of 16 pixels wrapped, and the tuner kept 12
    pixels where 16 were 1.1x faster on the call's 112-pixel rows (9 x 9 filters, 16 channels,
    Emerald Rapids)."""
    rng = np.random.default_rng(0)
    per_pixel = 2 * kh * kw * c_group * c_out
    # At least 8 x 8 pixels: from 64 pixels conv2d_direct packs the filters per block of channels,
    # as it does for the large calls being tuned for.
    side = max(8, min_side, int((_PROBE_FLOPS / per_pixel) ** 0.5))
    rows, cols = side, side
    if out_w is not None and out_w > side:
        cols = min(out_w, _PROBE_MAX_WIDTH)
        rows = max(-(-64 // cols), round(_PROBE_FLOPS / (per_pixel * cols)), 1)  # 64 pixels at least, as above
    x = rng.standard_normal((1, (rows - 1) * stride + kh, (cols - 1) * stride + kw, c_group)).astype(dtype)
    w = rng.standard_normal((kh, kw, c_group, c_out)).astype(dtype)
    return x, w, np.empty((1, rows, cols, c_out), dtype)


def direct_blocking(
    dtype: np.dtype,
    isa: int,
    c_group: int,
    c_out_group: int,
    kh: int,
    kw: int,
    stride1: bool,
    flops: int,
    out_hw: tuple[int, int] | None = None,
) -> DirectBlocking:
    """The blocking of one conv2d_direct call (groups run as separate problems of one group).
    ``out_hw``, the call's output rows and columns, shapes the tap stage's probe (the first call
    of a shape class decides for it)."""
    mode, forced, _ = _setting()
    if mode == "forced":
        return forced or DEFAULT_DIRECT
    if mode == "off" or flops < MIN_TUNED_FLOPS:
        return DEFAULT_DIRECT
    vectors = -(-c_out_group // simd_lanes(dtype, isa))
    key = _key("direct", dtype, isa, vectors, c_group, stride1, kh, kw)
    return parse_direct(
        _choose(
            "direct", key, lambda: _measure_direct(dtype, isa, c_group, c_out_group, kh, kw, stride1, out_hw).spec()
        )
    )


def _measure_direct(
    dtype: np.dtype,
    isa: int,
    c_group: int,
    c_out_group: int,
    kh: int,
    kw: int,
    stride1: bool,
    out_hw: tuple[int, int] | None = None,
) -> DirectBlocking:
    conv = load("conv")
    lanes = simd_lanes(dtype, isa)
    cg, co, kh, kw, s = min(c_group, 128), min(c_out_group, 16 * lanes), min(kh, 7), min(kw, 7), 1 if stride1 else 2
    x, w, out = _probe_arrays(dtype, cg, co, kh, kw, s, out_w=out_hw[1] if out_hw else None)
    shapes: dict[tuple[int, int], DirectBlocking] = {}
    for cand in DIRECT_CANDIDATES:  # distinct (V, P) only: for narrow C_out several coincide
        shapes.setdefault(conv.block_shape(dtype.itemsize, co, isa, *cand[:2])[:2], cand)
    candidates = [c for c in DIRECT_CANDIDATES if c in shapes.values()]
    best = _best(lambda c: conv.conv2d_direct(x, w, out, s, s, 1, 1, 0, 0, 1, isa, 1, *c), candidates, DEFAULT_DIRECT)
    # Then the cache blocking over taps for that register blocking, on a problem with enough
    # blocks of pixels for a group of 32 (16 x 16 pixels: ~40 blocks of 6; the weights of one
    # pass must be reused to pay), as large as the filter gradient's chunk probe and of the
    # call's own output size (_stream_probe): each pass reads its group's inputs again, which
    # costs little while they sit in L2 and more from L3 or memory. On a one-image probe the
    # tutorial's conv2 and a stride-2 layer (4x112x112x32->64) chose 3 taps per pass, 5% and 3%
    # slower than one pass on the real calls (Zen 3). Five rounds: the candidates are close.
    tapped = [best._replace(taps_per_pass=t, group_blocks=g) for t, g in TAP_CANDIDATES if t < kh * kw]
    if len(tapped) < 2:
        return best
    x, w, out = _probe_arrays(dtype, cg, co, kh, kw, s, min_side=16)
    x, out, w = _stream_probe(x, out, w, s, out_hw)
    return _best(lambda c: conv.conv2d_direct(x, w, out, s, s, 1, 1, 0, 0, 1, isa, 1, *c), tapped, best)


def filter_blocking(
    dtype: np.dtype,
    isa: int,
    c_group: int,
    c_out_group: int,
    kh: int,
    kw: int,
    stride1: bool,
    flops: int,
    out_hw: tuple[int, int] | None = None,
) -> FilterBlocking:
    """The blocking of one conv2d_backprop_filter_direct call. ``out_hw``, the call's output rows
    and columns, shapes the chunk stage's probe (the first call of a shape class decides for it)."""
    mode, _, forced = _setting()
    if mode == "forced":
        return forced or default_filter(isa)
    if mode == "off" or flops < MIN_TUNED_FLOPS:
        return default_filter(isa)
    vectors = -(-c_out_group // simd_lanes(dtype, isa))
    key = _key("filter", dtype, isa, vectors, c_group, stride1, kh, kw)
    return parse_filter(
        _choose(
            "filter", key, lambda: _measure_filter(dtype, isa, c_group, c_out_group, kh, kw, stride1, out_hw).spec()
        )
    )


def _measure_filter(
    dtype: np.dtype,
    isa: int,
    c_group: int,
    c_out_group: int,
    kh: int,
    kw: int,
    stride1: bool,
    out_hw: tuple[int, int] | None = None,
) -> FilterBlocking:
    grad = load("conv_grad")
    lanes = simd_lanes(dtype, isa)
    # Two stages, as conv2d's tap blocking: the block width on a small probe (a question of
    # registers and load ports), then the chunk on a probe larger than a core's L2 cache (what the
    # chunk decides is how out_backprop and the input stream through the caches: on a probe
    # that fits in L2 every chunk looks alike -- 6% apart on Zen 3 where the tutorial's conv2,
    # 3.4 MB, ran 18% faster with 16 KiB than with 32). C_in is capped, and three rounds taken for
    # the width, five for the chunk (closer), to keep both within ~50-75 ms of one core (Zen 3,
    # float32).
    cg, co, kh, kw, s = min(c_group, 32), min(c_out_group, 16 * lanes), min(kh, 7), min(kw, 7), 1 if stride1 else 2
    x, w, out = _probe_arrays(dtype, cg, co, kh, kw, s, min_side=20)
    # out_backprop of finite values (an uninitialised array may hold subnormals, slow to multiply).
    dy = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    vectors = -(-co // lanes)
    widths: dict[int, int] = {}
    for m in (4, 3, 2, 1):  # distinct block widths only
        blocks = -(-vectors // m)
        widths.setdefault(-(-vectors // blocks), m)
    default = default_filter(isa)

    def run(arrays: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Callable[[FilterBlocking], object]:
        xs, dys, ws = arrays
        return lambda c: grad.conv2d_backprop_filter_direct(
            xs, dys, ws, s, s, 1, 1, 0, 0, 1, isa, c.chunk_bytes, 1, c.max_vectors
        )

    width = _best(
        run((x, dy, w)),
        [FilterBlocking(m, default.chunk_kib) for m in (4, 3, 2, 1) if m in widths.values()],
        FilterBlocking(
            default.max_vectors if default.max_vectors in widths.values() else max(widths.values()), default.chunk_kib
        ),
        rounds=3,
    )
    big = _stream_probe(x, dy, w, s, out_hw)
    chunks = [FilterBlocking(width.max_vectors, k) for k in FILTER_CHUNKS_KIB]
    return _best(run(big), chunks, width, rounds=_ROUNDS)


def _stream_probe(
    x: np.ndarray, dy: np.ndarray, w: np.ndarray, stride: int, out_hw: tuple[int, int] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The probe of the stages that decide how data streams through the caches (the filter
    gradient's chunk, conv2d's taps per pass), as (input, output or out_backprop, filters): images
    of the call's own output size (up to 64 x 64; else the small probe's) until the input and
    the output hold _STREAM_PROBE_BYTES. A chunk is whole output
    rows, so the rows' length decides how many fit in it and how much input they read: the
    tutorial's conv2 (11 x 11 outputs) ran 12-18% faster with 16 KiB than with 32 KiB chunks, a
    20 x 20 probe showed 0-12% (Zen 3), and noise decided between them."""
    if out_hw is not None:
        side_h, side_w = min(max(out_hw[0], 1), 64), min(max(out_hw[1], 1), 64)
        shape_x = ((side_h - 1) * stride + w.shape[0], (side_w - 1) * stride + w.shape[1])
        rng = np.random.default_rng(2)
        x = rng.standard_normal((1, *shape_x, x.shape[3])).astype(x.dtype)
        dy = rng.standard_normal((1, side_h, side_w, dy.shape[3])).astype(dy.dtype)
    images = -(-_STREAM_PROBE_BYTES // (x[0].nbytes + dy[0].nbytes))
    return np.repeat(x, images, axis=0), np.repeat(dy, images, axis=0), w


def _fast_path_hook(
    itemsize: int,
    isa: int,
    c_group: int,
    c_out_group: int,
    kh: int,
    kw: int,
    stride1: bool,
    flops: float,
    h_out: int,
    w_out: int,
) -> DirectBlocking:
    return direct_blocking(
        np.dtype(np.float32 if itemsize == 4 else np.float64),
        isa,
        c_group,
        c_out_group,
        kh,
        kw,
        stride1,
        int(flops),
        out_hw=(h_out, w_out),
    )


# conv2d's fast path (convops/_kernels/fastpath.pyx) calls the direct kernel without a blocking:
# the kernel asks this hook for large calls.
load("conv").set_blocking_hook(_fast_path_hook, MIN_TUNED_FLOPS)

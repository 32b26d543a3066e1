"""Fixtures of docs/_static/explorer/arithmetic.js: convops.arithmetic over an exhaustive grid.

Usage: ``python tests/js/fixtures_arithmetic.py OUTDIR`` writes OUTDIR/arithmetic.json, read by
tests/js/arithmetic.test.mjs. For each function, a list of cases ``[args, outcome]``: ``args`` as
the JavaScript function takes them (tuples become arrays, None becomes null), and ``outcome``
either ``{"value": ...}`` or ``{"error": "TypeError" | "ValueError", "message": ...}`` — what
convops.arithmetic returned or raised. The grid: every input size 0..12, kernel 1..6, stride
1..4, dilation 1..3 and padding VALID, SAME, "same" and each explicit pair of 0..3; small layer
stacks for receptive fields; channel counts and groups for parameters; and every argument of
every function replaced by bad values, one and two at a time, so the order of the checks and
the kind of each error are compared too.

The output sizes of a transposed convolution are taken from the op itself: for each geometry,
every candidate size is passed to convops.conv2d_transpose, and the sizes it accepts are
recorded (an oracle independent of arithmetic.py).
"""

from __future__ import annotations

import itertools
import json
import pathlib
import random
import sys
from typing import Any

import numpy as np

from convops import arithmetic, conv2d_transpose

INPUTS = range(13)
KERNELS = range(1, 7)
STRIDES = range(1, 5)
DILATIONS = range(1, 4)
PADDINGS: list[Any] = ["VALID", "SAME", "same"] + list(itertools.product(range(4), repeat=2))

# Values that each kind of argument must refuse: wrong sign, wrong type, lookalikes.
BAD_INTS: list[Any] = [-1, 0, 2.5, "3", True, None, [1, 2]]
BAD_PADDINGS: list[Any] = ["FOO", "", "valid ", (1,), (1, 2, 3), (-1, 0), (0, -1), (1, "a"), (2.5, 0), 5, None, True]
BAD_BOOLS: list[Any] = [1, 0, "True", None]


def jsonable(value: Any) -> Any:
    if isinstance(value, arithmetic.ReceptiveField):  # before tuple: a NamedTuple is one
        return {"size": value.size, "jump": value.jump, "start": value.start}
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    return value


def outcome(function, args: tuple) -> dict[str, Any]:
    try:
        value = function(*args)
    except (TypeError, ValueError) as exc:
        return {"error": type(exc).__name__, "message": str(exc)}
    if isinstance(value, range):
        return {"value": {"start": value.start, "stop": value.stop}}
    if isinstance(value, list):
        return {"value": [jsonable(v) for v in value]}
    return {"value": jsonable(value)}


def with_bad_arguments(base: tuple, bad: list[list[Any]]) -> list[tuple]:
    """``base`` with each argument replaced by each of its bad values, then every pair of
    arguments replaced by (a few of) their bad values, to pin the order of the checks."""
    calls = []
    for position, values in enumerate(bad):
        for value in values:
            calls.append(base[:position] + (value,) + base[position + 1 :])
    for first, second in itertools.combinations(range(len(base)), 2):
        for a, b in itertools.product(bad[first][:4], bad[second][:4]):
            call = list(base)
            call[first], call[second] = a, b
            calls.append(tuple(call))
    return calls


def geometry_grid() -> list[tuple]:
    """(i, k, s, padding, d) for every combination of the grid."""
    return list(itertools.product(INPUTS, KERNELS, STRIDES, PADDINGS, DILATIONS))


def transposed_sizes(i: int, k: int, s: int, padding: Any, d: int) -> list[int]:
    """Every output size in 0..(i + 1) * s + k_eff + 4 that conv2d_transpose accepts; the height
    axis carries the geometry, the width is a trivial 1 -> 1."""
    x = np.zeros((1, i, 1, 1), np.float32)
    w = np.zeros((k, 1, 1, 1), np.float32)
    pad = padding if isinstance(padding, str) else (tuple(padding), (0, 0))
    accepted = []
    for size in range((i + 1) * s + (k - 1) * d + 5):
        try:
            conv2d_transpose(x, w, (1, size, 1, 1), strides=(s, 1), padding=pad, dilations=(d, 1))
        except ValueError:
            continue
        accepted.append(size)
    return accepted


def cases() -> dict[str, list]:
    grid = geometry_grid()
    out: dict[str, list] = {}

    def record(name: str, function, calls) -> None:
        out.setdefault(name, []).extend([jsonable(call), outcome(function, call)] for call in calls)

    record("effectiveKernelSize", arithmetic.effective_kernel_size, itertools.product(range(-1, 8), range(-1, 5)))
    record("effectiveKernelSize", arithmetic.effective_kernel_size, with_bad_arguments((3, 2), [BAD_INTS, BAD_INTS]))

    same_grid = list(itertools.product(INPUTS, KERNELS, STRIDES, DILATIONS))
    record("samePadding", arithmetic.same_padding, same_grid)
    record("samePadding", arithmetic.same_padding, with_bad_arguments((5, 3, 2, 1), [BAD_INTS] * 4))

    record("resolvePadding", arithmetic.resolve_padding, [(p, i, k, s, d) for i, k, s, p, d in grid])
    record(
        "resolvePadding",
        arithmetic.resolve_padding,
        with_bad_arguments(("SAME", 5, 3, 2, 1), [BAD_PADDINGS] + [BAD_INTS] * 4)
        + with_bad_arguments(((1, 2), 5, 3, 2, 1), [BAD_PADDINGS] + [BAD_INTS] * 4),
    )

    record("convOutputSize", arithmetic.conv_output_size, grid)
    record(
        "convOutputSize",
        arithmetic.conv_output_size,
        with_bad_arguments((7, 3, 2, "SAME", 1), [BAD_INTS, BAD_INTS, BAD_INTS, BAD_PADDINGS, BAD_INTS])
        + with_bad_arguments((7, 3, 2, (1, 1), 2), [BAD_INTS, BAD_INTS, BAD_INTS, BAD_PADDINGS, BAD_INTS]),
    )

    record("inputSizeRange", arithmetic.input_size_range, [(o, k, s, d, p) for o, k, s, p, d in grid])
    record(
        "inputSizeRange",
        arithmetic.input_size_range,
        with_bad_arguments((4, 3, 2, 1, "SAME"), [BAD_INTS] * 4 + [BAD_PADDINGS])
        + with_bad_arguments((4, 3, 2, 1, (1, 0)), [BAD_INTS] * 4 + [BAD_PADDINGS]),
    )

    pool_grid = list(itertools.product(INPUTS, KERNELS, STRIDES, PADDINGS))
    record("poolOutputSize", arithmetic.pool_output_size, pool_grid)
    record(
        "poolOutputSize",
        arithmetic.pool_output_size,
        with_bad_arguments((6, 2, 2, "VALID"), [BAD_INTS, BAD_INTS, BAD_INTS, BAD_PADDINGS]),
    )

    record("receptiveFields", arithmetic.receptive_fields, receptive_field_calls())
    record("receptiveField", arithmetic.receptive_field, [call[:1] for call in receptive_field_calls()])

    params_grid = itertools.product([1, 2, 3, (1, 3), (3, 2)], range(1, 7), range(1, 7), [True, False], range(1, 4))
    record("conv2dParams", arithmetic.conv2d_params, params_grid)
    record(
        "conv2dParams",
        arithmetic.conv2d_params,
        with_bad_arguments((3, 4, 8, True, 2), [BAD_INTS + [(0, 3), (3,)], BAD_INTS, BAD_INTS, BAD_BOOLS, BAD_INTS]),
    )
    record("denseParams", arithmetic.dense_params, itertools.product(range(1, 13), range(1, 13), [True, False]))
    record("denseParams", arithmetic.dense_params, with_bad_arguments((4, 3, True), [BAD_INTS, BAD_INTS, BAD_BOOLS]))
    flops_grid = itertools.product([0, 5, (2, 3)], [1, 3, (1, 3)], range(1, 5), range(1, 5), range(1, 3))
    record("conv2dFlops", arithmetic.conv2d_flops, flops_grid)
    record(
        "conv2dFlops",
        arithmetic.conv2d_flops,
        with_bad_arguments(((3, 3), 3, 4, 8, 2), [BAD_INTS[1:] + [(-1, 2)], BAD_INTS, BAD_INTS, BAD_INTS, BAD_INTS]),
    )

    small = itertools.product(range(0, 7), range(1, 5), range(1, 4), PADDINGS[:2] + PADDINGS[3::3], range(1, 3))
    out["transposedOutputSizes"] = [
        [[i, k, s, jsonable(p), d], transposed_sizes(i, k, s, p, d)] for i, k, s, p, d in small
    ]
    return out


def receptive_field_calls() -> list[tuple]:
    layers = [(k, s) for k in range(1, 4) for s in range(1, 4)] + [(3, 1, 2), (2, 2, 3), (3, 2, 2)]
    rng = random.Random(2026)
    calls: list[tuple] = [([], None), ([], [])]
    calls += [([a], None) for a in layers]
    calls += [([a, b], None) for a in layers for b in layers]
    calls += [([a, b], [rng.randrange(3), rng.randrange(3)]) for a in layers for b in layers]
    calls += [([rng.choice(layers) for _ in range(n)], None) for n in range(3, 7) for _ in range(50)]
    bad_stacks: list[Any] = [None, 5, [5], [(3,)], [(3, 1, 1, 1)], [(0, 1)], [(3, 0)], [(3, 1, 0)], [("3", 1)]]
    bad_stacks += [[(3, 1), (2, 2.5)], [(3, 1), None], [(3, 1), (True, 1)]]
    calls += [(stack, None) for stack in bad_stacks]
    calls += [([(3, 1), (2, 2)], pads) for pads in ([0], [0, 0, 0], [0, -1], [0, "1"], 5, [None, 0])]
    return calls


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    target = pathlib.Path(argv[1]) / "arithmetic.json"
    data = cases()
    target.write_text(json.dumps(data, separators=(",", ":")))
    total = sum(len(v) for v in data.values())
    print(f"{target}: {total} cases of convops.arithmetic for arithmetic.js")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Run the argument fuzzing (``fuzz_ops.py``, ``fuzz_gradients.py``) in a child process.

A kernel that writes out of bounds or divides by zero in C does not raise: it kills the process.
Run in this process, such a crash would end the whole test session (pytest's faulthandler would
at least print a traceback, but every later test would be lost). In a child, the crash fails
*this* test with the child's output, which ends with faulthandler's traceback of the call that
crashed and the signal's name. A hang fails it too, after dumping every thread's stack.

The child inherits the environment: the Hypothesis profile, ``CI``, and under
``scripts/sanitize.sh`` the sanitizer runtime (``LD_PRELOAD``) and its options.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
#: Whole-run limit for the child (the ci profile takes ~1 min here, ~3 under the sanitizers).
TIMEOUT = int(os.environ.get("CONVOPS_FUZZ_TIMEOUT", "900"))
#: One example taking this long is a hang: faulthandler dumps every thread's stack.
HANG_SECONDS = 120


def _tail(text: str, lines: int = 150) -> str:
    """The end of ``text``, preceded by any sanitizer report in it (which comes before the long
    faulthandler traceback and would otherwise be cut)."""
    all_lines = text.splitlines()
    report = [
        i
        for i, line in enumerate(all_lines)
        if "ERROR: AddressSanitizer" in line or "runtime error:" in line or "SUMMARY:" in line
    ]
    head = ""
    if report:
        head = "\n".join(all_lines[report[0] : report[0] + 60]) + "\n[...]\n"
    return head + "\n".join(all_lines[-lines:])


def examples_per_test(output: str) -> dict:
    """{test name: examples run} from Hypothesis' statistics (passing + failing + invalid)."""
    counts = {}
    for block in re.split(r"\n(?=\S+::test_)", output):
        name = re.match(r"\S+::(test_\w+)", block)
        runs = re.findall(r"(\d+) passing, (\d+) failing, and (\d+) invalid", block)
        if name and runs:
            counts[name.group(1)] = sum(int(p) + int(f) for p, f, _ in runs)
    return counts


def test_argument_fuzzing_survives_in_a_child_process():
    # --capture=sys: output written at the file-descriptor level (a sanitizer's report, written
    # just before it aborts the process) goes straight to the child's stderr instead of a
    # capture file that dies with the process.
    command = [
        sys.executable,
        "-X",
        "faulthandler",
        "-m",
        "pytest",
        str(HERE / "fuzz_ops.py"),
        str(HERE / "fuzz_gradients.py"),
        "-q",
        "-p",
        "no:cacheprovider",
        "--capture=sys",
        "--hypothesis-show-statistics",
        "-o",
        f"faulthandler_timeout={HANG_SECONDS}",
    ]
    if os.environ.get("CONVOPS_FUZZ_SEED"):  # scripts/sanitize.sh: a reproducible run of the dev profile
        command.append(f"--hypothesis-seed={os.environ['CONVOPS_FUZZ_SEED']}")
    try:
        child = subprocess.run(command, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(errors="replace")
        pytest.fail(f"the fuzzing child hung: no result after {TIMEOUT} s. Its last output:\n{_tail(output)}")
    output = child.stdout + "\n" + child.stderr
    if child.returncode < 0:
        name = signal.Signals(-child.returncode).name
        pytest.fail(
            f"the fuzzing child was killed by {name} (a crash in compiled code: out-of-bounds access, "
            f"division by zero, abort). Its last output, ending with the crashing call's traceback:\n"
            f"{_tail(output)}"
        )
    if child.returncode != 0:
        # Exit codes 1 (test failures) and >1 (a sanitizer's report, usage errors) alike.
        pytest.fail(f"the fuzzing child failed (exit code {child.returncode}):\n{_tail(output, 300)}")
    counts = examples_per_test(output)
    print("fuzz examples per function:", counts)
    assert len(counts) >= 13, f"expected statistics for every fuzz test, got {counts}:\n{_tail(output)}"
    assert all(n > 0 for n in counts.values()), counts

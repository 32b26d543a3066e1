"""Run the public-API argument fuzzer (``fuzz_api.py``) in a child process.

Every public function, class and method of ``convops.nn``, ``convops.datasets`` and
``convops.arithmetic`` gets wrong-type and out-of-range values for each argument in turn and
must refuse them with ValueError/TypeError naming the argument, leaving no state behind. In a
child, a crash in compiled code or a hang (``fuzz_api.py`` ends the child with every thread's
stack after ``CALL_SECONDS``) fails this one test with the child's output instead of ending the
session.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
#: Whole-run limit for the child (about 5 s here).
TIMEOUT = 300


def test_public_api_fuzzing_survives_in_a_child_process():
    # --capture=sys: what faulthandler writes at the file-descriptor level on a hang reaches the
    # child's stderr instead of a capture file that dies with the process.
    command = [
        sys.executable,
        "-X",
        "faulthandler",
        "-m",
        "pytest",
        str(HERE / "fuzz_api.py"),
        "-q",
        "-p",
        "no:cacheprovider",
        "--capture=sys",
    ]
    try:
        child = subprocess.run(command, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(errors="replace")
        pytest.fail(f"the API fuzzing child hung: no result after {TIMEOUT} s:\n{output[-6000:]}")
    output = child.stdout + "\n" + child.stderr
    assert child.returncode >= 0, f"the API fuzzing child crashed (signal {-child.returncode}):\n{output[-6000:]}"
    assert child.returncode == 0, f"the API fuzzing child failed:\n{output[-12000:]}"
    match = re.search(r"(\d+) passed", output)
    # One test per public callable (about a hundred) plus the coverage and self tests.
    assert match and int(match.group(1)) >= 100, output[-3000:]

"""The type check means something: mypy, reading convops's public signatures, refuses a bad call.

convops ships ``py.typed``, so a user's mypy reads the hints of ``convops.conv2d``. Hints of
``Any`` would let ``strides="two"`` through; the aliases in ``convops._typing`` must not. The
test writes two small user files, one with a bad call and one with good calls, runs mypy on
both in one process and checks which lines it reports.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy is installed by requirements/lint.txt (scripts/env.sh test)")

ROOT = Path(__file__).resolve().parents[1]

BAD = """\
import numpy as np

import convops

x = np.ones((1, 5, 5, 1), np.float32)
w = np.ones((3, 3, 1, 1), np.float32)
convops.conv2d(
    x,
    w,
    strides="two",
    padding=3.5,
    data_format="NHCW",
)
"""

GOOD = """\
import numpy as np

import convops

x = np.ones((1, 5, 5, 1), np.float32)
w = np.ones((3, 3, 1, 1), np.float32)
y: np.ndarray = convops.conv2d(x, w, strides=2, padding="SAME", data_format="NHWC")
convops.conv2d(x.tolist(), w, strides=(1, 2), padding=((1, 1), (0, 2)), dilations=[1, 1, 1, 1])
convops.conv2d(x, w, strides=np.int64(2), padding=[[0, 0], [1, 1], [1, 1], [0, 0]], data_format="NCHW")
"""


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """mypy's error lines for the bad and the good user file, by file name."""
    tmp = tmp_path_factory.mktemp("mypy")
    (tmp / "bad_call.py").write_text(BAD)
    (tmp / "good_call.py").write_text(GOOD)
    # MYPYPATH finds this checkout's convops (the venv's editable install may point elsewhere);
    # follow-imports=silent reads convops's signatures without reporting convops's own errors.
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--follow-imports=silent",
        "--no-error-summary",
        "--show-column-numbers",
        "--cache-dir",
        str(tmp / ".mypy_cache"),
        "bad_call.py",
        "good_call.py",
    ]
    proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode not in (0, 1):  # 2 = mypy itself failed (config, crash)
        pytest.fail(f"mypy could not run ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    report: dict[str, list[str]] = {"bad_call.py": [], "good_call.py": []}
    for line in proc.stdout.splitlines():
        name = line.split(":", 1)[0]
        if name in report and ": error:" in line:
            report[name].append(line)
    return report


@pytest.mark.parametrize(("argument", "line"), [("strides", 10), ("padding", 11), ("data_format", 12)])
def test_mypy_refuses_each_bad_argument(mypy_report: dict[str, list[str]], argument: str, line: int) -> None:
    assert BAD.splitlines()[line - 1].strip().startswith(f"{argument}="), "the line numbers above are stale"
    hits = [e for e in mypy_report["bad_call.py"] if f'Argument "{argument}" to "conv2d"' in e]
    assert hits, f"mypy accepted `{argument}` of the bad call; it reported:\n" + "\n".join(mypy_report["bad_call.py"])
    assert all(e.startswith(f"bad_call.py:{line}:") for e in hits), hits


def test_mypy_reports_nothing_else_in_the_bad_call(mypy_report: dict[str, list[str]]) -> None:
    assert len(mypy_report["bad_call.py"]) == 3, "\n".join(mypy_report["bad_call.py"])


def test_mypy_accepts_the_good_calls(mypy_report: dict[str, list[str]]) -> None:
    assert mypy_report["good_call.py"] == []

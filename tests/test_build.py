"""The build: a missing compiler is named with what to install, the pool runs on this system's
threads, and the pool's own C check passes with this machine's compiler (threads and none).

scripts/cross_build.sh goes further (clang build of the extensions, MinGW-w64 cross-build of the
Windows pool); these are the quick checks that run with the suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from convops._kernels import parallel

ROOT = Path(__file__).resolve().parents[1]


def test_missing_compiler_fails_early_naming_what_to_install(tmp_path):
    env = dict(os.environ, CC="/nonexistent/cc")
    result = subprocess.run(
        [
            sys.executable,
            "setup.py",
            "-q",
            "build_ext",
            "--build-lib",
            str(tmp_path / "lib"),
            "--build-temp",
            str(tmp_path / "temp"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    message = result.stdout + result.stderr
    assert result.returncode != 0, message
    for needed in (
        "/nonexistent/cc",
        "build-essential",
        "Fedora",
        "xcode-select --install",
        "Microsoft C++ Build Tools",
    ):
        assert needed in message, f"{needed!r} missing from:\n{message}"
    # It failed before compiling anything: no object file, no traceback.
    assert not list(tmp_path.rglob("*.o")) and "Traceback" not in message, message


def test_pool_runs_on_this_systems_threads():
    expected = "win32" if sys.platform == "win32" else "posix"
    assert parallel.pool_backend() == expected


def test_default_thread_count_without_openmp_is_the_processors():
    if parallel.openmp_enabled():
        assert parallel.max_threads() >= 1
    else:
        assert parallel.max_threads() == min(os.cpu_count() or 1, 1024)


@pytest.mark.parametrize("defines", [[], ["-DCONVOPS_NO_THREADS"]], ids=["threads", "no-threads"])
def test_pool_check_program(tmp_path, defines):
    """scripts/pool_check.c: many jobs, every task once with its own value, helpers take part."""
    cc = shutil.which(os.environ.get("CC", "cc").split()[0])
    if cc is None or sys.platform == "win32":
        pytest.skip("needs a GCC-compatible C compiler")
    exe = tmp_path / "pool_check"
    subprocess.run(
        [
            cc,
            "-O1",
            "-std=gnu11",
            "-Wall",
            *defines,
            f"-I{ROOT / 'convops/_kernels/src'}",
            str(ROOT / "scripts/pool_check.c"),
            "-o",
            str(exe),
            "-pthread",
        ],
        check=True,
        timeout=300,
    )
    result = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    backend = "none" if defines else "posix"
    assert f"pool backend {backend}:" in result.stdout and "0 failures" in result.stdout, result.stdout

"""Plant known bugs in convops one at a time and check that the test suite kills each of them.

    .venv/bin/python scripts/mutate.py              # every mutation (~15-25 min on 2 cores)
    .venv/bin/python scripts/mutate.py --list       # what each mutation plants, and its tests
    .venv/bin/python scripts/mutate.py --only parallel-last-chunk mean-bool

Run on demand after big changes (not in CI: compiled mutations rebuild extensions). Each mutation
is a small, realistic bug: an exact text replacement in one source file, and the tests that must
fail when it is planted. The script works in a scratch copy of the checkout (its tracked files as
they are now, with the compiled extensions and build directory copied, so only a mutated module
recompiles), never in the checkout itself; it runs the named tests with Hypothesis's ``dev``
profile and reports, per mutation, KILLED (the tests failed), SURVIVED (they passed: a gap in
the suite) or ERROR (the mutation no longer applies: its text is not in the file exactly once).
Exit status 0 only when every mutation was killed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # source file, relative to the repository root
    old: str  # exact text, present once
    new: str
    tests: tuple  # pytest arguments that must fail with the mutation planted
    what: str

    @property
    def compiled(self) -> bool:
        return self.path.endswith((".pyx", ".pxd", ".h"))


MUTATIONS = [
    Mutation(
        "list-range-check",
        "convops/_validation.py",
        "            if array.min() < info.min or array.max() > info.max:",
        "            if False:",
        ("tests/test_errors.py", "-k", "list or int32"),
        "Python integer lists that do not fit the other operand's integer dtype wrap silently",
    ),
    Mutation(
        "cython-maxpool-nan",
        "convops/_kernels/pool.pyx",
        "                        acc[c] = value if value > acc[c] else acc[c]",
        "                        acc[c] = value if not value <= acc[c] else acc[c]",
        ("tests/test_pool_kernels.py", "-k", "pools_every_isa and cython"),
        "the no-SIMD max-pool loop (MSVC builds) takes NaN instead of ignoring it",
    ),
    Mutation(
        "simd-maxpool-nan",
        "convops/_kernels/src/pool_ukernel.h",
        "#define PK_MAX(run, v) (run = (UK_NAME(vec))PK_MAXV((v), (run)))",
        "#define PK_MAX(run, v) (run = (UK_NAME(vec))PK_MAXV((run), (v)))",
        ("tests/test_pool.py", "-k", "max_pool2d"),
        "the SIMD max-pool's vector lanes take NaN (operands of x86's max swapped); scalar tails stay right",
    ),
    Mutation(
        "parallel-last-chunk",
        "convops/_kernels/src/parallel.h",
        "    job->n_chunks = (n_tasks + chunk - 1) / chunk;",
        "    job->n_chunks = n_tasks / chunk;",
        ("tests/test_properties.py", "-k", "thread_count"),
        "the thread pool drops the last, partial chunk of rows",
    ),
    Mutation(
        "mean-layout",
        "convops/padding.py",
        "            mean = x_c.mean(axis=padded_axes, keepdims=True, dtype=np.float64)",
        "            mean = x.mean(axis=padded_axes, keepdims=True, dtype=np.float64)",
        ("tests/test_pad.py", "-k", "mean_does_not_depend"),
        "MEAN padding sums in the input's memory order, so a Fortran-ordered float64 input rounds differently",
    ),
    Mutation(
        "mean-bool",
        "convops/padding.py",
        '    elif x.dtype.kind in "iub":',
        '    elif x.dtype.kind in "iu":',
        ("tests/test_pad.py", "-k", "mean_matches"),
        "MEAN padding of a bool array takes the float path (any True makes the border True)",
    ),
    Mutation(
        "pool-2d-nchw",
        "convops/pooling.py",
        '    if fmt == "NCHW" and not image_2d:',
        '    if fmt == "NCHW":',
        ("tests/test_pool.py", "-k", "matches_tensorflow"),
        "a 2-D image pooled with data_format='NCHW' is transposed as if it were 4-D NCHW",
    ),
    Mutation(
        "conv-2d-nchw",
        "convops/conv.py",
        '        x = x[None, :, :, None] if layout == "NHWC" else x[None, None, :, :]',
        "        x = x[None, :, :, None]",
        ("tests/test_conv.py", "-k", "image"),
        "a 2-D image convolved with data_format='NCHW' is reshaped as NHWC, then transposed",
    ),
    Mutation(
        "pad-negative-zero",
        "convops/_kernels/fastpath.pyx",
        "    if type(constant_values) is float and signbit(<double>constant_values):\n        return None\n",
        "",
        ("tests/test_pad.py", "-k", "sign_of_a_zero or tensorflow"),
        "the compiled pad fills constant_values=-0.0 with +0.0 (memset) on C-ordered inputs",
    ),
    Mutation(
        "same-padding-split",
        "convops/arithmetic.py",
        "    return total // 2, total - total // 2",
        "    return total - total // 2, total // 2",
        ("tests/test_arithmetic.py",),
        "SAME puts the odd padding pixel top/left instead of bottom/right (PyTorch-style)",
    ),
    Mutation(
        "control-no-op",
        "convops/padding.py",
        "if before or after)",
        "if (before or after))",
        ("tests/test_pad.py", "-k", "mean"),
        "control: a rewrite that changes nothing (must SURVIVE: shows that a survivor is reported)",
    ),
]
# The control is skipped unless asked for by name (--only control-no-op).
CONTROL = {"control-no-op"}


# The compiled extensions and their generated C live beside their .pyx sources.
KERNELS = Path("convops") / "_kernels"


def _copy_checkout(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    for built in list((ROOT / KERNELS).glob("*.so")) + list((ROOT / KERNELS).glob("*.c")):
        shutil.copy2(built, dest / KERNELS / built.name)
    if (ROOT / "build").is_dir():
        shutil.copytree(ROOT / "build", dest / "build", dirs_exist_ok=True)


def _build(copy: Path) -> None:
    result = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=copy, capture_output=True, text=True
    )
    if result.returncode:
        raise RuntimeError(f"build failed:\n{result.stderr[-3000:]}")


def _save_artefacts(copy: Path) -> Path:
    """A copy of the compiled state (extensions, generated C, object files), timestamps kept."""
    saved = Path(tempfile.mkdtemp(prefix="convops-mutate-build-"))
    shutil.copytree(copy / "build", saved / "build")
    (saved / KERNELS).mkdir(parents=True)
    for built in list((copy / KERNELS).glob("*.so")) + list((copy / KERNELS).glob("*.c")):
        shutil.copy2(built, saved / KERNELS / built.name)
    return saved


def _restore_artefacts(copy: Path, saved: Path) -> None:
    shutil.rmtree(copy / "build")
    shutil.copytree(saved / "build", copy / "build")
    for built in (saved / KERNELS).iterdir():
        shutil.copy2(built, copy / KERNELS / built.name)
    shutil.rmtree(saved)


def _env(copy: Path) -> dict:
    env = dict(os.environ, HYPOTHESIS_PROFILE="dev", PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    env.pop("CI", None)  # the dev profile's budget, whatever the caller's environment
    return env


def run(mutations, copy: Path) -> list:
    _build(copy)
    where = subprocess.run(
        [sys.executable, "-c", "import convops; print(convops.__file__)"],
        cwd=copy,
        env=_env(copy),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not where.startswith(str(copy)):
        raise RuntimeError(f"the scratch copy's convops is not the one imported ({where}); aborting")
    results = []
    for m in mutations:
        path = copy / m.path
        original = path.read_text()
        if original.count(m.old) != 1:
            results.append((m, "ERROR", 0.0, f"text found {original.count(m.old)} times in {m.path}"))
            print(f"{'ERROR':9} {m.name:22} {0.0:6.1f} s  {results[-1][3]}", flush=True)
            continue
        stat = path.stat()
        saved = _save_artefacts(copy) if m.compiled else None
        path.write_text(original.replace(m.old, m.new))
        try:
            if m.compiled:
                _build(copy)
            built = time.monotonic()
            test = subprocess.run(
                [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *m.tests],
                cwd=copy,
                env=_env(copy),
                capture_output=True,
                text=True,
            )
            seconds = time.monotonic() - built
            last = (test.stdout.strip().splitlines() or [""])[-1]
            status = "KILLED" if test.returncode == 1 else "SURVIVED" if test.returncode == 0 else "ERROR"
            results.append((m, status, seconds, last))
        finally:
            path.write_text(original)
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            if saved is not None:  # the unmutated build back, without recompiling it
                _restore_artefacts(copy, saved)
        print(f"{results[-1][1]:9} {m.name:22} {results[-1][2]:6.1f} s  {results[-1][3]}", flush=True)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutations")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy (its path is printed)")
    args = parser.parse_args(argv)
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:22} {m.path}: {m.what}\n{'':22} tests: {' '.join(m.tests)}")
        return 0
    names = {m.name for m in MUTATIONS}
    unknown = set(args.only or ()) - names
    if unknown:
        parser.error(f"unknown mutation(s) {sorted(unknown)}; choose from {sorted(names)}")
    chosen = [m for m in MUTATIONS if (m.name in args.only if args.only else m.name not in CONTROL)]
    copy = Path(tempfile.mkdtemp(prefix="convops-mutate-"))
    try:
        _copy_checkout(copy)
        results = run(chosen, copy)
    finally:
        if args.keep:
            print(f"scratch copy kept: {copy}")
        else:
            shutil.rmtree(copy, ignore_errors=True)
    planted = [(m, status) for m, status, _, _ in results if m.name not in CONTROL]
    killed = sum(status == "KILLED" for _, status in planted)
    print(f"\n{killed} of {len(planted)} planted bugs killed")
    for m, status, _, _ in results:
        if m.name in CONTROL:
            print(f"control {m.name}: {status} ({'as it should' if status == 'SURVIVED' else 'the script is broken'})")
    expected = [(m, s) for m, s, _, _ in results if (s != "SURVIVED" if m.name in CONTROL else s != "KILLED")]
    return 1 if expected else 0


if __name__ == "__main__":
    sys.exit(main())

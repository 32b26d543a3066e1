"""Time convops against TensorFlow, PyTorch and NumPy, side by side in one process.

``python -m benchmarks`` runs every case twice: once with all cores for everyone, once with one
thread for everyone, each mode in its own child process (thread counts must be fixed before
TensorFlow, torch and OpenBLAS start their pools). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
# Set by this environment on some CPUs to pin OpenBLAS to an old kernel (see README): kept only
# with --keep-openblas-env, and recorded either way.
OPENBLAS_PINS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "CONVOPS_NUM_THREADS")


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="run one mode with this many threads for everyone (default: all cores, then 1)",
    )
    p.add_argument("--filter", default="", help="regular expression on case names (e.g. 'conv_l2|pool')")
    p.add_argument("--quick", action="store_true", help="fewer, shorter samples (a smoke test, not a result)")
    p.add_argument("--repeats", type=int, default=7, help="timed samples per implementation (default 7)")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    p.add_argument("--no-tf", action="store_true", help="skip TensorFlow")
    p.add_argument(
        "--tf-onednn",
        choices=("on", "off"),
        default="on",
        help="TensorFlow's oneDNN back end (default on: TF's default and its fastest)",
    )
    p.add_argument(
        "--keep-openblas-env",
        action="store_true",
        help="keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE if set (default: unset them, see README)",
    )
    p.add_argument("--out", default=RESULTS, help="directory for latest.json and latest.md")
    p.add_argument("--tag", default="", help="also save the results as results/run-<tag>.json")
    p.add_argument("--child-json", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _child_env(args, threads: int) -> dict:
    env = dict(os.environ)
    if not args.keep_openblas_env:
        for name in OPENBLAS_PINS:
            env.pop(name, None)
    for name in THREAD_VARS:
        env[name] = str(threads)
    env["TF_ENABLE_ONEDNN_OPTS"] = "1" if args.tf_onednn == "on" else "0"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONPATH"] = os.path.dirname(HERE) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def main(argv=None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.child_json:
        from benchmarks import suite

        return suite.run_child(args)
    cores = os.cpu_count() or 1
    modes = [args.threads] if args.threads else ([cores, 1] if cores > 1 else [1])
    original_env = {name: os.environ.get(name) for name in OPENBLAS_PINS + THREAD_VARS}
    runs = []
    for threads in modes:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
            path = tmp.name
        cmd = [
            sys.executable,
            "-m",
            "benchmarks",
            "--child-json",
            path,
            "--threads",
            str(threads),
            "--repeats",
            str(args.repeats),
            "--filter",
            args.filter,
            "--tf-onednn",
            args.tf_onednn,
        ]
        cmd += ["--quick"] * args.quick + ["--no-torch"] * args.no_torch + ["--no-tf"] * args.no_tf
        cmd += ["--keep-openblas-env"] * args.keep_openblas_env
        print(f"== {threads} thread{'s' * (threads > 1)} for everyone", flush=True)
        code = subprocess.call(cmd, env=_child_env(args, threads), cwd=os.path.dirname(HERE))
        if code != 0:
            print(f"benchmark child ({threads} threads) failed with exit code {code}", file=sys.stderr)
            return code
        with open(path) as f:
            runs.append(json.load(f))
        os.unlink(path)
    from benchmarks import report

    result = {
        "schema": 1,
        "machine": runs[0]["machine"],
        "environment_as_started": original_env,
        "runs": [{k: v for k, v in run.items() if k != "machine"} for run in runs],
    }
    os.makedirs(args.out, exist_ok=True)
    text = report.markdown(result)
    for name in ["latest"] + ([f"run-{args.tag}"] if args.tag else []):
        with open(os.path.join(args.out, name + ".json"), "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
        with open(os.path.join(args.out, name + ".md"), "w") as f:
            f.write(text)
    latest = os.path.join(args.out, "latest.json")
    if args.tag:
        print(f"\nwrote {latest} and latest.md (git-ignored), and run-{args.tag}.json and .md to commit")
    else:
        print(f"\nwrote {latest} and latest.md (git-ignored; --tag NAME for a run to commit)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

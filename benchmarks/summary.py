"""Compare several saved runs side by side: ``python -m benchmarks.summary results/run-A.json ...``

Prints, per case and thread mode, convops' speed-up over TF eager (by wall time, and by CPU time
in parentheses), over torch channels-last, and its % of the FMA peak (conv, runs that measured it;
% of the matmul limit in older runs) or of the copy bandwidth (pool/pad), one column group per
run, with the load other processes put on the machine.
Decide on what repeats across runs: on a shared 2-core machine single differences under ~25% are noise.
"""

from __future__ import annotations

import json
import sys


def _cell(case: dict) -> str:
    s, c = case["speedup"], case.get("speedup_cpu", {})
    tf = f"{s['tf_eager']:.2f}" if "tf_eager" in s else "-"
    if "tf_eager" in c:
        tf += f" ({c['tf_eager']:.2f})"
    torch = f"{s['torch_cl']:.2f}" if "torch_cl" in s else "-"
    limit = (
        f"{case['pct_fma']:.0f}%fma"
        if "pct_fma" in case
        else f"{case['pct_matmul']:.0f}%mm"
        if "pct_matmul" in case
        else f"{case['pct_copy']:.0f}%cp"
        if "pct_copy" in case
        else ""
    )
    return f"{tf:>13} {torch:>6} {limit:>7} {case['load'].get('other_cores', '?'):>4}"


def main(paths) -> None:
    runs = [json.load(open(path)) for path in paths]
    modes = sorted({run["threads"] for result in runs for run in result["runs"]}, reverse=True)
    for threads in modes:
        print(f"\n== {threads} thread(s) for everyone: xTF eager (xTF by CPU time)  xtorch_cl  %limit  other-cores")
        header = f"{'case':<34}" + "".join(f" | {path.split('/')[-1][:29]:<29}" for path in paths)
        print(header)
        by_run = []
        for result in runs:
            run = next((r for r in result["runs"] if r["threads"] == threads), None)
            by_run.append({c["name"]: c for c in run["cases"]} if run else {})
        # Every case of any run, in the order of first appearance (runs may time different subsets).
        names = list(dict.fromkeys(name for cases in by_run for name in cases))
        for name in names:
            print(f"{name:<34}" + "".join(f" | {_cell(cases[name]) if name in cases else '':<29}" for cases in by_run))


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])

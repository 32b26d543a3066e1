"""Derived numbers (speed-ups, GFLOP/s, % of the machine's limits) and the Markdown table.

Speed-ups are ``t_peer / t_convops`` of the *median* times: above 1 convops is faster. They
are computed only within one run (one process, same minutes, same load).
"""

from __future__ import annotations

from benchmarks.machine import describe_cpu

PEERS = ("tf_eager", "tf_function", "torch_cl", "torch_nchw")
TARGETS = {  # what each group of cases must reach (README.md, "Targets"), checked in the table's last column
    "small": "5x TF eager",
    "compute": ">= TF eager, >= 60% of matmul in the case's dtype",
    "large": ">= TF eager",
    "memory": ">= TF eager and torch, >= 50% of copy",
    "gradient": ">= TF eager (GradientTape)",
}


def derived(entry: dict, limits: dict) -> dict:
    impls = entry["impls"]
    t = impls["convops"]["median_s"]
    out = {"speedup": {name: impls[name]["median_s"] / t for name in impls if name != "convops"}}
    if impls["convops"].get("cpu_s"):
        # By CPU time: load-independent in the 1-thread mode (see suite.measure_interleaved).
        out["speedup_cpu"] = {
            name: impls[name]["cpu_s"] / impls["convops"]["cpu_s"]
            for name in impls
            if name != "convops" and impls[name].get("cpu_s")
        }
    peers = [name for name in PEERS if name in impls]
    if peers:
        best = min(peers, key=lambda name: impls[name]["median_s"])
        out["fastest_peer"] = best
        out["speedup_vs_fastest_peer"] = impls[best]["median_s"] / t
    if entry["flops"]:
        out["gflops"] = entry["flops"] / t / 1e9
        matmul = _matmul_limit(entry, limits)
        if matmul:
            out["pct_matmul"] = 100.0 * out["gflops"] / matmul
        ceiling = _fma_ceiling(entry, limits)
        if ceiling:
            out["pct_fma"] = 100.0 * out["gflops"] / ceiling
        if entry.get("fma_peak_beside_gflops"):
            # Against the peak measured in the case's own rounds (suite.PEAK_IMPL): the same phase
            # of a host whose speed changes.
            out["pct_fma_beside"] = 100.0 * out["gflops"] / entry["fma_peak_beside_gflops"]
        out["algorithms"] = _algorithm_rows(entry, ceiling)
    if entry["bytes"]:
        out["gbs"] = entry["bytes"] / t / 1e9
        out["pct_copy"] = 100.0 * out["gbs"] / limits["copy"]["gbs"]
    out["met"] = _met(entry, out)
    return out


def _matmul_limit(entry: dict, limits: dict) -> float | None:
    """The run's BLAS matmul in the case's dtype (GFLOP/s), or None where it was not measured:
    runs before the float64 matmul was added measured float32 only, and a float64 convolution
    set against it would be judged by twice its own ceiling."""
    limit = limits.get("matmul_f32" if entry["dtype"] == "float32" else "matmul_f64")
    return limit["gflops"] if limit else None


def _fma_ceiling(entry: dict, limits: dict) -> float | None:
    """The mode's FMA peak in the case's dtype (GFLOP/s), or None when it was not measured."""
    peak = limits.get("fma_peak")
    return peak.get(entry["dtype"]) if peak else None


def _algorithm_rows(entry: dict, ceiling: float | None) -> dict:
    """Per explicit algorithm (impl "alg_NAME"): GFLOP/s counted as the direct convolution's
    multiply-adds (so an algorithm that does fewer can pass the FMA peak), % of that peak, and
    the speed-up over convops' default (``x_auto``, above 1: faster than "auto"); % of the peak
    measured beside the case too, where it was (``pct_fma_beside``)."""
    impls = entry["impls"]
    t_auto = impls["convops"]["median_s"]
    beside = entry.get("fma_peak_beside_gflops")
    rows = {}
    for name, timing in impls.items():
        if not name.startswith("alg_"):
            continue
        gflops = entry["flops"] / timing["median_s"] / 1e9
        rows[name[4:]] = {
            "gflops": gflops,
            "pct_fma": 100.0 * gflops / ceiling if ceiling else None,
            "pct_fma_beside": 100.0 * gflops / beside if beside else None,
            "x_auto": t_auto / timing["median_s"],
        }
    return rows


def _met(entry: dict, d: dict):
    s = d["speedup"]
    tf = s.get("tf_eager")
    if tf is None:
        return None
    group = entry["group"]
    if group == "small":
        return tf >= 5.0
    if group == "compute":
        if "pct_matmul" not in d:  # no matmul of its dtype in this run: the second half can't be judged
            return False if tf < 1.0 else None
        return tf >= 1.0 and d["pct_matmul"] >= 60.0
    if group == "large":
        return tf >= 1.0
    if group == "gradient":
        return tf >= 1.0
    if group == "memory":
        torch_ok = all(s.get(name, 1.0) >= 1.0 for name in ("torch_cl", "torch_nchw"))
        return tf >= 1.0 and torch_ok and d.get("pct_copy", 0) >= 50.0
    return None


def _ms(impls, name):
    if name not in impls:
        return ""
    value = impls[name]["median_s"] * 1e3
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _cpu_ms(impls, name):
    cpu = impls[name].get("cpu_s")
    return "" if cpu is None else f"{cpu * 1e3:.3f}" if cpu < 1e-3 else f"{cpu * 1e3:.2f}"


def _x(speedup, name):
    return f"{speedup[name]:.2f}" if name in speedup else ""


def _pct(entry: dict, key: str) -> str:
    return f"{entry[key]:.0f}" if key in entry else ""


def line(entry: dict) -> str:
    s = entry["speedup"]
    extra = (
        f" {entry['gflops']:6.1f} GFLOP/s {_pct(entry, 'pct_matmul'):>4}% mm"
        if "gflops" in entry
        else f" {entry['gbs']:6.1f} GB/s {entry['pct_copy']:4.0f}% copy"
        if "gbs" in entry
        else ""
    )
    load = entry["load"]
    return (
        f"{entry['label']:<44} convops {_ms(entry['impls'], 'convops'):>8} ms | xTF {_x(s, 'tf_eager'):>6} "
        f"| xtorch_cl {_x(s, 'torch_cl'):>6} |{extra} | others {load.get('other_cores', '?')} cores"
        + ("" if not entry["disagree"] else f" | DISAGREE {entry['disagree']}")
    )


COLUMNS = (
    "case",
    "convops ms",
    "TF eager ms",
    "tf.function ms",
    "torch CL ms",
    "torch NCHW ms",
    "NumPy ms",
    "reference ms",
    "xTF eager",
    "xtorch CL",
    "xfastest peer",
    "xTF by CPU time",
    "GFLOP/s",
    "% matmul",
    "% FMA peak",
    "% FMA beside",
    "GB/s",
    "% copy",
    "target met",
    "other load",
)


def markdown(result: dict, header: bool = True) -> str:
    lines = []
    machine = result["machine"]
    if header:
        lines += [
            "# convops benchmark results",
            "",
            f"Machine: {describe_cpu(machine)}, {machine['cores']} cores, {machine.get('memory_gib')} GiB; "
            f"{machine['date']}; convops {machine['git_commit']}; versions "
            + ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
            + ".",
            f"TensorFlow oneDNN: {'on' if machine.get('tf_onednn') else 'off'}. "
            "Times are medians; `xPEER` = PEER's time / convops' time (above 1: convops is faster). "
            "`xTF by CPU time` compares process CPU time per call: with 1 thread for everyone it does not "
            "depend on other processes' load; with more threads it compares total work, not speed.",
            "",
        ]
        lines += _fma_lines(machine)
    for run in result["runs"]:
        lim = run["limits"]
        lines += [
            f"## {run['threads']} thread{'s' * (run['threads'] > 1)} for everyone",
            "",
            f"Limits in this run: float32 matmul {lim['matmul_f32']['n']}² = "
            f"{lim['matmul_f32']['gflops']:.0f} GFLOP/s (NumPy BLAS, best of {lim['matmul_f32']['samples']}); "
            + (
                f"float64 matmul {lim['matmul_f64']['gflops']:.0f} GFLOP/s; "
                if "matmul_f64" in lim
                else "no float64 matmul (its cases' % matmul and target are left blank); "
            )
            + f"copy {lim['copy']['gbs']:.1f} GB/s (read + write, 256 MiB)."
            + (" QUICK RUN: not a result." if run.get("quick") else ""),
            "",
        ]
        lines.append("| " + " | ".join(COLUMNS) + " |")
        lines.append("|" + "|".join("---" for _ in COLUMNS) + "|")
        for e in run["cases"]:
            s, im = e["speedup"], e["impls"]
            load = e["load"]
            met = {True: "yes", False: "**no**", None: ""}[e["met"]]
            cells = [
                e["label"],
                _ms(im, "convops"),
                _ms(im, "tf_eager"),
                _ms(im, "tf_function"),
                _ms(im, "torch_cl"),
                _ms(im, "torch_nchw"),
                _ms(im, "numpy"),
                _ms(im, "reference"),
                _x(s, "tf_eager"),
                _x(s, "torch_cl"),
                f"{e['speedup_vs_fastest_peer']:.2f} ({e['fastest_peer']})" if "fastest_peer" in e else "",
                _x(e.get("speedup_cpu", {}), "tf_eager"),
                f"{e['gflops']:.1f}" if "gflops" in e else "",
                _pct(e, "pct_matmul"),
                f"{e['pct_fma']:.0f}" if "pct_fma" in e else "",
                f"{e['pct_fma_beside']:.0f}" if "pct_fma_beside" in e else "",
                f"{e['gbs']:.1f}" if "gbs" in e else "",
                f"{e['pct_copy']:.0f}" if "gbs" in e else "",
                met,
                f"{load.get('other_cores', '?')} cores, load {load.get('loadavg_1min', 0):.1f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines += _algorithm_table(run)
        bad = {e["name"]: e["disagree"] for e in run["cases"] if e["disagree"]}
        if bad:
            lines += ["", f"Results that disagree with convops: {bad}"]
        for note in run.get("notes", []):
            lines += ["", note]
        lines.append("")
    return "\n".join(lines) + "\n"


def _fma_lines(machine: dict) -> list[str]:
    """The machine's measured FMA peak per instruction set (benchmarks.machine.fma_peak)."""
    peak = machine.get("fma_peak_gflops")
    if not peak:
        return []
    in_use = (machine.get("convops_cpu_features") or {}).get("in_use")
    parts = []
    for isa, row in peak.items():
        if not isinstance(row, dict):
            continue
        parts.append(
            f"{isa}{' (in use)' if isa == in_use else ''}: float32 {row['float32_1_thread']:.0f} on 1 thread, "
            f"{row['float32_all_threads']:.0f} on {peak.get('threads_all')}; "
            f"float64 {row['float64_1_thread']:.0f} / {row['float64_all_threads']:.0f}"
        )
    return [
        "FMA peak (GFLOP/s, an FMA-bound micro-kernel; 1 thread timed by its CPU time, all threads by "
        "the wall clock under the load of the moment): " + "; ".join(parts) + ". "
        "`% FMA peak` divides by the 1-thread peak times the thread count; `% FMA beside` by the peak "
        "measured in the case's own interleaved rounds, at its thread count (the same phase of a host "
        "whose speed changes).",
        "",
    ]


def _algorithm_table(run: dict) -> list[str]:
    """One row per case and explicit algorithm= (cases with ``algorithms``), beside "auto" and TF."""
    cases = [e for e in run["cases"] if e.get("algorithms")]
    if not cases:
        return []
    peak = run["limits"].get("fma_peak") or {}
    lines = [
        "",
        f"### Algorithms ({run['threads']} thread{'s' * (run['threads'] > 1)})",
        "",
        "GFLOP/s counts the direct convolution's multiply-adds x 2 whatever the algorithm does "
        "(Winograd and FFT do fewer, so they can pass the FMA peak); "
        f"% FMA peak of {peak.get('float32', 0):.0f} GFLOP/s (float32, {peak.get('isa', '?')}); "
        '`x auto` = time of the default (`algorithm="auto"`) / this algorithm\'s time. `CPU ms`: the '
        "process's CPU time per call (with 1 thread, what the call costs on a machine of its own).",
        "",
        "| case | algorithm | ms | CPU ms | GFLOP/s | % FMA peak | % FMA beside | x auto | xTF eager | other load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in cases:
        im, load = e["impls"], e["load"]
        loadtext = f"{load.get('other_cores', '?')} cores, load {load.get('loadavg_1min', 0):.1f}"
        beside = e.get("fma_peak_beside_gflops")
        rows = [("auto (default)", "convops", e["gflops"], e.get("pct_fma"), e.get("pct_fma_beside"), 1.0)]
        rows += [
            (a, f"alg_{a}", r["gflops"], r["pct_fma"], r.get("pct_fma_beside"), r["x_auto"])
            for a, r in e["algorithms"].items()
        ]
        if "tf_eager" in im:
            g = e["flops"] / im["tf_eager"]["median_s"] / 1e9
            rows.append(
                (
                    "TF eager (oneDNN)",
                    "tf_eager",
                    g,
                    100.0 * g / peak["float32"] if peak else None,
                    100.0 * g / beside if beside else None,
                    None,
                )
            )
        for label, impl, gflops, pct, pct_beside, x_auto in rows:
            xtf = im["tf_eager"]["median_s"] / im[impl]["median_s"] if "tf_eager" in im and impl != "tf_eager" else None
            lines.append(
                f"| {e['label']} | {label} | {_ms(im, impl)} | {_cpu_ms(im, impl)} | {gflops:.1f} | "
                f"{'' if pct is None else f'{pct:.0f}'} | {'' if pct_beside is None else f'{pct_beside:.0f}'} | "
                f"{'' if x_auto is None else f'{x_auto:.2f}'} | "
                f"{'' if xtf is None else f'{xtf:.2f}'} | {loadtext} |"
            )
    return lines


#: The fields derived() writes into a case: everything else in a case is measured.
DERIVED = (
    "speedup",
    "speedup_cpu",
    "fastest_peer",
    "speedup_vs_fastest_peer",
    "gflops",
    "pct_matmul",
    "pct_fma",
    "pct_fma_beside",
    "algorithms",
    "gbs",
    "pct_copy",
    "met",
)


def rederive(result: dict) -> dict:
    """``result`` with every case's derived fields computed again from its measurements (times,
    flops, bytes, the run's limits): how a committed run picks up a corrected derivation without
    changing a measured number."""
    for run in result["runs"]:
        for entry in run["cases"]:
            for key in DERIVED:
                entry.pop(key, None)
            entry.update(derived(entry, run["limits"]))
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.report RUN.json ...``: re-derive each saved run (:func:`rederive`)
    and rewrite it and its Markdown table beside it (RUN.md)."""
    import argparse
    import json
    import pathlib

    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=main.__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=pathlib.Path, help="saved runs (results/run-*.json)")
    args = parser.parse_args(argv)
    for path in args.runs:
        result = rederive(json.loads(path.read_text()))
        path.write_text(json.dumps(result, indent=1) + "\n")
        path.with_suffix(".md").write_text(markdown(result))
        print(f"re-derived {path} and {path.with_suffix('.md').name}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

"""What the benchmark ran on, and how busy the machine was while it ran.

Standard library only: this module is imported before NumPy so that thread-count environment
variables can still be set (OpenBLAS reads them when it is loaded).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_jiffies() -> dict[str, int] | None:
    """Machine-wide CPU time from /proc/stat (Linux), split into busy and stolen ticks."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return {"busy": user + nice + system + irq + softirq, "steal": steal}


def _own_jiffies() -> int | None:
    """This process's CPU time (all threads) in the same ticks as /proc/stat: comparing the
    kernel's tick-sampled machine total with a nanosecond clock of our own would not subtract
    cleanly on a virtual machine."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, ValueError, IndexError):
        return None


class LoadProbe:
    """Measure, around a block of work, how much CPU *other* processes used.

    ``other_cores`` is the machine's busy CPU time minus this process's own CPU time, divided by
    the wall time: 0.0 means the machine was ours, 1.0 means another process kept one core busy
    the whole time (on a 2-core machine that halves what a 2-thread kernel can get). ``steal`` is
    the time the hypervisor gave our virtual CPUs to other guests, in the same unit.
    """

    def __enter__(self) -> LoadProbe:
        self.loadavg_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        self._jiffies = _cpu_jiffies()
        self._own = _own_jiffies()
        self._cpu = time.process_time()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self._wall
        own = time.process_time() - self._cpu
        own_after = _own_jiffies()
        if own_after is not None and self._own is not None:
            own = (own_after - self._own) / _CLK_TCK
        after = _cpu_jiffies()
        self.result = {"wall_s": wall, "loadavg_1min": self.loadavg_before}
        if self._jiffies is not None and after is not None and wall > 0:
            busy = (after["busy"] - self._jiffies["busy"]) / _CLK_TCK
            steal = (after["steal"] - self._jiffies["steal"]) / _CLK_TCK
            self.result["other_cores"] = round(max(busy - own, 0.0) / wall, 2)
            self.result["steal_cores"] = round(steal / wall, 2)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# (vendor, family) -> [(first model, last model, name)]: the microarchitectures of the x86 server
# and desktop parts this project is measured on, by /proc/cpuinfo's numbers ("model name" alone says
# "AMD EPYC" on a cloud VM, whether Zen 3 or Zen 4). Sources: AMD's and Intel's family/model lists.
_MICROARCHITECTURES = {
    # Zen+ is models 0x08 (Pinnacle Ridge) and 0x18 (Picasso) only; EPYC 7001 (Naples) is 0x01.
    ("AuthenticAMD", 23): [
        (0x00, 0x07, "Zen"),
        (0x08, 0x08, "Zen+"),
        (0x09, 0x17, "Zen"),
        (0x18, 0x18, "Zen+"),
        (0x19, 0x2F, "Zen"),
        (0x30, 0xFF, "Zen 2"),
    ],
    ("AuthenticAMD", 25): [(0x00, 0x0F, "Zen 3"), (0x10, 0x1F, "Zen 4"), (0x20, 0x5F, "Zen 3"), (0x60, 0xAF, "Zen 4")],
    ("AuthenticAMD", 26): [(0x00, 0xFF, "Zen 5")],
    ("GenuineIntel", 6): [
        (0x55, 0x55, "Skylake-SP/Cascade Lake"),
        (0x6A, 0x6C, "Ice Lake-SP"),
        (0x8F, 0x8F, "Sapphire Rapids"),
        (0xAD, 0xAE, "Granite Rapids"),
        (0xCF, 0xCF, "Emerald Rapids"),
    ],
}


def cpu_identity(cpuinfo: str) -> dict:
    """Vendor, family, model and stepping of the first CPU in ``cpuinfo`` (the text of
    /proc/cpuinfo), and its microarchitecture where :data:`_MICROARCHITECTURES` knows it (else
    None); {} when the text has none of them (another system)."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep:
            if fields:
                break  # the end of the first CPU's block
            continue
        if key in ("vendor_id", "cpu family", "model", "stepping") and key not in fields:
            fields[key] = value.strip()
    if not fields:
        return {}
    identity: dict = {"vendor": fields.get("vendor_id")}
    for key, name in (("cpu family", "family"), ("model", "model"), ("stepping", "stepping")):
        try:
            identity[name] = int(fields[key])
        except (KeyError, ValueError):
            identity[name] = None
    identity["microarchitecture"] = next(
        (
            name
            for first, last, name in _MICROARCHITECTURES.get((identity["vendor"], identity["family"]), [])
            if identity["model"] is not None and first <= identity["model"] <= last
        ),
        None,
    )
    return identity


def _cpu_identity() -> dict:
    try:
        with open("/proc/cpuinfo") as f:
            return cpu_identity(f.read())
    except OSError:
        return {}


def describe_cpu(machine: dict) -> str:
    """``machine["cpu"]`` with its microarchitecture and numbers when the record has them:
    "AMD EPYC (Zen 3; family 25, model 1)"."""
    identity = machine.get("cpu_id") or {}
    if identity.get("family") is None:
        return str(machine["cpu"])
    numbers = f"family {identity['family']}, model {identity['model']}"
    arch = identity.get("microarchitecture")
    return f"{machine['cpu']} ({arch}; {numbers})" if arch else f"{machine['cpu']} ({numbers})"


def merge_per_cpu(path: str, cpu: str, entry: dict) -> None:
    """Put ``entry`` under ``cpu`` in the JSON file at ``path`` (one entry per kind of CPU, the
    newest replacing an older one; the file is created when missing) and say so."""
    try:
        with open(path) as f:
            merged = json.load(f)
    except FileNotFoundError:
        merged = {}
    merged[cpu] = entry
    with open(path, "w") as f:
        json.dump(merged, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"\nmerged into {path}")


def _cpu_flags() -> list:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [
                        f
                        for f in (
                            "sse4_2",
                            "avx",
                            "avx2",
                            "fma",
                            "avx512f",
                            "avx512bw",
                            "avx512_vnni",
                            "avx512_bf16",
                            "amx_tile",
                        )
                        if f in flags
                    ]
    except OSError:
        pass
    return []


def _caches() -> dict[str, str]:
    out = {}
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("L1d cache", "L2 cache", "L3 cache", "Hypervisor vendor", "CPU max MHz"):
            out[key.strip()] = value.strip()
    return out


def _git_commit() -> str | None:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "convops"], cwd=here, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() + ("+dirty" if dirty else "")


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def machine_info(original_env: dict[str, str | None]) -> dict:
    """Static facts about the machine and the software (call after the libraries are imported)."""
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_id": _cpu_identity(),
        "cores": os.cpu_count(),
        "cpu_flags": _cpu_flags(),
        "memory_gib": _memory_gib(),
        "python": sys.version.split()[0],
        "git_commit": _git_commit(),
        "environment_as_started": original_env,
    }
    info.update({k.lower().replace(" ", "_"): v for k, v in _caches().items()})
    versions = {}
    for name in ("numpy", "scipy", "tensorflow", "torch", "convops", "threadpoolctl"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", "?")
    info["versions"] = versions
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {
                k: lib.get(k)
                for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer", "filepath")
            }
            for lib in threadpool_info()
        ]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    convops = sys.modules.get("convops")
    if convops is not None:
        info["convops_openmp"] = convops.openmp_enabled()
        info["convops_threads"] = convops.get_num_threads()
        kernels = sys.modules.get("convops._kernels.simd")
        if kernels is not None and hasattr(kernels, "cpu_features"):
            info["convops_cpu_features"] = kernels.cpu_features()
        if kernels is not None and hasattr(kernels, "fma_peak_gflops"):
            info["fma_peak_gflops"] = fma_peak(kernels)
    return info


def fma_peak(kernels, seconds: float = 0.2) -> dict:
    """The measured FMA peak (GFLOP/s) per instruction set the kernels run here, float32 and
    float64, on 1 thread (timed by its own CPU time: the core's ceiling, whatever else runs) and
    on all of convops' threads (wall clock, with the load it ran under): the ceiling every
    multiply-add kernel's GFLOP/s is compared with."""
    convops = sys.modules["convops"]
    threads = convops.get_num_threads()
    out = {"threads_all": threads}
    for isa in kernels.supported_isas():
        if isa == "base" and len(kernels.supported_isas()) > 1:
            continue  # the portable build only matters where nothing wider runs
        row = {}
        for dtype in ("float32", "float64"):
            row[f"{dtype}_1_thread"] = round(kernels.fma_peak_gflops(isa, seconds, 1, dtype), 1)
            with LoadProbe() as probe:
                row[f"{dtype}_all_threads"] = round(kernels.fma_peak_gflops(isa, seconds, threads, dtype), 1)
            row[f"{dtype}_all_threads_other_cores"] = probe.result.get("other_cores")
        out[isa] = row
    return out

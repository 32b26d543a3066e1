# The one place that names the SIMD instruction sets and asks the CPU which it runs.
#
# Kernels take the instruction set as an index into ISA_NAMES, chosen per call in Python (the
# widest supported, unless convops.dispatch.force(isa=...) asks for another): a kernel module
# holds no ISA state of its own.
from convops._kernels.simd cimport CONVOPS_SIMD_AVAILABLE, convops_simd_supported

#: The instruction sets of the C kernels, narrowest first; a kernel's `isa` argument indexes it.
ISA_NAMES = ("base", "avx2", "avx512")


def supported_isas():
    """The instruction sets this build has and this CPU runs, narrowest first."""
    return tuple(name for i, name in enumerate(ISA_NAMES) if convops_simd_supported(i))


def simd_build():
    """True when the extensions hold the C SIMD kernels (GCC or clang builds)."""
    return bool(CONVOPS_SIMD_AVAILABLE)


def cpu_features():
    """What the SIMD kernels can use here (the benchmarks record it): whether this is a SIMD build,
    the supported instruction sets and the one a call uses by default (the widest)."""
    names = supported_isas()
    return {"simd_build": simd_build(), "supported": list(names),
            "in_use": names[len(names) - 1] if names else "base"}

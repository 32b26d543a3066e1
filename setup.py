"""Build the Cython kernels.

Environment switches (all optional):

``CONVOPS_NO_OPENMP=1``  build without OpenMP (it only supplies the default thread count, then 1).
``CONVOPS_DEBUG=1``      bounds checking, wraparound and initialised-memory checks on, -O0 -g:
                         slower, but an out-of-range index raises instead of corrupting memory.
``CONVOPS_SANITIZE=1``   compile and link with -fsanitize=address,undefined (scripts/sanitize.sh builds
                         a copy this way and runs the tests under it; tests/hardening/README.md).
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

# The compiled half lives in convops/_kernels/, one module per concept (C only in _kernels/src/).
# `parallel` holds the process's one thread pool and `simd` names the instruction sets; the others
# cimport them. `fastpath` is the only module that reads Python objects and uses NumPy's C API.
KERNELS = ["parallel", "simd", "conv", "conv_gemm", "conv_grad", "pool", "pool_grad", "pad", "nn", "fastpath"]
KERNELS.append("winograd")  # Winograd convolution (F(2x2, 3x3), F(4x4, 3x3)); cimports blas and parallel
NUMPY_C_API = {"fastpath"}
KERNEL_DIR = Path("convops/_kernels")


def _flag(name):
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


DEBUG = _flag("CONVOPS_DEBUG")
SANITIZE = _flag("CONVOPS_SANITIZE")

# Cython directives, chosen in one place. The kernels trust the Python layer's validation, so
# bounds checks are off in a normal build and on in a debug build.
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "nonecheck": False,
    "binding": True,
    "embedsignature": True,
    "freethreading_compatible": True,
}


def _compiler_accepts(flags):
    """Try to compile and link a tiny OpenMP program with `flags` using the build's compiler."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(
                "#include <omp.h>\nint main(void){int n=0;\n#pragma omp parallel reduction(+:n)\nn+=1;\n"
                "return omp_get_max_threads() > 0 ? 0 : 1;}\n"
            )
        try:
            result = subprocess.run(
                cc + flags + [src, "-o", os.path.join(tmp, "probe")], capture_output=True, timeout=60
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return result.returncode == 0


def _openmp_flags():
    if _flag("CONVOPS_NO_OPENMP"):
        print("convops: CONVOPS_NO_OPENMP set, building without OpenMP", file=sys.stderr)
        return [], []
    for compile_flags, link_flags in (
        (["-fopenmp"], ["-fopenmp"]),
        (["-Xpreprocessor", "-fopenmp"], ["-lomp"]),
        (["/openmp"], []),
    ):
        if shutil.which((os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]) is None:
            break
        if _compiler_accepts(compile_flags + link_flags):
            return compile_flags, link_flags
    print("convops: the compiler does not accept OpenMP flags; building serial kernels", file=sys.stderr)
    return [], []


omp_compile, omp_link = _openmp_flags()
compile_args = ["-fwrapv"] + omp_compile
link_args = list(omp_link)
if DEBUG:
    compile_args += ["-O0", "-g"]
else:
    compile_args += ["-O3"]
if SANITIZE:
    # -O1 after -O3: ASan's recommended level; compiles ~5x faster (17 s vs 2 min of CPU here:
    # the SIMD kernels are large) and keeps stack traces exact. The code paths are the -O3 build's.
    compile_args += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g", "-O1"]
    link_args += ["-fsanitize=address,undefined"]

extensions = [
    Extension(
        f"convops._kernels.{name}",
        [f"convops/_kernels/{name}.pyx"],
        include_dirs=([np.get_include()] if name in NUMPY_C_API else []) + [str(KERNEL_DIR / "src")],
        # The C headers hold the SIMD kernels: editing one must recompile (build_ext compares
        # times against `depends`; Cython tracks only what the .pyx names directly).
        depends=sorted(str(path) for path in (KERNEL_DIR / "src").glob("*.h"))
        + sorted(str(path) for path in KERNEL_DIR.glob("*.pxd")),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")] if name in NUMPY_C_API else [],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
    for name in KERNELS
]

setup(
    ext_modules=cythonize(
        extensions, compiler_directives=DIRECTIVES, include_path=["."], compile_time_env={}, quiet=True
    )
)

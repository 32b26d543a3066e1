"""The house rules of the source tree, checked so that they stay true (CONTRIBUTING.md).

Each concept has one house: its API and gradients in ``convops/<concept>.py``, its kernels in
``convops/_kernels/<concept>*.pyx``, its tests in ``tests/test_<concept>*.py``. The compiled half
declares shared things once and never reaches back into Python.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "convops"
KERNELS = PACKAGE / "_kernels"
PYX = sorted(KERNELS.glob("*.pyx"))
PXD = sorted(KERNELS.glob("*.pxd"))

#: concept -> (public module, kernel modules, test files)
CONCEPTS = {
    "conv": (
        "conv.py",
        ("conv.pyx", "conv_gemm.pyx", "conv_grad.pyx"),
        ("test_conv.py", "test_conv_grad.py", "test_conv_kernels.py"),
    ),
    "pool": (
        "pooling.py",
        ("pool.pyx", "pool_grad.pyx"),
        ("test_pool.py", "test_pool_grad.py", "test_pool_kernels.py"),
    ),
    "pad": ("padding.py", ("pad.pyx",), ("test_pad.py", "test_pad_grad.py", "test_pad_kernels.py")),
}


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_the_kernel_folder_is_found():
    assert len(PYX) >= 8, PYX
    assert not list(PACKAGE.glob("*.pyx")) and not list(PACKAGE.glob("*.h")), "kernels and C live in convops/_kernels"


@pytest.mark.parametrize("concept", sorted(CONCEPTS))
def test_each_concept_has_its_api_kernels_and_tests_under_its_name(concept):
    module, kernels, tests = CONCEPTS[concept]
    assert (PACKAGE / module).is_file()
    for name in kernels:
        assert (KERNELS / name).is_file(), name
    for name in tests:
        assert (ROOT / "tests" / name).is_file(), name
    assert list((KERNELS / "src").glob(f"{concept}*.h")) or concept == "pad", f"no C for {concept}"


def test_only_the_pool_module_compiles_the_thread_pool():
    includes = [p.name for p in PYX if 'cdef extern from "parallel.h"' in _text(p)]
    assert includes == ["parallel.pyx"], includes


def test_fused_types_are_declared_once():
    declaring = [p.name for p in PYX + PXD if re.search(r"^ctypedef fused", _text(p), re.M)]
    assert declaring == ["common.pxd"], declaring


def test_only_the_fast_path_and_the_step_allocator_use_numpy():
    # fastpath reads Python objects through NumPy's C API; memory only installs an allocator.
    using = [p.name for p in PYX if re.search(r"^\s*cimport numpy|^\s*import numpy", _text(p), re.M)]
    assert sorted(using) == ["fastpath.pyx", "memory.pyx"], using


def test_kernels_never_import_python_configuration():
    for path in PYX:
        for line in _text(path).splitlines():
            if re.match(r"\s*(from|import) convops", line) and "convops._kernels" not in line:
                pytest.fail(f"{path.name} imports Python-side convops: {line.strip()}")


def test_forward_ops_do_not_import_the_gradient_shim():
    for name in ("conv.py", "pooling.py", "padding.py", "_conv_dispatch.py", "_threads.py"):
        tree = ast.parse(_text(PACKAGE / name))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module != "convops.gradients", name
                assert not (node.module == "convops" and any(a.name == "gradients" for a in node.names)), name


def test_the_gradient_shim_only_reexports():
    tree = ast.parse(_text(PACKAGE / "gradients.py"))
    defined = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert defined == [], f"convops/gradients.py defines {defined}: gradients live beside their ops"


def test_no_test_only_globals_in_the_public_modules():
    # The switchboard (convops.dispatch.force) replaced them; a new one would bring back two ways.
    for path in sorted(PACKAGE.glob("*.py")):
        text = _text(path)
        for name in ("_FORCE_METHOD", "_INPUT_GRAD_METHOD", "_FILTER_GRAD_METHOD", "AVG_POOL_GRAD_READABLE"):
            assert name not in text, f"{path.name} has {name}"

"""convops' compiled half: one Cython module per concept, C only in ``src/``.

Private. Every function here trusts its arguments: the public modules (``convops.conv``,
``convops.pooling``, ``convops.padding``, ``convops.nn``) validate them, resolve padding to
explicit integers, make arrays C-contiguous NHWC, allocate the results and choose exactly one
kernel per call.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def load(name: str) -> ModuleType:
    """Import the compiled module ``convops._kernels.<name>``; if it is missing (a source checkout
    whose Cython extensions were never built), say so and how to rebuild, whichever module it is."""
    try:
        return importlib.import_module(f"convops._kernels.{name}")
    except ImportError as exc:  # exercised by tests/test_package.py in a subprocess
        raise ImportError(
            f"convops' compiled kernels are missing: convops._kernels.{name} could not be imported (the "
            "Cython extensions were not built). Rebuild them with `pip install --no-build-isolation -e .` "
            f"(or `python setup.py build_ext --inplace`) from the source checkout. Original error: {exc}"
        ) from None

"""convops: the operations of a convolutional network, in Cython, with TensorFlow's semantics.

>>> import numpy as np
>>> import convops
>>> convops.conv2d(np.ones((1, 28, 28, 1), np.float32), np.ones((3, 3, 1, 32), np.float32)).shape
(1, 26, 26, 32)
"""

import importlib
from types import ModuleType

from convops import arithmetic, reference
from convops._memory import release_memory
from convops._threads import get_num_threads, num_threads, openmp_enabled, set_num_threads
from convops._version import __version__
from convops.conv import conv2d
from convops.gradients import (
    avg_pool2d_grad,
    conv2d_backprop_filter,
    conv2d_backprop_input,
    conv2d_transpose,
    max_pool2d_grad,
    max_pool2d_with_argmax,
    pad_grad,
)
from convops.padding import PAD_MODES, pad, padding_index
from convops.pooling import avg_pool2d, max_pool2d

__all__ = [
    "__version__",
    "conv2d",
    "pad",
    "padding_index",
    "PAD_MODES",
    "max_pool2d",
    "avg_pool2d",
    "conv2d_backprop_input",
    "conv2d_backprop_filter",
    "conv2d_transpose",
    "max_pool2d_grad",
    "max_pool2d_with_argmax",
    "avg_pool2d_grad",
    "pad_grad",
    "arithmetic",
    "reference",
    "get_num_threads",
    "set_num_threads",
    "num_threads",
    "openmp_enabled",
    "release_memory",
]

# Submodules that `import convops` does not load (convops.nn pulls in the whole Keras-like API,
# convops.datasets the download code): reached as attributes on first use, so that
# `convops.nn.Sequential` works after a bare `import convops` and importing stays fast.
_LAZY_SUBMODULES = ("nn", "datasets", "dispatch", "gradients")


def __getattr__(name: str) -> ModuleType:
    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f"convops.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'convops' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))

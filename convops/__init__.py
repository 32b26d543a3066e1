"""convops: the operations of a convolutional network, in Cython, with TensorFlow's semantics.

>>> import numpy as np
>>> import convops
>>> convops.conv2d(np.ones((1, 28, 28, 1), np.float32), np.ones((3, 3, 1, 32), np.float32)).shape
(1, 26, 26, 32)
"""

from convops import arithmetic, reference
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
]

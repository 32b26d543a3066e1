"""Step 3 of the Cython page's ladder (docs/concepts/cython.rst): conv2d in vectorised NumPy.

No Python loop: a strided view holds every window, one ``tensordot`` multiplies them all.
"""

import numpy as np


def conv2d_numpy_im2col(x, w):
    """Step 3: vectorised NumPy: all windows as a strided view, one tensordot."""
    kh, kw = w.shape[:2]
    # every window, as a view: (N, H_out, W_out, C_in, KH, KW)
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    return np.tensordot(windows, w, axes=([4, 5, 3], [0, 1, 2]))

"""Step 1 of the Cython page's ladder (docs/concepts/cython.rst): conv2d in pure Python.

Nested lists and five loops: the interpreter runs every multiply-add. The page times it against
the later steps; convops' tests and the page's figure check it against ``convops.conv2d``.
"""


def conv2d_python(x, w):
    """Step 1: pure Python on nested lists; VALID, stride 1.

    x: (N, H, W, C_in), w: (KH, KW, C_in, C_out) as lists of lists."""
    n, h, wd, c_in = len(x), len(x[0]), len(x[0][0]), len(x[0][0][0])
    kh, kw, c_out = len(w), len(w[0]), len(w[0][0][0])
    h_out, w_out = h - kh + 1, wd - kw + 1
    out = [[[[0.0] * c_out for _ in range(w_out)] for _ in range(h_out)] for _ in range(n)]
    for b in range(n):
        for y in range(h_out):
            for x_ in range(w_out):
                acc = out[b][y][x_]
                for ky in range(kh):
                    for kx in range(kw):
                        pixel = x[b][y + ky][x_ + kx]
                        for c in range(c_in):
                            value = pixel[c]
                            taps = w[ky][kx][c]
                            for o in range(c_out):
                                acc[o] += value * taps[o]
    return out

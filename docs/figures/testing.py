"""docs/concepts/testing.rst: how convops is tested: why float32 tolerances scale with the reduction length."""

import numpy as np
from matplotlib import pyplot as plt

import convops

from . import grammar as g
from .i18n import _


def float32_error():
    """Max relative error of convops' float32 conv2d against its float64 result on the same
    inputs, for reduction lengths K = 9·C_in, with the tests' bound (K + 1)·eps and sqrt(K)·u."""
    rng = np.random.default_rng(1)
    u = np.finfo(np.float32).eps / 2
    ks, errors = [], []
    for c_in in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512):
        x = rng.normal(size=(2, 8, 8, c_in)).astype(np.float32)
        w = rng.normal(size=(3, 3, c_in, 8)).astype(np.float32)
        exact = convops.conv2d(x.astype(np.float64), w.astype(np.float64))
        scale = convops.conv2d(np.abs(x).astype(np.float64), np.abs(w).astype(np.float64))  # sum |x||w|
        err = np.abs(convops.conv2d(x, w).astype(np.float64) - exact) / scale
        ks.append(9 * c_in)
        errors.append(err.max())
    ks = np.array(ks)
    fig, ax = plt.subplots(figsize=(g.MAX_WIDTH, 4.0))
    ax.loglog(ks, errors, "o-", color=g.OUTPUT, lw=2, label=_("measured: max |f32 − f64| / Σ|x·w|"))
    ax.loglog(ks, (ks + 1) * 2 * u, "--", color=g.WINDOW, label=_("the tests' tolerance (K + 1)·eps (eps = 2⁻²³)"))
    ax.loglog(ks, np.sqrt(ks) * u, ":", color=g.INPUT, label=_("typical growth √K·u"))
    ax.set_xlabel(_("reduction length K = KH·KW·C_in"))
    ax.set_ylabel(_("relative error"))
    ax.grid(alpha=0.3, which="both")
    g.log_axis(ax, "x")
    g.log_axis(ax, "y")
    ax.legend(frameon=False, fontsize=9.5)
    ax.set_title(_("float32 rounding grows with K: tolerances are scaled by K"), fontsize=10.5)
    fig.tight_layout()
    return fig

"""docs/concepts/learning-a-kernel.rst: learning a kernel by gradient descent on real MNIST digits.

A random 3x3 kernel is trained, with plain full-batch gradient descent on the mean squared
error, to reproduce the response maps of the Sobel vertical-edge kernel. The forward pass is
:func:`convops.conv2d`, the gradient :func:`convops.gradients.conv2d_backprop_filter`: the same
calls as the page's worked example, on 28x28 digits instead of 8x8 ones.
"""

from __future__ import annotations

import functools

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.animation import PillowWriter

import convops
from convops.gradients import conv2d_backprop_filter

from . import grammar as g
from . import mnist
from .i18n import _

#: The kernel to be learned: Sobel's vertical-edge detector (dark-to-light from left to right).
TARGET = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
N_DIGITS = 64
STEPS = 600
#: Stable while LR < 2 / (largest curvature of the loss), about 2 / 1.4 for centred MNIST digits.
LR = 1.0
SEED = 0
#: Steps shown by the animation: close together at first, where the kernel moves fast.
FRAMES = (0, 1, 2, 3, 5, 8, 12, 20, 35, 60, 100, 160, 250, 400, 600)
KERNEL_LIMIT = 2.5  # colour scale of every kernel drawn on the page: -2.5 .. 2.5


@functools.cache
def digits() -> np.ndarray:
    """The first N_DIGITS real MNIST training digits of the docs' split, (N, 28, 28, 1) float32 in [0, 1]."""
    (x_train, _labels), _test = mnist.load_split()
    return (np.asarray(x_train[:N_DIGITS], np.float32) / 255.0)[..., None]


@functools.cache
def train():
    """Full-batch gradient descent from a random kernel; returns (kernels, losses, x, t).

    ``kernels[k]`` is the kernel *before* step k (k = 0 .. STEPS), ``losses[k]`` its loss."""
    raw = digits()
    x = raw - raw.mean()  # centred inputs: a much better conditioned problem
    t = convops.conv2d(x, TARGET[:, :, None, None])  # the response maps to reproduce
    w = np.random.default_rng(SEED).normal(size=(3, 3, 1, 1)).astype(np.float32)
    kernels, losses = [], []
    for _step in range(STEPS + 1):
        y = convops.conv2d(x, w)
        error = y - t
        kernels.append(w[:, :, 0, 0].copy())
        losses.append(float(np.mean(error.astype(np.float64) ** 2)))
        grad = conv2d_backprop_filter(x, w.shape, 2 * error / error.size)
        w = w - LR * grad
    return np.array(kernels), np.array(losses), x, t


def _kernel_bar(fig, cax, orientation: str = "vertical"):
    """The colour bar of every kernel drawn on the page (one scale: -KERNEL_LIMIT .. KERNEL_LIMIT)."""
    mappable = plt.cm.ScalarMappable(norm=plt.Normalize(-KERNEL_LIMIT, KERNEL_LIMIT), cmap=g.SIGNED_CMAP)
    bar = fig.colorbar(mappable, cax=cax, orientation=orientation)
    bar.set_label(_("kernel weight"), fontsize=g.MIN_FONT)
    bar.ax.tick_params(labelsize=g.MIN_FONT, length=2)
    bar.outline.set_linewidth(0.5)
    return bar


def _kernel(ax, kernel, title: str, colour: str = g.TEXT) -> None:
    """A 3x3 kernel as cells with its weights (rounded to 2 decimals) written in them."""
    ax.clear()
    g.setup_axes(ax, 3, 3)
    g.grid(ax, np.round(kernel, 2) + 0.0, 0, 0, g.SIGNED_CMAP, -KERNEL_LIMIT, KERNEL_LIMIT, fontsize=10)
    ax.set_title(title, fontsize=10, color=colour)


def training_pairs():
    """Three (digit, target response map) pairs of the training set."""
    raw = digits()
    *_trained, t = train()
    lim = g.limit(t[:3])
    fig, axes = plt.subplots(2, 3, figsize=(7.0, 4.9))
    for k in range(3):
        axes[0, k].imshow(raw[k, :, :, 0], cmap=g.INPUT_CMAP, vmin=0, vmax=1)
        axes[0, k].set_title(_("input: digit {k}").format(k=k + 1), fontsize=10, color=g.INPUT)
        g.plain(axes[0, k])
        image = g.signed_image(axes[1, k], t[k, :, :, 0], lim, bar=False)
        axes[1, k].set_title(_("target: response {k}").format(k=k + 1), fontsize=10, color=g.OUTPUT)
    fig.subplots_adjust(left=0.02, right=0.86, top=0.93, bottom=0.03, hspace=0.22, wspace=0.08)
    bar = fig.colorbar(image, cax=fig.add_axes([0.89, 0.05, 0.025, 0.38]))
    bar.set_label(_("Sobel-x response"), fontsize=g.MIN_FONT)
    bar.ax.tick_params(labelsize=g.MIN_FONT, length=2)
    return fig


def convergence():
    """The loss, and the largest distance of a kernel weight from its target, step by step."""
    kernels, losses, _x, _t = train()
    steps = np.arange(len(losses))
    distance = np.abs(kernels - TARGET).max(axis=(1, 2))
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.2))
    axes[0].semilogy(steps, losses, color=g.OUTPUT, lw=2)
    axes[0].set_title(_("loss: mean squared error"))
    axes[1].semilogy(steps, distance, color=g.WINDOW, lw=2)
    axes[1].set_title(_("kernel: largest |w − target|"))
    for ax, curve in zip(axes, (losses, distance)):
        ax.set_xlabel(_("gradient-descent step"))
        ax.grid(alpha=0.3)
        ax.annotate(
            _("{start:.2g} at step 0\n{end:.1g} at step {steps}").format(start=curve[0], end=curve[-1], steps=STEPS),
            (steps[-1], curve[-1]),
            xytext=(0.45, 0.75),
            textcoords="axes fraction",
            fontsize=9,
            arrowprops={"arrowstyle": "->", "color": g.TEXT, "lw": 0.8},
        )
    fig.tight_layout()
    return fig


def kernels_before_after():
    """The random start, the learned kernel and the target, on one colour scale."""
    kernels, *_rest = train()
    fig, axes = plt.subplots(1, 3, figsize=(6.6, 2.5))
    _kernel(axes[0], kernels[0], _("start (random)"))
    _kernel(axes[1], kernels[-1], _("after {n} steps").format(n=STEPS), g.WINDOW)
    _kernel(axes[2], TARGET, _("target (Sobel x)"))
    fig.subplots_adjust(left=0.02, right=0.86, top=0.86, bottom=0.04, wspace=0.15)
    _kernel_bar(fig, fig.add_axes([0.89, 0.1, 0.025, 0.7]))
    return fig


def anim_learning(path) -> None:
    """GIF: the kernel, its response to one digit and the loss, at 15 steps of gradient descent.

    Only what changes is redrawn from frame to frame (the log axis of the loss is laid out once)."""
    kernels, losses, x, t = train()
    fig = plt.figure(figsize=(7.2, 5.6))
    ax_k = fig.add_axes([0.03, 0.6, 0.26, 0.32])
    ax_t = fig.add_axes([0.33, 0.6, 0.26, 0.32])
    ax_y = fig.add_axes([0.63, 0.6, 0.24, 0.32])
    ax_loss = fig.add_axes([0.12, 0.09, 0.8, 0.32])
    _kernel(ax_t, TARGET, _("target (Sobel x)"))
    _kernel_bar(fig, fig.add_axes([0.06, 0.535, 0.5, 0.025]), "horizontal")
    # the response of the current kernel to one digit, on the target response's colour scale
    response = g.signed_image(ax_y, t[0, :, :, 0], g.limit(t[0]), bar=False)
    ax_y.set_title(_("its response to digit 1"), fontsize=10, color=g.OUTPUT)
    bar = fig.colorbar(response, cax=fig.add_axes([0.89, 0.6, 0.022, 0.32]))
    bar.set_label(_("response"), fontsize=g.MIN_FONT)
    bar.ax.tick_params(labelsize=g.MIN_FONT, length=2)
    # the loss: the whole curve in grey, the steps done so far in green
    steps = np.arange(len(losses))
    ax_loss.semilogy(steps, losses, color=g.PAD_EDGE, lw=1.2)
    (done,) = ax_loss.semilogy(steps[:1], losses[:1], color=g.OUTPUT, lw=2.2)
    (marker,) = ax_loss.plot([0], [losses[0]], "o", color=g.WINDOW, ms=7)
    ax_loss.set_xlabel(_("gradient-descent step"))
    ax_loss.set_ylabel(_("loss (MSE)"))
    ax_loss.grid(alpha=0.3)
    title = ax_loss.set_title("")

    writer = PillowWriter(fps=1.5)
    with writer.saving(fig, str(path), dpi=90):
        for step in FRAMES:
            _kernel(ax_k, kernels[step], _("kernel at step {step}").format(step=step), g.WINDOW)
            response.set_data(convops.conv2d(x[:1], kernels[step][:, :, None, None])[0, :, :, 0])
            done.set_data(steps[: step + 1], losses[: step + 1])
            marker.set_data([step], [losses[step]])
            title.set_text(_("step {step}: loss = {loss:.2g}").format(step=step, loss=losses[step]).replace("-", "−"))
            writer.grab_frame()
    plt.close(fig)

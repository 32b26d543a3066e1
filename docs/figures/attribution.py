"""Why did the trained network say "7"? Occlusion sensitivity, saliency and Grad-CAM.

All three are computed with convops on :mod:`figures.mnist`'s trained network:

* occlusion: the network's own forward pass on copies of a digit with one patch set to 0;
* saliency and Grad-CAM: a backward pass through the model's layers (each layer's
  ``backward``, i.e. :func:`convops.gradients.conv2d_backprop_input`, the max-pool and ReLU
  gradients), started from the gradient of one class's logit instead of a loss's.
"""

from __future__ import annotations

import functools

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.patches import Rectangle

from convops.nn import Conv2D

from . import grammar as g
from . import mnist, trained_features
from .i18n import N_, _

PATCH = 7  # side of the occluding square, pixels
FILL = 0.0  # what covers it: the background's value (the ink is removed)
SHOWN = 4  # digits per figure


# ----------------------------------------------------------------------------------------------
# computations
def model():
    return mnist.trained_model()


def logit_gradients(x: np.ndarray, classes, down_to: int = 0) -> dict[str, object]:
    """Forward ``x`` (N, 28, 28, 1) through the trained model, then backward from the logit of
    ``classes[n]`` for each image ``n``: the logits, every layer's output, and the gradient of
    that logit with respect to every layer's output from layer ``down_to`` up, and (when
    ``down_to`` is 0) to the input."""
    layers = model().layers
    outputs = []
    h = x
    for layer in layers:
        h = layer.forward(h, training=True)  # training=True: keep what backward needs
        outputs.append(h)
    logits = np.array(layers[-1].logits)  # the softmax layer's input
    dy = np.zeros_like(logits)
    dy[np.arange(len(x)), np.asarray(classes)] = 1.0
    grads = [None] * len(layers)
    for k in range(len(layers) - 1, down_to - 1, -1):
        grads[k] = dy
        if k == down_to and down_to > 0:
            dy = None  # nothing below is needed
        elif k == len(layers) - 1:
            dy = layers[k].backward(dy, need_input_grad=True, from_logits=True)  # d logit / d logit = 1
        else:
            dy = layers[k].backward(dy, need_input_grad=True)
    return {"logits": logits, "outputs": outputs, "grads": grads, "input_grad": dy}


def saliency(x: np.ndarray, cls: int) -> np.ndarray:
    """``|d logit_cls / d x|`` of one image (28, 28, 1) as a (28, 28) map."""
    return np.abs(logit_gradients(x[None], [cls])["input_grad"][0, :, :, 0])


def last_conv() -> int:
    return max(k for k, layer in enumerate(model().layers) if isinstance(layer, Conv2D))


def grad_cam(x: np.ndarray, cls: int) -> dict[str, np.ndarray]:
    """Grad-CAM of one image for class ``cls`` at the last conv layer: the channel weights
    (spatial mean of the logit's gradient), the weighted sum of the maps, and its ReLU; and,
    without the mean, each position's gradient × activation summed over channels ("contrib"):
    with Flatten → Dense after that layer these add up to the logit minus its bias, exactly."""
    k = last_conv()
    run = logit_gradients(x[None], [cls], down_to=k)
    maps, grads = run["outputs"][k][0], run["grads"][k][0]
    weights = grads.mean(axis=(0, 1))
    total = (maps * weights).sum(axis=-1)
    return {"weights": weights, "sum": total, "cam": np.maximum(total, 0.0), "contrib": (maps * grads).sum(axis=-1)}


def upsample(cam: np.ndarray, size: int = 28) -> np.ndarray:
    """The coarse map spread over the input: each unit's value placed at the centre of its
    receptive field (from :func:`convops.arithmetic.receptive_fields`), bilinear in between,
    constant beyond the outermost centres."""
    rf = trained_features.fields()[-1]
    centres = rf.start + rf.jump * np.arange(cam.shape[0])
    pixels = np.arange(size)
    cols = np.stack([np.interp(pixels, centres, cam[:, j]) for j in range(cam.shape[1])], axis=1)
    return np.stack([np.interp(pixels, centres, cols[i]) for i in range(size)])


def stretched(cam: np.ndarray, size: int = 28) -> np.ndarray:
    """The coarse map stretched over the whole image, as an image resize does (cell centres at
    ``(i + 0.5) * size / n - 0.5``): what most Grad-CAM code shows."""
    n = cam.shape[0]
    centres = (np.arange(n) + 0.5) * size / n - 0.5
    pixels = np.arange(size)
    cols = np.stack([np.interp(pixels, centres, cam[:, j]) for j in range(cam.shape[1])], axis=1)
    return np.stack([np.interp(pixels, centres, cols[i]) for i in range(size)])


def occlusion(x: np.ndarray, cls: int, patch: int = PATCH, fill: float = FILL) -> np.ndarray:
    """How much the probability of ``cls`` drops when a ``patch`` × ``patch`` square centred on
    each pixel is set to ``fill`` (squares clipped at the border): a (28, 28) map, one forward
    pass of 784 occluded copies."""
    h, w = x.shape[:2]
    batch = np.repeat(x[None], h * w, axis=0)
    r = patch // 2
    for i in range(h):
        for j in range(w):
            batch[i * w + j, max(i - r, 0) : i - r + patch, max(j - r, 0) : j - r + patch] = fill
    probs = model().predict(batch, batch_size=392, verbose=0)[:, cls]
    base = model().predict(x[None], verbose=0)[0, cls]
    return base - probs.reshape(h, w)


@functools.cache
def mistakes() -> np.ndarray:
    """Indices of the misclassified test digits, in test-set order."""
    _images, y = trained_features.test_set()
    return np.flatnonzero(trained_features.test_predictions().argmax(axis=1) != y)


@functools.cache
def cam_survey(batch: int = 250) -> dict[str, float]:
    """Grad-CAM for the predicted class of every test digit: how many maps are zero everywhere,
    and how far the 9 position contributions plus the bias are from the logit (float32 rounding
    only: checked here, so a wrong gradient fails the build)."""
    x, _labels = trained_features.test_set()
    pred = trained_features.test_predictions().argmax(axis=1)
    k = last_conv()
    bias = model().layers[-1].get_weights()[1]
    zero, error = 0, 0.0
    for s in range(0, len(x), batch):
        cls = pred[s : s + batch]
        run = logit_gradients(x[s : s + batch], cls, down_to=k)
        maps, grads = run["outputs"][k], run["grads"][k]
        weights = grads.mean(axis=(1, 2), keepdims=True)
        cam = np.maximum((maps * weights).sum(axis=-1), 0)
        zero += int(np.sum(cam.reshape(len(cls), -1).max(axis=1) == 0))
        total = (maps * grads).sum(axis=(1, 2, 3)) + bias[cls]
        logit = run["logits"][np.arange(len(cls)), cls]
        error = max(error, float(np.max(np.abs(total - logit) / np.maximum(np.abs(logit), 1))))
    if error > 1e-4:
        raise AssertionError(f"position contributions do not add up to the logit (relative error {error:.2g})")
    return {"zero": zero, "count": len(x), "error": error}


@functools.cache
def facts() -> dict[str, str]:
    """The numbers the page states, computed at build time (the ``:fact:`` role)."""
    _images, y = trained_features.test_set()
    wrong = mistakes()
    k = last_conv()
    h, w, c = model().layers[k].output_shape
    rf = trained_features.fields()[-1]
    centres = rf.start + rf.jump * np.arange(h)
    stretched_at = (np.arange(h) + 0.5) * 28 / h - 0.5
    x, _labels = trained_features.test_set()
    pred = trained_features.test_predictions().argmax(axis=1)
    blank = lambda indices: sum(not grad_cam(x[n], int(pred[n]))["cam"].any() for n in indices)  # noqa: E731
    return {
        "n_test": f"{len(y):,}",
        "n_wrong": str(len(wrong)),
        "accuracy": f"{1 - len(wrong) / len(y):.3f}",
        "patch": f"{PATCH}×{PATCH}",
        "cam_shape": f"{h}×{w}",
        "cam_channels": str(c),
        "rf": f"{rf.size}×{rf.size}",
        "jump": str(rf.jump),
        "centres": ", ".join(f"{v:g}" for v in centres),
        "centres_stretched": ", ".join(f"{v:.1f}" for v in stretched_at),
        "stretch_offset": f"{np.abs(stretched_at - centres).max():.1f}",
        "shown": str(min(SHOWN, len(wrong))),
        "shown_correct": str(len(trained_features._pick_digits(SHOWN))),
        "cam_zero_correct": str(blank(trained_features._pick_digits(SHOWN))),
        "cam_zero_wrong": str(blank(wrong[:SHOWN])),
        "cam_zero": f"{cam_survey()['zero']:,}",
        "cam_zero_pct": f"{100 * cam_survey()['zero'] / cam_survey()['count']:.0f}%",
    }


# ----------------------------------------------------------------------------------------------
# figures
def _outline(ax, image: np.ndarray) -> None:
    """The digit's outline (ink at half strength), so a map can be read against the strokes."""
    ax.contour(image, levels=[0.5], colors=g.GRID_EDGE, linewidths=0.7)


def _map(ax, values, cmap, vmin, vmax, image=None):
    im = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    if image is not None:
        _outline(ax, image)
    g.plain(ax)
    return im


def _normalised(values: np.ndarray) -> np.ndarray:
    top = float(values.max())
    return values / top if top > 0 else values


def _row_data(n: int, kinds) -> dict[str, np.ndarray]:
    x, y = trained_features.test_set()
    pred, true = int(trained_features.test_predictions()[n].argmax()), int(y[n])
    out = {}
    if "occlusion" in kinds:
        out["occlusion"] = occlusion(x[n], pred)
    if "saliency" in kinds:
        out["saliency"] = _normalised(saliency(x[n], pred))
    said = grad_cam(x[n], pred)
    out["cam3"] = _normalised(said["cam"])
    out["cam"] = _normalised(upsample(said["cam"]))
    out["contrib"] = said["contrib"]
    if "contrib_true" in kinds:
        out["contrib_true"] = grad_cam(x[n], true)["contrib"]
    return out


SIGNED = {"occlusion": "occlusion", "contrib": "contrib", "contrib_true": "contrib"}
BAR_LABELS = {  # translated where drawn
    "occlusion": N_("drop of p(said)"),
    "saliency": N_("share of max"),
    "cam": N_("share of max"),
    "cam3": N_("share of max"),
    "contrib": N_("part of the logit"),
}


# Size: one branch per panel kind, all laid out on one grid.
def _panels(indices, columns, width: float, height_per_row: float, hspace: float = 0.55):  # noqa: C901 (one branch per panel kind)
    """One row per test image, one column per (title, kind); signed kinds share a symmetric
    scale down their column(s); a colour bar under each column that needs one."""
    x, y = trained_features.test_set()
    probs = trained_features.test_predictions()
    kinds = [kind for _title, kind in columns]
    data = {n: _row_data(n, kinds) for n in indices}
    limits = {}
    for kind, group in SIGNED.items():
        if kind in kinds:
            limits[group] = max(limits.get(group, 0), g.limit(np.stack([data[n][kind] for n in indices])))
    fig = g.figure(width, height_per_row * len(indices) + 0.95)
    spec = fig.add_gridspec(
        len(indices) + 1,
        len(columns),
        height_ratios=[1] * len(indices) + [0.06],
        left=0.015,
        right=0.985,
        top=1 - 0.32 / fig.get_figheight(),
        bottom=0.45 / fig.get_figheight(),
        wspace=0.2,
        hspace=hspace,
    )
    ims = {}
    for row, n in enumerate(indices):
        image = x[n, :, :, 0]
        pred, true = int(probs[n].argmax()), int(y[n])
        for col, (title, kind) in enumerate(columns):
            ax = fig.add_subplot(spec[row, col])
            if kind == "input":
                ax.imshow(image, cmap=g.INPUT_CMAP, vmin=0, vmax=1, interpolation="nearest")
                g.plain(ax)
                if "probs" in kinds:
                    ax.set_xlabel(_("a {true}, said {pred}").format(true=true, pred=pred), fontsize=9, labelpad=2)
                else:
                    ax.set_xlabel(
                        _("a {true}\np({pred}) = {p:.2f}").format(true=true, pred=pred, p=probs[n, pred]),
                        fontsize=9,
                        labelpad=2,
                    )
            elif kind == "probs":
                colours = [g.OUTPUT if d == pred else g.INPUT if d == true else g.PAD_EDGE for d in range(10)]
                ax.bar(range(10), probs[n], color=colours, width=0.8)
                ax.set_ylim(0, 1)
                ax.set_xticks(range(0, 10, 3), [str(d) for d in range(0, 10, 3)], fontsize=9)
                ax.tick_params(axis="x", length=2, pad=1)
                ax.set_yticks([0, 1], ["0", "1"], fontsize=9)
                for side in ("top", "right"):
                    ax.spines[side].set_visible(False)
                ax.set_box_aspect(1)
                ax.set_xlabel(
                    _("said {pred}: {p:.2f}\ntrue {true}: {q:.2f}").format(
                        pred=pred, p=probs[n, pred], true=true, q=probs[n, true]
                    ),
                    fontsize=9,
                    labelpad=1,
                )
            elif kind in SIGNED:
                lim = limits[SIGNED[kind]]
                ims[kind] = _map(ax, data[n][kind], g.SIGNED_CMAP, -lim, lim, image if kind == "occlusion" else None)
            else:
                ims[kind] = _map(ax, data[n][kind], g.OUTPUT_CMAP, 0, 1, image if kind in ("saliency", "cam") else None)
                if not data[n][kind].any():
                    ax.text(
                        0.5,
                        0.5,
                        _("all 0"),
                        transform=ax.transAxes,
                        ha="center",
                        va="center",
                        fontsize=9,
                        color=g.TEXT,
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
                    )
            if row == 0:
                ax.set_title(title, fontsize=9.5)
    for col, (_title, kind) in enumerate(columns):
        if kind not in ims:
            continue
        host = fig.add_subplot(spec[-1, col])
        host.axis("off")
        cax = host.inset_axes([0.14, 0, 0.72, 1])
        if kind in SIGNED:
            lim = limits[SIGNED[kind]]
            bar = fig.colorbar(ims[kind], cax=cax, orientation="horizontal", ticks=[-lim, 0, lim])
            bar.ax.set_xticklabels([f"−{lim:.2g}", "0", f"{lim:.2g}"])
        else:
            bar = fig.colorbar(ims[kind], cax=cax, orientation="horizontal", ticks=[0, 1])
            bar.ax.set_xticklabels(["0", _("max")])
        bar.set_label(_(BAR_LABELS[SIGNED.get(kind, kind)]), fontsize=9, labelpad=1)
        bar.ax.tick_params(labelsize=9, length=2, pad=1)
        bar.outline.set_linewidth(0.5)
    return fig


def correct():
    """Four correctly classified test digits (the first 7, 2, 0 and 4): occlusion, saliency,
    Grad-CAM (its 3×3 map and that map laid on the input) and the exact contribution of each
    of the 9 positions to the logit."""
    columns = [
        (_("input"), "input"),
        (_("occlusion {n}×{n}").format(n=PATCH), "occlusion"),
        (_("saliency"), "saliency"),
        ("Grad-CAM 3×3", "cam3"),
        (_("on the input"), "cam"),
        (_("per position"), "contrib"),
    ]
    return _panels(trained_features._pick_digits(SHOWN), columns, 7.3, 1.12)


def misclassified():
    """The first misclassified test digits: probabilities, occlusion and saliency for the class
    the network said, Grad-CAM, and each position's contribution to the said and true logits."""
    columns = [
        (_("input"), "input"),
        (_("p(class)"), "probs"),
        (_("occlusion"), "occlusion"),
        (_("saliency"), "saliency"),
        ("Grad-CAM", "cam"),
        (_("pos.: said"), "contrib"),
        (_("pos.: true"), "contrib_true"),
    ]
    return _panels([int(n) for n in mistakes()[:SHOWN]], columns, 7.3, 1.3, hspace=0.8)


def gallery(columns: int = 10):
    """Every misclassified test digit, with its label and what the network said."""
    x, y = trained_features.test_set()
    probs = trained_features.test_predictions()
    wrong = mistakes()
    rows = -(-len(wrong) // columns)
    fig = g.figure(7.2, 0.86 * rows + 0.2)
    for k, n in enumerate(wrong):
        ax = fig.add_axes(
            [k % columns / columns + 0.005, 1 - (k // columns + 1) / rows + 0.2 / rows, 1 / columns - 0.01, 0.76 / rows]
        )
        ax.imshow(x[n, :, :, 0], cmap=g.INPUT_CMAP, vmin=0, vmax=1, interpolation="nearest")
        g.plain(ax)
        pred = int(probs[n].argmax())
        ax.set_xlabel(f"{y[n]}→{pred} ({probs[n, pred]:.2f})", fontsize=9, labelpad=1)
    return fig


def grad_cam_steps():
    """Grad-CAM of the first 7, step by step: channel weights, weighted sum, ReLU, and two ways
    to lay the 3×3 result over the input (at the units' receptive-field centres; stretched)."""
    x, _labels = trained_features.test_set()
    n = trained_features._pick_digits(1)[0]
    pred = int(trained_features.test_predictions()[n].argmax())
    steps = grad_cam(x[n], pred)
    image = x[n, :, :, 0]
    fig = g.figure(7.3, 5.0)
    top = fig.add_gridspec(1, 3, width_ratios=[1.5, 1, 1], left=0.09, right=0.9, top=0.94, bottom=0.56, wspace=0.3)
    ax = fig.add_subplot(top[0])
    weights = steps["weights"]
    ax.bar(
        range(len(weights)),
        weights,
        width=1.0,
        color=[plt.get_cmap(g.SIGNED_CMAP)(0.85 if v > 0 else 0.15) for v in weights],
    )
    ax.axhline(0, color=g.GRID_EDGE, lw=0.6)
    ax.set_xlabel(_("conv3 channel k (0–{last})").format(last=len(weights) - 1), fontsize=9)
    ax.tick_params(labelsize=9)
    ax.set_title(_("1. weight αₖ = mean gradient"), fontsize=9.5, loc="left")
    for k, (key, title) in enumerate([("sum", "2. Σ αₖ Aₖ"), ("cam", "3. ReLU")]):
        ax = fig.add_subplot(top[k + 1])
        lim = g.limit(steps["sum"])
        im = ax.imshow(steps[key], cmap=g.SIGNED_CMAP, vmin=-lim, vmax=lim, interpolation="nearest")
        g.plain(ax)
        ax.set_title(title, fontsize=9.5, loc="left")
        for (i, j), v in np.ndenumerate(steps[key]):
            ax.text(
                j,
                i,
                f"{v:.2f}".replace("-0.00", "0.00").replace("-", "−"),
                ha="center",
                va="center",
                fontsize=9,
                color="white" if abs(v) > 0.55 * lim else g.TEXT,
            )
    bar = fig.colorbar(im, ax=fig.axes[-2:], fraction=0.05, pad=0.04, ticks=[-lim, 0, lim], format="%.2f")
    bar.ax.tick_params(labelsize=9, length=2)
    bottom = fig.add_gridspec(1, 3, left=0.02, right=0.9, top=0.43, bottom=0.02, wspace=0.12)
    rf = trained_features.fields()[-1]
    ax = fig.add_subplot(bottom[0])
    ax.imshow(image, cmap=g.INPUT_CMAP, vmin=0, vmax=1, interpolation="nearest")
    g.plain(ax)
    centres = rf.start + rf.jump * np.arange(steps["cam"].shape[0])
    for ci in centres:
        for cj in centres:
            ax.plot(cj, ci, "o", color=g.WINDOW, ms=4)
    first = centres[1] - (rf.size - 1) / 2
    ax.add_patch(Rectangle((first - 0.5, first - 0.5), rf.size, rf.size, fill=False, edgecolor=g.WINDOW, lw=1.6))
    ax.set_title(_("conv3's units, a {n}×{n} field").format(n=rf.size), fontsize=9.5, loc="left")
    cam = _normalised(steps["cam"])
    for k, (values, title) in enumerate(
        [(upsample(cam), _("4. at the field centres")), (stretched(cam), _("stretched to 28×28"))]
    ):
        ax = fig.add_subplot(bottom[k + 1])
        im = _map(ax, values, g.OUTPUT_CMAP, 0, 1, image)
        ax.set_title(title, fontsize=9.5, loc="left")
    bar = fig.colorbar(im, ax=fig.axes[-2:], fraction=0.04, pad=0.03, ticks=[0, 1])
    bar.ax.set_yticklabels(["0", _("max")])
    bar.ax.tick_params(labelsize=9, length=2)
    return fig

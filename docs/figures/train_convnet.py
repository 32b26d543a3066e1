"""The training example page: the tutorial's recipe on real MNIST, trained while the docs are built.

The convops runs are :mod:`figures.mnist`'s: ``examples/train_mnist_convnet.py --seed S`` run in
this process on the docs' real-MNIST split (8,000 train / 2,000 test), cached on disk; seed 0 is
the network every page shows. Keras's runs cannot be produced here (the docs build has no
TensorFlow): they are read from the ``mnist`` section of ``benchmarks/results/training.json``,
written by ``python -m benchmarks.training mnist`` on the same split (checked: the section records
a SHA-256 of the split's arrays, and a different one fails the build).
"""

from __future__ import annotations

import functools
import json
import math
import pathlib
import statistics

import numpy as np
from matplotlib import pyplot as plt
from matplotlib import ticker

from . import grammar as g
from . import mnist
from .i18n import _

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = mnist.SCRIPT
TRAINING_JSON = ROOT / "benchmarks" / "results" / "training.json"

#: The tutorial's claim this page checks: Keras's convnet, trained on MNIST's 60,000 training
#: digits for 5 epochs (RMSprop, batches of 64), reaches 0.992 test accuracy ("[AI] 卷積神經網路",
#: Rain Hu, 2025, https://intervalrain.github.io/).
TUTORIAL_ACCURACY = 0.992
TUTORIAL_TRAIN = 60000
TUTORIAL_URL = "https://intervalrain.github.io/"

#: Seeds trained while the site is built (seed 0 is every page's network): each run is the
#: tutorial's 5 epochs on 8,000 digits, ~15 CPU-seconds, cached in docs/_generated.
BUILD_SEEDS = (0, 1, 2)

CONVOPS = g.WINDOW  # convops: the colour that stands out
KERAS = g.INPUT  # Keras, recorded
TUTORIAL = g.TEXT


def example_script():
    return mnist.example_script()


def epochs() -> int:
    return mnist.EPOCHS


def build_runs(seeds=BUILD_SEEDS) -> list[dict]:
    """convops' runs of this build: ``{"seed", "loss", "accuracy", "val_loss", "val_accuracy",
    "seconds"}`` per seed."""
    runs = []
    for seed in seeds:
        run = mnist.history(seed)
        run.update(seed=seed, seconds=mnist.training_seconds(seed))
        runs.append(run)
    return runs


@functools.cache
def _recorded_section() -> dict:
    with open(TRAINING_JSON) as f:
        section = json.load(f)["mnist"]
    want = mnist.data_sha256()
    if section["data"]["sha256"] != want:
        raise RuntimeError(
            f"{TRAINING_JSON.name}'s mnist section was recorded on other data (split SHA-256 "
            f"{section['data']['sha256'][:16]}…, this build's is {want[:16]}…): rerun "
            f"`python -m benchmarks.training mnist`"
        )
    return section


def recorded() -> dict:
    """training.json's real-MNIST runs grouped by framework: {"convops": [run, ...], "keras_reshuffled": [...]}."""
    grouped: dict = {}
    for run in _recorded_section()["runs"]:
        grouped.setdefault(run["framework"], []).append(run)
    return grouped


def recorded_machine() -> dict:
    return _recorded_section()["machine"]


def recorded_epochs() -> int:
    return int(_recorded_section()["epochs"])


def _mean_at(runs, epoch: int) -> float:
    return statistics.fmean(r["val_accuracy"][epoch - 1] for r in runs)


def _range_at(runs, epoch: int) -> str:
    accuracies = [r["val_accuracy"][epoch - 1] for r in runs]
    return f"{min(accuracies):.3f}–{max(accuracies):.3f}"


def _seeds(runs) -> str:
    numbers = sorted(r["seed"] for r in runs)
    if len(numbers) > 2 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{numbers[0]}–{numbers[-1]}"
    return ", ".join(map(str, numbers))


def _and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c`` (in the language drawn: prose of the page)."""
    if len(items) < 2:
        return "".join(items)
    return _("{first} and {last}").format(first=_(", ").join(items[:-1]), last=items[-1])


def values() -> dict:
    """Every number the page's prose states, by name (the ``:training:`` role reads them)."""
    (x_train, _), (x_test, _) = mnist.load_split()
    ours = build_runs()
    rec = recorded()
    keras = rec["keras_reshuffled"]
    e, last = epochs(), recorded_epochs()
    acc0 = mnist.test_accuracy()
    ours_mean = _mean_at(ours, e)
    keras_mean = _mean_at(keras, e)
    best_last = max(_mean_at(keras, last), _mean_at(rec["convops"], last))
    steps = math.ceil(len(x_train) / mnist.BATCH_SIZE)
    tutorial_steps = math.ceil(TUTORIAL_TRAIN / mnist.BATCH_SIZE)
    # One standard error of an accuracy measured on the test set: sqrt(p (1 - p) / n).
    stderr = math.sqrt(acc0 * (1 - acc0) / len(x_test))
    seconds = [r["seconds"] for r in ours]
    history0 = mnist.history()
    return {
        "train": f"{len(x_train):,}",
        "test": f"{len(x_test):,}",
        "total": f"{len(x_train) + len(x_test):,}",
        "steps": f"{steps}",
        "last_batch": f"{len(x_train) - (steps - 1) * mnist.BATCH_SIZE}",
        "epochs": f"{e}",
        "updates": f"{e * steps:,}",
        "tutorial_train": f"{TUTORIAL_TRAIN:,}",
        "tutorial_updates": f"{e * tutorial_steps:,}",
        "data_ratio": f"{TUTORIAL_TRAIN / len(x_train):.1f}",
        "tutorial_acc": f"{TUTORIAL_ACCURACY:.3f}",
        "acc": f"{acc0:.3f}",
        "errors": f"{round((1 - acc0) * len(x_test))}",
        "tutorial_errors": f"{round((1 - TUTORIAL_ACCURACY) * len(x_test))}",
        "stderr_points": f"{100 * stderr:.1f}",
        "build_seeds": _seeds(ours),
        "other_build_seeds": _and([str(r["seed"]) for r in ours if r["seed"] != mnist.SEED]),
        "build_mean": f"{ours_mean:.3f}",
        "build_range": f"{min(r['val_accuracy'][e - 1] for r in ours):.3f}–"
        f"{max(r['val_accuracy'][e - 1] for r in ours):.3f}",
        "keras_seeds": _seeds(keras),
        "keras_mean": f"{keras_mean:.3f}",
        "keras_last": f"{_mean_at(keras, last):.3f}",
        "keras_range": _range_at(keras, e),
        "keras_range_last": _range_at(keras, last),
        "convops_mean": f"{_mean_at(rec['convops'], e):.3f}",
        "convops_range": _range_at(rec["convops"], e),
        "convops_range_last": _range_at(rec["convops"], last),
        "convops_seeds": _seeds(rec["convops"]),
        "convops_last": f"{_mean_at(rec['convops'], last):.3f}",
        "recorded_epochs": f"{last}",
        "tutorial_gap_points": f"{100 * (TUTORIAL_ACCURACY - max(keras_mean, _mean_at(rec['convops'], e))):.1f}",
        "tutorial_gap_last": f"{100 * (TUTORIAL_ACCURACY - best_last):.1f}",
        "seconds": f"{statistics.fmean(seconds):.0f}",
        "val_loss_first": f"{history0['val_loss'][0]:.3f}",
        "val_loss_last": f"{history0['val_loss'][-1]:.3f}",
    }


def learning_curves():
    """Loss (training and test) and test accuracy per epoch, stacked and narrow so that a phone
    shows the text at a readable size: convops trained for this build (seed 0 thick, the other
    seeds thin), convops and Keras as recorded (mean; Keras's band is the range over seeds)."""
    ours = build_runs()
    rec = recorded()
    keras = rec["keras_reshuffled"]
    last = recorded_epochs()
    fig, (ax_loss, ax_acc) = plt.subplots(
        2, 1, figsize=(4.6, 8.4), sharex=True, gridspec_kw={"height_ratios": (1, 1.15)}
    )
    e_ours = np.arange(1, epochs() + 1)
    e_rec = np.arange(1, last + 1)
    others = [r for r in ours if r["seed"] != mnist.SEED]

    def style(run):
        thick = run["seed"] == mnist.SEED
        return dict(
            color=CONVOPS,
            lw=2.4 if thick else 0.9,
            alpha=1 if thick else 0.6,
            marker="o" if thick else None,
            markersize=4.5,
        )

    k_loss = np.array([r["loss"] for r in keras])
    k_val_loss = np.array([r["val_loss"] for r in keras])
    k_acc = np.array([r["val_accuracy"] for r in keras])
    c_acc = np.array([r["val_accuracy"] for r in rec["convops"]])
    ax_loss.plot(e_rec, k_loss.mean(axis=0), color=KERAS, lw=1.6)
    ax_loss.plot(e_rec, k_val_loss.mean(axis=0), color=KERAS, lw=1.6, ls="--")
    for run in ours:
        ax_loss.plot(e_ours, run["loss"], **style(run))
        ax_loss.plot(e_ours, run["val_loss"], ls="--", **style(run))
    ax_loss.set(yscale="log", ylabel=_("loss (log scale)"), title=_("Loss"))
    low, high = ax_loss.get_ylim()
    ax_loss.set_yticks([t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2) if low <= t <= high])
    ax_loss.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax_loss.yaxis.set_minor_formatter(ticker.NullFormatter())
    keys = [plt.Line2D([], [], color=g.TEXT, lw=1.4), plt.Line2D([], [], color=g.TEXT, lw=1.4, ls="--")]
    ax_loss.legend(keys, [_("on the training digits"), _("on the test digits")], loc="upper right", frameon=False)

    ax_acc.fill_between(e_rec, k_acc.min(axis=0), k_acc.max(axis=0), color=KERAS, alpha=0.18, lw=0)
    (keras_line,) = ax_acc.plot(e_rec, k_acc.mean(axis=0), color=KERAS, lw=1.6)
    (recorded_line,) = ax_acc.plot(e_rec, c_acc.mean(axis=0), color=CONVOPS, lw=1.3, ls="-.")
    lines = [ax_acc.plot(e_ours, run["val_accuracy"], **style(run))[0] for run in ours]
    ax_acc.axhline(TUTORIAL_ACCURACY, color=TUTORIAL, lw=1.2, ls=":")
    ax_acc.annotate(
        _("the tutorial: {accuracy}").format(accuracy=TUTORIAL_ACCURACY),
        (1, TUTORIAL_ACCURACY),
        xytext=(0, 3),
        textcoords="offset points",
        fontsize=9,
        color=TUTORIAL,
    )
    low = min(k_acc.min(), min(min(r["val_accuracy"]) for r in ours))
    ax_acc.set_ylim(math.floor(low * 50) / 50, 1.0)
    ax_acc.set(xlabel=_("epoch"), ylabel=_("test accuracy"), title=_("Test accuracy"))
    ax_acc.set_xticks(e_rec)
    handles = [lines[0], keras_line, recorded_line]
    labels = [
        _("convops, seed {seed}, this build").format(seed=mnist.SEED),
        _("Keras, seeds {seeds}, recorded: mean (band: range)").format(seeds=_seeds(keras)),
        _("convops, seeds {seeds}, recorded: mean").format(seeds=_seeds(rec["convops"])),
    ]
    if others:
        handles.insert(1, lines[1])
        labels.insert(1, _("convops, seeds {seeds}, this build").format(seeds=_seeds(others)))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.axvline(epochs(), color=g.PAD_EDGE, lw=0.8, ls=":")
    fig.legend(handles, labels, loc="lower center", ncol=1, frameon=False)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    return fig

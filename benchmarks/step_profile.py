"""Where convops' training step of the tutorial's network spends its time, layer by layer.

Run by ``python -m benchmarks.training speed`` in a child process of its own (no Keras): each
layer's forward and backward, the loss and the optimizer's update are timed around those calls
inside real steps (``train_on_batch``), per step; "other" is the rest of the step (the model's
Python: checks, the loop over layers). Medians over rounds of five steps, after ten steps of
warm-up. The wrappers are instance attributes of one model built for this, so the classes keep
their methods.
"""

from __future__ import annotations

import time


def measure(repeats: int) -> dict:
    """Each part of convops' training step, timed inside real steps (see the module docstring)."""
    import numpy as np

    import convops
    from benchmarks.training import _batch, convops_model

    x, y = _batch()
    model = convops_model()
    spent: dict[str, float] = {}

    def timed(owner, method: str, part: str) -> None:
        inner = getattr(owner, method)

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[part] = spent.get(part, 0.0) + time.perf_counter() - start

        setattr(owner, method, wrapper)  # an instance attribute: the class keeps its method

    layers = model.layers
    # A layer whose backward ran inside another's (a first Conv2D's one pass takes its max pool's):
    # its name -> that layer's name, so the tables say where its time went instead of 0 ms.
    taken_by: dict[str, str] = {}
    for layer in layers:
        timed(layer, "_forward", f"{layer.name} forward")
        timed(layer, "_backward", f"{layer.name} backward")
        if hasattr(layer, "_first_layer_grads_from_max_pool"):  # with its max pool's backward
            timed(layer, "_first_layer_grads_from_max_pool", f"{layer.name} backward")
            one_pass = layer._first_layer_grads_from_max_pool

            def noting(pool, *args, _layer=layer, _one_pass=one_pass):
                took = _one_pass(pool, *args)
                if took:
                    taken_by[pool.name] = _layer.name
                return took

            layer._first_layer_grads_from_max_pool = noting
    timed(model._loss(), "value_and_grad", "loss")
    timed(model._optimizer(), "apply_gradients", "optimizer")
    for _ in range(10):  # warm-up: tuning, pools, caches
        model.train_on_batch(x, y)
    rounds: dict[str, list[float]] = {}
    taken_by.clear()  # what the timed steps did, not the warm-up
    for _ in range(repeats):
        spent.clear()
        start = time.perf_counter()
        for _ in range(5):
            model.train_on_batch(x, y)
        step = (time.perf_counter() - start) / 5
        rounds.setdefault("step", []).append(step)
        rounds.setdefault("other", []).append(step - sum(spent.values()) / 5)
        for part, seconds in spent.items():
            rounds.setdefault(part, []).append(seconds / 5)
    median = {part: float(np.median(values)) * 1e3 for part, values in rounds.items()}
    return {
        "layers": [
            {
                "name": layer.name,
                "kind": type(layer).__name__,
                "forward_ms": median.get(f"{layer.name} forward", 0.0),
                "backward_ms": median.get(f"{layer.name} backward", 0.0),
                **(
                    {"backward_in": taken_by[layer.name]}
                    if f"{layer.name} backward" not in median and layer.name in taken_by
                    else {}
                ),
            }
            for layer in layers
        ],
        "loss_ms": median["loss"],
        "optimizer_ms": median["optimizer"],
        "other_ms": median["other"],
        "step_ms": median["step"],
        "convops_threads": convops.get_num_threads(),
        "optimizer": type(model._optimizer()).__name__,
    }


def report(profile: dict | None) -> list[str]:
    """Where convops' training step spends its time (no table for a run recorded without it)."""
    if not profile:
        return []
    step = profile["step_ms"]
    lines = [
        "## Where a convops training step spends its time",
        "",
        "| part | forward | backward | share of the step |",
        "|---|---|---|---|",
    ]
    for layer in profile["layers"]:
        both = layer["forward_ms"] + layer["backward_ms"]
        backward = f"in {layer['backward_in']}'s" if "backward_in" in layer else f"{layer['backward_ms']:.2f} ms"
        forward, share = f"{layer['forward_ms']:.2f} ms", f"{100 * both / step:.0f}%"
        lines.append(f"| {layer['name']} ({layer['kind']}) | {forward} | {backward} | {share} |")
    for label, key in (
        ("loss", "loss_ms"),
        (f"optimizer ({profile['optimizer']})", "optimizer_ms"),
        ("other", "other_ms"),
    ):
        lines.append(f"| {label} | | | {100 * profile[key] / step:.0f}% ({profile[key]:.2f} ms) |")
    lines += [
        "",
        f"Medians per step, {profile['convops_threads']} threads; step {step:.1f} ms. Each part timed "
        "around its call inside `train_on_batch` (the medians of the parts need not add up to the step's). "
        "A first Conv2D under a max pool takes both layers' backward in one pass, counted as the Conv2D's "
        "(the pool's backward reads \"in conv2d's\").",
        "",
    ]
    return lines

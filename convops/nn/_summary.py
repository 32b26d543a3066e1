"""``Model.summary()``'s table: Keras's columns plus receptive fields and FLOPs."""

from __future__ import annotations

from typing import Any

from convops import arithmetic


def summary_lines(model: Any) -> list[str]:
    """The lines of ``model.summary()``, for a built model."""
    lines: list[str] = []
    rows = []
    if model._show_input_row:
        rows.append(
            (
                f"{model._input_layer.name} (InputLayer)",
                _shape_text(model._input_layer.output_shape),
                "0",
                "1×1, jump 1",
                "0",
            )
        )
    # Receptive fields along H and W from convops.arithmetic, over the sliding-window layers.
    windows = [layer.window() for layer in model._layers]
    stack = [w for w in windows if w is not None]
    fields_h = arithmetic.receptive_fields([(k[0], s[0], d[0]) for k, s, d, _ in stack], [p[0] for *_, p in stack])
    fields_w = arithmetic.receptive_fields([(k[1], s[1], d[1]) for k, s, d, _ in stack], [p[1] for *_, p in stack])
    image_hw = model._input_layer.output_shape[:2] if len(model._input_layer.output_shape) == 3 else None
    seen_windows, everything, total_flops = 0, False, 0
    for layer, window in zip(model._layers, windows):
        if window is not None and not everything:
            seen_windows += 1
        everything = everything or type(layer).__name__ == "Dense"
        if everything:
            field = f"{image_hw[0]}×{image_hw[1]} (all)" if image_hw is not None else "all"
        elif seen_windows == 0:
            field = "1×1, jump 1"
        else:
            fh, fw = fields_h[seen_windows - 1], fields_w[seen_windows - 1]
            jump = f"{fh.jump}" if fh.jump == fw.jump else f"{fh.jump}×{fw.jump}"
            field = f"{fh.size}×{fw.size}, jump {jump}"
        flops = layer.flops()
        total_flops += flops
        rows.append(
            (
                f"{layer.name} ({type(layer).__name__})",
                _shape_text(layer.output_shape),
                f"{layer.count_params():,}",
                field,
                f"{flops:,}",
            )
        )
    headers = ("Layer (type)", "Output Shape", "Param #", "Receptive field", "FLOPs")
    widths = [
        max(31, *(len(r[0]) for r in rows)),
        max(22, *(len(r[1]) for r in rows)),
        13,
        max(18, *(len(r[3]) for r in rows)),
        max(11, *(len(r[4]) for r in rows)),
    ]
    right = (False, False, True, False, True)

    def line(cells, bar="│"):
        parts = [(c.rjust(w) if r else c.ljust(w)) for c, w, r in zip(cells, widths, right)]
        return bar + bar.join(f" {p} " for p in parts) + bar

    def rule(left, mid, end, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + end

    params = model.count_params()
    itemsize = model._input_layer.dtype.itemsize
    lines.append(f'Model: "{model.name}"')
    lines.append(rule("┏", "┳", "┓", "━"))
    lines.append(line(headers, "┃"))
    lines.append(rule("┡", "╇", "┩", "━"))
    for index, row in enumerate(rows):
        lines.append(line(row))
        lines.append(rule("├", "┼", "┤", "─") if index < len(rows) - 1 else rule("└", "┴", "┘", "─"))
    lines.append(f" Total params: {params:,} ({_memory(params * itemsize)})")
    trainable = sum(w.size for w in model.trainable_weights)
    lines.append(f" Trainable params: {trainable:,} ({_memory(trainable * itemsize)})")
    lines.append(f" Non-trainable params: {params - trainable:,} ({_memory((params - trainable) * itemsize)})")
    lines.append(
        f" Forward FLOPs per example: {total_flops:,} (multiply and add count 2; a training step costs about 3x)"
    )
    return lines


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(["None"] + [str(s) for s in shape]) + ")"


def _memory(nbytes: float) -> str:
    # Keras's readable_memory_size: powers of 1024, two decimals.
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.2f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.2f} TB"  # pragma: no cover

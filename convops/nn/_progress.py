"""Keras's per-epoch progress bar: ``938/938 ━━━━━━━━━━━━━━━━━━━━ 14s 15ms/step - accuracy: 0.9 - loss: 0.3``."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """One line per epoch. On a terminal, and in a Jupyter notebook, it is redrawn in place as
    batches finish (at most ~20 times a second); elsewhere (a log, a pipe) only the final line
    is written, so logs stay readable. ``verbose=2`` writes Keras's one-line summary instead."""

    def __init__(self, target: int, verbose: int = 1, stream: TextIO | None = None, width: int = 20):
        self.target, self.verbose, self.width = target, verbose, width
        self.stream = stream if stream is not None else sys.stdout
        self.notebook = verbose == 1 and _is_notebook(self.stream)
        self.dynamic = verbose == 1 and (self.notebook or (hasattr(self.stream, "isatty") and self.stream.isatty()))
        self._width_drawn = 0
        self.start = time.perf_counter()
        self._last_draw = 0.0

    def update(self, current: int, values: dict[str, float], finalize: bool = False) -> None:
        if self.verbose == 0:
            return
        now = time.perf_counter()
        if not finalize and (not self.dynamic or now - self._last_draw < 0.05):
            return
        self._last_draw = now
        elapsed = now - self.start
        per_step = elapsed / max(current, 1)
        metrics = " - ".join(f"{key}: {value:.4f}" for key, value in values.items())
        unit = f"{per_step * 1e3:.0f}ms/step" if per_step < 1 else f"{per_step:.1f}s/step"
        if self.verbose == 2:
            if finalize:
                self.stream.write(f"{current}/{self.target} - {elapsed:.0f}s - {unit} - {metrics}\n")
                self.stream.flush()
            return
        filled = int(round(self.width * current / max(self.target, 1)))
        bar = "━" * filled + ("─" * (self.width - filled))
        if finalize:
            timing = f"{elapsed:.0f}s {unit}"
        else:
            timing = f"{per_step * (self.target - current):.0f}s {unit}"  # ETA while running
        line = f"{current}/{self.target} {bar} {timing}" + (f" - {metrics}" if metrics else "")
        if self.notebook:
            # Jupyter's output area honours "\r" but not the terminal's erase-line code: pad
            # with spaces over the previous, longer line instead.
            padding = " " * max(0, self._width_drawn - len(line))
            self._width_drawn = len(line)
            self.stream.write("\r" + line + padding + ("\n" if finalize else ""))
        elif self.dynamic:
            self.stream.write("\r" + line + "\x1b[K" + ("\n" if finalize else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _is_notebook(stream: object) -> bool:
    """Whether ``stream`` is a Jupyter kernel's output stream: ipykernel's ``OutStream`` (what
    ``sys.stdout`` is in a notebook) is not a tty, yet its front end draws ``"\r"`` in place.
    Decided from the stream's class, so a redirected stdout inside a notebook stays plain."""
    return any(cls.__module__.split(".")[0] == "ipykernel" for cls in type(stream).__mro__)

"""One model used by several Python threads: concurrent inference is allowed, training is
exclusive (see :class:`UseGuard`)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class UseGuard:
    """Who is using a model: any number of inference calls (``predict``, ``evaluate``...) at
    once, or one training call (``fit``, ``train_on_batch``...) alone.

    Inference keeps nothing on the layers, so concurrent inference is simply correct. Training
    keeps per-call caches on the layers and updates the weights in place: a second call at the
    same time would silently mix two batches' caches or read half-updated weights, so it is
    refused at once with RuntimeError (a lock that waited instead could deadlock a ``fit`` whose
    callback or validation re-enters the model). The training thread itself may run inference
    (``fit`` evaluates its validation data)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readers: dict[int, int] = {}
        self._writer: int | None = None
        self._writer_what = ""

    def _busy(self, model: str, what: str, other: str) -> RuntimeError:
        return RuntimeError(
            f"model {model!r}: {what}() was called while {other} is running on this model in "
            f"another thread. Training changes the layers' caches and weights in place, so it "
            f"cannot overlap any other call on the same model; predict() and evaluate() may "
            f"run concurrently with each other"
        )

    @contextlib.contextmanager
    def reading(self, model: str, what: str) -> Iterator[None]:
        me = threading.get_ident()
        with self._lock:
            if self._writer is not None and self._writer != me:
                raise self._busy(model, what, f"{self._writer_what}()")
            self._readers[me] = self._readers.get(me, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._readers[me] -= 1
                if not self._readers[me]:
                    del self._readers[me]

    @contextlib.contextmanager
    def writing(self, model: str, what: str) -> Iterator[None]:
        me = threading.get_ident()
        with self._lock:
            if self._writer is not None and self._writer != me:
                raise self._busy(model, what, f"{self._writer_what}()")
            others = [t for t in self._readers if t != me]
            if others:
                raise self._busy(model, what, "an inference call (predict/evaluate)")
            outer = self._writer is None
            self._writer, self._writer_what = me, (what if outer else self._writer_what)
        try:
            yield
        finally:
            if outer:
                with self._lock:
                    self._writer = None

"""Callbacks for ``fit(callbacks=[...])``, as ``keras.callbacks``: :class:`Callback` (the hooks),
:class:`History` (what ``fit`` returns), :class:`EarlyStopping` and :class:`ModelCheckpoint`.

``fit`` calls ``on_train_begin``, then for each epoch ``on_epoch_begin``, ``on_train_batch_begin``
/ ``on_train_batch_end`` around every step, and ``on_epoch_end(epoch, logs)`` with the epoch's
logs (``loss``, ``accuracy``, ``val_...``); a callback stops training by setting
``self.model.stop_training = True``; ``on_train_end`` comes last.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

from convops._validation import as_int
from convops.nn import _checks

__all__ = ["Callback", "History", "EarlyStopping", "ModelCheckpoint"]


class Callback:
    """Base class: every hook does nothing. ``self.model`` is the model being trained and
    ``self.params`` holds ``epochs``, ``steps`` and ``verbose``."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        """Attach the model being trained (``self.model``).

        Parameters
        ----------
        model : Model
            The model whose ``fit`` calls this callback.
        """
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        """Set the training parameters (``self.params``: ``epochs``, ``steps``, ``verbose``).

        Parameters
        ----------
        params : dict
            The parameters of this ``fit`` call.
        """
        self.params = params

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        """Called once when ``fit`` starts.

        Parameters
        ----------
        logs : dict of str to float, optional
            The metrics so far (Keras's ``logs``: ``loss``, ``accuracy``, ``val_loss``, ...).
        """

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        """Called once when ``fit`` ends (after the last epoch, or when training was stopped).

        Parameters
        ----------
        logs : dict of str to float, optional
            The metrics so far (Keras's ``logs``: ``loss``, ``accuracy``, ``val_loss``, ...).
        """

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Called at the start of every epoch.

        Parameters
        ----------
        epoch : int
            Index of the epoch, from 0.
        logs : dict of str to float, optional
            The metrics so far (Keras's ``logs``: ``loss``, ``accuracy``, ``val_loss``, ...).
        """

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Called at the end of every epoch, with the epoch's metrics (validation ones included).

        Parameters
        ----------
        epoch : int
            Index of the epoch, from 0.
        logs : dict of str to float, optional
            The metrics so far (Keras's ``logs``: ``loss``, ``accuracy``, ``val_loss``, ...).
        """

    def on_train_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None:
        """Called before every training batch.

        Parameters
        ----------
        batch : int
            Index of the batch within the epoch, from 0.
        logs : dict of str to float, optional
            The metrics so far (Keras's ``logs``: ``loss``, ``accuracy``, ``val_loss``, ...).
        """

    def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        """Called after every training batch, with the running metrics.

        Parameters
        ----------
        batch : int
            Index of the batch within the epoch, from 0.
        logs : dict of str to float, optional
            The metrics so far (Keras's ``logs``: ``loss``, ``accuracy``, ``val_loss``, ...).
        """


class History(Callback):
    """What ``fit`` returns (and ``model.history``): ``history.history["loss"]`` etc., one value
    per epoch, and ``history.epoch``, the epochs' indices."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        """Start a new record of the epochs.

        Parameters
        ----------
        logs : dict of str to float, optional
            The metrics so far (Keras's ``logs``: ``loss``, ``accuracy``, ``val_loss``, ...).
        """
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Append the epoch's metrics to ``history``.

        Parameters
        ----------
        epoch : int
            Index of the epoch, from 0.
        logs : dict of str to float, optional
            The metrics so far (Keras's ``logs``: ``loss``, ``accuracy``, ``val_loss``, ...).
        """
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if self.model is not None:
            self.model.history = self

    def __repr__(self) -> str:
        return f"History({self.history})"


def _direction(monitor: str, mode: str, owner: str) -> str:
    """'min' or 'max': Keras's rule for mode='auto' (loss down, accuracy up)."""
    if mode in ("min", "max"):
        return mode
    metric = monitor.removeprefix("val_")
    if metric == "loss" or metric.endswith("loss") or metric.endswith("error"):
        return "min"
    if metric in ("accuracy", "acc") or metric.endswith("accuracy"):
        return "max"
    raise ValueError(
        f"{owner} received monitor={monitor!r} and mode='auto', but cannot tell whether it should be "
        f"maximized or minimized: pass `mode='max'` or `mode='min'`"
    )


def _monitor_args(monitor: Any, mode: Any, min_delta: Any) -> tuple[str, str, float]:
    if not isinstance(monitor, str):
        raise TypeError(
            f"`monitor` must be the name of a logged value such as 'val_loss'; got {_checks.describe(monitor)}"
        )
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"`mode` must be 'auto', 'min' or 'max'; got {mode!r}")
    return monitor, mode, abs(_checks.as_float(min_delta, "min_delta"))


class _Monitor(Callback):
    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0):
        super().__init__()
        self.monitor, self.mode, self.min_delta = _monitor_args(monitor, mode, min_delta)
        self._direction: str | None = None

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        """Keras's rule: better than ``reference`` by more than ``min_delta``."""
        if self._direction is None:
            self._direction = _direction(self.monitor, self.mode, type(self).__name__)
        if reference is None:
            return True
        if self._direction == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def _value(self, logs: dict[str, float] | None) -> float | None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            sys.stderr.write(
                f"{type(self).__name__}: the monitored value {self.monitor!r} is not in the logs "
                f"(available: {sorted(logs or {})}); skipping this epoch\n"
            )
        return value


class EarlyStopping(_Monitor):
    """Stop training when ``monitor`` has stopped improving, as ``keras.callbacks.EarlyStopping``.

    Parameters
    ----------
    monitor : str
        A key of the epoch's logs (``"val_loss"`` by default, as Keras).
    min_delta : float
        An improvement must be larger than this.
    patience : int
        Epochs without improvement before stopping (the count includes the current epoch, as Keras).
    verbose : int
        1 prints the epoch at which training stopped.
    mode : {"auto", "min", "max"}
        ``"auto"`` minimizes losses and maximizes accuracies.
    baseline : float, optional
        Training stops unless the monitored value beats it within ``patience`` epochs.
    restore_best_weights : bool
        At the end, load the weights of the best epoch.
    start_from_epoch : int
        Epochs to wait before monitoring.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ):
        super().__init__(monitor, mode, min_delta)
        self.patience = as_int(patience, "patience")
        self.start_from_epoch = as_int(start_from_epoch, "start_from_epoch")
        if self.patience < 0 or self.start_from_epoch < 0:
            raise ValueError(f"`patience` and `start_from_epoch` must be >= 0; got {patience} and {start_from_epoch}")
        self.verbose = as_int(verbose, "verbose")
        if self.verbose not in (0, 1):
            raise ValueError(
                f"`verbose` must be 0 (silent) or 1 (a line when it acts), as in Keras; got {self.verbose}"
            )
        self.baseline = None if baseline is None else _checks.as_float(baseline, "baseline")
        self.restore_best_weights = _checks.as_bool(restore_best_weights, "restore_best_weights")
        self.on_train_begin()

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        """Reset the wait counter and the best value.

        Parameters
        ----------
        logs : dict of str to float, optional
            The metrics so far (Keras's ``logs``: ``loss``, ``accuracy``, ``val_loss``, ...).
        """
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float | None = None
        self.best_weights: list[Any] | None = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Compare the monitored value with the best so far; stop after ``patience`` epochs without gain.

        Parameters
        ----------
        epoch : int
            Index of the epoch, from 0.
        logs : dict of str to float, optional
            The metrics so far (Keras's ``logs``: ``loss``, ``accuracy``, ``val_loss``, ...).
        """
        # Keras's algorithm, step for step (keras/src/callbacks/early_stopping.py).
        current = self._value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        """Restore the best weights, if asked, and report the stopped epoch.

        Parameters
        ----------
        logs : dict of str to float, optional
            The metrics so far (Keras's ``logs``: ``loss``, ``accuracy``, ``val_loss``, ...).
        """
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_Monitor):
    """Save the model (or its weights) after epochs, as ``keras.callbacks.ModelCheckpoint``.

    Parameters
    ----------
    filepath : str or os.PathLike
        May contain ``{epoch}`` (1-based, as Keras) and any logged value, e.g.
        ``"ckpt-{epoch:02d}-{val_loss:.2f}.npz"``. Written with :meth:`Model.save` (or
        :meth:`Model.save_weights`), convops' ``.npz`` formats.
    monitor : str
    verbose : int
    save_best_only : bool
        Save only when ``monitor`` improves on the best value so far.
    save_weights_only : bool
    mode : {"auto", "min", "max"}
    initial_value_threshold : float, optional
        The value to beat for the first save with ``save_best_only``.
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        initial_value_threshold: float | None = None,
    ):
        super().__init__(monitor, mode)
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"`filepath` must be a str or path; got {_checks.describe(filepath)}")
        self.filepath = os.fspath(filepath)
        self.verbose = as_int(verbose, "verbose")
        if self.verbose not in (0, 1):
            raise ValueError(
                f"`verbose` must be 0 (silent) or 1 (a line when it acts), as in Keras; got {self.verbose}"
            )
        self.save_best_only = _checks.as_bool(save_best_only, "save_best_only")
        self.save_weights_only = _checks.as_bool(save_weights_only, "save_weights_only")
        self.best = (
            None
            if initial_value_threshold is None
            else _checks.as_float(initial_value_threshold, "initial_value_threshold")
        )
        self.saved: list[str] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Save the model (or its weights) for this epoch, if the rule says so.

        Parameters
        ----------
        epoch : int
            Index of the epoch, from 0.
        logs : dict of str to float, optional
            The metrics so far (Keras's ``logs``: ``loss``, ``accuracy``, ``val_loss``, ...).
        """
        logs = dict(logs or {})
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"`filepath` {self.filepath!r} names a value that is not in the logs {sorted(logs)} "
                f"(or has a bad format): {exc}"
            ) from None
        if self.save_best_only:
            current = self._value(logs)
            if current is None or (isinstance(current, float) and math.isnan(current)):
                return
            if not self._is_improvement(current, self.best):
                return
            if self.verbose > 0:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best} to {current}, saving to {path}")
            self.best = current
        elif self.verbose > 0:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        self.saved.append(path)

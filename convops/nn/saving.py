"""Saving and loading: weights and whole models as ``.npz`` files of plain arrays, and Keras's
``.weights.h5`` files read into a convops model of the same architecture.

* ``model.save_weights(path)`` / ``model.load_weights(path)``: every weight (BatchNormalization's
  moving statistics included) in :meth:`Model.get_weights`' order, with a header naming each
  layer and weight.
* ``model.save(path)`` / :func:`load_model`: the same weights plus the architecture as JSON
  (each layer's ``get_config()``) and the compile settings when they are names.
* Files are read with ``np.load(allow_pickle=False)``: they hold data, never code, and a file
  that is not ours is refused with ValueError before anything is changed.
* ``model.load_weights("keras_model.weights.h5")`` reads Keras 3's weights file (h5py needed):
  Keras stores each layer's variables under ``layers/<kind>[_<k>]/vars/<i>``, ``<kind>`` the
  layer class in snake case and ``k`` counting layers of that kind in model order.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections import Counter
from typing import Any

import numpy as np

from convops.nn import _checks

__all__ = ["save_weights", "load_weights", "save_model", "load_model"]

_WEIGHTS_KEY = "__convops_nn_weights__"
_MODEL_KEY = "__convops_nn_model__"
_VERSION = 1


def _path(path: Any) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`filepath` must be a str or path; got {_checks.describe(path)}")
    return os.fspath(path)


def _write_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    # Through a file object (np.savez would append ".npz" to a name without it), into a
    # temporary file renamed over the target: a checkpoint is never left half-written.
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)  # type: ignore[arg-type]  # numpy's stub types allow_pickle only
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _check_readable(path: str) -> None:
    """A path to read from: ValueError for an empty path or a directory (never a file), and
    FileNotFoundError only for a path where nothing is."""
    if not path:
        raise ValueError("`filepath` must name a file; got an empty path")
    if os.path.isdir(path):
        raise ValueError(f"`filepath` must name a file, not a directory; got {path!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"`filepath`: no file {path!r}")


def _read_npz(path: str, marker: str, what: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The JSON header under ``marker`` and the arrays, or ValueError for a file not ours."""
    _check_readable(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if marker not in data.files:
                raise ValueError(f"`filepath`: {path!r} is not a convops.nn {what} file (no {marker} entry)")
            header = json.loads(str(data[marker][()]))
            arrays = {key: data[key] for key in data.files if key != marker}
    except ValueError as exc:
        if "convops.nn" in str(exc):
            raise
        raise ValueError(f"`filepath`: {path!r} is not a convops.nn {what} file: {exc}") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"`filepath`: {path!r} is not a readable convops.nn {what} file: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != marker or header.get("version") != _VERSION:
        raise ValueError(f"`filepath`: {path!r} has an unknown convops.nn {what} header (version {_VERSION} expected)")
    return header, arrays


def _weight_arrays(model: Any) -> tuple[list[list[Any]], dict[str, np.ndarray]]:
    names, arrays = [], {}
    index = 0
    for layer in model.layers:
        for key, value in layer.params.items():
            names.append([layer.name, key, list(value.shape)])
            arrays[f"w{index:04d}"] = value
            index += 1
    return names, arrays


def _weights_from(arrays: dict[str, np.ndarray], header: dict[str, Any], path: str) -> list[np.ndarray]:
    names = header.get("weights")
    if not isinstance(names, list) or len(arrays) != len(names):
        raise ValueError(
            f"`filepath`: {path!r} is corrupt: its header lists {names!r} but it holds {len(arrays)} arrays"
        )
    try:
        return [arrays[f"w{i:04d}"] for i in range(len(names))]
    except KeyError as exc:
        raise ValueError(f"`filepath`: {path!r} is corrupt: no array {exc}") from None


def save_weights(model: Any, filepath: Any) -> None:
    """Write every weight of ``model`` to ``filepath`` (``.npz``). See :meth:`Model.save_weights`.

    Parameters
    ----------
    model : Model
        A built convops model.
    filepath : str or path-like
        The ``.npz`` file to write.
    """
    path = _path(filepath)
    model._require_built("save_weights")
    names, arrays = _weight_arrays(model)
    header = {"format": _WEIGHTS_KEY, "version": _VERSION, "weights": names}
    _write_npz(path, {_WEIGHTS_KEY: np.array(json.dumps(header)), **arrays})


def load_weights(model: Any, filepath: Any) -> None:
    """Load weights saved by :func:`save_weights` or a Keras ``.weights.h5`` file. See :meth:`Model.load_weights`.

    Parameters
    ----------
    model : Model
        A built convops model.
    filepath : str or path-like
        The ``.npz`` file (or Keras ``.weights.h5``) to read.
    """
    path = _path(filepath)
    if path.endswith(".h5"):
        model.set_weights(_keras_h5_weights(model, path))
        return
    header, arrays = _read_npz(path, _WEIGHTS_KEY, "weights")
    model.set_weights(_weights_from(arrays, header, path))


def save_model(model: Any, filepath: Any) -> None:
    """Write the architecture, the compile settings and the weights of ``model`` to one ``.npz``.

    Parameters
    ----------
    model : Model
        A built convops model.
    filepath : str or path-like
        The ``.npz`` file to write.
    """
    path = _path(filepath)
    model._require_built("save")
    names, arrays = _weight_arrays(model)
    input_layer = model._input()
    header = {
        "format": _MODEL_KEY,
        "version": _VERSION,
        "class": type(model).__name__,
        "name": model.name,
        "input": input_layer.get_config(),
        "layers": [{"class": type(layer).__name__, "config": layer.get_config()} for layer in model.layers],
        "compile": _compile_config(model),
        "weights": names,
    }
    _write_npz(path, {_MODEL_KEY: np.array(json.dumps(header)), **arrays})


def _compile_config(model: Any) -> dict[str, Any] | None:
    if not model.compiled:
        return None
    config: dict[str, Any] = {"loss": model.loss.name, "from_logits": model.loss.from_logits, "metrics": model.metrics}
    config["optimizer"] = {"class": type(model.optimizer).__name__, "config": model.optimizer.get_config()}
    return config


def load_model(filepath: Any, compile: bool = True) -> Any:
    """A model saved by ``model.save(path)``: the same layers, weights and compile settings.

    Parameters
    ----------
    filepath : str or os.PathLike
    compile : bool
        Compile the model as it was compiled when saved (a fresh optimizer: its state is not saved).

    Returns
    -------
    Sequential or Model

    Raises
    ------
    ValueError
        The file is not a convops.nn model file, or is corrupt.
    """
    from convops.nn import layers, losses, models, optimizers

    path = _path(filepath)
    compile = _checks.as_bool(compile, "compile")
    header, arrays = _read_npz(path, _MODEL_KEY, "model")
    kinds = {name: getattr(layers, name) for name in layers.__all__ if isinstance(getattr(layers, name), type)}
    try:
        stack: list[Any] = [layers.InputLayer(**header["input"])]
        for entry in header["layers"]:
            if entry["class"] not in kinds or entry["class"] in ("InputLayer", "Layer"):
                raise ValueError(f"unknown layer class {entry['class']!r}")
            stack.append(kinds[entry["class"]](**entry["config"]))
        cls = models.Sequential if header["class"] == "Sequential" else models.Model
        model = cls(layers=stack, name=header["name"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"`filepath`: {path!r} has an architecture convops cannot rebuild: {exc}") from None
    model.set_weights(_weights_from(arrays, header, path))
    settings = header.get("compile")
    if compile and settings:
        kind = settings["optimizer"]["class"]
        if kind not in optimizers.__all__:
            raise ValueError(f"`filepath`: {path!r} names an unknown optimizer {kind!r}")
        optimizer = getattr(optimizers, kind)(**settings["optimizer"]["config"])
        loss = losses.get(settings["loss"])
        if settings.get("from_logits"):
            loss.from_logits = True
        model.compile(optimizer=optimizer, loss=loss, metrics=settings["metrics"] or None)
    return model


def _keras_h5_weights(model: Any, path: str) -> list[np.ndarray]:
    try:
        import h5py  # type: ignore[import-untyped]
    except ImportError:
        raise ImportError(
            "reading Keras's .weights.h5 files needs h5py: pip install h5py (or convert the weights "
            "in Keras with keras_model.get_weights() and pass them to model.set_weights)"
        ) from None
    from convops.nn._layer import _snake

    _check_readable(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"`filepath`: {path!r} is not an HDF5 file: {exc}") from None
    with handle:
        if "layers" not in handle:
            raise ValueError(f"`filepath`: {path!r} is not a Keras 3 .weights.h5 file (no 'layers' group)")
        group = handle["layers"]
        counts: Counter[str] = Counter()
        used, weights = set(), []
        for layer in model.layers:
            kind = _snake(type(layer).__name__)
            key = kind if counts[kind] == 0 else f"{kind}_{counts[kind]}"
            counts[kind] += 1
            if not layer.params:
                continue
            if key not in group or "vars" not in group[key]:
                raise ValueError(
                    f"`filepath`: {path!r} has no weights for layer {layer.name!r} (Keras key {key!r}); "
                    f"it holds {sorted(group)}: the architectures differ"
                )
            variables = group[key]["vars"]
            if len(variables) != len(layer.params):
                raise ValueError(
                    f"`filepath`: Keras layer {key!r} has {len(variables)} weights, convops layer "
                    f"{layer.name!r} has {len(layer.params)}: the architectures differ"
                )
            weights += [np.asarray(variables[str(i)]) for i in range(len(variables))]
            used.add(key)
        unused = [k for k in group if k not in used and "vars" in group[k] and len(group[k]["vars"])]
        if unused:
            raise ValueError(
                f"`filepath`: {path!r} has weights for Keras layers {unused} that this model does not have"
            )
    return weights

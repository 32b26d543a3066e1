"""The descriptions of the parameters many public functions share, written once.

scipy.ndimage's habit (``_ni_docstrings.docfiller``): a docstring names a shared entry by a
placeholder alone on its line, ``%(strides)s``, and :func:`fill_doc` replaces it, when the module
is imported, with the entry of :data:`DOCS` indented as the placeholder is. ``help()``, Sphinx,
doctest and numpydoc all read the filled ``__doc__``. Lines written under a placeholder, indented
as a description, continue the entry's description: that is where an op adds what is true of it
alone::

    @fill_doc
    def conv2d_transpose(...):
        '''...
        %(dilations)s
            The forward conv2d's dilations (TensorFlow's CPU refuses > 1; convops computes them).
        '''

A placeholder that names no entry, or one that does not stand alone on its line, raises at
import, so a typo cannot reach the documentation.
"""

from __future__ import annotations

import inspect
import re
from typing import TypeVar

__all__ = ["DOCS", "fill_doc"]

T = TypeVar("T")

# The entries as written here; DOCS holds them dedented.
_ENTRIES = {
    # ---- the 2-D ops (conv and pooling), TensorFlow's argument names
    "pool_input": """
        input : array_like, shape (N, H, W, C)
            ``(N, C, H, W)`` when ``data_format="NCHW"``; a 2-D ``(H, W)`` array is one image and
            gives a 2-D result.
        """,
    "ksize": """
        ksize : int, (KH, KW) or TF's 4-list ``[1, KH, KW, 1]``
            Height and width of the window, each >= 1; an int is both. TF's 4-list is in
            ``data_format`` order (``[1, 1, KH, KW]`` for NCHW), with 1 for batch and channels.
        """,
    "strides": """
        strides : int, (sh, sw) or TF's 4-list ``[1, sh, sw, 1]``
            Step of the window down and across, each >= 1; an int is both. TF's 4-list is in
            ``data_format`` order (``[1, 1, sh, sw]`` for NCHW), with 1 for batch and channels.
        """,
    "padding": """
        padding : "VALID", "SAME" (any case), or explicit ``((top, bottom), (left, right))``
            ``"VALID"`` pads nothing; ``"SAME"`` pads so that the output has ``ceil(H / sh)`` rows
            and ``ceil(W / sw)`` columns, the odd padding pixel at the bottom/right as TensorFlow
            puts it. Explicit padding may also be TF's 4x2 form, in ``data_format`` order with
            zero pairs for batch and channels: ``[[0, 0], [top, bottom], [left, right], [0, 0]]``
            for NHWC.
        """,
    "dilations": """
        dilations : int, (dil_h, dil_w) or TF's 4-list ``[1, dil_h, dil_w, 1]``
            Spacing between kernel taps, each >= 1 (1 = none, as in TensorFlow); an int is both,
            TF's 4-list as for ``strides``. Allowed together with strides > 1.
        """,
    "data_format": """
        data_format : "NHWC" or "NCHW" (any case)
            Where the channels are in the 4-D image arrays: last, ``(N, H, W, C)`` (TensorFlow's
            default), or first, ``(N, C, H, W)``.
        """,
    "name": """
        name : str, optional
            Accepted and ignored: TensorFlow's op name, so that pasted ``tf.nn`` calls run.
        """,
    # ---- convops.arithmetic: one spatial axis, the symbols of its module docstring
    "input_size": """
        input_size : int
            ``i >= 0``, the input's size along the axis.
        """,
    "kernel_size": """
        kernel_size : int
            ``k >= 1``, the kernel's size along the axis.
        """,
    "stride": """
        stride : int
            ``s >= 1``.
        """,
    "dilation": """
        dilation : int
            ``d >= 1`` (1: no dilation, as in TensorFlow).
        """,
    "axis_padding": """
        padding : {"SAME", "VALID"} or (int, int)
            Case-insensitive mode, or explicit ``(before, after)`` >= 0.
        """,
    "layers": """
        layers : iterable of (int, int) or (int, int, int)
            ``(kernel_size, stride[, dilation])`` per layer (a pooling layer: ``(window, stride)``).
        """,
    "kernel_size_2d": """
        kernel_size : int or (int, int)
            ``(KH, KW)``; an int is both.
        """,
    "channels": """
        in_channels, out_channels : int
            ``C_in, C_out >= 1``, multiples of ``groups``.
        """,
    "groups": """
        groups : int
            ``>= 1``: each output channel sees only the ``C_in / groups`` input channels of its
            group (1: an ordinary convolution).
        """,
    "use_bias": """
        use_bias : bool
            Whether the layer has a bias, one per output (channel or unit).
        """,
    # ---- convops.nn
    "seed": """
        seed : int, optional
            A non-negative integer: every call draws from this seed, so calls with the same shape
            give the same values. By default each call draws from
            :func:`convops.nn.set_random_seed`'s sequence.
        """,
}
#: Shared numpydoc parameter entries: the ``name : type`` line, then the description indented by
#: four spaces. Keys are placeholder names; the 2-D ops' entries come first, then the one-axis
#: arithmetic's, then ``convops.nn``'s.
DOCS: dict[str, str] = {name: inspect.cleandoc(text) for name, text in _ENTRIES.items()}
# Every pool checks this (pooling.pool_geometry): a window may never lie entirely in the padding.
DOCS["pool_padding"] = DOCS["padding"] + "\n    Explicit pads must be smaller than the window on each side."

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_ALONE = re.compile(r"^(?P<indent>[ \t]*)%\((?P<name>\w+)\)s[ \t]*$")


def fill_doc(obj: T) -> T:
    """Replace the ``%(name)s`` placeholders of ``obj``'s docstring with the entries of :data:`DOCS`.

    Returns ``obj`` itself (a function or a class, its signature and type untouched) with the
    filled ``__doc__``; an object without a docstring (``python -OO``) is returned as it is.

    Parameters
    ----------
    obj : function or class
        Its docstring holds placeholders, each alone on its line.

    Returns
    -------
    function or class
        ``obj``.

    Raises
    ------
    ValueError
        At import, for a placeholder that names no entry or shares its line with other text.
    """
    doc = obj.__doc__
    if doc is None:
        return obj
    where = getattr(obj, "__qualname__", repr(obj))
    lines = []
    for line in doc.splitlines():
        alone = _ALONE.match(line)
        if alone is None:
            if _PLACEHOLDER.search(line):
                raise ValueError(f"docstring of {where}: a placeholder must stand alone on its line; got {line!r}")
            lines.append(line)
            continue
        name, indent = alone["name"], alone["indent"]
        if name not in DOCS:
            raise ValueError(f"docstring of {where}: unknown placeholder %({name})s; the entries are {sorted(DOCS)}")
        lines.extend(indent + entry if entry else entry for entry in DOCS[name].splitlines())
    obj.__doc__ = "\n".join(lines) + ("\n" if doc.endswith("\n") else "")
    return obj

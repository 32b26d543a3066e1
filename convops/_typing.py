"""The types in convops's public signatures, for users' type checkers (the package ships ``py.typed``).

Each alias admits what the run-time validators in ``convops._validation`` accept, no more, so
that mypy flags a call the op would refuse: ``strides="two"``, ``padding=3.5`` or
``data_format="NHCW"`` are type errors, and each is also a ``TypeError``/``ValueError`` at run time.
"""

from collections.abc import Sequence
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["ArrayLike", "DataFormat", "ExplicitPadding", "FiltersFormat", "Int", "Padding", "PaddingMode", "Pair"]

#: Anything ``np.asarray`` turns into an array: an ndarray, nested lists, a scalar.
ArrayLike: TypeAlias = npt.ArrayLike

#: An exact integer: NumPy's integer scalars are accepted as well as ``int`` (bools are refused
#: at run time; the type system cannot say so, since ``bool`` is an ``int``).
Int: TypeAlias = int | np.integer

#: A spatial pair as TensorFlow spells it: one int for both sides, ``(h, w)``, or TF's 4-list
#: ``[1, h, w, 1]`` (``[1, 1, h, w]`` for NCHW).
Pair: TypeAlias = Int | Sequence[Int]

#: The named paddings, in the spellings TensorFlow documents (the ops accept any case).
PaddingMode: TypeAlias = Literal["SAME", "VALID", "same", "valid"]

#: Explicit padding: ``((top, bottom), (left, right))`` or TF's 4x2 list with zero batch and
#: channel rows.
ExplicitPadding: TypeAlias = Sequence[Sequence[Int]]

#: The ``padding`` argument of convolution and pooling.
Padding: TypeAlias = PaddingMode | ExplicitPadding

#: Where the channels are: ``(N, H, W, C)`` or ``(N, C, H, W)``.
DataFormat: TypeAlias = Literal["NHWC", "NCHW", "nhwc", "nchw"]

#: The layout of 4-D filters: TensorFlow's ``(KH, KW, C_in, C_out)`` or PyTorch's ``(C_out, C_in, KH, KW)``.
FiltersFormat: TypeAlias = Literal["HWIO", "OIHW", "hwio", "oihw"]

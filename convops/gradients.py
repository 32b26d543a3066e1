"""Gradients of every op, with TensorFlow's names, shapes and conventions.

Backpropagation through a layer needs two things: how the loss changes with the layer's input
(to keep going backwards) and with its parameters (to learn). For an op ``y = f(x)`` and an
upstream gradient ``dy = dL/dy`` of ``y``'s shape, each function here returns ``dL/dx`` (or
``dL/dfilters``) — the vector-Jacobian product, as ``tf.GradientTape`` computes it.

==============================  =================================  ================================
op                              gradient w.r.t. input              gradient w.r.t. parameters
==============================  =================================  ================================
:func:`convops.conv2d`          :func:`conv2d_backprop_input`      :func:`conv2d_backprop_filter`
:func:`convops.max_pool2d`      :func:`max_pool2d_grad`            —
:func:`convops.avg_pool2d`      :func:`avg_pool2d_grad`            —
:func:`convops.pad`             :func:`pad_grad`                   —
==============================  =================================  ================================

:func:`conv2d_transpose` is :func:`conv2d_backprop_input` under the name (and argument order)
of ``tf.nn.conv2d_transpose``, and :func:`max_pool2d_with_argmax` is
``tf.nn.max_pool_with_argmax``.

Each gradient lives beside its op (``convops.conv``, ``convops.pooling``, ``convops.padding``);
this module gathers them under the names README and earlier releases use.
"""

from convops.conv import conv2d_backprop_filter, conv2d_backprop_input, conv2d_transpose
from convops.padding import pad_grad
from convops.pooling import avg_pool2d_grad, max_pool2d_grad, max_pool2d_with_argmax

__all__ = [
    "conv2d_backprop_input",
    "conv2d_backprop_filter",
    "conv2d_transpose",
    "max_pool2d_grad",
    "max_pool2d_with_argmax",
    "avg_pool2d_grad",
    "pad_grad",
]

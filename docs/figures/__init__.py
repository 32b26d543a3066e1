"""Drawing functions of the convops docs: every figure calls convops' ops and arithmetic.

One module per page, named after it (``receptive_field.py`` draws ``receptive-field.rst``);
:mod:`figures.grammar` holds the shared visual grammar and :mod:`figures.mnist` the real digits
and the network trained on them. :mod:`figures.performance` draws the benchmark run the docs
show (``benchmarks/published.py``, via ``benchmarks.plot``) and
:mod:`figures.train_convnet` trains the example script's model for the training example page.
"""

"""Drawing functions of the convops docs: every figure calls convops' ops and arithmetic.

One module per concept page; :mod:`figures.grammar` holds the shared visual grammar.
:mod:`figures.performance` draws benchmarks/results/latest.json (benchmarks.plot) and
:mod:`figures.train_convnet` trains the example script's model for the training example page.
"""

"""Drawing functions of the convops docs: every figure calls convops' ops and arithmetic.

One module per concept page; :mod:`figures.grammar` holds the shared visual grammar.
"""

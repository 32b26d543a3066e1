"""The Cython page's ladder, one file per step a reader copies (docs/concepts/cython.rst).

Steps 2, 4, 5 and 6 are convops' own code (the reference and the kernels), shown from its sources.
"""

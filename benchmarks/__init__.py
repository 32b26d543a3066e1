"""convops' benchmark suite: ``python -m benchmarks`` (see README.md in this folder).

Nothing is imported here: the runner must set thread-count variables before NumPy loads.
"""

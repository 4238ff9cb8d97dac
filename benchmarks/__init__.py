"""Benchmarks of the data lake: program scale, policy sizes, the function, the test suite.

Run them with ``make bench`` (or ``python benchmarks/run.py``); results go to
``benchmarks/RESULTS.md``.
"""

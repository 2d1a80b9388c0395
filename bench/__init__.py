"""Benchmarks: ``python -m bench`` (or ``make bench``) runs each module in ``bench.__main__``."""

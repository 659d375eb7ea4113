"""Benchmarks (not tests): overhead ratios against a bare baseline in the same process,
and upstream-call counts. Run with ``make bench`` (or ``.venv/bin/python -m bench``)."""

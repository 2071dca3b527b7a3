"""The benchmark harness: each figure measured next to a baseline doing the same work with
the bare tools, in the same run, on the same services, reported as a ratio (median of runs).

Benchmarks are not tests: nothing here asserts a time. ``make bench`` runs the full sizes;
the test suite runs a tiny smoke of the same code so it cannot rot.
"""

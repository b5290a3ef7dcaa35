"""Benchmark definitions, one folder each (``benchmarks/<name>/``)."""

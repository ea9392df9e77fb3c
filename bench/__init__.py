"""Benchmarks: ``python -m bench.ingest`` (ingest ratios) and ``python -m bench.scale``."""

"""Benchmarks and load tools run against real processes on loopback: ``python -m bench.ingest``
(ingest ratios), ``python -m bench.scale``, ``python -m bench.identity`` and ``python -m bench.soak``."""

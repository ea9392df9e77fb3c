"""Operability: health and readiness probes, Prometheus metrics, request ids, JSON logs.

Nothing here is domain logic; the track path reports to it through ``ops.metrics``.
"""

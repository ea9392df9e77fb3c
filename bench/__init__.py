"""Load tools run against real processes on loopback (``python -m bench.soak``)."""

"""``python -m bench.inprocess`` runs from a checkout, prints CPU per request, and leaves no
drain flag behind (it would hold back the drains of the next benchmark's project)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from bench.stack import DEFAULT_REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("extra", [[], ["--website"]], ids=["intempt", "databuddy browser"])
def test_inprocess_prints_cpu_per_request_and_releases_the_drain_flag(extra):
    result = subprocess.run(
        [sys.executable, "-m", "bench.inprocess", "--requests", "20", "--rounds", "2", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-2000:]
    rounds = re.findall(r"round \d: CPU +(\d+) µs, wall +(\d+) µs per request", result.stdout)
    assert len(rounds) == 2
    assert all(int(cpu) > 0 and int(wall) > 0 for cpu, wall in rounds)
    assert list(redis.Redis.from_url(DEFAULT_REDIS_URL).scan_iter("trackhub:identity:queued:*")) == []

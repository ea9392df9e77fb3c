"""``python -m bench.identity`` runs from a checkout on its own scratch database (no
DATABASE_URL, no secret key needed) and prints the merge cost and the identity rates."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_identity_bench_runs_on_its_own_scratch_database_and_prints_every_figure():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "REDIS_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bench.identity", "--events", "500", "--pairs", "1", "--merges", "20"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(
        r"median transaction wall [\d.]+ ms \(target < 50 ms\); event rows updated by merges: 0", result.stdout
    )
    assert len(re.findall(r"^merges/s, .*: [\d,]+ ", result.stdout, flags=re.MULTILINE)) == 3
    assert len(re.findall(r"^identity work, .*: [\d,]+ events/s", result.stdout, flags=re.MULTILINE)) == 2

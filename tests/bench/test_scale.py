"""``python -m bench.scale`` runs from a checkout on a small project and prints every row:
each filter's first page, the next page, pages deep through the cursor, and the export."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.stack import scratch_database_name

ROOT = Path(__file__).resolve().parents[2]
DATABASE = scratch_database_name("scale_smoke")


def test_scale_prints_every_latency_row_and_the_export():
    result = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--events", "5000", "--repeat", "3", "--export-seconds", "1",
         "--database", DATABASE],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-2000:]
    rows = dict(re.findall(r"^(\S.*?) +(\d+\.\d) +\d+\.\d$", result.stdout, flags=re.MULTILINE))
    assert {
        "no filter",
        "user_id",
        "property+value",
        "profile (giant)",
        "next page (cursor)",
        "deep page (cursor)",
        "all",
    } <= set(rows)
    assert "5,000 events in one project" in result.stdout
    assert re.search(r"export.ndjson: \{'rows_streamed': [1-9]", result.stdout)

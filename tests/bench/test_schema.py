"""``python -m bench.schema`` runs from a checkout, prints each variant's rate and ratio to
the scratch COPY, and leaves the scratch events table with all its indexes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psycopg

from bench.schema import DATABASE
from bench.stack import DEFAULT_ADMIN_URL, database_url

ROOT = Path(__file__).resolve().parents[2]


def test_schema_prints_every_variant_against_the_scratch_copy_and_restores_the_indexes():
    result = subprocess.run(
        [sys.executable, "-m", "bench.schema", "--seconds", "0.5", "--rounds", "1", "--only", "event_project_user"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-2000:]
    rows = re.findall(r"^ +(.+?) +([\d,]+) +([\d.]+) +([\d.]+)$", result.stdout, flags=re.MULTILINE)
    assert [label for label, *_ in rows] == [
        "scratch table, one index (the ceiling)",
        "the same in COPY's text format",
        "ledger + events table (TrackHub)",
        "ledger by ON CONFLICT (a retry's) + events",
        "events table, no ledger (no dedupe)",
        "ledger + events, without event_project_user",
        "ledger + events, no secondary index",
        "events table alone: no ledger, no secondary index",
    ]
    assert rows[0][3] == "1.00"
    assert all(int(rate.replace(",", "")) > 0 for _, rate, _, _ in rows)
    with psycopg.connect(database_url(DEFAULT_ADMIN_URL, DATABASE)) as conn:
        index_rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'ingestion_event'").fetchall()
    indexes = {name for (name,) in index_rows}
    assert {"event_project_user", "event_project_name_time", "event_id_brin"} <= indexes

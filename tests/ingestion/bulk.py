"""Fixture data written straight into the events table: many events in one statement
(not the write path under test)."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection

# 2024-05-02: before the partitions the migration creates, so in the default partition.
BULK_EPOCH_S = 1714631904


def bulk_events(tenant: Any, count: int, *, first: int = 1, same_timestamp_runs: int = 1) -> None:
    """``count`` events of the tenant numbered from ``first``, one second apart, or in runs
    of ``same_timestamp_runs`` events that share a timestamp."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO ingestion_event (project_id, source_id, wire_format, name, event_id, timestamp,
                                         received_at, user_id, identity_key, properties, context)
            SELECT %s, %s, 'intempt', 'Bulk', 'bulk-' || g, to_timestamp(%s + g / %s), now(),
                   'user-' || (g %% 1000), 'user-' || (g %% 1000),
                   jsonb_build_object('n', g, 'note', repeat('x', 64)), jsonb_build_object('page', '/p/' || g)
            FROM generate_series(%s, %s) AS g
            """,
            [tenant.project.id, tenant.source.id, BULK_EPOCH_S, same_timestamp_runs, first, first + count - 1],
        )


def rows_removed_by_filters(sql: str) -> int:
    """Rows PostgreSQL read and then discarded while running ``sql`` (EXPLAIN ANALYZE):
    how far a query's index scans start from the rows it returns. Sequential scans are
    off, as they are in effect on a table of millions of rows: on a test-sized table the
    planner may rightly prefer reading it all."""
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            (plans,) = cursor.fetchone()
        finally:
            cursor.execute("RESET enable_seqscan")
    if isinstance(plans, str):
        plans = json.loads(plans)

    def removed(node: dict[str, Any]) -> int:
        return node.get("Rows Removed by Filter", 0) + sum(removed(child) for child in node.get("Plans", []))

    return removed(plans[0]["Plan"])

"""Upkeep of the events table's monthly partitions on PostgreSQL (see migration 0002).

Partitions are named ``ingestion_event_pYYYYMM`` and hold [first of month, first of next
month) in UTC; ``ingestion_event_default`` takes every timestamp outside them (events can
be years old or ahead). On SQLite every function here does nothing.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

EVENT_TABLE = "ingestion_event"
DEFAULT_PARTITION = "ingestion_event_default"
_PARTITION_NAME = re.compile(r"^ingestion_event_p(\d{4})(\d{2})$")


@dataclass
class PartitionChanges:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    default_rows_moved: int = 0
    default_rows_deleted: int = 0


def month_start(year: int, month: int) -> datetime:
    """The first instant of ``month`` of ``year`` in UTC; months past 12 or below 1 roll over."""
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def partition_name(start: datetime) -> str:
    return f"{EVENT_TABLE}_p{start:%Y%m}"


def event_partitions() -> list[str]:
    """The monthly partitions that exist, oldest first (the default one not included)."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [EVENT_TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    return sorted(name for name in names if _PARTITION_NAME.match(name))


# pg_advisory_xact_lock(key1, key2) namespace of the partition upkeep (identity work uses
# 0x1D, see profiles.services.drain). Every step of the upkeep takes it first, then looks
# again at what exists: upkeeps running at once (two beats, a retried task beside a late
# one) take turns step by step, and each partition is created or dropped, and reported,
# by one of them, instead of the others failing on "already exists" / "does not exist"
# (errors no retry would cure). Transaction-level, so it holds behind a pooler too.
UPKEEP_LOCK_SPACE = 0x2E


@contextlib.contextmanager
def _upkeep_step() -> Iterator[CursorWrapper]:
    """One transaction of the upkeep, under the upkeep's lock (released at its end)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [UPKEEP_LOCK_SPACE])
        yield cursor


def _partition_exists(cursor: CursorWrapper, name: str) -> bool:
    # Read from the catalog with this statement's snapshot, so a partition another upkeep
    # committed while this one waited for the lock is seen.
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass AND c.relname = %s)",
        [EVENT_TABLE, name],
    )
    row = cursor.fetchone()
    return bool(row and row[0])


def retention_cutoff(*, now: datetime, retention_days: int) -> datetime | None:
    """The instant before which events are past retention; None when it is off (0)."""
    if retention_days <= 0:
        return None
    return now - timedelta(days=retention_days)


def partition_expired(*, start: datetime, cutoff: datetime | None) -> bool:
    """Whether the month starting at ``start`` is wholly past retention: the one rule both
    for dropping a partition and for not creating it."""
    return cutoff is not None and month_start(start.year, start.month + 1) <= cutoff


def _partition_create(cursor: CursorWrapper, start: datetime) -> int:
    """Create the partition of the month starting at ``start``; return the rows moved
    into it from the default partition.

    A new range may not overlap rows already in the default partition, so they are moved
    first. The default partition is locked for the whole step: an insert routed there in
    the meantime would make the ATTACH fail its check.

    The parent is locked against writes before that (SHARE ROW EXCLUSIVE: reads go on). An
    insert picks each row's partition from the partitions it sees as it starts, having
    locked only the parent; one that started before the ATTACH would route a row of this
    month to the default partition, wait for its lock, then fail the constraint the
    default partition has after the ATTACH (CheckViolation: a 503 for a valid track
    request). Held off at the parent, the insert starts after the commit and sees the new
    partition. Parent first, then the default partition: the order an insert locks them
    in, so the two cannot deadlock.
    """
    end = month_start(start.year, start.month + 1)
    name = partition_name(start)
    cursor.execute(f"LOCK TABLE ONLY {EVENT_TABLE} IN SHARE ROW EXCLUSIVE MODE")
    cursor.execute(f"LOCK TABLE {DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE")
    cursor.execute(f"CREATE TABLE {name} (LIKE {EVENT_TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(
        f'WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE "timestamp" >= %s AND "timestamp" < %s RETURNING *) '
        f"INSERT INTO {name} SELECT * FROM moved",
        [start, end],
    )
    moved = cursor.rowcount
    cursor.execute(f"ALTER TABLE {EVENT_TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [start, end])
    return max(moved, 0)


def event_partitions_ensure(
    *, now: datetime, months_back: int = 1, months_ahead: int = 3, retention_days: int = 0
) -> PartitionChanges:
    """Make sure the months from ``months_back`` before ``now`` to ``months_ahead`` after
    it have a partition, but for those already past retention (``retention_days``, as
    ``event_partitions_drop_expired`` drops them). Idempotent: existing partitions are
    left alone, also when another upkeep creates them meanwhile."""
    changes = PartitionChanges()
    if connection.vendor != "postgresql":
        return changes
    cutoff = retention_cutoff(now=now, retention_days=retention_days)
    existing = set(event_partitions())
    for offset in range(-months_back, months_ahead + 1):
        start = month_start(now.year, now.month + offset)
        name = partition_name(start)
        # A month past retention would be dropped again by the same run: its late events
        # go to the default partition, whose rows past retention are deleted.
        if name in existing or partition_expired(start=start, cutoff=cutoff):
            continue
        # One transaction per partition: a failure leaves the earlier ones in place.
        with _upkeep_step() as cursor:
            if _partition_exists(cursor, name):
                continue
            changes.default_rows_moved += _partition_create(cursor, start)
        changes.created.append(name)
    return changes


def event_partitions_drop_expired(*, now: datetime, retention_days: int) -> PartitionChanges:
    """Drop the monthly partitions that end on or before ``now - retention_days`` and delete
    the default partition's rows older than that. Dedupe keys stay (dedupe is permanent)."""
    changes = PartitionChanges()
    cutoff = retention_cutoff(now=now, retention_days=retention_days)
    if connection.vendor != "postgresql" or cutoff is None:
        return changes
    for name in event_partitions():
        match = _PARTITION_NAME.match(name)
        assert match is not None
        if not partition_expired(start=month_start(int(match.group(1)), int(match.group(2))), cutoff=cutoff):
            continue
        with _upkeep_step() as cursor:
            if not _partition_exists(cursor, name):
                continue  # dropped by another upkeep meanwhile
            cursor.execute(f"DROP TABLE {name}")
        changes.dropped.append(name)
    with _upkeep_step() as cursor:
        cursor.execute(f'DELETE FROM {DEFAULT_PARTITION} WHERE "timestamp" < %s', [cutoff])
        changes.default_rows_deleted = max(cursor.rowcount, 0)
    return changes

"""Partition upkeep beside other sessions of the database: another upkeep (two beats, a
retried task beside a late one) and track requests for the month being created.

Each test holds a table with a connection of its own, so that everything it starts is
queued on a lock at a known point (no sleeps), then lets go."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from django.db import connection
from django.test import Client

from ingestion.partitions import PartitionChanges, event_partitions, event_partitions_drop_expired
from ingestion.services import event_partitions_maintain
from ingestion.services.event_writes import PG_EVENTS_INSERT_SMALL_MAX
from tests.database import at_once, waiting_for_locks

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2041, 3, 10, tzinfo=UTC)  # the upkeep creates 2041-02 .. 2041-06, 2041-02 first
CREATED = [f"ingestion_event_p2041{month:02d}" for month in range(2, 7)]


@pytest.fixture(autouse=True)
def partitions_restored(settings) -> Iterator[None]:
    """Drop the partitions a test creates: they are DDL, which the flush after a
    ``transaction=True`` test leaves in place."""
    settings.TRACKHUB_EVENT_RETENTION_DAYS = 0
    before = set(event_partitions())
    yield
    with connection.cursor() as cursor:
        for name in set(event_partitions()) - before:
            cursor.execute(f'DROP TABLE "{name}"')


@pytest.fixture
def connections() -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    """A connection whose transaction will hold a lock, and one in autocommit that
    watches who waits."""
    db = connection.settings_dict
    params = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "dbname": db["NAME"]}
    with psycopg.connect(**params) as holder, psycopg.connect(**params, autocommit=True) as observer:
        yield holder, observer


# Held, it stops the upkeep's exclusive lock on the default partition before a partition
# is created; inserts may still take theirs.
DEFAULT_HELD = "LOCK TABLE ingestion_event_default IN ACCESS SHARE MODE"


def run_in_thread(call) -> threading.Thread:
    def run() -> None:
        try:
            call()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_upkeeps_run_at_once_each_create_a_partition_once_and_none_fails(connections):
    holder, observer = connections
    holder.execute(DEFAULT_HELD)
    results: list[dict[str, object]] = []
    upkeeps = run_in_thread(lambda: results.extend(at_once(lambda: event_partitions_maintain(now=NOW), copies=3)))
    # All three have listed the partitions (none of 2041) and wait to create the first.
    waiting_for_locks(observer, count=3)

    holder.rollback()
    upkeeps.join()

    assert len(results) == 3, "an upkeep failed (its error is in the captured output)"
    assert sorted(name for result in results for name in result["created"]) == CREATED
    assert set(CREATED) <= set(event_partitions())


def test_upkeeps_run_at_once_each_drop_a_partition_once_and_none_fails(connections):
    # Months before those the migration made, so that retention drops nothing else.
    event_partitions_maintain(now=datetime(1990, 3, 10, tzinfo=UTC))
    expired = [f"ingestion_event_p1990{month:02d}" for month in range(2, 7)]
    holder, observer = connections
    holder.execute("LOCK TABLE ONLY ingestion_event IN ACCESS SHARE MODE")  # a DROP of a partition locks its parent
    results: list[PartitionChanges] = []

    def drop() -> PartitionChanges:
        return event_partitions_drop_expired(now=datetime(1990, 9, 10, tzinfo=UTC), retention_days=31)

    upkeeps = run_in_thread(lambda: results.extend(at_once(drop, copies=3)))
    waiting_for_locks(observer, count=3)

    holder.rollback()
    upkeeps.join()

    assert len(results) == 3, "an upkeep failed (its error is in the captured output)"
    assert sorted(name for result in results for name in result.dropped) == expired
    assert not set(expired) & set(event_partitions())


# One event takes the one-statement write, a bigger batch the COPY (ingestion.services.event_writes).
@pytest.mark.parametrize("size", [1, PG_EVENTS_INSERT_SMALL_MAX + 1])
def test_events_sent_while_their_month_is_created_are_stored_in_that_month(tenant, connections, size):
    holder, observer = connections
    holder.execute(DEFAULT_HELD)
    upkeep = run_in_thread(lambda: event_partitions_maintain(now=NOW))
    waiting_for_locks(observer, count=1)  # the upkeep, about to create 2041-02
    february = int(datetime(2041, 2, 15, tzinfo=UTC).timestamp() * 1000)
    items = [{"eventId": f"feb-{n}", "userId": "u1", "timestamp": february} for n in range(size)]
    body = json.dumps({"track": [{"name": "Purchase", "payload": items}]})
    statuses: list[int] = []
    request = run_in_thread(
        lambda: statuses.append(
            Client().post(tenant.intempt_url, data=body, content_type="application/json").status_code
        )
    )
    waiting_for_locks(observer, count=2)  # and the request's insert behind it

    holder.rollback()
    upkeep.join()
    request.join()

    assert statuses == [200]
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text, count(*) FROM ingestion_event GROUP BY 1")
        assert cursor.fetchall() == [("ingestion_event_p204102", size)]

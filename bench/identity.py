"""Identity resolution benchmark (bounded: seconds, not minutes).

    python -m bench.identity [--events 100000] [--pairs 3] [--merges 500]

Runs in its own scratch PostgreSQL database (``trackhub_identity``, recreated; or the
database of ``BENCH_IDENTITY_DATABASE_URL``), in a scratch project that it deletes at the
end, and prints:
- the cost of merging two profiles that each have ``--events`` events: the merge's SQL
  statement time (each statement timed around its round trip on loopback), the whole
  transaction's wall time including COMMIT, and the number of event rows the merge
  updated (0: events are looked up by identifier, never rewritten);
- merges/s through ``identity_work_process``, one link event per outbox batch (like
  single-event requests) and 100 per batch (like batched requests);
- events/s of identity work for ordinary traffic (100 events per batch), to compare with
  the ingest rate: above it, the identity queue does not grow.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench.stack import django_on_scratch_database

django_on_scratch_database("identity", url=os.environ.get("BENCH_IDENTITY_DATABASE_URL"))

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from ingestion.models import Event, Organization  # noqa: E402
from ingestion.services import organization_project_ensure, source_ensure  # noqa: E402
from profiles.models import IdentityWork, ProfileMerge  # noqa: E402
from profiles.selectors import profile_events, profile_ids_for_identifiers  # noqa: E402
from profiles.services import identity_work_drain, identity_work_process  # noqa: E402


class StatementTimer:
    """execute_wrapper: sums the time of every SQL statement run through Django's cursors.
    Statements on ``trackhub.db.prepared_cursor`` (the drain's binary-array writes) are not
    seen: the transaction's wall time, printed beside it, includes them and the commit."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.statements = 0

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.statements += 1


@contextmanager
def timed_statements() -> Iterator[StatementTimer]:
    timer = StatementTimer()
    with connection.execute_wrapper(timer):
        yield timer


def fact(event_id: str, *users: str) -> dict[str, Any]:
    f: dict[str, Any] = {"name": "bench", "event_id": event_id, "ts_us": 1_700_000_000_000_000, "user_id": users[0]}
    if len(users) > 1:
        f["another_user_id"] = users[1]
    return f


def work_create(project_id: int, facts: list[dict[str, Any]]) -> int:
    return IdentityWork.objects.create(project_id=project_id, facts=facts).id


def events_insert(project_id: int, source_id: int, identity_key: str, count: int) -> None:
    """``count`` events of one identifier, generated server-side (setup, not measured)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO ingestion_event (project_id, source_id, wire_format, name, event_id, timestamp,
                received_at, user_id, identity_key, properties, context)
            SELECT %s, %s, 'import', 'bench', %s || '-' || g, now() - g * interval '1 second', now(), %s, %s,
                   '{}'::jsonb, '{}'::jsonb
            FROM generate_series(1, %s) AS g
            """,
            [project_id, source_id, identity_key, identity_key, identity_key, count],
        )


def event_rows_updated() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        # The events table and, when it is partitioned, its partitions.
        cursor.execute(
            "SELECT coalesce(sum(n_tup_upd), 0) FROM pg_stat_user_tables WHERE relid = 'ingestion_event'::regclass "
            "OR relid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'ingestion_event'::regclass)"
        )
        return int(cursor.fetchone()[0])


def merge_of_big_profiles(project_id: int, source_id: int, events: int, pairs: int) -> None:
    statement_ms, wall_ms, updated = [], [], []
    for pair in range(pairs):
        a, b = f"big-a-{pair}", f"big-b-{pair}"
        events_insert(project_id, source_id, a, events)
        events_insert(project_id, source_id, b, events)
        identity_work_process(work_id=work_create(project_id, [fact(f"a{pair}", a), fact(f"b{pair}", b)]))
        link = work_create(project_id, [fact(f"link{pair}", a, b)])
        updates_before = event_rows_updated()
        with timed_statements() as timer:
            started = time.perf_counter()
            identity_work_process(work_id=link)
            wall = time.perf_counter() - started
        updated.append(event_rows_updated() - updates_before)
        statement_ms.append(timer.seconds * 1000)
        wall_ms.append(wall * 1000)
        survivor = profile_ids_for_identifiers(project_id=project_id, identifiers=[a, b])
        assert survivor[a] == survivor[b], "the link did not merge"
        merged_events = profile_events(project_id=project_id, profile_id=survivor[a]).events.count()
        assert merged_events == 2 * events, merged_events
        print(
            f"  pair {pair + 1}: merged 2 x {events:,} events: statements {timer.seconds * 1000:.1f} ms "
            f"({timer.statements} statements), transaction wall incl. COMMIT {wall * 1000:.1f} ms, "
            f"event rows updated {updated[-1]}, survivor's events {merged_events:,}"
        )
    print(
        f"merge of two profiles with {events:,} events each: median statement time (Django cursors) "
        f"{statistics.median(statement_ms):.1f} ms, median transaction wall {statistics.median(wall_ms):.1f} ms "
        f"(target < 50 ms); event rows updated by merges: {sum(updated)}"
    )


def work_resolve(project_id: int, work_ids: list[int], *, drained: bool) -> None:
    """As the worker does (one drain: several batches per transaction), or one batch per
    transaction (``identity_work_process``, the worst case: a drain that finds one)."""
    if drained:
        identity_work_drain(project_id=project_id)
    else:
        for work_id in work_ids:
            identity_work_process(work_id=work_id)


def merges_per_second(project_id: int, merges: int, batch: int, label: str, *, drained: bool) -> None:
    users = [f"{label}-{i}" for i in range(2 * merges)]
    identity_work_process(work_id=work_create(project_id, [fact(f"{label}-seed-{u}", u) for u in users]))
    links = [fact(f"{label}-link-{i}", users[2 * i], users[2 * i + 1]) for i in range(merges)]
    work_ids = [work_create(project_id, links[i : i + batch]) for i in range(0, merges, batch)]
    merges_before = ProfileMerge.objects.filter(project_id=project_id).count()
    started = time.perf_counter()
    work_resolve(project_id, work_ids, drained=drained)
    elapsed = time.perf_counter() - started
    done = ProfileMerge.objects.filter(project_id=project_id).count() - merges_before
    assert done == merges, (done, merges)
    how = "drained together" if drained else "one batch per transaction"
    print(
        f"merges/s, {batch} link event(s) per batch, {how}: {merges / elapsed:,.0f} "
        f"({merges:,} merges in {elapsed:.2f} s)"
    )


def events_per_second(project_id: int, events: int, batch: int, label: str, *, drained: bool) -> None:
    """Identity throughput for ordinary traffic: each event names a user (a quarter of them
    new), an account from a pool of 50, and sets two attributes; ``batch`` events per outbox
    row, as one batched ingest request gives."""
    facts = []
    for i in range(events):
        f = fact(f"{label}-{i}", f"{label}-user-{i // 4 if i % 4 else i}")
        f["ts_us"] += i
        f["account_id"] = f"{label}-account-{i % 50}"
        f["user_attributes"] = {"plan": i % 3, "seen": i}
        facts.append(f)
    work_ids = [work_create(project_id, facts[i : i + batch]) for i in range(0, events, batch)]
    started = time.perf_counter()
    work_resolve(project_id, work_ids, drained=drained)
    elapsed = time.perf_counter() - started
    how = "drained together" if drained else "one batch per transaction"
    print(
        f"identity work, {batch} events per batch, {how}: {events / elapsed:,.0f} events/s "
        f"({events:,} events in {elapsed:.2f} s, one worker process)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="events per profile in the big merge")
    parser.add_argument("--pairs", type=int, default=3, help="big merges to measure (median reported)")
    parser.add_argument("--merges", type=int, default=500, help="merges for the merges/s figures")
    parser.add_argument("--traffic", type=int, default=10_000, help="events for the identity events/s figure")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench.identity needs PostgreSQL: set DATABASE_URL")
    call_command("migrate", verbosity=0)

    org = f"bench-identity-{uuid.uuid4().hex[:8]}"
    project = organization_project_ensure(org=org, project="bench")
    source = source_ensure(project=project, source_id=int(uuid.uuid4().int % 2**62))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            print(cursor.fetchone()[0].split(",")[0])
        merge_of_big_profiles(project.id, source.id, args.events, args.pairs)
        merges_per_second(project.id, args.merges, 1, "single", drained=False)
        merges_per_second(project.id, args.merges, 1, "single-drained", drained=True)
        merges_per_second(project.id, args.merges, 100, "batched", drained=False)
        events_per_second(project.id, args.traffic, 100, "traffic", drained=False)
        events_per_second(project.id, args.traffic, 100, "traffic-drained", drained=True)
    finally:
        with transaction.atomic():
            Event.objects.filter(project_id=project.id).delete()
            IdentityWork.objects.filter(project_id=project.id).delete()
            Organization.objects.filter(name=org).delete()


if __name__ == "__main__":
    main()

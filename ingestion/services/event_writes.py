"""How a request's events reach the database, each once: on PostgreSQL the dedupe ledger
and a COPY (bulk requests) or one statement (small ones); on SQLite the ORM."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
import orjson
import psycopg
from django.db import connection
from django.utils import timezone
from psycopg.adapt import Dumper

from ingestion.canonical import CanonicalEvent
from ingestion.credentials import CredentialChanged, CredentialCheck
from ingestion.models import Event, EventKey, Source
from profiles.services import event_identity_key, identity_facts, identity_work_insert_sql, identity_work_kick_on_commit
from trackhub.db import prepared_cursor, request_first_fetchall, request_first_fetchone


class KnownKeys(Exception):
    """The ledger COPY met a key already stored: the transaction is rolled back."""


# The event columns both writes fill from a CanonicalEvent (``_event_row``), with their
# PostgreSQL types for the binary COPY.
_INSERT_COLUMN_TYPES = {
    "name": "text", "namespace": "text", "event_id": "text", "timestamp": "timestamptz", "user_id": "text",
    "profile_id": "text", "anonymous_id": "text", "account_id": "text", "session_id": "text", "page_id": "text",
    "identity_key": "text", "properties": "jsonb", "context": "jsonb",
}  # fmt: skip
_INSERT_COLUMNS = tuple(_INSERT_COLUMN_TYPES)

# PostgreSQL writes a request's events with exact dedupe through the key ledger
# (``EventKey``, unpartitioned; retention never drops it), then the new events only into
# the time-partitioned events table. ON CONFLICT DO NOTHING RETURNING on the ledger yields
# exactly the keys that are new, also against a concurrent request carrying the same
# events (it waits for the other transaction's uncommitted key, then skips it). Every
# ledger write inserts its keys in code-point order (``COLLATE "C"``, Python's own string
# order), so two overlapping batches lock them in the same order and cannot deadlock; a
# key repeated within the request is stored once, from its first occurrence.
#
# Bulk requests: COPY of the keys into the ledger, then COPY of the events. COPY is
# PostgreSQL's bulk path (it batches heap inserts and their WAL records): at 100 events it
# costs the database 10-15% less per event than an INSERT ... SELECT of the same rows, and
# the ledger COPY 3-5 µs less per event than its ON CONFLICT statement (``bench.schema``),
# which pays for a speculative insertion per key. A COPY cannot skip a key already there:
# it fails, the transaction is rolled back (``KnownKeys``), and the request is written
# again with the ON CONFLICT statement (``PG_LEDGER_INSERT``). That is twice the work for
# a retried request, which is rare, against a fifth less database CPU for every other.
# The key arrays go as binary (%b): text would have psycopg escape every name and id in
# Python, and PostgreSQL parse them back (about 8% of a 100-event request's web CPU).
PG_LEDGER_INSERT = """
INSERT INTO ingestion_eventkey (project_id, name, event_id)
SELECT %s, t.name, t.event_id FROM unnest(%b::text[], %b::text[]) AS t(name, event_id)
ORDER BY t.name COLLATE "C", t.event_id COLLATE "C"
ON CONFLICT DO NOTHING
RETURNING name, event_id
"""
PG_LEDGER_COPY = "COPY ingestion_eventkey (project_id, name, event_id) FROM STDIN"
# The events go in COPY's binary format: psycopg then sends each value as PostgreSQL
# holds it (no text escaping of every string, timestamps not written out as text and
# parsed back), which takes about two thirds off the client's cost of a 100-event COPY
# (formatting the two timestamps as text alone cost more than 2 µs per row).
PG_EVENT_COPY = (
    f"COPY ingestion_event (project_id, source_id, wire_format, received_at, {', '.join(_INSERT_COLUMNS)}) "
    "FROM STDIN (FORMAT BINARY)"
)
PG_EVENT_COPY_TYPES = ("int8", "int8", "varchar", "timestamptz", *_INSERT_COLUMN_TYPES.values())


class _JsonbBinaryDumper(Dumper):
    """A jsonb value for binary COPY, encoded by orjson (psycopg's own uses ``json``)."""

    format = psycopg.pq.Format.BINARY
    oid = psycopg.adapters.types["jsonb"].oid

    def dump(self, obj: Any) -> bytes:
        return b"\x01" + orjson.dumps(obj)  # jsonb's binary form: version 1, then the text


def pg_binary_copy_prepare(copy: psycopg.Copy, *, types: Sequence[str]) -> None:
    """Give a ``COPY ... (FORMAT BINARY)`` its column types, and orjson for its jsonb
    columns (they take dicts and lists as they are)."""
    copy.cursor.adapters.register_dumper(None, _JsonbBinaryDumper)  # by type name only: for set_types
    copy.set_types(types)


# Small requests (most carry one event) with nothing rejected: the whole write is one
# statement, committed on its own: the events go as one JSON document (msgspec encodes
# the CanonicalEvent structs in C) zipped with their identity keys and identity facts; the
# ledger insert, the events insert and the identity outbox row (``profiles``' own SQL,
# ``identity_work_insert_sql``) are CTEs. One round trip instead of six (BEGIN, ledger,
# COPY's two, outbox, COMMIT), and for a single event about a fifth less database CPU and
# half the client CPU of the transaction it replaces (see docs/scaling.md).
PG_EVENTS_INSERT_SMALL_MAX = 20


@functools.cache
def _pg_events_insert_small(credential_check_sql: str | None) -> str:
    """The statement, for requests whose credential it must check (``CredentialCheck.sql``:
    ``live`` is false and nothing is written if the credential changed) or need not (None).
    It answers one row per new event, or one row of NULLs if none is, each with ``live``."""
    return f"""
WITH live AS (
    SELECT {credential_check_sql or "true"} AS ok
), input AS (
    SELECT * FROM ROWS FROM (
        jsonb_to_recordset(%(events)s::jsonb) AS (
            name text, namespace text, event_id text, "timestamp" timestamptz, user_id text, profile_id text,
            anonymous_id text, account_id text, session_id text, page_id text, properties jsonb, context jsonb,
            wire_format text
        ),
        jsonb_array_elements_text(%(identity_keys)s::jsonb),
        jsonb_array_elements(%(facts)s::jsonb)
    ) WITH ORDINALITY AS t(
        name, namespace, event_id, "timestamp", user_id, profile_id, anonymous_id, account_id, session_id,
        page_id, properties, context, wire_format, identity_key, fact, position
    )
    WHERE (SELECT ok FROM live)
), new_keys AS (
    INSERT INTO ingestion_eventkey (project_id, name, event_id)
    SELECT %(project_id)s, name, event_id FROM input ORDER BY name COLLATE "C", event_id COLLATE "C"
    ON CONFLICT DO NOTHING
    RETURNING name, event_id
), new_events AS (
    SELECT DISTINCT ON (input.name, input.event_id) input.*
    FROM input JOIN new_keys ON new_keys.name = input.name AND new_keys.event_id = input.event_id
    ORDER BY input.name, input.event_id, input.position
), stored AS (
    INSERT INTO ingestion_event (project_id, source_id, wire_format, received_at, {", ".join(_INSERT_COLUMNS)})
    SELECT %(project_id)s, %(source_id)s, COALESCE(wire_format, %(wire_format)s), %(received_at)s,
        {", ".join(_INSERT_COLUMNS)}
    FROM new_events
), work AS (
    {identity_work_insert_sql(source="new_events")}
)
SELECT live.ok, new_events.name, new_events.event_id FROM live LEFT JOIN new_events ON true
"""


def small_write(*, events: Sequence[CanonicalEvent]) -> bool:
    return connection.vendor == "postgresql" and 0 < len(events) <= PG_EVENTS_INSERT_SMALL_MAX


def events_insert_small(
    *,
    source: Source,
    wire_format: str,
    events: Sequence[CanonicalEvent],
    received_at: datetime,
    credential_check: CredentialCheck | None,
) -> list[CanonicalEvent]:
    """Store the events that are new for the project and record their identity work, in
    ``_pg_events_insert_small``; return the new events."""
    facts = identity_facts(events=events)
    # Deduplicated and its own transaction, so it may double as the connection check.
    rows = request_first_fetchall(
        _pg_events_insert_small(credential_check.sql if credential_check else None),
        {
            **(credential_check.params if credential_check else {}),
            "events": msgspec.json.encode(events).decode(),
            "identity_keys": orjson.dumps([_identity_key(event) for event in events]).decode(),
            "facts": orjson.dumps(facts).decode(),
            "project_id": source.project_id,
            "source_id": source.id,
            "wire_format": wire_format,
            "received_at": received_at,
            "recorded_at": timezone.now(),
        },
    )
    if not rows[0][0]:
        raise CredentialChanged()
    stored = _first_positions(events, new_keys={(name, event_id) for _, name, event_id in rows if name is not None})
    # The statement wrote an outbox row if a stored event names anybody.
    if any(facts[position] is not None for position in stored):
        identity_work_kick_on_commit(project_id=source.project_id)
    return [events[position] for position in stored]


def credential_check_run(*, check: CredentialCheck) -> None:
    # A read: it may double as the request's connection check.
    row = request_first_fetchone(f"SELECT {check.sql}", check.params)
    if row is None or not row[0]:
        raise CredentialChanged()


def events_insert(
    *,
    source: Source,
    wire_format: str,
    events: Sequence[CanonicalEvent],
    received_at: datetime,
    keys_expected_new: bool,
) -> list[CanonicalEvent]:
    """Insert the events that are new for the project; return those that were.

    PostgreSQL: the ledger write and one COPY inside the caller's transaction; the dedupe
    is exact across the events table's time partitions. Never a query per event. With
    ``keys_expected_new`` the keys are COPYed into the ledger, and KnownKeys is raised,
    leaving the transaction to be rolled back, if one is already there. Errors (a value
    PostgreSQL refuses) come as Django's: the view answers a 400.
    """
    if not events:
        return []
    if connection.vendor != "postgresql":
        return _events_insert_portable(source=source, wire_format=wire_format, events=events, received_at=received_at)
    with prepared_cursor() as cursor:
        if keys_expected_new:
            keys = _keys(events)
            _ledger_copy(cursor, project_id=source.project_id, keys=keys)
            new_events = [events[position] for position in _first_positions(events, new_keys=keys)]
        else:
            cursor.execute(
                PG_LEDGER_INSERT,
                [source.project_id, [event.name for event in events], [event.event_id for event in events]],
            )
            new_events = [events[position] for position in _first_positions(events, new_keys=set(cursor.fetchall()))]
        if new_events:
            with cursor.copy(PG_EVENT_COPY) as copy:
                pg_binary_copy_prepare(copy, types=PG_EVENT_COPY_TYPES)
                for event in new_events:
                    row_format = event.wire_format or wire_format
                    copy.write_row((source.project_id, source.id, row_format, received_at, *_event_row(event)))
    return new_events


def _keys(events: Sequence[CanonicalEvent]) -> set[tuple[str, str]]:
    return {(event.name, event.event_id) for event in events}


def _ledger_copy(cursor: Any, *, project_id: int, keys: set[tuple[str, str]]) -> None:
    """COPY ``keys`` into the ledger, in code-point order; KnownKeys if one is already
    there (the caller's transaction is then aborted)."""
    try:
        with cursor.copy(PG_LEDGER_COPY) as copy:
            for name, event_id in sorted(keys):
                copy.write_row((project_id, name, event_id))
    except psycopg.errors.UniqueViolation as error:  # prepared_cursor has not made it Django's yet
        raise KnownKeys() from error


def _first_positions(events: Sequence[CanonicalEvent], *, new_keys: set[tuple[str, str]]) -> list[int]:
    """Positions of the events whose (name, event id) is in ``new_keys``, each key's first
    occurrence only (a key repeated within one request is new once). Consumes ``new_keys``."""
    positions = []
    for position, event in enumerate(events):
        key = (event.name, event.event_id)
        if key in new_keys:
            new_keys.remove(key)
            positions.append(position)
    return positions


def _events_insert_portable(
    *, source: Source, wire_format: str, events: Sequence[CanonicalEvent], received_at: datetime
) -> list[CanonicalEvent]:
    """The embedded (SQLite) path: look up existing keys, insert the rest. The keys are
    the events' own, and the ledger's of events erased since (``services.erasure``)."""
    keys = _keys(events)
    event_ids = [k[1] for k in keys]
    existing = set(
        Event.objects.filter(project_id=source.project_id, event_id__in=event_ids).values_list("name", "event_id")
    )
    existing |= set(
        EventKey.objects.filter(project_id=source.project_id, event_id__in=event_ids).values_list("name", "event_id")
    )
    new_events = [events[position] for position in _first_positions(events, new_keys=keys - existing)]
    Event.objects.bulk_create(
        [
            Event(
                project_id=source.project_id,
                source_id=source.id,
                wire_format=event.wire_format or wire_format,
                received_at=received_at,
                **dict(zip(_INSERT_COLUMNS, _event_row(event), strict=True)),
            )
            for event in new_events
        ],
        ignore_conflicts=True,
    )
    return new_events


def _identity_key(event: CanonicalEvent) -> str | None:
    if event.empty_identifiers:
        # As sent: an own user field sent as "" is a placeholder, as "null" is (no profile).
        return event_identity_key(
            user_id=event.identifier_sent("user_id"),
            profile_id=event.identifier_sent("profile_id"),
            anonymous_id=event.identifier_sent("anonymous_id"),
            another_user_id=event.context_identifier("anotherUserId"),
        )
    return event_identity_key(
        user_id=event.user_id,
        profile_id=event.profile_id,
        anonymous_id=event.anonymous_id,
        another_user_id=event.context_identifier("anotherUserId"),
    )


def _event_row(event: CanonicalEvent) -> tuple[object, ...]:
    """The event's values in ``_INSERT_COLUMNS`` order."""
    return (
        event.name, event.namespace, event.event_id, event.timestamp, event.user_id, event.profile_id,
        event.anonymous_id, event.account_id, event.session_id, event.page_id, _identity_key(event),
        event.properties, event.context,
    )  # fmt: skip

"""Streamed exports: NDJSON and CSV of any number of events in constant memory.

Rows are read a chunk at a time by keyset: each chunk is one indexed query for the next
``EXPORT_CHUNK_ROWS`` rows strictly after the (timestamp, id) the previous chunk ended on,
in the list's order (newest first, or oldest first with ``ordering=timestamp``), the read
API's own cursor (``keyset_beyond``). No server-side cursor and no transaction is
held between chunks, so an export works through PgBouncer in transaction mode and keeps
no snapshot open for minutes; rows that share a timestamp are neither skipped nor repeated
at a chunk boundary. Each chunk's profile ids are resolved in one query and the chunk is
rendered and handed to the streaming response before the next is fetched, so memory
depends on the chunk size, never on the number of events. Rows are read as plain values,
and ``properties`` and ``context`` as the database's JSON text, which is written out as
it is (never parsed and re-encoded): most of the cost of an export would otherwise be
model instances and JSON.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from ingestion.api.pagination import Cursor, keyset_beyond
from ingestion.api.serializers import EVENT_FIELDS, event_record
from ingestion.models import Event
from ops.gunicorn import worker_heartbeat
from profiles.selectors import profile_ids_for_identifiers

EXPORT_CHUNK_ROWS = 2000

_COLUMNS = (
    "id", "name", "namespace", "event_id", "timestamp", "received_at", "user_id", "profile_id", "anonymous_id",
    "account_id", "session_id", "page_id", "source_id", "wire_format", "identity_key",
)  # fmt: skip


def event_record_chunks(
    queryset: QuerySet[Event],
    *,
    project_id: int,
    json_text: Callable[[str], Any],
    descending: bool = True,
    chunk_rows: int = EXPORT_CHUNK_ROWS,
) -> Iterator[list[dict[str, Any]]]:
    """The events of ``queryset``, newest first (oldest first unless ``descending``), as
    read-API records in chunks; the JSON text of ``properties`` and ``context`` is passed
    through ``json_text``."""
    for rows in _keyset_chunks(queryset, descending=descending, chunk_rows=chunk_rows):
        # An export may stream for longer than gunicorn lets one request take.
        worker_heartbeat()
        for row in rows:
            row["properties"] = json_text(row.pop("properties_json"))
            row["context"] = json_text(row.pop("context_json"))
        yield _records(rows, project_id=project_id)


def _keyset_chunks(queryset: QuerySet[Event], *, descending: bool, chunk_rows: int) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``queryset`` in (timestamp, id) order, ``descending`` or not,
    ``chunk_rows`` per query; each query starts strictly after the (timestamp, id) of the
    previous chunk's last row."""
    order = ("-timestamp", "-id") if descending else ("timestamp", "id")
    rows_of = queryset.order_by(*order).values(
        *_COLUMNS,
        properties_json=Cast("properties", output_field=TextField()),
        context_json=Cast("context", output_field=TextField()),
    )
    chunk = list(rows_of[:chunk_rows])
    while chunk:
        yield chunk
        if len(chunk) < chunk_rows:
            return
        last = Cursor(time=chunk[-1]["timestamp"], id=chunk[-1]["id"], backwards=False)
        chunk = list(rows_of.filter(keyset_beyond(last, time_field="timestamp", descending=descending))[:chunk_rows])


def _records(rows: list[dict[str, Any]], *, project_id: int) -> list[dict[str, Any]]:
    profiles = profile_ids_for_identifiers(
        project_id=project_id, identifiers={row["identity_key"] for row in rows if row["identity_key"]}
    )
    return [
        event_record(row, profile=profiles.get(row["identity_key"]) if row["identity_key"] else None) for row in rows
    ]


def _first_read(chunks: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
    """``chunks`` with the first one read already, in the view: a first query that fails
    (the database unreachable, a lock timeout) is then the read API's JSON error (503 with
    ``Retry-After``) instead of a 200 cut off after its headers. A later chunk that fails
    ends the stream early, which HTTP clients see as a truncated response."""
    first = next(chunks, None)
    return itertools.chain(() if first is None else (first,), chunks)


def ndjson_stream(queryset: QuerySet[Event], *, project_id: int, descending: bool) -> Iterator[bytes]:
    """One JSON object per line, in the read API's event shape."""
    chunks = _first_read(
        event_record_chunks(queryset, project_id=project_id, json_text=orjson.Fragment, descending=descending)
    )
    return (b"".join(orjson.dumps(record) + b"\n" for record in records) for records in chunks)


class _LineBuffer:
    """A write target for ``csv.writer`` that hands back what was written."""

    def write(self, value: str) -> str:
        return value


def _csv_cell(value: Any) -> Any:
    return "" if value is None else value


def csv_stream(queryset: QuerySet[Event], *, project_id: int, descending: bool) -> Iterator[bytes]:
    """A header row of the event fields in the contract's order, then one row per event;
    objects as JSON text, nulls empty."""
    chunks = _first_read(event_record_chunks(queryset, project_id=project_id, json_text=str, descending=descending))
    writer = csv.writer(_LineBuffer())
    rows = (
        "".join(writer.writerow([_csv_cell(record[key]) for key in EVENT_FIELDS]) for record in records).encode()
        for records in chunks
    )
    return itertools.chain((writer.writerow(EVENT_FIELDS).encode(),), rows)

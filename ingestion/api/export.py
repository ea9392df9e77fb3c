"""Streamed exports: NDJSON and CSV of any number of events in constant memory.

Rows come from a server-side cursor (``QuerySet.iterator``) a chunk at a time; each
chunk's profile ids are resolved in one query and the chunk is rendered and handed to the
streaming response before the next is fetched, so memory depends on the chunk size, never
on the number of events.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

import orjson
from django.db.models import QuerySet

from ingestion.api.serializers import EVENT_FIELDS, event_record
from ingestion.models import Event
from profiles.selectors import profile_ids_for_identifiers

EXPORT_CHUNK_ROWS = 2000


def event_record_chunks(
    queryset: QuerySet[Event], *, project_id: int, chunk_rows: int = EXPORT_CHUNK_ROWS
) -> Iterator[list[dict[str, Any]]]:
    """The events of ``queryset``, newest first, as read-API records in chunks."""
    chunk: list[Event] = []
    for event in queryset.order_by("-timestamp", "-id").iterator(chunk_size=chunk_rows):
        chunk.append(event)
        if len(chunk) >= chunk_rows:
            yield _records(chunk, project_id=project_id)
            chunk = []
    if chunk:
        yield _records(chunk, project_id=project_id)


def _records(events: list[Event], *, project_id: int) -> list[dict[str, Any]]:
    profiles = profile_ids_for_identifiers(
        project_id=project_id, identifiers={event.identity_key for event in events if event.identity_key}
    )
    return [
        event_record(event, profile=profiles.get(event.identity_key) if event.identity_key else None)
        for event in events
    ]


def ndjson_stream(queryset: QuerySet[Event], *, project_id: int) -> Iterator[bytes]:
    """One JSON object per line, in the read API's event shape."""
    for records in event_record_chunks(queryset, project_id=project_id):
        yield b"".join(orjson.dumps(record) + b"\n" for record in records)


class _LineBuffer:
    """A write target for ``csv.writer`` that hands back what was written."""

    def write(self, value: str) -> str:
        return value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return value


def csv_stream(queryset: QuerySet[Event], *, project_id: int) -> Iterator[bytes]:
    """A header row of the event fields in the contract's order, then one row per event;
    objects JSON-encoded, nulls empty."""
    writer = csv.writer(_LineBuffer())
    yield writer.writerow(EVENT_FIELDS).encode()
    for records in event_record_chunks(queryset, project_id=project_id):
        yield "".join(writer.writerow([_csv_cell(record[key]) for key in EVENT_FIELDS]) for record in records).encode()

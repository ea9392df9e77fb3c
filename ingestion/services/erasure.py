"""Erasing one person's data from the events and the rejected events (a data subject's
request to be forgotten). ``profiles.services.profile_erase`` decides whose data it is
and calls these inside its transaction."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from ingestion.models import Event, EventKey, RejectedEvent
from ingestion.selectors import events_with_keys

# Rejected events read per query on SQLite, where no SQL finds a value inside the JSON.
_REJECTED_CHUNK = 500
# Dedupe keys of erased events written per statement on SQLite.
_KEYS_CHUNK = 500


def events_erase(
    *, project_id: int, identity_keys: Sequence[str], event_keys: Sequence[tuple[str, str, datetime]] = ()
) -> int:
    """Delete the project's events whose ``identity_key`` is one of ``identity_keys``
    (exactly the events a profile's page lists), and those named by ``event_keys`` (name,
    event id, timestamp: events naming the person whose identity work is still pending);
    return how many. One statement over every time partition, through the partial index
    on (project, identity_key), and one per chunk of keys. Their dedupe keys stay in the
    ledger, so a producer re-sending one of them stores nothing again."""
    deleted = 0
    if identity_keys:
        deleted += _events_delete(
            project_id=project_id,
            events=Event.objects.filter(project_id=project_id, identity_key__in=list(identity_keys)),
        )
    for events in events_with_keys(project_id=project_id, keys=event_keys):
        deleted += _events_delete(project_id=project_id, events=events)
    return deleted


def _events_delete(*, project_id: int, events: QuerySet[Event]) -> int:
    if connection.vendor != "postgresql":
        # SQLite dedupes on the events table, which keeps no key of a deleted event: the
        # ledger gets the keys of the events erased here.
        _event_keys_keep(project_id=project_id, events=events)
    deleted, _ = events.delete()
    return deleted


def _event_keys_keep(*, project_id: int, events: QuerySet[Event]) -> None:
    """The ledger rows of ``events``, a chunk at a time (a person may have millions)."""
    keys = (
        EventKey(project_id=project_id, name=name, event_id=event_id)
        for name, event_id in events.values_list("name", "event_id").iterator(chunk_size=_KEYS_CHUNK)
    )
    while chunk := list(itertools.islice(keys, _KEYS_CHUNK)):
        EventKey.objects.bulk_create(chunk, ignore_conflicts=True)


def rejected_events_erase(*, project_id: int, values: Sequence[str]) -> int:
    """Delete the project's rejected events whose payload holds one of ``values`` as a
    JSON string anywhere (a refused event keeps its raw payload, identifiers included);
    return how many."""
    if not values:
        return 0
    if connection.vendor == "postgresql":
        # Each payload's strings are listed once and looked up in a hash of the values,
        # built once for the statement. A person can have tens of thousands of
        # identifiers (a shared "unknown" or test address collects them): a path search
        # per (payload, identifier) pair took 108 s for 2,000 rejected events and 50,000
        # identifiers; this takes 0.3 s.
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM ingestion_rejectedevent WHERE project_id = %s AND EXISTS ("
                " SELECT 1 FROM jsonb_path_query(payload, 'strict $.**') AS s(node)"
                " WHERE jsonb_typeof(s.node) = 'string' AND s.node #>> '{}' IN (SELECT unnest(%s::text[])))",
                [project_id, list(values)],
            )
            return cursor.rowcount
    wanted = set(values)
    matching = [row_id for row_id, payload in _rejected_payloads(project_id) if wanted & set(_strings(payload))]
    RejectedEvent.objects.filter(id__in=matching).delete()
    return len(matching)


def _rejected_payloads(project_id: int) -> Iterator[tuple[int, Any]]:
    after_id = 0
    while True:
        chunk = list(
            RejectedEvent.objects.filter(project_id=project_id, id__gt=after_id)
            .order_by("id")
            .values_list("id", "payload")[:_REJECTED_CHUNK]
        )
        yield from chunk
        if len(chunk) < _REJECTED_CHUNK:
            return
        after_id = chunk[-1][0]


def _strings(value: Any) -> Iterator[str]:
    """Every string value inside a decoded JSON value (keys are field names, not data)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)

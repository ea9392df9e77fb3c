"""``import``: events in the read API's shape, one per line, as the NDJSON export writes them.

Used by ``manage.py import_events --format ndjson``; not served over HTTP. The fields of
the read API's event map one to one onto the canonical event; ``event_id`` and
``timestamp`` are kept, so re-importing an export deduplicates. ``wire_format`` is kept
when it is one of the four track formats (an export restored reads as it was sent, and
an Intempt event keeps its identity fields, and a Databuddy ``$identify`` its traits,
however often it is exported and imported again); otherwise the event is stored as
``import``. ``id``, ``received_at``, ``source_id`` and ``profile`` describe where an
event was stored and are ignored (the import's source and time apply). Any other field
is kept in ``context`` under its own name, as the track formats do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingestion.canonical import (
    INTEMPT_IDENTITY_FIELDS,
    CanonicalEvent,
    EventProblem,
    datetime_from_iso,
    datetime_from_ms,
    derived_event_id,
    empty_identifiers,
    json_object,
    optional_string,
    required_string,
)
from ingestion.formats.base import IngestOutcome, TrackFailure, WireEvent, WireFormatAdapter
from ingestion.formats.databuddy import IDENTIFY_EVENT_NAME
from ingestion.models import WireFormat

_STRING_FIELDS = ("namespace", "user_id", "profile_id", "anonymous_id", "account_id", "session_id", "page_id")
_IDENTIFIER_COLUMNS = {name: name for name in ("user_id", "profile_id", "anonymous_id", "account_id")}
_OWN_FIELDS = {"name", "event_id", "timestamp", "properties", "context", *_STRING_FIELDS}
_STORAGE_FIELDS = {"id", "received_at", "source_id", "wire_format", "profile"}
# The exported ``wire_format`` values an imported event keeps: the four track formats.
_TRACK_FORMATS = frozenset(WireFormat.values) - {WireFormat.IMPORT}
_EXPECTED_TIMESTAMP = "ISO 8601 with a 4-digit year (2024-05-02T06:38:24.000Z) or milliseconds since the epoch"


def _identity_fields(*, track_format: str | None, name: str) -> frozenset[str]:
    """The keys of an exported event's context that were identity fields when it was sent:
    an Intempt event's (``INTEMPT_IDENTITY_FIELDS``), and the traits of Databuddy's
    ``/identify``, kept as a ``$identify`` event's ``userAttributes``. Without them a
    restored project's profiles lost the attributes those events gave them."""
    if track_format == "intempt":
        return INTEMPT_IDENTITY_FIELDS
    if track_format == "databuddy" and name == IDENTIFY_EVENT_NAME:
        return frozenset({"userAttributes"})
    return frozenset()


@dataclass(frozen=True)
class FileLines:
    """Lines of a file sent as one batch, each as (line number, its decoded JSON)."""

    lines: Sequence[tuple[int, Any]]


class ImportAdapter(WireFormatAdapter):
    wire_format = "import"
    identifying_fields = ("event_id", "timestamp")

    def split(self, document: Any) -> list[WireEvent]:
        """``FileLines``: index = the line number (1-based, as a string), which finds a
        rejected event in the file; its place in the batch would not (every batch starts
        at 0). A JSON array (a replay) or one object: index = position in it."""
        if isinstance(document, FileLines):
            return [WireEvent(index=str(line_no), raw=item, replay_payload=item) for line_no, item in document.lines]
        items = document if isinstance(document, list) else [document]
        return [WireEvent(index=str(i), raw=item, replay_payload=item) for i, item in enumerate(items)]

    def to_canonical(self, event: WireEvent, *, received_at: datetime) -> CanonicalEvent | list[EventProblem]:
        index, item = event.index, event.raw
        if not isinstance(item, dict):
            return [EventProblem(index, "", "each line must be a JSON object (an event)")]
        problems: list[EventProblem] = []
        name = required_string(item, "name", index=index, problems=problems)
        event_id = optional_string(item, "event_id", index=index, problems=problems)
        strings = {key: optional_string(item, key, index=index, problems=problems) for key in _STRING_FIELDS}

        raw_ts = item.get("timestamp")
        timestamp = datetime_from_ms(raw_ts) if isinstance(raw_ts, int | float) else datetime_from_iso(raw_ts)
        if raw_ts is None or raw_ts == "":
            problems.append(EventProblem(index, "timestamp", f"timestamp is required: {_EXPECTED_TIMESTAMP}"))
        elif timestamp is None:
            problems.append(EventProblem(index, "timestamp", f"timestamp is not valid: expected {_EXPECTED_TIMESTAMP}"))

        properties = json_object(item, "properties", index=index, problems=problems)
        context = json_object(item, "context", index=index, problems=problems)
        extra = {key: value for key, value in item.items() if key not in _OWN_FIELDS | _STORAGE_FIELDS}

        if problems:
            return problems
        assert name is not None and timestamp is not None
        sent_as = item.get("wire_format")
        track_format = sent_as if isinstance(sent_as, str) and sent_as in _TRACK_FORMATS else None
        return CanonicalEvent(
            name=name,
            event_id=event_id or derived_event_id(name=name, raw=item, has_own_timestamp=True),
            timestamp=timestamp,
            properties=properties or {},
            context={**extra, **(context or {})},
            identity_fields=_identity_fields(track_format=track_format, name=name),
            wire_format=track_format,
            empty_identifiers=empty_identifiers(item, _IDENTIFIER_COLUMNS),
            **{key: value or None for key, value in strings.items()},
        )

    def replay_document(self, payload: Any) -> Any:
        return [payload]

    def success_body(self, outcome: IngestOutcome, *, request_id: str) -> dict[str, Any]:
        return {"accepted": outcome.accepted, "stored": outcome.stored}

    def error_body(self, failure: TrackFailure) -> Any:
        return {"errors": failure.problem_items() or [{"field": failure.field, "message": failure.message}]}

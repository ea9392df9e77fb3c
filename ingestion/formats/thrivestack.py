"""ThriveStack: ``POST /api/track`` with ``Authorization: Bearer <track token>``.

Body: an array of ``{"user_id", "event_name", "timestamp", "properties", "context"}``
(a single object is taken as an array of one). ``timestamp`` is required and must be ISO
8601 with a four-digit year: the docs' own example ``20-11-23T22:28:55.111Z`` is refused
with a message showing the expected form. ``context`` keys are kept in the event's
context as they are; ``context.group_id`` also names the account. The format has no
event id, so each event's id is a hash of its content (a retried request is stored once).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from ingestion.canonical import (
    CanonicalEvent,
    EventProblem,
    datetime_from_iso,
    derived_event_id,
    empty_identifiers,
    json_object,
    required_string,
)
from ingestion.formats.base import (
    IngestOutcome,
    TrackFailure,
    WireEvent,
    WireFormatAdapter,
    array_or_object_split,
)

_OWN_FIELDS = {"user_id", "event_name", "timestamp", "properties", "context"}
EXPECTED_TIMESTAMP = "ISO 8601 with a 4-digit year in UTC, e.g. 2023-11-20T22:28:55.111Z"
SUCCESS_MESSAGE = "Event tracked successfully"
# The docs' description of a 400, the message of every 400 (``errors`` says what was wrong).
BAD_REQUEST_MESSAGE = "Bad Request, invalid input data"
# The docs' one error text (401); the other errors say what is wrong.
_MESSAGES_BY_KIND = {
    "missing_credentials": "Access token missing or invalid",
    "invalid_credentials": "Access token missing or invalid",
}


class ThriveStackAdapter(WireFormatAdapter):
    wire_format = "thrivestack"
    wire_fields: ClassVar[dict[str, str]] = {"name": "event_name", "account_id": "context.group_id"}
    identifying_fields = ("timestamp",)

    def split(self, document: Any) -> list[WireEvent]:
        return array_or_object_split(document)

    def to_canonical(self, event: WireEvent, *, received_at: datetime) -> CanonicalEvent | list[EventProblem]:
        index, item = event.index, event.raw
        if not isinstance(item, dict):
            return [EventProblem(index, "event", "each event must be a JSON object")]
        problems: list[EventProblem] = []
        name = required_string(item, "event_name", index=index, problems=problems)
        user_id = required_string(item, "user_id", index=index, problems=problems)

        raw_ts = item.get("timestamp")
        timestamp = datetime_from_iso(raw_ts)
        if raw_ts is None or raw_ts == "":
            problems.append(EventProblem(index, "timestamp", f"timestamp is required: {EXPECTED_TIMESTAMP}"))
        elif timestamp is None:
            problems.append(
                EventProblem(index, "timestamp", f"timestamp {raw_ts!r} is not valid: expected {EXPECTED_TIMESTAMP}")
            )

        properties = json_object(item, "properties", index=index, problems=problems)
        given_context = json_object(item, "context", index=index, problems=problems) or {}
        group_id = given_context.get("group_id")
        if group_id is not None and not isinstance(group_id, str):
            problems.append(EventProblem(index, "context.group_id", "context.group_id must be a string"))

        if problems:
            return problems
        assert name is not None and user_id is not None and timestamp is not None
        # Unlisted top-level fields first, then the producer's own context keys as they are.
        context = {key: value for key, value in item.items() if key not in _OWN_FIELDS}
        context.update(given_context)
        return CanonicalEvent(
            name=name,
            event_id=derived_event_id(name=name, raw=item, has_own_timestamp=True),
            timestamp=timestamp,
            user_id=user_id,
            account_id=group_id or None,
            properties=properties or {},
            context=context,
            empty_identifiers=empty_identifiers(given_context, {"account_id": "group_id"}),
        )

    def replay_document(self, payload: Any) -> Any:
        return [payload]

    def success_body(self, outcome: IngestOutcome, *, request_id: str) -> dict[str, Any]:
        return {"success": True, "response_id": request_id, "message": SUCCESS_MESSAGE}

    def error_body(self, failure: TrackFailure) -> Any:
        body: dict[str, Any] = {"success": False, "response_id": failure.request_id}
        # A 400's message is the docs' text exactly (the contract keeps it); what was wrong
        # is in the added ``errors``.
        if failure.problems:
            body["message"] = BAD_REQUEST_MESSAGE
            body["errors"] = failure.problem_items()
        elif failure.status == 400:
            body["message"] = BAD_REQUEST_MESSAGE
            body["errors"] = [failure.request_item()]
        else:
            body["message"] = _MESSAGES_BY_KIND.get(failure.kind, failure.message)
        return body

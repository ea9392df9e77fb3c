"""Userpilot: ``POST /v1/track`` with ``Authorization: Token <api key>``; 202 when accepted.

Body ``{"user_id", "event_name", "metadata"}`` (the first two required); an array of such
objects is taken as a batch. ``metadata`` becomes the event's properties, any other field
is kept in its context. The format has no timestamp and no event id: an event is
timestamped when received and gets a random id, so every request is a new event.
Errors: ``{"errors": [{"details", "error", "error_code", "message"}]}`` as the seed gives
them, each message naming the field; event-level items also carry ``index`` and ``field``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from ingestion.canonical import CanonicalEvent, EventProblem, derived_event_id, json_object, required_string
from ingestion.formats.base import (
    TrackFailure,
    WireEvent,
    WireFormatAdapter,
    array_or_object_split,
)

_OWN_FIELDS = {"user_id", "event_name", "metadata"}
# (error, error_code, message) for request-level causes; ``message`` names the field.
_REQUEST_ERRORS = {
    "missing_credentials": (
        "unauthorized", "MISSING_API_KEY",
        "Authorization header is missing or not of the form: Authorization: Token <API key>",
    ),
    "invalid_credentials": ("unauthorized", "INVALID_API_KEY", "Authorization: the API key is invalid"),
    "missing_scope": ("unauthorized", "INVALID_API_KEY", "Authorization: the API key lacks the track:events scope"),
    "too_large": ("bad_request", "PAYLOAD_TOO_LARGE", "body: the request is too large"),
    "too_many_events": ("bad_request", "TOO_MANY_EVENTS", "body: too many events in one request"),
    "invalid_body": ("bad_request", "INVALID_BODY", "body: the request body is invalid"),
    "rate_limited": ("too_many_requests", "RATE_LIMITED", "Authorization: too many requests for this API key"),
    "unavailable": ("service_unavailable", "SERVICE_UNAVAILABLE", "Service temporarily unavailable, retry later"),
    "method": ("method_not_allowed", "METHOD_NOT_ALLOWED", "method: only POST is allowed"),
}  # fmt: skip


class UserpilotAdapter(WireFormatAdapter):
    wire_format = "userpilot"
    wire_fields: ClassVar[dict[str, str]] = {"name": "event_name"}

    def split(self, document: Any) -> list[WireEvent]:
        return array_or_object_split(document)

    def to_canonical(self, event: WireEvent, *, received_at: datetime) -> CanonicalEvent | list[EventProblem]:
        index, item = event.index, event.raw
        if not isinstance(item, dict):
            return [EventProblem(index, "event", "each event must be a JSON object")]
        problems: list[EventProblem] = []
        name = required_string(item, "event_name", index=index, problems=problems)
        user_id = required_string(item, "user_id", index=index, problems=problems)
        metadata = json_object(item, "metadata", index=index, problems=problems)
        if problems:
            return problems
        assert name is not None and user_id is not None
        return CanonicalEvent(
            name=name,
            event_id=derived_event_id(name=name, raw=item, has_own_timestamp=False),
            timestamp=received_at,
            user_id=user_id,
            properties=metadata or {},
            context={key: value for key, value in item.items() if key not in _OWN_FIELDS},
        )

    success_status = 202

    def error_body(self, failure: TrackFailure) -> Any:
        if failure.problems:
            errors: list[dict[str, Any]] = [
                {
                    "details": f"Event at index {problem.index}: {problem.message}",
                    "error": "bad_request",
                    "error_code": "INVALID_FIELD",
                    "message": problem.message,
                    **problem.as_dict(),
                }
                for problem in failure.problems
            ]
        else:
            error, error_code, summary = _REQUEST_ERRORS.get(
                failure.kind, ("bad_request", "INVALID_REQUEST", failure.message)
            )
            item: dict[str, Any] = {"details": failure.message, "error": error, "error_code": error_code}
            item["message"] = summary
            if failure.field:
                item["field"] = failure.field
            errors = [item]
        return {"errors": errors}

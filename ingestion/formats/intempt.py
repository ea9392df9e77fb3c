"""Intempt: ``POST /{orgName}/projects/{projectName}/sources/{sourceId}/track?apiKey=``.

Body ``{"track": [{"name": ..., "payload": [event, ...]}, ...]}``; 200 ``{}`` on success.
The seed types ``data``, ``userAttributes`` and ``accountAttributes`` as JSON strings but
sends objects: both are accepted. ``profileId`` is sent by every example though the
schema omits it: it is a user identifier.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from ingestion.canonical import (
    INTEMPT_IDENTITY_FIELDS,
    CanonicalEvent,
    EventProblem,
    datetime_from_ms_or_digits,
    derived_event_id,
    empty_identifiers,
    json_object,
    optional_string,
)
from ingestion.formats.base import (
    RequestProblem,
    TrackFailure,
    WireEvent,
    WireFormatAdapter,
)

# Fields with a canonical column of their own; everything else goes to ``context``.
_OWN_FIELDS = {"eventId", "userId", "profileId", "timestamp", "accountId", "sessionId", "pageId", "data"}
_USER_FIELDS = ("userId", "profileId", "anotherUserId")
# The identifier columns, by canonical name (``anotherUserId`` and ``anotherAccountId`` stay
# in the context, where "" is kept as sent).
_IDENTIFIER_COLUMNS = {"user_id": "userId", "profile_id": "profileId", "account_id": "accountId"}
# A track[] group's own fields; any other is shared by its events (``WireEvent.shared``).
_GROUP_FIELDS = {"name", "payload"}


def _timestamp_unset(value: Any) -> bool:
    """``timestamp`` sent as 0 (or "0", or "") is not set: "if not set, the current
    timestamp will be applied" (the seed). An SDK whose int64 field cannot be absent sends
    0 for an event it did not stamp, and nobody tracks an event at the epoch."""
    return not isinstance(value, bool) and value in (0, "0", "")


class IntemptAdapter(WireFormatAdapter):
    wire_format = "intempt"
    wire_fields: ClassVar[dict[str, str]] = {
        "event_id": "eventId", "user_id": "userId", "profile_id": "profileId", "account_id": "accountId",
        "session_id": "sessionId", "page_id": "pageId",
    }  # fmt: skip
    identifying_fields = ("eventId", "timestamp")

    def split(self, document: Any) -> list[WireEvent]:
        if not isinstance(document, dict):
            raise RequestProblem("The body must be a JSON object with a track array", field="track")
        groups = document.get("track")
        if not isinstance(groups, list):
            raise RequestProblem("track is required and must be an array", field="track")
        # Fields the docs don't list around the events (an SDK's sentAt, a group's source)
        # are kept, as the contract keeps unlisted fields, in each event's context.
        around = {key: value for key, value in document.items() if key != "track"}
        events: list[WireEvent] = []
        for g, group in enumerate(groups):
            if not isinstance(group, dict) or not isinstance(group.get("payload"), list):
                # A group with no usable payload array is one rejected "event".
                events.append(WireEvent(index=f"track[{g}]", raw=group, replay_payload=group))
                continue
            group_fields = {key: value for key, value in group.items() if key not in _GROUP_FIELDS}
            shared = {**around, **group_fields} or None
            for i, item in enumerate(group["payload"]):
                events.append(
                    WireEvent(
                        index=f"track[{g}].payload[{i}]",
                        raw=item,
                        # As sent: a group without a name is kept without one.
                        replay_payload={**group, "payload": [item]},
                        group_name=group.get("name"),
                        shared=shared,
                    )
                )
        return events

    def to_canonical(self, event: WireEvent, *, received_at: datetime) -> CanonicalEvent | list[EventProblem]:
        index, item = event.index, event.raw
        problems: list[EventProblem] = []
        if ".payload[" not in str(index):  # ``split`` found no payload array in this group
            if not isinstance(item, dict):
                return [EventProblem(index, "track", "each track item must be an object")]
            return [EventProblem(index, "payload", "payload is required and must be an array")]
        if not isinstance(item, dict):
            return [EventProblem(index, "payload", "each payload item must be an object")]

        name = event.group_name
        if name is None or name == "":
            problems.append(EventProblem(index, "name", "name is required"))
        elif not isinstance(name, str):
            problems.append(EventProblem(index, "name", "name must be a string"))

        event_id = optional_string(item, "eventId", index=index, problems=problems)
        user_id = optional_string(item, "userId", index=index, problems=problems)
        profile_id = optional_string(item, "profileId", index=index, problems=problems)
        for key in ("anotherUserId", "accountId", "anotherAccountId", "sessionId", "pageId"):
            optional_string(item, key, index=index, problems=problems)
        # A user field of the wrong type is already a problem of its own; name it once.
        if not any(item.get(key) not in (None, "") for key in _USER_FIELDS):
            problems.append(EventProblem(index, "userId", "userId is required when profileId is not set"))

        timestamp = received_at
        raw_ts = item.get("timestamp")
        if _timestamp_unset(raw_ts):
            raw_ts = None  # the time received, and no timestamp of its own (for the derived id)
        if raw_ts is not None:
            parsed = datetime_from_ms_or_digits(raw_ts)
            if parsed is None:
                message = "timestamp must be a number of milliseconds since the epoch"
                problems.append(EventProblem(index, "timestamp", message))
            else:
                timestamp = parsed

        data = json_object(item, "data", index=index, problems=problems, allow_json_string=True)
        context: dict[str, Any] = {key: value for key, value in item.items() if key not in _OWN_FIELDS}
        if event.shared:
            context = {**event.shared, **context}
        for key in ("userAttributes", "accountAttributes"):
            attributes = json_object(item, key, index=index, problems=problems, allow_json_string=True)
            if attributes is not None:
                context[key] = attributes

        if problems:
            return problems
        assert isinstance(name, str)
        return CanonicalEvent(
            name=name,
            event_id=event_id or derived_event_id(name=name, raw=item, has_own_timestamp=raw_ts is not None),
            timestamp=timestamp,
            user_id=user_id or None,
            profile_id=profile_id or None,
            account_id=item.get("accountId") or None,
            session_id=item.get("sessionId") or None,
            page_id=item.get("pageId") or None,
            properties=data or {},
            context=context,
            # Only the item's own: a group-level anotherUserId would merge every user of the group.
            identity_fields=INTEMPT_IDENTITY_FIELDS.intersection(item),
            empty_identifiers=empty_identifiers(item, _IDENTIFIER_COLUMNS),
        )

    def replay_document(self, payload: Any) -> Any:
        return {"track": [payload]}

    def error_body(self, failure: TrackFailure) -> Any:
        return {"errors": failure.problem_items() or [failure.request_item()]}

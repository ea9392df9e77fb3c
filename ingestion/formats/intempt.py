"""Intempt: ``POST /{orgName}/projects/{projectName}/sources/{sourceId}/track?apiKey=``.

Body ``{"track": [{"name": ..., "payload": [event, ...]}, ...]}``; 200 ``{}`` on success.
The seed types ``data``, ``userAttributes`` and ``accountAttributes`` as JSON strings but
sends objects: both are accepted. ``profileId`` is sent by every example though the
schema omits it: it is a user identifier.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings

from ingestion.canonical import (
    EPOCH,
    INTEMPT_IDENTITY_FIELDS,
    CanonicalEvent,
    EventProblem,
    datetime_from_ms_or_digits,
    derived_event_id,
    empty_identifiers,
    json_object,
    kept_json_size,
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


def _copied_size(group: dict[str, Any]) -> int:
    """The JSON size of what ``group`` copies into each of its events (all but its payload);
    0 past what orjson writes for its nesting (each event is refused, kept without its
    payload). A lone surrogate, which orjson cannot write either, also refuses each event,
    but each is kept with its payload (U+FFFD in its place): that size is counted."""
    return kept_json_size({key: value for key, value in group.items() if key != "payload"}) or 0


def _timestamp_of_its_own(value: Any) -> datetime | None:
    """``timestamp`` as a datetime; None when not set; ValueError when it is no timestamp.

    0, in any spelling (``0``, ``"0"``, ``"00"``, ``" 0 "``, ``0.4``: milliseconds are
    whole, so anything that reads as the epoch), and ``""`` are not set: "if not set, the current timestamp
    will be applied" (the seed). An SDK whose int64 field cannot be absent sends 0 for an
    event it did not stamp, and nobody tracks an event at the epoch.
    """
    if value is None or value == "":
        return None
    parsed = datetime_from_ms_or_digits(value)
    if parsed is None:
        raise ValueError(value)
    return None if parsed == EPOCH else parsed


class IntemptAdapter(WireFormatAdapter):
    wire_format = "intempt"
    wire_fields: ClassVar[dict[str, str]] = {
        "event_id": "eventId", "user_id": "userId", "profile_id": "profileId", "account_id": "accountId",
        "session_id": "sessionId", "page_id": "pageId",
    }  # fmt: skip

    def identifies_itself(self, raw: Any) -> bool:
        # A timestamp of 0 (in any spelling) is no time of the event's own: without an
        # eventId such an event is new each time it is sent (``to_canonical``).
        if not isinstance(raw, dict):
            return False
        if raw.get("eventId") not in (None, ""):
            return True
        try:
            return _timestamp_of_its_own(raw.get("timestamp")) is not None
        except ValueError:
            return True  # no timestamp at all ("yesterday"), but the event's own value: a retry resends it

    def split(self, document: Any) -> list[WireEvent]:
        if not isinstance(document, dict):
            raise RequestProblem("The body must be a JSON object with a track array", field="track")
        groups = document.get("track")
        if not isinstance(groups, list):
            raise RequestProblem("track is required and must be an array", field="track")
        # Fields the docs don't list around the events (an SDK's sentAt, a group's source)
        # are kept, as the contract keeps unlisted fields, in each event's context.
        around = {key: value for key, value in document.items() if key != "track"}
        # A refused event is kept as its group with just that item, and the fields around
        # the track array go into that group: replayed, they reach the event's context as
        # they first did, and the checks for NUL characters and nesting, which look at the
        # kept group, see them too. (Not a body-level name or payload: in a group they
        # would be its own.)
        around_kept = {key: value for key, value in around.items() if key not in _GROUP_FIELDS}
        # A body-level name or payload is in no kept group but is copied into each event's
        # context all the same (``shared``): counted per event with the group's copy below.
        around_unkept = {key: value for key, value in around.items() if key in _GROUP_FIELDS}
        around_unkept_bytes = (kept_json_size(around_unkept) or 0) if around_unkept else 0
        events: list[WireEvent] = []
        copied_bytes = 0
        for g, group in enumerate(groups):
            # The body's fields in a kept group (a group's own field of the same name wins).
            sending = frozenset(around_kept.keys() - group.keys()) if isinstance(group, dict) else frozenset()
            if not isinstance(group, dict) or not isinstance(group.get("payload"), list):
                # A group with no usable payload array is one rejected "event".
                kept_group = {**around_kept, **group} if isinstance(group, dict) else group
                events.append(
                    WireEvent(index=f"track[{g}]", raw=group, replay_payload=kept_group, sending_fields=sending)
                )
                continue
            group_fields = {key: value for key, value in group.items() if key not in _GROUP_FIELDS}
            shared = {**around, **group_fields} or None
            kept_group = {**around_kept, **group}
            copied_bytes += (_copied_size(kept_group) + around_unkept_bytes) * len(group["payload"])
            for i, item in enumerate(group["payload"]):
                events.append(
                    WireEvent(
                        index=f"track[{g}].payload[{i}]",
                        raw=item,
                        # As sent: a group without a name is kept without one.
                        replay_payload={**kept_group, "payload": [item]},
                        group_name=group.get("name"),
                        shared=shared,
                        sending_fields=sending,
                    )
                )
        # What a group carries besides its payload (its name, the fields around) is
        # copied into each of its events, stored or refused: counted once per event, it
        # must stay within the request's size limit, or a small body would store a
        # thousand times its size (a 1 MB sentAt beside 1,000 events: 1 GB).
        limit = settings.TRACKHUB_MAX_BODY_BYTES
        if copied_bytes > limit:
            raise RequestProblem(
                f"The fields beside payload and track are copied into each of their events: {copied_bytes} bytes "
                f"in all, more than the {limit}-byte limit",
                field="track",
                kind="too_large",
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

        try:
            own_timestamp = _timestamp_of_its_own(item.get("timestamp"))
        except ValueError:
            own_timestamp = None
            message = "timestamp must be a number of milliseconds since the epoch"
            problems.append(EventProblem(index, "timestamp", message))
        # Not set: the time received, and no timestamp of its own (for the derived id).
        timestamp = own_timestamp or received_at

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
            event_id=event_id or derived_event_id(name=name, raw=item, has_own_timestamp=own_timestamp is not None),
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

"""Databuddy: ``POST /track`` with ``Authorization: Bearer <api key>`` or ``?website_id=``.

Body: one event object or an array of them: ``name`` (1-256 characters, required),
``namespace`` (<= 64), ``timestamp`` (ms or an ISO 8601 string; default: received),
``properties``, ``anonymousId`` and ``sessionId`` (<= 256), ``websiteId`` (a website of
the same project, else 404 ``Website not found`` for the whole request) and ``source``
(<= 64). ``anonymousId`` fills ``anonymous_id`` only, ``profileId`` fills ``profile_id``;
``source``, ``websiteId`` and any unlisted field stay in the context. Errors carry the
docs' fixed messages; the seed gives no statuses, the contract does (400/401/403/404).
Browsers: preflight and responses grant the ``?website_id=`` website's allowed origins.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponse

from ingestion import selectors
from ingestion.authentication import TrackPrincipal, website_allowed_origin
from ingestion.canonical import (
    CanonicalEvent,
    EventProblem,
    ascii_digits,
    datetime_from_iso,
    datetime_from_ms_or_digits,
    derived_event_id,
    empty_identifiers,
    identifier_too_long,
    json_object,
    optional_string,
    required_string,
)
from ingestion.formats.base import (
    IngestOutcome,
    RequestProblem,
    TrackFailure,
    WireEvent,
    WireFormatAdapter,
    array_or_object_split,
    json_response,
)
from ingestion.models import Source

# Fields with a canonical column of their own; everything else (``source``, ``websiteId``
# included) is kept in ``context`` under its own name.
_OWN_FIELDS = {"name", "namespace", "timestamp", "properties", "anonymousId", "profileId", "sessionId"}
_IDENTIFIER_COLUMNS = {"anonymous_id": "anonymousId", "profile_id": "profileId"}
_MAX_LENGTHS = {"namespace": 64, "anonymousId": 256, "profileId": 256, "sessionId": 256, "source": 64}

INVALID_BODY = "Invalid request body"
WEBSITE_NOT_FOUND = "Website not found"
# The docs' messages, by cause; causes the docs do not cover keep the shared message.
_MESSAGES_BY_KIND = {
    "invalid_body": INVALID_BODY,
    "too_large": INVALID_BODY,
    "too_many_events": INVALID_BODY,
    "missing_credentials": "API key or website_id required",
    "invalid_credentials": "Invalid API key",
    "missing_scope": "API key missing track:events scope",
    "website_not_found": WEBSITE_NOT_FOUND,
}
_PREFLIGHT_HEADERS = {"Access-Control-Allow-Methods": "POST, OPTIONS", "Access-Control-Max-Age": "86400"}
# The request headers this endpoint reads; a preflight grants these and any the browser asks for.
_ALLOW_HEADERS = ("Authorization", "Content-Type", "Content-Encoding")


def _timestamp(value: Any) -> datetime | None:
    """Milliseconds (a number, or a string of digits) or an ISO 8601 string."""
    if isinstance(value, str) and not ascii_digits(value.strip()):
        return datetime_from_iso(value)
    return datetime_from_ms_or_digits(value)


def _own_event_id(item: dict[str, Any]) -> str | None:
    """The event's ``eventId`` if it can be its id: a non-empty string within the cap."""
    own_id = item.get("eventId")
    if isinstance(own_id, str) and own_id and not identifier_too_long(own_id):
        return own_id
    return None


def _website_id_check(item: dict[str, Any], *, index: str | int, problems: list[EventProblem]) -> None:
    """An event's ``websiteId``, if set, must be a string (``check_events`` then looks it
    up for the whole request, which only strings can be)."""
    website_id = item.get("websiteId")
    if website_id is not None and not isinstance(website_id, str):
        problems.append(EventProblem(index, "websiteId", "websiteId must be a string holding a UUID"))


class DatabuddyAdapter(WireFormatAdapter):
    wire_format = "databuddy"
    wire_fields: ClassVar[dict[str, str]] = {
        "anonymous_id": "anonymousId",
        "profile_id": "profileId",
        "session_id": "sessionId",
    }
    credential_statuses = {"missing_scope": 403, "website_not_found": 404, "origin_not_allowed": 403}

    def split(self, document: Any) -> list[WireEvent]:
        return array_or_object_split(document)

    def identifies_itself(self, raw: Any) -> bool:
        # An eventId that cannot be an id is only data (``to_canonical``): without a
        # timestamp such an event is new each time it is sent.
        return isinstance(raw, dict) and (_own_event_id(raw) is not None or raw.get("timestamp") not in (None, ""))

    def to_canonical(self, event: WireEvent, *, received_at: datetime) -> CanonicalEvent | list[EventProblem]:
        index, item = event.index, event.raw
        if not isinstance(item, dict):
            return [EventProblem(index, "event", "each event must be a JSON object")]
        problems: list[EventProblem] = []
        name = required_string(item, "name", index=index, problems=problems, max_length=256)
        values = {
            key: optional_string(item, key, index=index, problems=problems, max_length=limit)
            for key, limit in _MAX_LENGTHS.items()
        }
        _website_id_check(item, index=index, problems=problems)

        timestamp = received_at
        raw_ts = item.get("timestamp")
        if raw_ts is not None:
            parsed = _timestamp(raw_ts)
            if parsed is None:
                problems.append(
                    EventProblem(
                        index, "timestamp", "timestamp must be milliseconds since the epoch or an ISO 8601 string"
                    )
                )
            else:
                timestamp = parsed
        properties = json_object(item, "properties", index=index, problems=problems)

        if problems:
            return problems
        assert name is not None
        context = {key: value for key, value in item.items() if key not in _OWN_FIELDS}
        # Not in the seed, but Databuddy's SDKs give every event an ``eventId`` they keep
        # across retries, and its server stores it as the event's id: so is it here (a
        # retry is stored once even without a timestamp). A value that cannot be an id is
        # only data, as any unlisted field is, and the event gets an id of its own.
        if _own_event_id(item) is not None:
            event_id = context.pop("eventId")
        else:
            event_id = derived_event_id(name=name, raw=item, has_own_timestamp=raw_ts is not None)
        return CanonicalEvent(
            name=name,
            event_id=event_id,
            timestamp=timestamp,
            namespace=values["namespace"] or None,
            anonymous_id=values["anonymousId"] or None,
            profile_id=values["profileId"] or None,
            session_id=values["sessionId"] or None,
            properties=properties or {},
            context=context,
            empty_identifiers=empty_identifiers(item, _IDENTIFIER_COLUMNS),
        )

    def check_events(self, events: Sequence[CanonicalEvent], *, source: Source) -> None:
        """Every ``websiteId`` must be a website of the source's project: the whole request
        is refused otherwise (contract: request-level), so no event lands on a site it
        does not belong to."""
        named = {event.context["websiteId"] for event in events if event.context.get("websiteId")}
        if not named:
            return
        try:
            wanted = {uuid.UUID(value) for value in named}
        except ValueError as exc:
            raise RequestProblem(WEBSITE_NOT_FOUND, status=404, kind="website_not_found", field="websiteId") from exc
        if selectors.website_ids_in_project(project_id=source.project_id, website_ids=wanted) != wanted:
            raise RequestProblem(WEBSITE_NOT_FOUND, status=404, kind="website_not_found", field="websiteId")

    def success_body(self, outcome: IngestOutcome, *, request_id: str) -> dict[str, Any]:
        return {"status": "success", "type": "custom_event", "count": outcome.accepted}

    def error_body(self, failure: TrackFailure) -> Any:
        message = INVALID_BODY if failure.status == 400 else _MESSAGES_BY_KIND.get(failure.kind, failure.message)
        body: dict[str, Any] = {"status": "error", "message": message}
        if failure.problems:
            body["errors"] = failure.problem_items()
        elif failure.status in (400, 415):
            # The docs' message stays fixed; what exactly is wrong is said here.
            body["errors"] = [failure.request_item()]
        return body

    # --- browsers ------------------------------------------------------------------------

    def preflight(self, request: HttpRequest) -> HttpResponse:
        website_id = request.GET.get("website_id")
        website = selectors.website_get(website_id=website_id) if website_id else None
        if website_id and website is None:
            return json_response({"status": "error", "message": WEBSITE_NOT_FOUND}, status=404)
        response = HttpResponse(status=204, headers={"Allow": "POST, OPTIONS"})
        allowed = website_allowed_origin(website, request.headers.get("Origin")) if website else None
        if allowed is not None:
            # Without a website (API-key calls) nothing is granted: keys belong on servers.
            headers = {
                **_PREFLIGHT_HEADERS,
                "Access-Control-Allow-Headers": _allow_headers(request.headers.get("Access-Control-Request-Headers")),
                **_allow_origin_headers(allowed, request.headers.get("Origin")),
            }
            # The grant echoes the asked-for headers: a shared cache must not hand one
            # preflight's answer to another that asks for different ones.
            headers["Vary"] = "Origin, Access-Control-Request-Headers"
            for key, value in headers.items():
                response[key] = value
        return response

    def response_headers(self, request: HttpRequest, *, principal: Any) -> dict[str, str]:
        website = principal.website if isinstance(principal, TrackPrincipal) else None
        if website is None:
            return {}
        origin = request.headers.get("Origin")
        allowed = website_allowed_origin(website, origin)
        return _allow_origin_headers(allowed, origin) if allowed else {}


def _allow_headers(requested: str | None) -> str:
    """``Access-Control-Allow-Headers``: ours, then every other header the preflight asks for.

    A refused header blocks the whole request, and Databuddy's own tracker adds
    ``databuddy-client-id``, ``-sdk-name`` and ``-sdk-version`` to each one (a page may add
    its own too). Granting them costs nothing: this endpoint reads no header but ours, and
    the website id it trusts is public anyway.
    """
    names = list(_ALLOW_HEADERS)
    seen = {name.lower() for name in names}
    for name in (requested or "").split(","):
        name = name.strip()
        if name and name.lower() not in seen:
            seen.add(name.lower())
            names.append(name)
    return ", ".join(names)


def _allow_origin_headers(allowed: str, origin: str | None) -> dict[str, str]:
    """The CORS grant for a request from ``origin`` that the website allows (``allowed``,
    see ``website_allowed_origin``).

    The origin itself, with credentials, whenever the browser names one, even for a
    website that allows any: ``navigator.sendBeacon`` always sends credentials, and a
    browser refuses ``*`` to a credentialed request. Databuddy's tracker tries a JSON
    beacon first; refused after its preflight, the beacon is dropped without a word while
    the tracker counts its events as sent. Credentials give nothing away here: this
    endpoint reads no cookie and answers only an acknowledgement.
    """
    if allowed == "*" and (not origin or origin == "null"):
        # No browser origin to name (a server, or an opaque "null" origin, which is
        # never given credentials).
        return {"Access-Control-Allow-Origin": "*", "Vary": "Origin"}
    return {
        "Access-Control-Allow-Origin": origin or allowed,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


IDENTIFY_EVENT_NAME = "$identify"


class DatabuddyIdentifyAdapter(DatabuddyAdapter):
    """Databuddy's SDKs' ``identify({profileId, anonymousId, traits})``: ``POST /identify``.

    Not in the seed (nor the contract's four track endpoints), but the SDK's own call, sent
    to ``{apiUrl}/identify`` with the track endpoint's credentials: without it a producer
    that only changed its base URL saw every identify fail. The body is one object:
    ``profileId`` and ``anonymousId`` (at least one; <= 256 characters each) and ``traits``
    (an object). It is stored as one event named ``$identify`` at the time received, so
    the two ids are linked as on any Databuddy event carrying both (contract: Identity),
    and ``traits`` is kept in ``context.userAttributes`` and merged into the profile's
    attributes as Intempt's ``userAttributes`` are. Every problem is the request's (400,
    nothing kept: ``keeps_rejected``): there is one call per request, and a kept rejected
    event could only be replayed as a track event.
    """

    keeps_rejected = False

    def split(self, document: Any) -> list[WireEvent]:
        if not isinstance(document, dict):
            raise RequestProblem("The body must be a JSON object", field="body")
        return [WireEvent(index=0, raw=document, replay_payload=document)]

    def to_canonical(self, event: WireEvent, *, received_at: datetime) -> CanonicalEvent | list[EventProblem]:
        item = event.raw
        problems: list[EventProblem] = []
        ids = {
            key: optional_string(item, key, index=0, problems=problems, max_length=_MAX_LENGTHS[key])
            for key in ("profileId", "anonymousId")
        }
        traits = json_object(item, "traits", index=0, problems=problems)
        _website_id_check(item, index=0, problems=problems)
        if not problems and not any(ids.values()):
            problems.append(EventProblem(0, "profileId", "profileId or anonymousId is required"))
        if problems:
            return problems
        context = {key: value for key, value in item.items() if key not in ("profileId", "anonymousId", "traits")}
        if traits is not None:
            context["userAttributes"] = traits
        return CanonicalEvent(
            name=IDENTIFY_EVENT_NAME,
            # No timestamp of its own: each call is a new event, as the contract has it.
            event_id=derived_event_id(name=IDENTIFY_EVENT_NAME, raw=item, has_own_timestamp=False),
            timestamp=received_at,
            anonymous_id=ids["anonymousId"] or None,
            profile_id=ids["profileId"] or None,
            context=context,
            identity_fields=frozenset({"userAttributes"}) if traits is not None else frozenset(),
            empty_identifiers=empty_identifiers(item, _IDENTIFIER_COLUMNS),
        )

    def success_body(self, outcome: IngestOutcome, *, request_id: str) -> dict[str, Any]:
        return {"status": "success", "type": "identify"}

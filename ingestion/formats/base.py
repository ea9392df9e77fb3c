"""What every wire-format adapter provides to the shared track view.

An adapter knows only its format: how a body splits into events, how one event maps to
the canonical form, and how answers look. Authentication, limits, dedupe and storage are
done once by ``ingestion.views.TrackView`` and ``ingestion.services``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from django.http import HttpRequest, HttpResponse

from ingestion.canonical import CanonicalEvent, EventProblem

if TYPE_CHECKING:
    from ingestion.models import Source


class RequestProblem(Exception):
    """A problem with the whole request: nothing is stored (contract: request-level)."""

    def __init__(self, message: str, *, status: int = 400, kind: str = "invalid_body", field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.kind = kind
        self.field = field


@dataclass(frozen=True)
class IngestOutcome:
    """What the shared path did with a request's events."""

    accepted: int  # valid events, duplicates included (a retry gets the same answer)
    stored: int  # rows newly written
    rejected: Sequence[EventProblem] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.accepted - self.stored

    @property
    def rejected_events(self) -> int:
        """Problems are listed per field; an event with two bad fields is one rejected event."""
        return len({problem.index for problem in self.rejected})


class WireEvent:
    """One event as it arrived: where it sits in the body and its raw JSON value.
    (A slotted class: one is made per event, and a frozen dataclass costs several times more.)"""

    __slots__ = ("group_name", "index", "raw", "replay_payload", "sending_fields", "shared")

    def __init__(
        self,
        index: str | int,
        raw: Any,
        replay_payload: Any,
        group_name: Any = None,
        shared: dict[str, Any] | None = None,
        sending_fields: frozenset[str] = frozenset(),
    ) -> None:
        self.index = index
        self.raw = raw
        self.replay_payload = replay_payload  # the smallest fragment of the format that carries just this event
        self.group_name = group_name  # Intempt: the name of the track[] group it came in
        # Intempt: unlisted fields of the group and of the body around it, which belong to
        # every event in the group (kept in its context beneath the event's own fields).
        self.shared = shared
        # Intempt: the keys of ``replay_payload`` that come from the body around the track
        # array (an SDK's sentAt): they describe the sending, not the event, so a retry
        # may change them (``rejected_event_key`` leaves them out, as the derived ids do).
        self.sending_fields = sending_fields


@dataclass(frozen=True)
class TrackFailure:
    """Why a request (or every event in it) was refused, for the format to put in words.

    ``kind`` names the cause for formats whose messages are fixed (Databuddy):
    ``invalid_body``, ``too_large``, ``too_many_events``, ``missing_credentials``,
    ``invalid_credentials``, ``missing_scope``, ``website_not_found``,
    ``origin_not_allowed``, ``method``, ``rate_limited``, ``unavailable``,
    ``host_not_allowed`` and ``invalid_request`` (refused before the view: a Host header
    not in DJANGO_ALLOWED_HOSTS, another bad request).
    """

    status: int
    message: str
    kind: str
    field: str = ""
    problems: Sequence[EventProblem] = ()
    request_id: str = ""

    def problem_items(self) -> list[dict[str, Any]]:
        """The contract's ``{"index", "field", "message"}`` per event-level problem."""
        return [problem.as_dict() for problem in self.problems]

    def request_item(self) -> dict[str, str]:
        """A request-level problem: no index, the field when one is to blame."""
        return {"field": self.field, "message": self.message} if self.field else {"message": self.message}


def json_response(body: Any, *, status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def array_or_object_split(document: Any) -> list[WireEvent]:
    """A body that is one event object or an array of them; index = position (0 for one)."""
    if isinstance(document, dict):
        return [WireEvent(index=0, raw=document, replay_payload=document)]
    if isinstance(document, list):
        return [WireEvent(index=i, raw=item, replay_payload=item) for i, item in enumerate(document)]
    raise RequestProblem("The body must be a JSON object or an array of objects", field="body")


class WireFormatAdapter:
    """Subclasses implement split, to_canonical, success_body and error_body for one format."""

    wire_format: ClassVar[str]
    # The HTTP status of a refused credential, by ``CredentialRejected.kind``; 401 when absent.
    credential_statuses: ClassVar[dict[str, int]] = {}
    # The producer's name of a canonical field where it differs, so that a problem found
    # on the canonical event (an identifier past the size cap) names what was sent.
    wire_fields: ClassVar[dict[str, str]] = {}
    # The fields that make an event sent again the same event (contract: Deduplication):
    # its own id or its own timestamp. A refused event carrying one is kept once however
    # often it is retried (``rejected_event_key``); one with neither is new every time.
    # ``identifies_itself`` reads them; Intempt and Databuddy, whose rules are finer (a
    # timestamp of 0, an eventId that is only data), override it.
    identifying_fields: ClassVar[tuple[str, ...]] = ()
    # False for a format whose body is one call that cannot be replayed as an event (Databuddy's
    # identify): an event-level problem refuses the whole request (a 400 naming the first
    # problem) and nothing is kept, instead of a rejected event.
    keeps_rejected: ClassVar[bool] = True

    def credential_status(self, kind: str) -> int:
        return self.credential_statuses.get(kind, 401)

    def identifies_itself(self, raw: Any) -> bool:
        """Whether ``raw``, an event as sent (refused, here), carries its own id or
        timestamp: by the rule ``to_canonical`` derives an accepted event's id with, so a
        refused event is kept once per retry exactly when it would be stored once."""
        return isinstance(raw, dict) and any(raw.get(field) not in (None, "") for field in self.identifying_fields)

    def preflight(self, request: HttpRequest) -> HttpResponse:
        """The answer to ``OPTIONS`` (a CORS preflight carries no credentials). Formats meant
        for browsers grant origins here; the others only say which methods exist."""
        return HttpResponse(status=204, headers={"Allow": "POST, OPTIONS"})

    def response_headers(self, request: HttpRequest, *, principal: Any) -> dict[str, str]:
        """Headers added to every answer of the endpoint (CORS for browser formats)."""
        return {}

    def split(self, document: Any) -> list[WireEvent]:
        """The body's events, or :class:`RequestProblem` if its top-level shape is wrong."""
        raise NotImplementedError

    def to_canonical(self, event: WireEvent, *, received_at: datetime) -> CanonicalEvent | list[EventProblem]:
        raise NotImplementedError

    def check_events(self, events: Sequence[CanonicalEvent], *, source: Source) -> None:
        """A request-level rule on the mapped events (Databuddy's ``websiteId``); raise
        :class:`RequestProblem` to refuse the whole request. Most formats have none."""

    def replay_document(self, payload: Any) -> Any:
        """A whole request body carrying one stored ``RejectedEvent.payload`` (for replay)."""
        return payload

    # --- answers: formats implement success_body and error_body --------------------------

    success_status: ClassVar[int] = 200

    def success_body(self, outcome: IngestOutcome, *, request_id: str) -> dict[str, Any]:
        """The format's success body; the shared ``rejected`` list is added to it."""
        return {}

    def error_body(self, failure: TrackFailure) -> Any:
        raise NotImplementedError

    def success(self, outcome: IngestOutcome, *, request_id: str) -> HttpResponse:
        body = self.success_body(outcome, request_id=request_id)
        if outcome.rejected:
            body["rejected"] = [problem.as_dict() for problem in outcome.rejected]
        return json_response(body, status=self.success_status)

    def error(
        self,
        *,
        status: int,
        message: str,
        kind: str,
        field: str = "",
        problems: Sequence[EventProblem] = (),
        request_id: str,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        """An error in the format's own shape (see :class:`TrackFailure` for ``kind``)."""
        failure = TrackFailure(
            status=status, message=message, kind=kind, field=field, problems=problems, request_id=request_id
        )
        return json_response(self.error_body(failure), status=status, headers=headers)

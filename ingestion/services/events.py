"""The one track path: a decoded request body of any wire format becomes stored events,
kept rejected events and recorded identity work (``wire_document_ingest``); replaying a
rejected event; partition upkeep."""

from __future__ import annotations

import functools
import operator
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ingestion import partitions
from ingestion.body import body_too_large
from ingestion.canonical import (
    CONTEXT_IDENTIFIERS,
    MAX_DEPTH,
    MAX_IDENTIFIER_BYTES,
    CanonicalEvent,
    EventProblem,
    RejectedItem,
    identifier_too_long,
    json_encodable,
    json_size,
    milliseconds_only,
    nested_deeper_than,
    rejected_event_key,
    unstorable_fields,
    unstorable_problems,
    unstorable_replaced,
)
from ingestion.credentials import CredentialCheck
from ingestion.formats import adapter_for
from ingestion.formats.base import IngestOutcome, RequestProblem, WireEvent, WireFormatAdapter
from ingestion.models import RejectedEvent, Source
from ingestion.services.event_writes import (
    KnownKeys,
    credential_check_run,
    events_insert,
    events_insert_small,
    small_write,
)
from profiles.services import identity_work_record


@dataclass(frozen=True)
class StoredBatch:
    accepted: int
    stored: int


def events_ingest(
    *,
    source: Source,
    wire_format: str,
    events: Sequence[CanonicalEvent],
    rejected: Sequence[RejectedItem],
    received_at: datetime,
    credential_check: CredentialCheck | None = None,
) -> StoredBatch:
    """Store a request's valid events once each, keep its rejected ones, and record the
    identity work for the new events; all in one transaction, so the caller answers
    success only after everything is committed.

    With ``credential_check`` (the credential came from this process's cache) the write
    first checks the credential is still live and unchanged, and raises CredentialChanged,
    having written nothing, if it is not: in its own statement for a small write, just
    before the transaction for a bulk one (as the database lookup of an uncached
    credential would be; the check doubles as the request's connection check).
    """
    if rejected or not small_write(events=events):
        if credential_check is not None:
            credential_check_run(check=credential_check)
        store = functools.partial(
            _events_store, source=source, wire_format=wire_format, events=events, rejected=rejected,
            received_at=received_at,
        )  # fmt: skip
        try:
            new_events = store(keys_expected_new=True)
        except KnownKeys:
            # A retry, or a concurrent request that carried some of the same events: write
            # the batch again with the statement that skips the keys already stored.
            new_events = store(keys_expected_new=False)
    else:
        # One statement: its own transaction (or part of the caller's).
        new_events = events_insert_small(
            source=source, wire_format=wire_format, events=events, received_at=received_at,
            credential_check=credential_check,
        )  # fmt: skip
    return StoredBatch(accepted=len(events), stored=len(new_events))


def _events_store(
    *,
    source: Source,
    wire_format: str,
    events: Sequence[CanonicalEvent],
    rejected: Sequence[RejectedItem],
    received_at: datetime,
    keys_expected_new: bool,
) -> list[CanonicalEvent]:
    """``events_ingest``'s transaction for bulk requests (and any with rejected events)."""
    with transaction.atomic():
        new_events = events_insert(
            source=source, wire_format=wire_format, events=events, received_at=received_at,
            keys_expected_new=keys_expected_new,
        )  # fmt: skip
        if rejected:
            rejected_events_store(source=source, wire_format=wire_format, rejected=rejected, received_at=received_at)
        if new_events:
            identity_work_record(project_id=source.project_id, events=new_events)
    return new_events


def wire_document_ingest(
    *,
    adapter: WireFormatAdapter,
    source: Source,
    document: Any,
    received_at: datetime,
    scan_nul: bool = True,
    scan_depth: bool = True,
    credential_check: CredentialCheck | None = None,
) -> IngestOutcome:
    """The shared path for one decoded request body of any wire format.

    Splits it into events (RequestProblem for a wrong top-level shape, no events, or too
    many), validates and maps each, runs the format's request-level check, then stores the
    valid events and keeps the rejected ones. Used by the track views, replay and import.
    An event holding a NUL character or a lone surrogate (which PostgreSQL cannot store) is
    refused at the event level; ``scan_nul=False`` skips that walk when the caller knows the
    body has neither. So is
    one nested deeper than the JSON encoder can write back (``scan_depth``, likewise).
    ``credential_check``: see ``events_ingest``.
    """
    received_at = milliseconds_only(received_at)  # what the events get that have no time of their own
    wire_events = adapter.split(document)
    if not wire_events:
        raise RequestProblem("No events in the request", field="events")
    limit = settings.TRACKHUB_MAX_EVENTS_PER_REQUEST
    if len(wire_events) > limit:
        raise RequestProblem(f"At most {limit} events per request, got {len(wire_events)}", kind="too_many_events")

    events: list[CanonicalEvent] = []
    rejected: list[RejectedItem] = []

    def reject(wire_event: WireEvent, problems: list[EventProblem], payload: Any) -> None:
        key = rejected_event_key(
            wire_format=adapter.wire_format, index=wire_event.index, payload=payload,
            identified=adapter.identifies_itself(wire_event.raw), sending_fields=wire_event.sending_fields,
        )  # fmt: skip
        rejected.append(RejectedItem(problems=problems, payload=payload, key=key))

    for wire_event in wire_events:
        # What the event's envelope copies into its context (Intempt's fields around the
        # track array), checked with the kept payload: a body-level name or payload is
        # copied too but is in no kept group (it would be the group's own), and unchecked
        # it reached the write, which refused it with a 500 (or the whole request).
        shared = wire_event.shared
        # Depth first: the NUL walk recurses once per level, and the parser reads up to
        # 1,024 of them, past Python's recursion limit (a 500 when a NUL came with them).
        if scan_depth and (_too_deep(wire_event.replay_payload) or (shared is not None and _too_deep(shared))):
            problem = EventProblem(wire_event.index, "", f"The event is nested deeper than {MAX_DEPTH} levels")
            reject(wire_event, [problem], None)
            continue
        # Paths within the event; else (a NUL only in fields its envelope shares) within that.
        unstorable_at = (
            (
                unstorable_fields(wire_event.raw)
                or unstorable_fields(wire_event.replay_payload)
                or (unstorable_fields(shared) if shared else [])
            )
            if scan_nul
            else []
        )
        if unstorable_at:
            problems = unstorable_problems(wire_event.index, unstorable_at)
            reject(wire_event, problems, unstorable_replaced(wire_event.replay_payload))
            continue
        result = adapter.to_canonical(wire_event, received_at=received_at)
        # Checked once the event is otherwise valid: each identifier that is too long.
        if isinstance(result, CanonicalEvent) and (
            too_long := _oversized_identifiers(result, adapter=adapter, index=wire_event.index)
        ):
            result = too_long
        if isinstance(result, CanonicalEvent):
            events.append(result)
        else:
            reject(wire_event, result, wire_event.replay_payload)
    if rejected and not adapter.keeps_rejected:
        first = rejected[0].problems[0]
        raise RequestProblem(first.message, field=first.field)
    adapter.check_events(events, source=source)

    batch = events_ingest(
        source=source, wire_format=adapter.wire_format, events=events, rejected=rejected, received_at=received_at,
        credential_check=credential_check,
    )  # fmt: skip
    problems = [problem for item in rejected for problem in item.problems]
    return IngestOutcome(accepted=batch.accepted, stored=batch.stored, rejected=problems)


def _too_deep(value: Any) -> bool:
    """Whether ``value`` nests deeper than the JSON encoder writes back. (One it refuses
    for a lone surrogate instead is found by ``unstorable_fields``.)"""
    return not json_encodable(value) and nested_deeper_than(value, MAX_DEPTH)


_INDEXED_FIELDS = ("name", "event_id", "user_id", "profile_id", "anonymous_id", "account_id", "session_id", "page_id")
_indexed_values = operator.attrgetter(*_INDEXED_FIELDS)


def _oversized_identifiers(
    event: CanonicalEvent, *, adapter: WireFormatAdapter, index: str | int
) -> list[EventProblem]:
    """A problem for each identifier of ``event`` longer than MAX_IDENTIFIER_BYTES."""
    problems = []
    for key in CONTEXT_IDENTIFIERS:  # Intempt's identifiers kept in the context
        value = event.context_identifier(key)
        if value is not None and identifier_too_long(value):
            problems.append(EventProblem(index, key, f"{key} must be at most {MAX_IDENTIFIER_BYTES} bytes"))
    values = _indexed_values(event)
    # Runs for every event: first a bound computed in C (a UTF-8 character is at most 4
    # bytes), so the usual event, whose identifiers are all short, costs no Python loop.
    if max(map(len, filter(None, values)), default=0) * 4 <= MAX_IDENTIFIER_BYTES:
        return problems
    for field, value in zip(_INDEXED_FIELDS, values, strict=True):
        if isinstance(value, str) and identifier_too_long(value):
            sent_as = adapter.wire_fields.get(field, field)
            problems.append(EventProblem(index, sent_as, f"{sent_as} must be at most {MAX_IDENTIFIER_BYTES} bytes"))
    return problems


class ReplayRefused(Exception):
    """The rejected event cannot be replayed (already replayed, or no adapter)."""


@dataclass(frozen=True)
class ReplayResult:
    replayed: bool  # stored (or already present): the rejected event is marked replayed
    outcome: IngestOutcome


def rejected_event_replay(*, rejected_event_id: int, payload: Any, replayed_at: datetime) -> ReplayResult:
    """Send a (possibly corrected) rejected payload through the shared track path again.

    The payload goes back in the format's own body shape (``adapter.replay_document``) to
    ``wire_document_ingest``, so it is validated, deduplicated and stored exactly like a
    new request. If the event is accepted the rejected row keeps the payload that worked
    and gets ``replayed_at``; if it is still refused nothing is written (the new problems
    are returned, no second rejected row is kept). RequestProblem propagates for a
    payload of the wrong shape.
    """
    with transaction.atomic():
        # Row lock: two staff replaying the same row at once must not both store it and
        # both mark it; the second waits, then sees replayed_at and is refused.
        rejected = (
            RejectedEvent.objects.select_for_update(of=("self",)).select_related("source").get(id=rejected_event_id)
        )
        if rejected.replayed_at is not None:
            raise ReplayRefused("this event was already replayed")
        try:
            adapter = adapter_for(rejected.wire_format)
        except KeyError as exc:
            raise ReplayRefused(f"no adapter for the {rejected.wire_format} format") from exc
        document = adapter.replay_document(payload)
        _request_size_check(document)
        savepoint = transaction.savepoint()
        outcome = wire_document_ingest(
            adapter=adapter, source=rejected.source, document=document, received_at=replayed_at
        )
        events = outcome.accepted + outcome.rejected_events
        if events > 1:
            # The row stands for one event; an edit that adds more would store events no
            # rejection ever stood for, under one "replayed" mark.
            raise ReplayRefused(f"the payload holds {events} events; a replay stores exactly one")
        if outcome.rejected or not outcome.accepted:
            transaction.savepoint_rollback(savepoint)
            return ReplayResult(replayed=False, outcome=outcome)
        transaction.savepoint_commit(savepoint)
        rejected.payload = payload
        rejected.replayed_at = replayed_at
        rejected.save(update_fields=["payload", "replayed_at"])
    return ReplayResult(replayed=True, outcome=outcome)


def _request_size_check(document: Any) -> None:
    """RequestProblem, as a track request gets, when ``document`` written as JSON is over
    the request size limit: an edited payload replays only what a producer could send."""
    limit = settings.TRACKHUB_MAX_BODY_BYTES
    size = json_size(document)  # None past what can be written: wire_document_ingest refuses that
    if size is not None and size > limit:
        raise body_too_large(limit)


def rejected_events_store(
    *, source: Source, wire_format: str, rejected: Sequence[RejectedItem], received_at: datetime
) -> None:
    RejectedEvent.objects.bulk_create(
        [
            RejectedEvent(
                project_id=source.project_id,
                source=source,
                wire_format=wire_format,
                received_at=received_at,
                index=item.problems[0].index,
                field=item.problems[0].field,
                message=item.problems[0].message,
                errors=[problem.as_dict() for problem in item.problems],
                payload=item.payload,
                key=item.key,
            )
            for item in rejected
        ],
        # A refused event sent again (a retried request) is kept once (``RejectedItem.key``).
        ignore_conflicts=True,
    )


def event_partitions_maintain(*, now: datetime | None = None) -> dict[str, object]:
    """Create the partitions for the coming months and drop those past retention
    (``TRACKHUB_EVENT_RETENTION_DAYS``, 0 = keep forever). Idempotent; PostgreSQL only."""
    now = now or timezone.now()
    retention_days = settings.TRACKHUB_EVENT_RETENTION_DAYS
    created = partitions.event_partitions_ensure(
        now=now, months_ahead=settings.TRACKHUB_EVENT_PARTITIONS_AHEAD, retention_days=retention_days
    )
    expired = partitions.event_partitions_drop_expired(now=now, retention_days=retention_days)
    return {
        "created": created.created,
        "moved_from_default": created.default_rows_moved,
        "dropped": expired.dropped,
        "deleted_from_default": expired.default_rows_deleted,
    }


def new_request_id() -> str:
    return str(uuid.uuid4())

"""Writes of the ingestion domain: tenants, credentials and the one event write path."""

from __future__ import annotations

import functools
import logging
import operator
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
import orjson
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg.adapt import Dumper

from ingestion import partitions
from ingestion.canonical import (
    CONTEXT_IDENTIFIERS,
    MAX_DEPTH,
    MAX_IDENTIFIER_BYTES,
    CanonicalEvent,
    EventProblem,
    RejectedItem,
    identifier_too_long,
    json_encodable,
    nul_field,
    nul_replaced,
    rejected_event_key,
)
from ingestion.credentials import (
    ACCESS_TOKEN_PREFIX,
    API_KEY_PREFIX,
    READ_SCOPE,
    TRACK_EVENTS_SCOPE,
    TRACK_TOKEN_SCOPES,
    CredentialChanged,
    CredentialCheck,
    credential_generate,
)
from ingestion.formats import adapter_for
from ingestion.formats.base import IngestOutcome, RequestProblem, WireEvent, WireFormatAdapter
from ingestion.models import (
    MAX_ID,
    AccessToken,
    ApiKey,
    DeletedProject,
    Event,
    EventKey,
    Organization,
    Project,
    RejectedEvent,
    Source,
    Website,
)
from profiles.services import (
    event_identity_key,
    identity_facts,
    identity_work_insert_sql,
    identity_work_kick_on_commit,
    identity_work_record,
    profiles_project_purge,
)
from trackhub.db import prepared_cursor, request_first_fetchall, request_first_fetchone

logger = logging.getLogger(__name__)

# last_used_at is a hint for staff, not an audit log: write it at most this often, so
# the hot path does not update the credential row on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


# --- tenants --------------------------------------------------------------------------------


def organization_project_ensure(*, org: str, project: str) -> Project:
    organization, _ = Organization.objects.get_or_create(name=org)
    project_obj, _ = Project.objects.get_or_create(organization=organization, name=project)
    return project_obj


def source_ensure(*, project: Project, source_id: int, kind: str = Source.Kind.BACKEND) -> Source:
    """The source with that id in ``project``; ValueError if the id belongs to another one."""
    source, _ = Source.objects.get_or_create(id=source_id, defaults={"project": project, "kind": kind})
    if source.project_id != project.id:
        raise ValueError(f"source {source_id} already belongs to another project")
    return source


def website_origins_check(*, origins: object) -> None:
    """ValueError unless ``origins`` is a list of ``*`` or scheme://host[:port] (what a
    browser's Origin header holds: no path)."""
    if not isinstance(origins, list | tuple) or not all(isinstance(origin, str) for origin in origins):
        raise ValueError("allowed origins must be a list of strings")
    for origin in origins:
        if origin != "*" and not _ORIGIN.match(origin.rstrip("/")):
            raise ValueError(f"origin must be * or scheme://host[:port] like https://shop.example.com, not {origin!r}")


def website_create(*, source: Source, origins: Sequence[str] = ()) -> Website:
    website_origins_check(origins=origins)
    return Website.objects.create(source=source, allowed_origins=list(origins))


@dataclass(frozen=True)
class Provisioned:
    org: str
    project: str
    source_id: int
    api_key: str
    bearer_token: str
    website_id: str
    read_token: str


# Names appear as path segments of the Intempt URL.
_NAME_MAX_LENGTH = 200
_ORIGIN = re.compile(r"^https?://[^/\s?#]+$", re.IGNORECASE)


def tenant_name_check(*, what: str, name: str) -> None:
    """ValueError unless ``name`` can be an organization's or project's name: it is a path
    segment of the Intempt URL, so it is not empty and holds no "/"."""
    if not name.strip() or "/" in name or len(name) > _NAME_MAX_LENGTH:
        raise ValueError(f"{what} must be 1-{_NAME_MAX_LENGTH} characters without '/', not {name!r}")


def source_id_check(*, source_id: int) -> None:
    """ValueError for an id outside 1..2^63-1: the commands and the read API take no other."""
    if not 1 <= source_id <= MAX_ID:
        raise ValueError(f"source id must be from 1 to {MAX_ID}, not {source_id}")


def _provision_check(*, org: str, project: str, source_id: int, origins: Sequence[str]) -> None:
    """ValueError naming what could never work: an empty name, a name with "/" (the
    Intempt URL could not address it), one too long to store, a source id outside 1..2^63-1,
    an origin that is not ``*`` or scheme://host[:port] (a browser's Origin has no path)."""
    tenant_name_check(what="org", name=org)
    tenant_name_check(what="project", name=project)
    source_id_check(source_id=source_id)
    website_origins_check(origins=origins)


def source_provision(*, org: str, project: str, source_id: int, origins: Sequence[str] = ()) -> Provisioned:
    """Create what is missing of org > project > source (+ website) and fresh credentials.

    Earlier credentials stay valid; the website is reused (its origins replaced when
    ``origins`` is given). ValueError for values that could never work (``_provision_check``).
    """
    _provision_check(org=org, project=project, source_id=source_id, origins=origins)
    with transaction.atomic():
        project_obj = organization_project_ensure(org=org, project=project)
        source = source_ensure(project=project_obj, source_id=source_id)
        website = source.websites.order_by("created_at").first()
        if website is None:
            website = website_create(source=source, origins=origins)
        elif origins:
            website.allowed_origins = list(origins)
            website.save(update_fields=["allowed_origins"])
        _, api_key = api_key_create(source=source, scopes=["track:events"], label="provision")
        _, bearer = access_token_create(
            project=project_obj, source=source, scopes=["track_api", "telemetry_apis"], label="provision"
        )
        _, read_token = access_token_create(project=project_obj, scopes=["read"], label="provision")
    return Provisioned(
        org=org, project=project, source_id=source.id, api_key=api_key, bearer_token=bearer,
        website_id=str(website.id), read_token=read_token,
    )  # fmt: skip


# --- deleting tenants ----------------------------------------------------------------------

# A write whose credential check passed before its project's deletion committed (a bulk
# write checks just before its transaction) may commit events after the first purge: the
# purge runs once more this long after the deletion, past any request's time limit.
PROJECT_PURGE_STRAGGLER_SECONDS = 120


def project_delete(*, project_id: int) -> bool:
    """Delete a project and everything it holds; False if there is no such project.

    In one transaction: its profiles and accounts (``profiles_project_purge``), its
    rejected events, then the project with its sources, credentials, websites and
    memberships (Django's cascade: few rows), leaving a ``DeletedProject``. Producers and
    readers holding its credentials are refused from the next request on. Its events,
    dedupe keys and identity outbox, which may be millions of rows, are deleted after
    commit by ``project_data_purge``, in a task (now, and again after
    PROJECT_PURGE_STRAGGLER_SECONDS), so the deletion answers in seconds.
    """
    with transaction.atomic():
        # Row lock: two deletions of the same project (two staff, a bulk action) serialize
        # here and the second finds nothing; a rename waits for the deletion.
        locked = Project.objects.select_related("organization").select_for_update(of=("self",))
        project = locked.filter(id=project_id).first()
        if project is None:
            return False
        profiles_project_purge(project_id=project_id)
        RejectedEvent.objects.filter(project_id=project_id).delete()
        DeletedProject.objects.create(project_id=project_id, name=str(project))
        project.delete()
        transaction.on_commit(lambda: _project_purge_queue(project_id=project_id))
    return True


def organization_delete(*, organization_id: int) -> bool:
    """Delete an organization and each of its projects (``project_delete``), all or none;
    False if there is no such organization."""
    with transaction.atomic():
        organization = Organization.objects.select_for_update().filter(id=organization_id).first()
        if organization is None:
            return False
        for project_id in Project.objects.filter(organization=organization).values_list("id", flat=True):
            project_delete(project_id=project_id)
        organization.delete()
    return True


def project_data_purge(*, project_id: int, now: datetime | None = None) -> bool:
    """Delete the events, dedupe keys and identity outbox rows of a deleted project, each
    kind in one statement; idempotent. Once PROJECT_PURGE_STRAGGLER_SECONDS have passed
    since the deletion, no write can add more: the ``DeletedProject`` is marked purged
    and True returned. A project that is not deleted is left alone."""
    deletion = DeletedProject.objects.filter(project_id=project_id).first()
    if deletion is None or deletion.purged_at is not None:
        return deletion is not None
    now = now or timezone.now()
    Event.objects.filter(project_id=project_id).delete()
    EventKey.objects.filter(project_id=project_id).delete()
    with transaction.atomic():
        profiles_project_purge(project_id=project_id)  # the outbox rows of late writes
    if now < deletion.deleted_at + timedelta(seconds=PROJECT_PURGE_STRAGGLER_SECONDS):
        return False
    deletion.purged_at = now
    deletion.save(update_fields=["purged_at"])
    return True


def deleted_projects_purge(*, now: datetime | None = None) -> int:
    """Purge every deleted project not yet marked purged (the hourly task: covers a purge
    task lost with the broker). Returns how many are now done."""
    pending = DeletedProject.objects.filter(purged_at=None).order_by("deleted_at").values_list("project_id", flat=True)
    return sum(project_data_purge(project_id=project_id, now=now) for project_id in pending)


def _project_purge_queue(*, project_id: int) -> None:
    from ingestion.tasks import project_data_purge_task

    try:
        project_data_purge_task.delay(project_id)
        project_data_purge_task.apply_async((project_id,), countdown=PROJECT_PURGE_STRAGGLER_SECONDS + 5)
    except Exception as exc:  # any broker failure: kombu raises several kinds
        logger.warning("purge of deleted project %s not queued, the hourly purge will do it: %s", project_id, exc)


# --- credentials ----------------------------------------------------------------------------


def credential_scopes_check(*, scopes: object, allowed: frozenset[str], what: str) -> None:
    """ValueError if ``scopes`` is not a list of strings or holds one that ``what`` can
    never use (a typo would make a credential that is refused on every request)."""
    if not isinstance(scopes, list | tuple) or not all(isinstance(scope, str) for scope in scopes):
        raise ValueError("scopes must be a list of strings")
    unknown = sorted(set(scopes) - allowed)
    if unknown:
        raise ValueError(f"{what} scopes are {', '.join(sorted(allowed))}; not {', '.join(unknown)}")


def api_key_check(*, scopes: object) -> None:
    """ValueError unless these are an API key's scopes: it has one possible scope, and a
    key without it could never be used (revoke a key to stop it)."""
    credential_scopes_check(scopes=scopes, allowed=frozenset({TRACK_EVENTS_SCOPE}), what="API key")
    if not scopes:
        raise ValueError(f"an API key needs the scope {TRACK_EVENTS_SCOPE}")


def credential_label_check(*, label: str) -> None:
    """ValueError for a label the database could not store (the admin's form refuses it
    itself; the commands pass it through)."""
    max_length = ApiKey._meta.get_field("label").max_length
    if max_length is not None and len(label) > max_length:
        raise ValueError(f"a label is at most {max_length} characters, not {len(label)}")


def api_key_create(*, source: Source, scopes: Sequence[str] = ("track:events",), label: str = "") -> tuple[ApiKey, str]:
    """A new API key and its ``identifier.secret``, which is shown only this once."""
    api_key_check(scopes=scopes)
    credential_label_check(label=label)
    parts, hashed = credential_generate(API_KEY_PREFIX)
    key = ApiKey.objects.create(
        source=source, identifier=parts.identifier, secret_hash=hashed, scopes=list(scopes), label=label
    )
    return key, f"{parts.identifier}.{parts.secret}"


def access_token_check(*, project: Project, source: Source | None, scopes: object) -> None:
    """ValueError unless this is a token that can work: its source (if any) is of its
    project (a credential only ever writes into its own source and reads its own project),
    and its scopes are those of its kind."""
    if source is not None and source.project_id != project.id:
        raise ValueError("the source belongs to another project than the token's")
    if source is not None:
        credential_scopes_check(scopes=scopes, allowed=TRACK_TOKEN_SCOPES, what="A source's token")
    else:
        credential_scopes_check(scopes=scopes, allowed=frozenset({READ_SCOPE}), what="A project's token")


def access_token_create(
    *,
    project: Project,
    source: Source | None = None,
    scopes: Sequence[str] = (),
    expires_in: timedelta | None = None,
    label: str = "",
) -> tuple[AccessToken, str]:
    """A new bearer token (a track token when ``source`` is given, else a read token)."""
    access_token_check(project=project, source=source, scopes=scopes)
    credential_label_check(label=label)
    parts, hashed = credential_generate(ACCESS_TOKEN_PREFIX)
    token = AccessToken.objects.create(
        project=project,
        source=source,
        identifier=parts.identifier,
        secret_hash=hashed,
        scopes=list(scopes),
        expires_at=timezone.now() + expires_in if expires_in else None,
        label=label,
    )
    return token, f"{parts.identifier}.{parts.secret}"


def credential_revoke(*, presented_or_identifier: str) -> tuple[ApiKey | AccessToken, bool] | None:
    """Revoke the key or token named by its full string or its identifier: the credential
    and whether this call revoked it (False: it already was), or None if there is none."""
    identifier = presented_or_identifier.strip().partition(".")[0]
    for model in (ApiKey, AccessToken):
        credential = model.objects.filter(identifier=identifier).first()
        if credential is not None:
            # Conditional, so two concurrent revocations agree on which one did it and the
            # first revocation time stays.
            revoked = model.objects.filter(pk=credential.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
            credential.refresh_from_db(fields=["revoked_at"])
            return credential, bool(revoked)
    return None


def credential_mark_used(*, credential: ApiKey | AccessToken) -> None:
    now = timezone.now()
    if credential.last_used_at is not None and now - credential.last_used_at < LAST_USED_RESOLUTION:
        return
    # A conditional UPDATE: concurrent requests race harmlessly to the same value.
    type(credential).objects.filter(pk=credential.pk).update(last_used_at=now)
    credential.last_used_at = now


# --- events ---------------------------------------------------------------------------------


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
    if rejected or not _small_write(events):
        if credential_check is not None:
            _credential_check_run(credential_check)
        store = functools.partial(
            _events_store, source=source, wire_format=wire_format, events=events, rejected=rejected,
            received_at=received_at,
        )  # fmt: skip
        try:
            new_events = store(keys_expected_new=True)
        except _KnownKeys:
            # A retry, or a concurrent request that carried some of the same events: write
            # the batch again with the statement that skips the keys already stored.
            new_events = store(keys_expected_new=False)
    else:
        # One statement: its own transaction (or part of the caller's).
        new_events = _events_insert_small(
            source=source, wire_format=wire_format, events=events, received_at=received_at,
            credential_check=credential_check,
        )  # fmt: skip
    return StoredBatch(accepted=len(events), stored=len(new_events))


class _KnownKeys(Exception):
    """The ledger COPY met a key already stored: the transaction is rolled back."""


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
        new_events = _events_insert(
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
    An event holding a NUL character (which PostgreSQL cannot store) is refused at the event
    level; ``scan_nul=False`` skips that walk when the caller knows the body has none. So is
    one nested deeper than the JSON encoder can write back (``scan_depth``, likewise).
    ``credential_check``: see ``events_ingest``.
    """
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
            wire_format=adapter.wire_format, index=wire_event.index, raw=wire_event.raw, payload=payload,
            identifying_fields=adapter.identifying_fields,
        )  # fmt: skip
        rejected.append(RejectedItem(problems=problems, payload=payload, key=key))

    for wire_event in wire_events:
        nul_at = (nul_field(wire_event.raw) or nul_field(wire_event.replay_payload)) if scan_nul else None
        if nul_at is not None:
            field = nul_at[:200]
            problem = EventProblem(wire_event.index, field, f"{field} contains a NUL character (\\u0000)")
            reject(wire_event, [problem], nul_replaced(wire_event.replay_payload))
            continue
        if scan_depth and not json_encodable(wire_event.replay_payload):
            problem = EventProblem(wire_event.index, "", f"The event is nested deeper than {MAX_DEPTH} levels")
            reject(wire_event, [problem], None)
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
        savepoint = transaction.savepoint()
        outcome = wire_document_ingest(
            adapter=adapter,
            source=rejected.source,
            document=adapter.replay_document(payload),
            received_at=replayed_at,
        )
        events = outcome.accepted + len({problem.index for problem in outcome.rejected})
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


# The event columns both writes fill from a CanonicalEvent (``_event_row``), with their
# PostgreSQL types for the binary COPY.
_INSERT_COLUMN_TYPES = {
    "name": "text", "namespace": "text", "event_id": "text", "timestamp": "timestamptz", "user_id": "text",
    "profile_id": "text", "anonymous_id": "text", "account_id": "text", "session_id": "text", "page_id": "text",
    "identity_key": "text", "properties": "jsonb", "context": "jsonb",
}  # fmt: skip
_INSERT_COLUMNS = tuple(_INSERT_COLUMN_TYPES)

# PostgreSQL writes a request's events with exact dedupe through the key ledger
# (``EventKey``, unpartitioned; retention never drops it), then the new events only into
# the time-partitioned events table. ON CONFLICT DO NOTHING RETURNING on the ledger yields
# exactly the keys that are new, also against a concurrent request carrying the same
# events (it waits for the other transaction's uncommitted key, then skips it). Every
# ledger write inserts its keys in code-point order (``COLLATE "C"``, Python's own string
# order), so two overlapping batches lock them in the same order and cannot deadlock; a
# key repeated within the request is stored once, from its first occurrence.
#
# Bulk requests: COPY of the keys into the ledger, then COPY of the events. COPY is
# PostgreSQL's bulk path (it batches heap inserts and their WAL records): at 100 events it
# costs the database 10-15% less per event than an INSERT ... SELECT of the same rows, and
# the ledger COPY 3-5 µs less per event than its ON CONFLICT statement (``bench.schema``),
# which pays for a speculative insertion per key. A COPY cannot skip a key already there:
# it fails, the transaction is rolled back (``_KnownKeys``), and the request is written
# again with the ON CONFLICT statement (``PG_LEDGER_INSERT``). That is twice the work for
# a retried request, which is rare, against a fifth less database CPU for every other.
# The key arrays go as binary (%b): text would have psycopg escape every name and id in
# Python, and PostgreSQL parse them back (about 8% of a 100-event request's web CPU).
PG_LEDGER_INSERT = """
INSERT INTO ingestion_eventkey (project_id, name, event_id)
SELECT %s, t.name, t.event_id FROM unnest(%b::text[], %b::text[]) AS t(name, event_id)
ORDER BY t.name COLLATE "C", t.event_id COLLATE "C"
ON CONFLICT DO NOTHING
RETURNING name, event_id
"""
PG_LEDGER_COPY = "COPY ingestion_eventkey (project_id, name, event_id) FROM STDIN"
# The events go in COPY's binary format: psycopg then sends each value as PostgreSQL
# holds it (no text escaping of every string, timestamps not written out as text and
# parsed back), which takes about two thirds off the client's cost of a 100-event COPY
# (formatting the two timestamps as text alone cost more than 2 µs per row).
PG_EVENT_COPY = (
    f"COPY ingestion_event (project_id, source_id, wire_format, received_at, {', '.join(_INSERT_COLUMNS)}) "
    "FROM STDIN (FORMAT BINARY)"
)
PG_EVENT_COPY_TYPES = ("int8", "int8", "varchar", "timestamptz", *_INSERT_COLUMN_TYPES.values())


class _JsonbBinaryDumper(Dumper):
    """A jsonb value for binary COPY, encoded by orjson (psycopg's own uses ``json``)."""

    format = psycopg.pq.Format.BINARY
    oid = psycopg.adapters.types["jsonb"].oid

    def dump(self, obj: Any) -> bytes:
        return b"\x01" + orjson.dumps(obj)  # jsonb's binary form: version 1, then the text


def pg_binary_copy_prepare(copy: psycopg.Copy, *, types: Sequence[str]) -> None:
    """Give a ``COPY ... (FORMAT BINARY)`` its column types, and orjson for its jsonb
    columns (they take dicts and lists as they are)."""
    copy.cursor.adapters.register_dumper(None, _JsonbBinaryDumper)  # by type name only: for set_types
    copy.set_types(types)


# Small requests (most carry one event) with nothing rejected: the whole write is one
# statement, committed on its own: the events go as one JSON document (msgspec encodes
# the CanonicalEvent structs in C) zipped with their identity keys and identity facts; the
# ledger insert, the events insert and the identity outbox row (``profiles``' own SQL,
# ``identity_work_insert_sql``) are CTEs. One round trip instead of six (BEGIN, ledger,
# COPY's two, outbox, COMMIT), and for a single event about a fifth less database CPU and
# half the client CPU of the transaction it replaces (see docs/scaling.md).
PG_EVENTS_INSERT_SMALL_MAX = 20


@functools.cache
def _pg_events_insert_small(credential_check_sql: str | None) -> str:
    """The statement, for requests whose credential it must check (``CredentialCheck.sql``:
    ``live`` is false and nothing is written if the credential changed) or need not (None).
    It answers one row per new event, or one row of NULLs if none is, each with ``live``."""
    return f"""
WITH live AS (
    SELECT {credential_check_sql or "true"} AS ok
), input AS (
    SELECT * FROM ROWS FROM (
        jsonb_to_recordset(%(events)s::jsonb) AS (
            name text, namespace text, event_id text, "timestamp" timestamptz, user_id text, profile_id text,
            anonymous_id text, account_id text, session_id text, page_id text, properties jsonb, context jsonb,
            wire_format text
        ),
        jsonb_array_elements_text(%(identity_keys)s::jsonb),
        jsonb_array_elements(%(facts)s::jsonb)
    ) WITH ORDINALITY AS t(
        name, namespace, event_id, "timestamp", user_id, profile_id, anonymous_id, account_id, session_id,
        page_id, properties, context, wire_format, identity_key, fact, position
    )
    WHERE (SELECT ok FROM live)
), new_keys AS (
    INSERT INTO ingestion_eventkey (project_id, name, event_id)
    SELECT %(project_id)s, name, event_id FROM input ORDER BY name COLLATE "C", event_id COLLATE "C"
    ON CONFLICT DO NOTHING
    RETURNING name, event_id
), new_events AS (
    SELECT DISTINCT ON (input.name, input.event_id) input.*
    FROM input JOIN new_keys ON new_keys.name = input.name AND new_keys.event_id = input.event_id
    ORDER BY input.name, input.event_id, input.position
), stored AS (
    INSERT INTO ingestion_event (project_id, source_id, wire_format, received_at, {", ".join(_INSERT_COLUMNS)})
    SELECT %(project_id)s, %(source_id)s, COALESCE(wire_format, %(wire_format)s), %(received_at)s,
        {", ".join(_INSERT_COLUMNS)}
    FROM new_events
), work AS (
    {identity_work_insert_sql(source="new_events")}
)
SELECT live.ok, new_events.name, new_events.event_id FROM live LEFT JOIN new_events ON true
"""


def _small_write(events: Sequence[CanonicalEvent]) -> bool:
    return connection.vendor == "postgresql" and 0 < len(events) <= PG_EVENTS_INSERT_SMALL_MAX


def _events_insert_small(
    *,
    source: Source,
    wire_format: str,
    events: Sequence[CanonicalEvent],
    received_at: datetime,
    credential_check: CredentialCheck | None,
) -> list[CanonicalEvent]:
    """Store the events that are new for the project and record their identity work, in
    ``_pg_events_insert_small``; return the new events."""
    facts = identity_facts(events=events)
    # Deduplicated and its own transaction, so it may double as the connection check.
    rows = request_first_fetchall(
        _pg_events_insert_small(credential_check.sql if credential_check else None),
        {
            **(credential_check.params if credential_check else {}),
            "events": msgspec.json.encode(events).decode(),
            "identity_keys": orjson.dumps([_identity_key(event) for event in events]).decode(),
            "facts": orjson.dumps(facts).decode(),
            "project_id": source.project_id,
            "source_id": source.id,
            "wire_format": wire_format,
            "received_at": received_at,
            "recorded_at": timezone.now(),
        },
    )
    if not rows[0][0]:
        raise CredentialChanged()
    stored = _first_positions(events, new_keys={(name, event_id) for _, name, event_id in rows if name is not None})
    # The statement wrote an outbox row if a stored event names anybody.
    if any(facts[position] is not None for position in stored):
        identity_work_kick_on_commit(project_id=source.project_id)
    return [events[position] for position in stored]


def _credential_check_run(check: CredentialCheck) -> None:
    # A read: it may double as the request's connection check.
    row = request_first_fetchone(f"SELECT {check.sql}", check.params)
    if row is None or not row[0]:
        raise CredentialChanged()


def _events_insert(
    *,
    source: Source,
    wire_format: str,
    events: Sequence[CanonicalEvent],
    received_at: datetime,
    keys_expected_new: bool,
) -> list[CanonicalEvent]:
    """Insert the events that are new for the project; return those that were.

    PostgreSQL: the ledger write and one COPY inside the caller's transaction; the dedupe
    is exact across the events table's time partitions. Never a query per event. With
    ``keys_expected_new`` the keys are COPYed into the ledger, and _KnownKeys is raised,
    leaving the transaction to be rolled back, if one is already there. Errors (a value
    PostgreSQL refuses) come as Django's: the view answers a 400.
    """
    if not events:
        return []
    if connection.vendor != "postgresql":
        return _events_insert_portable(source=source, wire_format=wire_format, events=events, received_at=received_at)
    with prepared_cursor() as cursor:
        if keys_expected_new:
            keys = _keys(events)
            _ledger_copy(cursor, project_id=source.project_id, keys=keys)
            new_events = [events[position] for position in _first_positions(events, new_keys=keys)]
        else:
            cursor.execute(
                PG_LEDGER_INSERT,
                [source.project_id, [event.name for event in events], [event.event_id for event in events]],
            )
            new_events = [events[position] for position in _first_positions(events, new_keys=set(cursor.fetchall()))]
        if new_events:
            with cursor.copy(PG_EVENT_COPY) as copy:
                pg_binary_copy_prepare(copy, types=PG_EVENT_COPY_TYPES)
                for event in new_events:
                    row_format = event.wire_format or wire_format
                    copy.write_row((source.project_id, source.id, row_format, received_at, *_event_row(event)))
    return new_events


def _keys(events: Sequence[CanonicalEvent]) -> set[tuple[str, str]]:
    return {(event.name, event.event_id) for event in events}


def _ledger_copy(cursor: Any, *, project_id: int, keys: set[tuple[str, str]]) -> None:
    """COPY ``keys`` into the ledger, in code-point order; _KnownKeys if one is already
    there (the caller's transaction is then aborted)."""
    try:
        with cursor.copy(PG_LEDGER_COPY) as copy:
            for name, event_id in sorted(keys):
                copy.write_row((project_id, name, event_id))
    except psycopg.errors.UniqueViolation as error:  # prepared_cursor has not made it Django's yet
        raise _KnownKeys() from error


def _first_positions(events: Sequence[CanonicalEvent], *, new_keys: set[tuple[str, str]]) -> list[int]:
    """Positions of the events whose (name, event id) is in ``new_keys``, each key's first
    occurrence only (a key repeated within one request is new once). Consumes ``new_keys``."""
    positions = []
    for position, event in enumerate(events):
        key = (event.name, event.event_id)
        if key in new_keys:
            new_keys.remove(key)
            positions.append(position)
    return positions


def _events_insert_portable(
    *, source: Source, wire_format: str, events: Sequence[CanonicalEvent], received_at: datetime
) -> list[CanonicalEvent]:
    """The embedded (SQLite) path: look up existing keys, insert the rest."""
    keys = _keys(events)
    existing = set(
        Event.objects.filter(project_id=source.project_id, event_id__in=[k[1] for k in keys]).values_list(
            "name", "event_id"
        )
    )
    new_events = [events[position] for position in _first_positions(events, new_keys=keys - existing)]
    Event.objects.bulk_create(
        [
            Event(
                project_id=source.project_id,
                source_id=source.id,
                wire_format=event.wire_format or wire_format,
                received_at=received_at,
                **dict(zip(_INSERT_COLUMNS, _event_row(event), strict=True)),
            )
            for event in new_events
        ],
        ignore_conflicts=True,
    )
    return new_events


def _identity_key(event: CanonicalEvent) -> str | None:
    if event.empty_identifiers:
        # As sent: an own user field sent as "" is a placeholder, as "null" is (no profile).
        return event_identity_key(
            user_id=event.identifier_sent("user_id"),
            profile_id=event.identifier_sent("profile_id"),
            anonymous_id=event.identifier_sent("anonymous_id"),
            another_user_id=event.context_identifier("anotherUserId"),
        )
    return event_identity_key(
        user_id=event.user_id,
        profile_id=event.profile_id,
        anonymous_id=event.anonymous_id,
        another_user_id=event.context_identifier("anotherUserId"),
    )


def _event_row(event: CanonicalEvent) -> tuple[object, ...]:
    """The event's values in ``_INSERT_COLUMNS`` order."""
    return (
        event.name, event.namespace, event.event_id, event.timestamp, event.user_id, event.profile_id,
        event.anonymous_id, event.account_id, event.session_id, event.page_id, _identity_key(event),
        event.properties, event.context,
    )  # fmt: skip


# --- partitions -----------------------------------------------------------------------------


def event_partitions_maintain(*, now: datetime | None = None) -> dict[str, object]:
    """Create the partitions for the coming months and drop those past retention
    (``TRACKHUB_EVENT_RETENTION_DAYS``, 0 = keep forever). Idempotent; PostgreSQL only."""
    now = now or timezone.now()
    created = partitions.event_partitions_ensure(now=now, months_ahead=settings.TRACKHUB_EVENT_PARTITIONS_AHEAD)
    expired = partitions.event_partitions_drop_expired(now=now, retention_days=settings.TRACKHUB_EVENT_RETENTION_DAYS)
    return {
        "created": created.created,
        "moved_from_default": created.default_rows_moved,
        "dropped": expired.dropped,
        "deleted_from_default": expired.default_rows_deleted,
    }


def new_request_id() -> str:
    return str(uuid.uuid4())

"""The producer side of identity work: the facts of stored events, recorded in the outbox
(``IdentityWork``) in the write's own transaction, and a drain queued once it commits."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from profiles.identifiers import usable
from profiles.models import IdentityWork
from trackhub.db import prepared_cursor
from trackhub.redis import redis_client

if TYPE_CHECKING:
    from ingestion.canonical import CanonicalEvent


logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def event_identity_key(
    *, user_id: str | None, profile_id: str | None, anonymous_id: str | None, another_user_id: str | None = None
) -> str | None:
    """The identifier an event's profile is looked up by: its first usable user identifier.

    All of an event's user identifiers end up in one profile when they are linked, so any
    of them would do; a fixed order keeps it deterministic. Intempt's ``anotherUserId``
    counts only when the event has no other user field at all: then it is the one person
    the event names (the contract accepts it as the user identifier). Next to a
    placeholder ``userId`` it does not: that event's user is unknown (docs/identity.md).
    """
    own = usable(user_id) or usable(profile_id) or usable(anonymous_id)
    if own is None and user_id is None and profile_id is None and anonymous_id is None:
        return usable(another_user_id)
    return own


def _event_facts(event: CanonicalEvent) -> dict[str, Any] | None:
    """The identity-relevant part of one event, or None if it names nobody at all.
    (Called for every stored event: written out rather than looped for speed.)"""
    context = event.context
    facts: dict[str, Any] = {
        "name": event.name,
        "event_id": event.event_id,
        # Microseconds since the epoch, exact: the attribute rule compares timestamps.
        "ts_us": (event.timestamp - EPOCH) // _MICROSECOND,
    }
    if event.user_id:
        facts["user_id"] = event.user_id
    if event.profile_id:
        facts["profile_id"] = event.profile_id
    if event.anonymous_id:
        facts["anonymous_id"] = event.anonymous_id
    if event.account_id:
        facts["account_id"] = event.account_id
    for key in event.empty_identifiers:  # "" is a placeholder: its warning is recorded
        facts[key] = ""
    if context and event.identity_fields:
        for key, context_key in (("another_user_id", "anotherUserId"), ("another_account_id", "anotherAccountId")):
            value = event.context_identifier(context_key)
            if value is not None:
                facts[key] = value
        for key, context_key in (("user_attributes", "userAttributes"), ("account_attributes", "accountAttributes")):
            attributes = event.context_attributes(context_key)
            if attributes is not None:
                facts[key] = attributes
    return facts if len(facts) > 3 else None


_MICROSECOND = timedelta(microseconds=1)


def fact_instant(*, ts_us: int) -> datetime:
    """A fact's ``ts_us`` (its event's timestamp) as the aware datetime it was."""
    return EPOCH + timedelta(microseconds=ts_us)


# The outbox row, as both write paths insert it (one row per request's stored events).
_WORK_INSERT = "INSERT INTO profiles_identitywork (project_id, facts, created_at)"


def identity_work_record(*, project_id: int, events: Sequence[CanonicalEvent]) -> None:
    """Record the identity work for newly stored events, inside the caller's transaction,
    and make sure a drain of the project's outbox is queued once that transaction commits."""
    facts = [f for f in identity_facts(events=events) if f is not None]
    if not facts:
        return
    if connection.vendor == "postgresql":
        with prepared_cursor() as cursor:
            # Raw SQL: the ORM's create() costs more per request than the insert itself.
            cursor.execute(
                f"{_WORK_INSERT} VALUES (%s, %s::jsonb, %s)", [project_id, orjson.dumps(facts).decode(), timezone.now()]
            )
    else:
        IdentityWork.objects.create(project_id=project_id, facts=facts)
    identity_work_kick_on_commit(project_id=project_id)


def identity_facts(*, events: Sequence[CanonicalEvent]) -> list[dict[str, Any] | None]:
    """Each event's identity facts, None for an event that names nobody."""
    return [_event_facts(event) for event in events]


def identity_work_insert_sql(*, source: str) -> str:
    """The outbox insert (PostgreSQL) for a caller that stores events and records their
    identity work in one statement (ingestion's small-request write, which saves a
    transaction's round trips): ``source`` is a relation of the stored events with columns
    ``position`` and ``fact`` (jsonb from ``identity_facts``; JSON null for an event that
    names nobody). Parameters ``%(project_id)s`` and ``%(recorded_at)s``. Inserts nothing
    when no event names anybody; the caller then calls ``identity_work_kick_on_commit``."""
    return (
        f"{_WORK_INSERT} SELECT %(project_id)s, jsonb_agg(fact ORDER BY position), %(recorded_at)s FROM {source} "
        "WHERE fact <> 'null'::jsonb HAVING count(*) > 0"
    )


def identity_work_kick_on_commit(*, project_id: int) -> None:
    """Queue a drain (``identity_work_kick``) once the current transaction commits; at
    once outside a transaction."""
    transaction.on_commit(lambda: identity_work_kick(project_id=project_id))


# A project's "drain queued" flag in Redis: set by the first request that finds it unset
# (SET NX), cleared by the drain as it starts. A request whose work was committed while the
# flag was set needs no task of its own: the queued drain clears the flag before it reads
# the outbox, so it sees that work. The flag expires in case its task is lost; the sweep
# covers the gap. Its value is when (epoch seconds) the drain was queued.
_KICK_KEY = "trackhub:identity:queued:{project_id}"
_KICK_TTL_SECONDS = 60
# SET NX that also answers the value already there: Redis's SET ... NX GET needs 7.0.
_KICK_SET_OR_GET = """
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
"""


# After a failed publish this process stops trying for a few seconds (per process, no
# shared state needed): a broker that is down or drops packets would otherwise cost every
# request a connect timeout. The outbox keeps the work; the next drain or the sweep does it.
KICK_PAUSE_SECONDS = 5.0
_kick_paused_until = 0.0

# A queued drain starts no sooner than its countdown after it was queued. Until then (less
# this margin, for clocks that differ between machines) any work committed is certain to
# be read by it, so a request needs not even the Redis round trip: per project, this
# process remembers when that is. Under load this spares most requests the round trip,
# which costs the web worker about as much CPU as the event's insert. If clocks differ by
# more than the margin, work can miss its drain; the next request's kick or the sweep then
# does it, late but never lost.
KICK_CLOCK_MARGIN_SECONDS = 0.05
_drain_surely_ahead_until: dict[int, float] = {}
_DRAINS_REMEMBERED = 10_000  # projects; past that the entries (most long expired) are dropped


def identity_work_kick(*, project_id: int) -> None:
    """Queue a drain of the project's identity outbox unless one is queued already.

    One Celery publish per drain cycle instead of one per request: under load most requests
    cost nothing here, the rest one Redis round trip. The drain starts after
    ``TRACKHUB_IDENTITY_DRAIN_DELAY_SECONDS``, so a trickle of single-event requests is
    resolved in one transaction rather than one each. Never fails the request: with Redis
    or the broker down the work waits in the outbox for the next drain or the sweep.
    """
    global _kick_paused_until
    from profiles.tasks import identity_work_drain_task

    now = time.time()
    if time.monotonic() < _kick_paused_until or now < _drain_surely_ahead_until.get(project_id, 0.0):
        return
    delay = settings.TRACKHUB_IDENTITY_DRAIN_DELAY_SECONDS
    client = redis_client()
    try:
        if client is not None:
            held = client.eval(_KICK_SET_OR_GET, 1, _KICK_KEY.format(project_id=project_id), now, _KICK_TTL_SECONDS)
            if held is not None:  # a drain is queued and has not started
                _drain_queued_remember(project_id=project_id, queued_at=_float_or_zero(held), delay=delay)
                return
    except redis.RedisError:
        client = None  # publish anyway: a spare drain is harmless
    try:
        identity_work_drain_task.apply_async((project_id,), countdown=delay)
    except Exception as exc:  # any broker failure: kombu raises several kinds
        _kick_paused_until = time.monotonic() + KICK_PAUSE_SECONDS
        logger.warning("identity drain not queued (broker unavailable), the sweep will do it: %s", exc)
        # No drain is queued after all: let the first request after the pause queue one.
        kick_flag_clear(project_id=project_id)
        return
    if client is not None:  # without the flag (no Redis) every request kicks
        _drain_queued_remember(project_id=project_id, queued_at=now, delay=delay)


def _drain_queued_remember(*, project_id: int, queued_at: float, delay: float) -> None:
    from profiles.tasks import identity_work_drain_task

    if identity_work_drain_task.app.conf.task_always_eager:
        return  # eager tasks ran at once, not after the countdown: nothing to rely on
    if len(_drain_surely_ahead_until) >= _DRAINS_REMEMBERED:
        _drain_surely_ahead_until.clear()
    _drain_surely_ahead_until[project_id] = queued_at + delay - KICK_CLOCK_MARGIN_SECONDS


def _float_or_zero(value: bytes | str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0


def kick_flag_clear(*, project_id: int) -> None:
    client = redis_client()
    with contextlib.suppress(redis.RedisError):
        if client is not None:
            client.delete(_KICK_KEY.format(project_id=project_id))

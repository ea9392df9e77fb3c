"""The consumer side of identity work: drains of a project's outbox under its identity
lock, the sweep and prune of the outbox, and purging a deleted project's profiles."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from ingestion.selectors import project_exists
from profiles.models import (
    Account,
    AccountIdentity,
    AccountMembership,
    AccountMerge,
    Identity,
    IdentityWork,
    IngestionWarning,
    Profile,
    ProfileMerge,
)
from profiles.services.outbox import identity_work_kick, kick_flag_clear
from profiles.services.resolution import facts_apply
from trackhub.db import prepared_cursor

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock(key1, key2) namespace for "identity work of project key2".
IDENTITY_LOCK_SPACE = 0x1D


# Facts applied per transaction by a drain: big enough to amortize the lookups of a batch
# (a backlog is resolved faster per event than a trickle), small enough to keep each
# transaction, and the identity lock, short.
DRAIN_FACTS_PER_TRANSACTION = 5000
# ... and at most this many outbox rows (single-event requests write one fact per row).
WORK_ROWS_PER_TRANSACTION = 500
# Outbox rows read per query while a drain gathers its batches.
_WORK_CHUNK = 50
DRAIN_SECONDS = 30.0


def identity_work_drain(*, project_id: int, max_seconds: float = DRAIN_SECONDS) -> int:
    """Resolve the project's unprocessed identity work, oldest first, several recorded
    batches per transaction, until a transaction finds less than its caps (what comes
    later has a drain of its own queued). Returns how many batches it did.

    Clears the project's queued flag first (see ``identity_work_kick``), so work committed
    after this point queues another drain. After ``max_seconds`` it queues a follow-up
    drain and returns, to stay inside the task's time limit.
    """
    kick_flag_clear(project_id=project_id)
    deadline = time.monotonic() + max_seconds
    done = 0
    while True:
        with transaction.atomic():
            _project_lock(project_id=project_id)
            if _project_gone(project_id=project_id):
                return done
            pending, more_waiting = _work_pending(project_id=project_id)
            if not pending:
                return done
            _work_apply(project_id=project_id, work=pending)
        done += len(pending)
        if not more_waiting:
            # No need to look again: whatever was committed after this drain cleared the
            # flag found it clear and queued another drain (the sweep covers a lost one).
            return done
        if time.monotonic() > deadline:
            identity_work_kick(project_id=project_id)
            return done


def identity_work_process(*, work_id: int) -> bool:
    """Resolve one recorded batch of identity facts in one transaction. Idempotent: a batch
    already done (redelivery, the sweep racing the task) is skipped. True if it did the work.

    Locking: every write to profiles, accounts, identities and memberships of a project
    happens under that project's identity lock (a transaction-level advisory lock), taken
    first and alone, so there is no lock order to get wrong and no deadlock. It prevents:
    two batches both creating a profile for the same new identifier (duplicate
    identities), a batch adding an identifier to a profile that another batch is merging
    away (a lost link), and two batches folding attributes into one profile from stale
    reads (a lost attribute). Projects proceed in parallel. A worker killed mid-batch rolls
    the whole transaction back (no partial merge is ever visible); redelivery or the sweep
    redoes it.
    """
    with transaction.atomic():
        project_id = IdentityWork.objects.filter(id=work_id).values_list("project_id", flat=True).first()
        if project_id is None:
            return False
        _project_lock(project_id=project_id)
        if _project_gone(project_id=project_id):
            return False
        # Re-read under the lock: another run of the same batch may have committed meanwhile.
        work = list(IdentityWork.objects.filter(id=work_id, processed_at__isnull=True).values_list("id", "facts"))
        if not work:
            return False
        _work_apply(project_id=project_id, work=work)
    return True


def identity_work_settle(*, project_id: int) -> None:
    """Take the project's identity lock and apply every batch still pending, inside the
    caller's transaction: until it commits, the project's profiles are what its stored
    events say and no drain changes them (``profile_erase`` relies on both)."""
    _project_lock(project_id=project_id)
    while True:
        pending, more_waiting = _work_pending(project_id=project_id)
        if pending:
            _work_apply(project_id=project_id, work=pending)
        if not more_waiting:
            return


def _work_pending(*, project_id: int) -> tuple[list[tuple[int, list[dict[str, Any]]]], bool]:
    """The project's oldest unprocessed batches, up to about DRAIN_FACTS_PER_TRANSACTION
    facts (at least one batch) and WORK_ROWS_PER_TRANSACTION rows, and whether more may be
    waiting (a cap was reached). Read under the project's lock: nobody else applies them."""
    pending = IdentityWork.objects.filter(project_id=project_id, processed_at__isnull=True).order_by("id")
    taken: list[tuple[int, list[dict[str, Any]]]] = []
    facts, after_id = 0, 0
    # Rows hold from one fact (single-event requests) to TRACKHUB_MAX_EVENTS_PER_REQUEST, so
    # they are read 50 at a time (by id, no server-side cursor) until the facts suffice.
    # The facts come as text for orjson: with hundreds of small rows per drain, the JSON
    # field's json.loads is felt.
    while len(taken) < WORK_ROWS_PER_TRANSACTION:
        chunk = list(pending.filter(id__gt=after_id).values_list("id", Cast("facts", TextField()))[:_WORK_CHUNK])
        for work_id, text in chunk:
            work_facts = orjson.loads(text)
            if taken and facts + len(work_facts) > DRAIN_FACTS_PER_TRANSACTION:
                return taken, True
            taken.append((work_id, work_facts))
            facts += len(work_facts)
        if len(chunk) < _WORK_CHUNK:
            return taken, False
        after_id = chunk[-1][0]
    return taken, True


def _work_apply(*, project_id: int, work: Sequence[tuple[int, list[dict[str, Any]]]]) -> None:
    """Apply the batches' facts together and mark them done (caller holds the lock).
    Applying them together is the same as one by one: the rules are order-independent."""
    facts_apply(project_id=project_id, facts=[fact for _, facts in work for fact in facts])
    work_ids, now = [work_id for work_id, _ in work], timezone.now()
    if connection.vendor == "postgresql":
        # One array parameter: an IN list of hundreds of placeholders costs psycopg
        # milliseconds of query parsing per drain.
        with prepared_cursor() as cursor:
            cursor.execute("UPDATE profiles_identitywork SET processed_at = %s WHERE id = ANY(%s)", [now, work_ids])
    else:
        IdentityWork.objects.filter(id__in=work_ids).update(processed_at=now)


def identity_work_sweep(*, older_than: timedelta = timedelta(seconds=30)) -> int:
    """Drain every project that has work left unprocessed for ``older_than`` (broker down,
    message lost). Returns how many batches it did."""
    cutoff = timezone.now() - older_than
    project_ids = (
        IdentityWork.objects.filter(processed_at__isnull=True, created_at__lte=cutoff)
        .values_list("project_id", flat=True)
        .distinct()
    )
    done = 0
    for project_id in sorted(project_ids):
        # One project whose work keeps failing must not hold back every project after it
        # (nor the prune after the sweep): its failure is logged with the traceback and
        # the next sweep tries it again. The time limit still ends the sweep.
        try:
            done += identity_work_drain(project_id=project_id)
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            logger.exception("identity work of project %s failed; the next sweep retries it", project_id)
    return done


def identity_work_prune(*, older_than: timedelta = timedelta(days=7), limit: int = 10_000) -> int:
    """Delete up to ``limit`` batches processed more than ``older_than`` ago (the outbox
    is not a history: profiles, merges and warnings are). Returns how many it deleted."""
    cutoff = timezone.now() - older_than
    done = IdentityWork.objects.filter(processed_at__isnull=False, processed_at__lt=cutoff).order_by("processed_at")
    deleted, _ = IdentityWork.objects.filter(id__in=list(done.values_list("id", flat=True)[:limit])).delete()
    return deleted


def identity_work_upkeep(*, older_than: timedelta = timedelta(seconds=30)) -> int:
    """The periodic sweep (``profiles.tasks.identity_sweep``): do the work left over
    ``older_than`` (``identity_work_sweep``), then prune batches done a week ago. Returns
    how many batches the sweep did."""
    done = identity_work_sweep(older_than=older_than)
    identity_work_prune()
    return done


def profiles_project_purge(*, project_id: int) -> None:
    """Delete every profile, account, identity, membership, merge, warning and outbox row
    of the project: ``ingestion.services.project_delete`` calls it in the transaction that
    deletes the project (and its purge again, for outbox rows written just before that).

    Under the project's identity lock: a drain in progress finishes first, and the next
    finds the project gone (``_project_gone``). One DELETE per table, children first:
    Django's cascade would load every profile of the project into memory to delete it.
    """
    _project_lock(project_id=project_id)
    AccountMembership.objects.filter(account__project_id=project_id).delete()
    for model in (ProfileMerge, AccountMerge, Identity, AccountIdentity, IngestionWarning, IdentityWork):
        model.objects.filter(project_id=project_id).delete()
    with connection.cursor() as cursor:
        for owner in (Profile, Account):  # each row's merged_into is of the same project: all go at once
            cursor.execute(f"DELETE FROM {owner._meta.db_table} WHERE project_id = %s", [project_id])


def _project_gone(*, project_id: int) -> bool:
    """True (and the project's outbox rows deleted) if the project was deleted while its
    work waited: a write that passed its credential check just before the deletion
    committed recorded work after ``profiles_project_purge`` ran. Applying it would create
    profiles of no project, which their foreign key refuses at commit, failing the drain
    and every sweep after it. Called under the project's lock."""
    if project_exists(project_id=project_id):
        return False
    IdentityWork.objects.filter(project_id=project_id).delete()
    return True


def _project_lock(*, project_id: int) -> None:
    """Take the project's identity lock (see ``identity_work_process``)."""
    if connection.vendor != "postgresql":
        return  # SQLite serializes every write transaction anyway
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, (%s::bigint %% 2147483648)::int)", [IDENTITY_LOCK_SPACE, project_id]
        )

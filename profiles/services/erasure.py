"""Erasing a person: a data subject's request to be forgotten (GDPR article 17 and its
kin). The profile, every identifier it owns, the profiles merged into it, its account
memberships, and its events and rejected events go; the accounts it belonged to stay."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from profiles.models import AccountMembership, Identity, IdentityWork, Profile, ProfileMerge
from profiles.selectors import profile_ids_for_identifiers, profile_resolve
from profiles.services.drain import identity_work_drain, identity_work_settle
from profiles.services.outbox import fact_instant
from profiles.services.resolution import USER_FIELDS


@dataclass(frozen=True)
class ProfileErasure:
    profile_id: int  # the live profile erased (the survivor, if a merged-away id was given)
    identifiers: list[str]
    profiles: int  # the profile and those merged into it
    events: int
    rejected_events: int


def profile_erase(
    *, project_id: int, profile_id: int | None = None, identifier: str | None = None
) -> ProfileErasure | None:
    """Delete the person named by ``profile_id`` (a merged-away id names its survivor) or
    by any one of their ``identifier``s, with all their data, in one transaction; None if
    the project has no such person.

    Identity work recorded before the erasure is applied first, under the project's
    identity lock (held to the end), so a pending link cannot join the erased identifiers
    to a profile afterwards, nor a pending fact re-create them. Events stored while the
    erasure runs are deleted with the rest if they commit before its event delete starts;
    later ones are new data, and start a new profile like any unknown person's.
    """
    # Imported here: ingestion.services imports this package (the outbox) as it loads.
    from ingestion.services import events_erase, rejected_events_erase

    # Most of a backlog in the drain's own short transactions; the rest under the lock.
    identity_work_drain(project_id=project_id)
    with transaction.atomic():
        identity_work_settle(project_id=project_id)
        if identifier is not None:
            profile_id = profile_ids_for_identifiers(project_id=project_id, identifiers=[identifier]).get(identifier)
        profile = profile_resolve(project_id=project_id, profile_id=profile_id) if profile_id is not None else None
        if profile is None:
            return None
        profile_ids = [profile.id, *Profile.objects.filter(merged_into=profile).values_list("id", flat=True)]
        identifiers = sorted(Identity.objects.filter(profile_id=profile.id).values_list("value", flat=True))
        # Read before the events delete: these events committed before it began.
        naming = _pending_events_naming(project_id=project_id, identifiers=set(identifiers))
        events = events_erase(project_id=project_id, identity_keys=identifiers, event_keys=naming)
        _pending_facts_of_erased_events_drop(project_id=project_id, identifiers=set(identifiers))
        rejected_events = rejected_events_erase(project_id=project_id, values=identifiers)
        AccountMembership.objects.filter(profile_id__in=profile_ids).delete()
        ProfileMerge.objects.filter(Q(survivor_id__in=profile_ids) | Q(merged_id__in=profile_ids)).delete()
        Identity.objects.filter(profile_id=profile.id).delete()
        # Merged-away rows first: each points at the survivor. One statement: what refers
        # to them is gone above, and Django's delete fetches the rows and deletes them 100
        # at a time (200 statements for a person who collected 20,000 merged profiles).
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {Profile._meta.db_table} WHERE merged_into_id = %s", [profile.id])
        Profile.objects.filter(id=profile.id).delete()
    return ProfileErasure(
        profile_id=profile.id, identifiers=identifiers, profiles=len(profile_ids), events=events,
        rejected_events=rejected_events,
    )  # fmt: skip


def _pending_events_naming(*, project_id: int, identifiers: set[str]) -> list[tuple[str, str, datetime]]:
    """The keys (name, event id, timestamp) of the events whose identity work is still
    pending and names one of ``identifiers`` in any user field.

    Such an event committed after the settle, so its links were never applied: one whose
    ``identity_key`` is another identifier (``{"userId": "new", "anotherUserId":
    "erased"}``) is not among the person's events, yet had it committed before the settle
    it would have joined the person's profile and gone with it. Kept, its facts would
    re-create the erased identifier in a profile afterwards. Read under the project's
    identity lock, before the events delete: these events committed before it began, and
    go with the rest (``_pending_facts_of_erased_events_drop`` then drops their facts).
    """
    # Only what committed since the settle: a few rows.
    pending = IdentityWork.objects.filter(project_id=project_id, processed_at__isnull=True).order_by("id")
    facts = itertools.chain.from_iterable(pending.values_list("facts", flat=True))
    return [_fact_event_key(fact) for fact in _facts_naming(facts, identifiers=identifiers)]


def _facts_naming(facts: Iterable[dict[str, Any] | None], *, identifiers: set[str]) -> list[dict[str, Any]]:
    """Those of ``facts`` that name one of ``identifiers`` in any user field."""
    return [fact for fact in facts if fact and any(fact.get(key) in identifiers for key in USER_FIELDS)]


def _fact_event_key(fact: dict[str, Any]) -> tuple[str, str, datetime]:
    """The (name, event id, timestamp) of the event a fact came from."""
    return fact["name"], fact["event_id"], fact_instant(ts_us=fact["ts_us"])


def _pending_facts_of_erased_events_drop(*, project_id: int, identifiers: set[str]) -> None:
    """Take out of the outbox the facts of the events the erasure just deleted.

    An event committed after the settle but before the events delete began is deleted with
    the rest, while its identity facts sit in an outbox row the settle never read: applied
    after the erasure, they would re-create the erased identifiers (and attributes) from
    an event that no longer exists. Such a row is visible now, as its event was to the
    delete (one transaction wrote both). A pending fact naming an erased identifier whose
    event is gone is dropped; one whose event is still stored (it committed after the
    delete began) stays: it is new data. The drains wait on the project's identity lock,
    which this transaction holds.
    """
    # Imported here: ingestion.services imports this package (the outbox) as it loads.
    from ingestion.selectors import events_by_keys

    rows = list(
        IdentityWork.objects.select_for_update().filter(project_id=project_id, processed_at__isnull=True).order_by("id")
    )
    suspects = _facts_naming(itertools.chain.from_iterable(row.facts for row in rows), identifiers=identifiers)
    if not suspects:
        return
    stored = events_by_keys(project_id=project_id, keys=[_fact_event_key(fact) for fact in suspects])
    gone = {(fact["name"], fact["event_id"]) for fact in suspects} - stored.keys()
    for row in rows:
        kept = [fact for fact in row.facts if not fact or (fact["name"], fact["event_id"]) not in gone]
        if len(kept) == len(row.facts):
            continue
        row.facts = kept
        if kept:
            row.save(update_fields=["facts"])
        else:
            row.processed_at = timezone.now()
            row.save(update_fields=["facts", "processed_at"])

"""Erasing a person: a data subject's request to be forgotten (GDPR article 17 and its
kin). The profile, every identifier it owns, the profiles merged into it, its account
memberships, and its events and rejected events go; the accounts it belonged to stay."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from profiles.models import AccountMembership, Identity, Profile, ProfileMerge
from profiles.selectors import profile_ids_for_identifiers, profile_resolve
from profiles.services.drain import identity_work_drain, identity_work_settle


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
        events = events_erase(project_id=project_id, identity_keys=identifiers)
        rejected_events = rejected_events_erase(project_id=project_id, values=identifiers)
        AccountMembership.objects.filter(profile_id__in=profile_ids).delete()
        ProfileMerge.objects.filter(Q(survivor_id__in=profile_ids) | Q(merged_id__in=profile_ids)).delete()
        Identity.objects.filter(profile_id=profile.id).delete()
        # Merged-away rows first: each points at the survivor.
        Profile.objects.filter(merged_into=profile).delete()
        Profile.objects.filter(id=profile.id).delete()
    return ProfileErasure(
        profile_id=profile.id, identifiers=identifiers, profiles=len(profile_ids), events=events,
        rejected_events=rejected_events,
    )  # fmt: skip

"""Reads of the profiles domain. Other apps (ingestion's read API and admin, the dashboard,
ops' metrics) read profiles' data only through the public functions here, never through
``profiles.models``.

Merged-away ids resolve to their survivor in one hop (``merged_into`` always points at a
live row, see ``profiles.models``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Count, F, Min, Window
from django.db.models.functions import RowNumber, Substr
from django.utils import timezone

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

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from ingestion.models import Event


@dataclass(frozen=True)
class ProfileDetail:
    """A live profile as the read API and the dashboard show it."""

    id: int
    identifiers: list[str]
    attributes: dict[str, Any]
    accounts: list[int]
    first_seen: datetime
    last_seen: datetime
    identifier_count: int  # all of them, where ``identifiers`` holds only the first few


@dataclass(frozen=True)
class AccountDetail:
    """A live account as the read API and the dashboard show it."""

    id: int
    identifiers: list[str]
    attributes: dict[str, Any]
    members: list[int]  # empty where only the count was asked for (``member_ids=False``)
    first_seen: datetime
    last_seen: datetime
    member_count: int


# --- profiles ---------------------------------------------------------------------------------


def profiles_count(*, project_ids: Sequence[int]) -> dict[str, int]:
    """Profiles and accounts of these projects, merged-away ones included (what deleting
    the projects takes with them)."""
    return {
        "profiles": Profile.objects.filter(project_id__in=project_ids).count(),
        "accounts": Account.objects.filter(project_id__in=project_ids).count(),
    }


def profile_ids_for_identifiers(*, project_id: int, identifiers: Iterable[str]) -> dict[str, int]:
    """TrackHub profile id of each resolved identifier (one query); unresolved ones absent."""
    values = list(set(identifiers))
    if not values:
        return {}
    return dict(Identity.objects.filter(project_id=project_id, value__in=values).values_list("value", "profile_id"))


def profile_resolve(*, project_id: int, profile_id: int) -> Profile | None:
    """The live profile for ``profile_id``, following a merge to its survivor; None if unknown."""
    profile = Profile.objects.select_related("merged_into").filter(project_id=project_id, id=profile_id).first()
    if profile is None:
        return None
    return profile.merged_into if profile.merged_into_id is not None else profile


def _identity_values(*, project_id: int, profile_id: int) -> QuerySet[Identity, str]:
    # The project too: as a subquery (``profile_events``) each event's identity_key is then
    # looked up by the (project, value) unique index.
    return Identity.objects.filter(project_id=project_id, profile_id=profile_id).values_list("value", flat=True)


def profile_details(*, profiles: Iterable[Profile], identifiers_limit: int | None = None) -> list[ProfileDetail]:
    """ProfileDetail of each (live) profile, with two queries for the whole list.

    ``identifiers_limit`` reads only the first (in order) of each profile's identifiers,
    and counts them all: a list showing a few of each read all 50,000 identifiers of a
    profile a shared identifier ("unknown") had joined to everyone."""
    profiles = list(profiles)
    ids = [profile.id for profile in profiles]
    identifiers: dict[int, list[str]] = {pid: [] for pid in ids}
    identities = Identity.objects.filter(profile_id__in=ids)
    counts: dict[int, int] = {}
    if identifiers_limit is None:
        for value, pid in identities.order_by("value").values_list("value", "profile_id"):
            identifiers[pid].append(value)
        counts = {pid: len(values) for pid, values in identifiers.items()}
    else:
        ranked = identities.annotate(
            rank=Window(RowNumber(), partition_by=F("profile_id"), order_by=F("value").asc()),
            of=Window(Count("id"), partition_by=F("profile_id")),
        ).filter(rank__lte=identifiers_limit)
        for value, pid, of in ranked.order_by("value").values_list("value", "profile_id", "of"):
            identifiers[pid].append(value)
            counts[pid] = of
    accounts: dict[int, list[int]] = {pid: [] for pid in ids}
    memberships = AccountMembership.objects.filter(profile_id__in=ids).order_by("account_id")
    for account_id, pid in memberships.values_list("account_id", "profile_id"):
        accounts[pid].append(account_id)
    return [
        ProfileDetail(
            id=profile.id,
            identifiers=identifiers[profile.id],
            attributes=profile.attributes,
            accounts=accounts[profile.id],
            first_seen=profile.first_seen,
            last_seen=profile.last_seen,
            identifier_count=counts.get(profile.id, 0),
        )
        for profile in profiles
    ]


def profile_detail(*, project_id: int, profile_id: int, identifiers_limit: int | None = None) -> ProfileDetail | None:
    """The profile (its survivor, for a merged-away id) with identifiers and accounts;
    ``identifiers_limit`` as in ``profile_details``."""
    profile = profile_resolve(project_id=project_id, profile_id=profile_id)
    return None if profile is None else profile_details(profiles=[profile], identifiers_limit=identifiers_limit)[0]


def profiles_live(*, project_id: int) -> QuerySet[Profile]:
    """Live (not merged-away) profiles of the project, for the read API's list."""
    return Profile.objects.filter(project_id=project_id, merged_into__isnull=True)


def _unstorable(value: str) -> bool:
    """A NUL character: no identifier holds one (PostgreSQL text cannot), and PostgreSQL
    refuses a query that does, so a search for it finds nothing rather than failing."""
    return "\x00" in value


def profiles_search(
    *, project_id: int, identifier: str | None = None, limit: int = 100, identifiers_limit: int | None = None
) -> list[ProfileDetail]:
    """Live profiles of the project, most recently seen first; with ``identifier``, the one
    profile owning exactly that identifier (or none). ``identifiers_limit`` as in
    ``profile_details``."""
    if identifier is not None and _unstorable(identifier):
        return []
    queryset = Profile.objects.filter(project_id=project_id, merged_into__isnull=True)
    if identifier is not None:
        queryset = queryset.filter(identities__value=identifier, identities__project_id=project_id)
    return profile_details(profiles=queryset.order_by("-last_seen", "-id")[:limit], identifiers_limit=identifiers_limit)


def profiles_search_prefix(
    *, project_id: int, query: str, limit: int = 50, identifiers_limit: int | None = None
) -> list[ProfileDetail]:
    """Live profiles owning an identifier that starts with ``query`` (dashboard search box);
    ``identifiers_limit`` as in ``profile_details``."""
    if _unstorable(query):
        return []
    identities = Identity.objects.filter(project_id=project_id, value__startswith=query)
    if connection.vendor == "sqlite":
        # SQLite's LIKE ignores the case of ASCII letters ("ALI" found "alice"); its "="
        # does not, as PostgreSQL's LIKE does not.
        identities = identities.annotate(_prefix=Substr("value", 1, len(query))).filter(_prefix=query)
    profile_ids = identities.values_list("profile_id", flat=True).distinct()[:limit]
    profiles = Profile.objects.filter(id__in=list(profile_ids)).order_by("-last_seen", "-id")
    return profile_details(profiles=profiles, identifiers_limit=identifiers_limit)


@dataclass(frozen=True)
class ProfileEvents:
    """A profile's identifiers (every one merged into it, sorted) and its events."""

    identifiers: list[str]
    events: QuerySet[Event]


# Past this many identifiers a profile's events are selected by a subquery (``profile_events``).
IDENTIFIERS_NAMED_MAX = 1_000


def profile_events(*, project_id: int, profile_id: int, events: QuerySet[Event] | None = None) -> ProfileEvents | None:
    """The events of a profile (those of every identifier merged into it) with those
    identifiers; None if the profile is unknown. The one place "events of profile X" is
    written: the read API's profile events and ``?profile=`` filter, and the dashboard's.

    ``events`` (the project's events, newest first, by default) is narrowed to the
    profile's: the filters pass the queryset they are filtering. The caller may filter,
    order and page the result further."""
    from ingestion.selectors import events_for_identity_keys, events_for_project

    profile = profile_resolve(project_id=project_id, profile_id=profile_id)
    if profile is None:
        return None
    identity_values = _identity_values(project_id=project_id, profile_id=profile.id)
    identifiers = sorted(identity_values)
    # A profile that a shared identifier ("unknown", a shared device id) joined to thousands
    # of people: a query naming each of them costs PostgreSQL more to plan than to run
    # (about 150 ms for 20,000 identifiers, against 10 ms to run); as a subquery it scans
    # the newest events and keeps the profile's. A few identifiers stay a list, which the
    # identity_key index serves best (a subquery plans for them as if for the giant one).
    keys = identifiers if len(identifiers) <= IDENTIFIERS_NAMED_MAX else identity_values
    if events is None:
        events = events_for_project(project_id=project_id)
    return ProfileEvents(identifiers=identifiers, events=events_for_identity_keys(events=events, identity_keys=keys))


def profile_merges(*, project_id: int, profile_id: int, limit: int | None = None) -> list[ProfileMerge]:
    """Merges into the profile's survivor, newest first (which id, when, by which event);
    the ``limit`` newest: a profile a shared identifier joined to everyone has thousands."""
    profile = profile_resolve(project_id=project_id, profile_id=profile_id)
    if profile is None:
        return []
    merges = ProfileMerge.objects.filter(project_id=project_id, survivor_id=profile.id)
    return list(merges.order_by("-merged_at", "-id")[:limit])


def profile_merges_count(*, project_id: int, profile_id: int) -> int:
    """How many profiles were merged into the live profile ``profile_id`` (a
    ``profile_detail``'s id: a merged-away id has none)."""
    return ProfileMerge.objects.filter(project_id=project_id, survivor_id=profile_id).count()


# --- accounts ---------------------------------------------------------------------------------


def account_resolve(*, project_id: int, account_id: int) -> Account | None:
    """The live account for ``account_id``, following a merge to its survivor."""
    account = Account.objects.select_related("merged_into").filter(project_id=project_id, id=account_id).first()
    if account is None:
        return None
    return account.merged_into if account.merged_into_id is not None else account


def account_details(*, accounts: Iterable[Account], member_ids: bool = True) -> list[AccountDetail]:
    """AccountDetail of each (live) account, with two queries for the whole list.

    ``member_ids=False`` counts the members instead of listing them: the dashboard shows a
    count, and an account can have hundreds of thousands of members."""
    accounts = list(accounts)
    ids = [account.id for account in accounts]
    identifiers: dict[int, list[str]] = {aid: [] for aid in ids}
    for value, aid in (
        AccountIdentity.objects.filter(account_id__in=ids).order_by("value").values_list("value", "account_id")
    ):
        identifiers[aid].append(value)
    members: dict[int, list[int]] = {aid: [] for aid in ids}
    memberships = AccountMembership.objects.filter(account_id__in=ids)
    if member_ids:
        for pid, aid in memberships.order_by("profile_id").values_list("profile_id", "account_id"):
            members[aid].append(pid)
        counts = {aid: len(pids) for aid, pids in members.items()}
    else:
        counts = dict.fromkeys(ids, 0)
        counts.update(memberships.values("account_id").annotate(n=Count("id")).values_list("account_id", "n"))
    return [
        AccountDetail(
            id=account.id,
            identifiers=identifiers[account.id],
            attributes=account.attributes,
            members=members[account.id],
            first_seen=account.first_seen,
            last_seen=account.last_seen,
            member_count=counts[account.id],
        )
        for account in accounts
    ]


def account_detail(*, project_id: int, account_id: int, member_ids: bool = True) -> AccountDetail | None:
    account = account_resolve(project_id=project_id, account_id=account_id)
    return None if account is None else account_details(accounts=[account], member_ids=member_ids)[0]


def profile_accounts(
    *, project_id: int, profile: ProfileDetail, member_ids: bool = True, limit: int | None = None
) -> list[AccountDetail]:
    """The accounts ``profile`` (a ``profile_detail``) belongs to, by id, as
    ``account_details`` gives them (``member_ids`` as there): three queries however many;
    the first ``limit`` of them (a profile can belong to thousands)."""
    ids = sorted(profile.accounts)[:limit]
    accounts = Account.objects.filter(project_id=project_id, id__in=ids).order_by("id")
    return account_details(accounts=accounts, member_ids=member_ids)


def account_members(*, account_id: int, limit: int, identifiers_limit: int | None = None) -> list[ProfileDetail]:
    """The ``limit`` most recently seen (live) profiles of an account, in three queries
    however many members it has; ``identifiers_limit`` as in ``profile_details``."""
    members = Profile.objects.filter(memberships__account_id=account_id).order_by("-last_seen", "-id")[:limit]
    return profile_details(profiles=members, identifiers_limit=identifiers_limit)


def accounts_live(*, project_id: int) -> QuerySet[Account]:
    """Live (not merged-away) accounts of the project, for the read API's list."""
    return Account.objects.filter(project_id=project_id, merged_into__isnull=True)


def accounts_search(
    *, project_id: int, identifier: str | None = None, limit: int = 100, member_ids: bool = True
) -> list[AccountDetail]:
    """Live accounts, most recently seen first; with ``identifier``, the one owning it."""
    if identifier is not None and _unstorable(identifier):
        return []
    queryset = Account.objects.filter(project_id=project_id, merged_into__isnull=True)
    if identifier is not None:
        queryset = queryset.filter(identities__value=identifier, identities__project_id=project_id)
    return account_details(accounts=queryset.order_by("-last_seen", "-id")[:limit], member_ids=member_ids)


def account_merges_count(*, project_id: int, account_id: int) -> int:
    """How many accounts were merged into the live account ``account_id`` (an
    ``account_detail``'s id: a merged-away id has none)."""
    return AccountMerge.objects.filter(project_id=project_id, survivor_id=account_id).count()


# --- warnings ---------------------------------------------------------------------------------


def ingestion_warnings_for_project(*, project_id: int) -> QuerySet[IngestionWarning]:
    """Refused identifiers (placeholders), newest first, for the caller to page by
    (created_at, id)."""
    return IngestionWarning.objects.filter(project_id=project_id).order_by("-created_at", "-id")


# --- identity work ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentityQueueState:
    pending: int
    lag_seconds: float


def identity_queue_state() -> IdentityQueueState:
    """How many identity work rows wait and the age of the oldest (0 when none), for the
    metrics. Uses the partial index on pending rows: cheap however large the table grows."""
    row = IdentityWork.objects.filter(processed_at__isnull=True).aggregate(oldest=Min("created_at"), n=Count("id"))
    oldest = row["oldest"]
    lag = (timezone.now() - oldest).total_seconds() if oldest is not None else 0.0
    return IdentityQueueState(pending=row["n"], lag_seconds=max(lag, 0.0))

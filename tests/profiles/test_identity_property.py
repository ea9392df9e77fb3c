"""Property: for random linking events processed in random order by concurrent workers,
profiles and accounts are exactly the connected components (checked against a union-find
computed here) and attributes follow the latest-timestamp rule. The second property sends
the identifier fields of all four formats, with placeholders in the forms clients send them
(case, spaces, a BOM, full width, ""), and checks links, memberships, attributes of profiles
and accounts, first/last seen, warnings and each event's profile."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.models import Event
from profiles.identifiers import is_placeholder
from profiles.models import (
    Account,
    AccountIdentity,
    AccountMembership,
    Identity,
    IdentityWork,
    IngestionWarning,
    Profile,
)
from profiles.services import identity_work_process
from tests.conftest import tenant_create
from tests.profiles.conftest import intempt_post

USERS = [f"user-{i}" for i in range(8)] + ["undefined"]
ACCOUNTS = [f"acct-{i}" for i in range(4)] + ["null"]
_projects = itertools.count(1)

event_strategy = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["A", "B"]),  # the event's group name (not sent in the item)
        "timestamp": st.integers(min_value=1_000, max_value=1_004),  # few values: ties happen
    },
    optional={
        # Few shared ids: events of two names may share id and timestamp (the name breaks
        # the tie), and a repeated (name, id) is a duplicate, stored once.
        "eventId": st.sampled_from(["e1", "e2"]),
        "userId": st.sampled_from(USERS),
        "anotherUserId": st.sampled_from(USERS),
        "profileId": st.sampled_from(USERS),
        "accountId": st.sampled_from(ACCOUNTS),
        "anotherAccountId": st.sampled_from(ACCOUNTS),
        "userAttributes": st.dictionaries(st.sampled_from("abc"), st.none() | st.integers(0, 3), max_size=2),
    },
).filter(lambda event: any(key in event for key in ("userId", "profileId", "anotherUserId")))  # else refused


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)

    def partition(self) -> set[frozenset[str]]:
        groups: dict[str, set[str]] = {}
        for x in self.parent:
            groups.setdefault(self.find(x), set()).add(x)
        return {frozenset(g) for g in groups.values()}


def usable(event: dict[str, Any], *fields: str) -> list[str]:
    return [event[f] for f in fields if f in event and not is_placeholder(event[f])]


# The contract's links on one Intempt event; other identifiers on it stay apart.
USER_LINKS = (("userId", "anotherUserId"), ("profileId", "userId"))


def stored(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events in posting order without the repeats of a (name, event id): dedupe."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for event in events:
        if (event["name"], event["eventId"]) not in seen:
            seen.add((event["name"], event["eventId"]))
            kept.append(event)
    return kept


def own_user(event: dict[str, Any]) -> str | None:
    """The event's own identifier: its first usable userId or profileId; anotherUserId
    only when it has neither field at all."""
    own = usable(event, "userId", "profileId")
    if own:
        return own[0]
    if "userId" not in event and "profileId" not in event:
        return next(iter(usable(event, "anotherUserId")), None)
    return None


def expected(events: list[dict[str, Any]]) -> tuple[set, set, set, dict]:
    events = stored(events)
    users, accounts = UnionFind(), UnionFind()
    for event in events:
        for u in usable(event, "userId", "anotherUserId", "profileId"):
            users.find(u)
        for left, right in USER_LINKS:
            pair = usable(event, left, right)
            if len(pair) == 2:
                users.union(*pair)
        acs = usable(event, "accountId", "anotherAccountId")
        for a in acs:
            accounts.find(a)
            accounts.union(acs[0], a)
    memberships = set()
    attributes: dict[frozenset, dict[str, tuple]] = {}
    user_groups = {u: g for g in users.partition() for u in g}
    account_groups = {a: g for g in accounts.partition() for a in g}
    for event in events:
        own = own_user(event)
        if own is None:
            continue
        group = user_groups[own]
        memberships |= {(account_groups[a], group) for a in usable(event, "accountId", "anotherAccountId")}
        stamp = (event["timestamp"], event["eventId"], event["name"])
        for key, value in (event.get("userAttributes") or {}).items():
            current = attributes.setdefault(group, {}).get(key)
            if current is None or stamp > current[0]:
                attributes[group][key] = (stamp, value)
    return (
        users.partition(),
        accounts.partition(),
        memberships,
        {g: {k: v for k, (_, v) in attrs.items()} for g, attrs in attributes.items()},
    )


def work_in_threads(work_ids: list[int], workers: int) -> None:
    errors: list[BaseException] = []

    def run(ids: list[int]) -> None:
        try:
            for work_id in ids:
                identity_work_process(work_id=work_id)
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=run, args=(work_ids[i::workers],)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(event_strategy, min_size=1, max_size=14), seed=st.randoms(use_true_random=False))
def test_profiles_and_accounts_are_the_connected_components_in_any_order_and_concurrency(
    client, events: list[dict[str, Any]], seed: random.Random
) -> None:
    n = next(_projects)
    tenant = tenant_create(org=f"prop-org-{n}", project="p", source_id=900_000 + n)
    for i, event in enumerate(events):
        event.setdefault("eventId", f"ev-{i:02d}")
        item = {key: value for key, value in event.items() if key != "name"}
        intempt_post(client, tenant, item, name=event["name"])  # one request, one outbox row per event
    work_ids = list(IdentityWork.objects.filter(project_id=tenant.project.id).values_list("id", flat=True))
    seed.shuffle(work_ids)

    work_in_threads(work_ids, workers=3)

    user_partition, account_partition, memberships, attributes = expected(events)
    project = tenant.project.id
    profile_of = dict(Identity.objects.filter(project_id=project).values_list("value", "profile_id"))
    account_of = dict(AccountIdentity.objects.filter(project_id=project).values_list("value", "account_id"))
    got_users: dict[int, set[str]] = {}
    for value, pid in profile_of.items():
        got_users.setdefault(pid, set()).add(value)
    got_accounts: dict[int, set[str]] = {}
    for value, aid in account_of.items():
        got_accounts.setdefault(aid, set()).add(value)
    assert {frozenset(g) for g in got_users.values()} == user_partition
    assert {frozenset(g) for g in got_accounts.values()} == account_partition
    live = Profile.objects.filter(project_id=project, merged_into__isnull=True)
    assert set(live.values_list("id", flat=True)) == set(got_users)
    got_memberships = {
        (frozenset(got_accounts[a]), frozenset(got_users[p]))
        for a, p in AccountMembership.objects.filter(profile__project_id=project).values_list(
            "account_id", "profile_id"
        )
    }
    assert got_memberships == memberships
    for profile in live:
        assert profile.attributes == attributes.get(frozenset(got_users[profile.id]), {})


# --- every format's identifier fields ---------------------------------------------------------

# Real values and the contract's placeholders in the forms clients send them.
FORMAT_USERS = ["u-0", "u-1", "u-2", "u-3", "u-4", "undefined", " NULL ", "\ufeffnone", "\uff2e\uff41\uff2e", ""]
FORMAT_ACCOUNTS = ["a-0", "a-1", "a-2", "null", ""]
# Per format: its user fields, account fields and links (contract: Identity), as sent.
FORMAT_USER_FIELDS = {
    "intempt": ("userId", "profileId", "anotherUserId"),
    "databuddy": ("anonymousId", "profileId"),
    "thrivestack": ("user_id",),
    "userpilot": ("user_id",),
}
FORMAT_ACCOUNT_FIELDS = {"intempt": ("accountId", "anotherAccountId"), "thrivestack": ("group_id",)}
FORMAT_LINKS = {
    "intempt": (("userId", "anotherUserId"), ("profileId", "userId")),
    "databuddy": (("anonymousId", "profileId"),),
}
# The warning's field: the canonical name of each identifier field.
CANONICAL = {
    "userId": "user_id", "profileId": "profile_id", "anotherUserId": "another_user_id", "accountId": "account_id",
    "anotherAccountId": "another_account_id", "anonymousId": "anonymous_id", "user_id": "user_id",
    "group_id": "account_id",
}  # fmt: skip

_attributes = st.dictionaries(st.sampled_from("xy"), st.none() | st.integers(0, 3), max_size=2)
_ms = st.integers(min_value=1_000, max_value=1_003).map(lambda s: s * 1000)  # few values: ties happen
format_event_strategy = st.one_of(
    st.fixed_dictionaries(
        {"format": st.just("intempt"), "timestamp": _ms},
        optional={
            "eventId": st.sampled_from(["e1", "e2"]),
            **{key: st.sampled_from(FORMAT_USERS) for key in FORMAT_USER_FIELDS["intempt"]},
            **{key: st.sampled_from(FORMAT_ACCOUNTS) for key in FORMAT_ACCOUNT_FIELDS["intempt"]},
            "userAttributes": _attributes,
            "accountAttributes": _attributes,
        },
    ).filter(lambda event: any(event.get(key) for key in FORMAT_USER_FIELDS["intempt"])),  # else refused
    st.fixed_dictionaries(
        {"format": st.just("databuddy"), "timestamp": _ms},
        optional={key: st.sampled_from(FORMAT_USERS) for key in FORMAT_USER_FIELDS["databuddy"]},
    ),
    st.fixed_dictionaries(
        {"format": st.just("thrivestack"), "timestamp": _ms, "user_id": st.sampled_from(FORMAT_USERS[:-1])},
        optional={"group_id": st.sampled_from(FORMAT_ACCOUNTS)},
    ),
    st.fixed_dictionaries({"format": st.just("userpilot"), "user_id": st.sampled_from(FORMAT_USERS[:-1])}),
)


def format_post(client: Any, tenant: Any, event: dict[str, Any]) -> None:
    from tests.ingestion.track_formats import DATABUDDY, THRIVESTACK, USERPILOT

    fmt, fields = event["format"], {k: v for k, v in event.items() if k not in ("format", "group_id")}
    if fmt == "intempt":
        intempt_post(client, tenant, fields)
        return
    if fmt == "databuddy":
        response = DATABUDDY.post(client, tenant, {"name": "clicked", **fields})
    elif fmt == "thrivestack":
        iso = datetime.fromtimestamp(fields.pop("timestamp") / 1000, UTC).isoformat()
        context = {"group_id": event["group_id"]} if "group_id" in event else {}
        body = [{"event_name": "x", "timestamp": iso, "context": context, **fields}]
        response = THRIVESTACK.post(client, tenant, body)
    else:
        response = USERPILOT.post(client, tenant, {"event_name": "x", **fields})
    assert response.status_code in (200, 202), response.content


def format_usable(event: dict[str, Any], fields: Iterable[str]) -> list[str]:
    return [event[f] for f in fields if f in event and not is_placeholder(event[f])]


def format_own_user(event: dict[str, Any]) -> str | None:
    """The event's own identifier: the first usable of its user fields in the order
    user_id, profile_id, anonymous_id; Intempt's anotherUserId only when the event has no
    other user field at all ("" is one: a placeholder)."""
    fmt = event["format"]
    order = {"intempt": ("userId", "profileId"), "databuddy": ("profileId", "anonymousId")}.get(fmt, ("user_id",))
    own = format_usable(event, order)
    if own:
        return own[0]
    if fmt == "intempt" and not any(key in event for key in order):
        return next(iter(format_usable(event, ["anotherUserId"])), None)
    return None


@pytest.mark.django_db(transaction=True)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(format_event_strategy, min_size=1, max_size=12), seed=st.randoms(use_true_random=False))
def test_every_formats_identifiers_join_exactly_the_contracts_links_in_any_order(
    client, events: list[dict[str, Any]], seed: random.Random
) -> None:
    n = next(_projects)
    tenant = tenant_create(org=f"format-prop-org-{n}", project="p", source_id=950_000 + n)
    stored: list[tuple[dict[str, Any], Event]] = []  # each stored event with its row
    for i, event in enumerate(events):
        if event["format"] == "intempt":
            event.setdefault("eventId", f"ev-{i:02d}")
        before = Event.objects.filter(project_id=tenant.project.id).count()
        format_post(client, tenant, event)
        rows = Event.objects.filter(project_id=tenant.project.id)
        if rows.count() > before:  # else a duplicate (same name and event id), stored once
            stored.append((event, rows.latest("id")))
    work_ids = list(IdentityWork.objects.filter(project_id=tenant.project.id).values_list("id", flat=True))
    seed.shuffle(work_ids)

    work_in_threads(work_ids, workers=3)

    # The contract's rules, applied to what was sent.
    users, accounts = UnionFind(), UnionFind()
    warnings = set()
    for event, row in stored:
        fmt = event["format"]
        for field in (*FORMAT_USER_FIELDS[fmt], *FORMAT_ACCOUNT_FIELDS.get(fmt, ())):
            if field in event and is_placeholder(event[field]):
                warnings.add((row.event_id, CANONICAL[field]))
        for value in format_usable(event, FORMAT_USER_FIELDS[fmt]):
            users.find(value)
        for link in FORMAT_LINKS.get(fmt, ()):
            pair = format_usable(event, link)
            if len(pair) == 2:
                users.union(*pair)
        named_accounts = format_usable(event, FORMAT_ACCOUNT_FIELDS.get(fmt, ()))
        for value in named_accounts:
            accounts.find(value)
            accounts.union(named_accounts[0], value)
    user_group = {u: g for g in users.partition() for u in g}
    account_group = {a: g for g in accounts.partition() for a in g}
    memberships, seen = set(), {}
    user_attributes: dict[frozenset, dict[str, tuple]] = {}
    account_attributes: dict[frozenset, dict[str, tuple]] = {}
    event_profiles = {}
    for event, row in stored:
        fmt = event["format"]
        for group in {user_group[u] for u in format_usable(event, FORMAT_USER_FIELDS[fmt])}:
            low, high = seen.get(group, (row.timestamp, row.timestamp))
            seen[group] = (min(low, row.timestamp), max(high, row.timestamp))
        named_accounts = format_usable(event, FORMAT_ACCOUNT_FIELDS.get(fmt, ()))
        stamp = (row.timestamp, row.event_id, row.name)
        if named_accounts:
            for key, value in (event.get("accountAttributes") or {}).items():
                current = account_attributes.setdefault(account_group[named_accounts[0]], {}).get(key)
                if current is None or stamp > current[0]:
                    account_attributes[account_group[named_accounts[0]]][key] = (stamp, value)
        own = format_own_user(event)
        event_profiles[row.id] = user_group[own] if own else None
        if own is None:
            continue
        memberships |= {(account_group[a], user_group[own]) for a in named_accounts}
        for key, value in (event.get("userAttributes") or {}).items():
            current = user_attributes.setdefault(user_group[own], {}).get(key)
            if current is None or stamp > current[0]:
                user_attributes[user_group[own]][key] = (stamp, value)

    project = tenant.project.id
    got_users: dict[int, set[str]] = {}
    for value, pid in Identity.objects.filter(project_id=project).values_list("value", "profile_id"):
        got_users.setdefault(pid, set()).add(value)
    got_accounts: dict[int, set[str]] = {}
    for value, aid in AccountIdentity.objects.filter(project_id=project).values_list("value", "account_id"):
        got_accounts.setdefault(aid, set()).add(value)
    assert {frozenset(g) for g in got_users.values()} == users.partition()
    assert {frozenset(g) for g in got_accounts.values()} == accounts.partition()
    rows = AccountMembership.objects.filter(profile__project_id=project).values_list("account_id", "profile_id")
    got_memberships = {(frozenset(got_accounts[a]), frozenset(got_users[p])) for a, p in rows}
    assert got_memberships == memberships
    for profile in Profile.objects.filter(project_id=project, merged_into__isnull=True):
        group = frozenset(got_users[profile.id])
        assert (profile.first_seen, profile.last_seen) == seen[group]
        assert profile.attributes == {k: v for k, (_, v) in user_attributes.get(group, {}).items()}
    for account in Account.objects.filter(project_id=project, merged_into__isnull=True):
        group = frozenset(got_accounts[account.id])
        assert account.attributes == {k: v for k, (_, v) in account_attributes.get(group, {}).items()}
    assert set(IngestionWarning.objects.filter(project_id=project).values_list("event_id", "field")) == warnings
    profile_of = dict(Identity.objects.filter(project_id=project).values_list("value", "profile_id"))
    for event_id, identity_key in Event.objects.filter(project_id=project).values_list("id", "identity_key"):
        got = profile_of.get(identity_key) if identity_key else None
        assert (frozenset(got_users[got]) if got else None) == event_profiles[event_id]

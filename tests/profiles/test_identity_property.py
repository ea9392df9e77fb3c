"""Property: for random linking events processed in random order by concurrent workers,
profiles and accounts are exactly the connected components (checked against a union-find
computed here) and attributes follow the latest-timestamp rule."""

from __future__ import annotations

import itertools
import random
import threading
from typing import Any

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiles.identifiers import is_placeholder
from profiles.models import AccountIdentity, AccountMembership, Identity, IdentityWork, Profile
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

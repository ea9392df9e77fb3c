"""Helpers for identity tests: post Intempt bodies, drain the identity outbox, commit a
merge in the middle of a read."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from profiles.models import Identity, Profile, ProfileMerge
from profiles.services import identity_work_sweep


def intempt_post(client: Any, tenant: Any, *items: dict[str, Any], name: str = "Purchase") -> None:
    """POST one Intempt request with ``items`` as the payload of one event group."""
    body = json.dumps({"track": [{"name": name, "payload": list(items)}]})
    response = client.post(tenant.intempt_url, data=body, content_type="application/json")
    assert response.status_code == 200, response.content


# What ``trackhub.db.read_snapshot`` issues as its transaction begins (outside a test's
# own transaction: inside one it only adds a savepoint).
READ_SNAPSHOT_SQL = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"


def assert_read_in_one_snapshot(queries: list[dict[str, Any]], *, tables: tuple[str, ...]) -> None:
    """``queries`` (a ``CaptureQueriesContext``'s) entered one read-only REPEATABLE READ
    transaction and every query naming one of ``tables`` ran inside it, before its COMMIT."""
    sql = [query["sql"] for query in queries]
    assert sql.count(READ_SNAPSHOT_SQL) == 1, sql
    start = sql.index(READ_SNAPSHOT_SQL)
    end = sql.index("COMMIT", start)
    assert any(table in statement for statement in sql[start:end] for table in tables), sql
    outside = [statement for statement in sql[:start] + sql[end:] if any(table in statement for table in tables)]
    assert outside == []


def identity_drain() -> int:
    """Run the sweep over everything pending, as the periodic task does."""
    return identity_work_sweep(older_than=timedelta(0))


def ann_and_bob_resolve(client: Any, tenant: Any) -> tuple[Profile, Profile]:
    """Two people, resolved: Ann seen first (so she survives a merge of the two), Ann with
    an account and a rejected event of hers; their profiles."""
    intempt_post(
        client,
        tenant,
        {"userId": "ann", "accountId": "acme", "eventId": "e1", "timestamp": 1_000},
        {"userId": "", "eventId": "ann-rejected", "timestamp": 1_000},
    )
    intempt_post(client, tenant, {"userId": "bob", "eventId": "e2", "timestamp": 2_000})
    identity_drain()
    return Profile.objects.get(identities__value="ann"), Profile.objects.get(identities__value="bob")


@contextlib.contextmanager
def committed_before_the_first_query_on(sql: str, action: Callable[[], None]) -> Iterator[None]:
    """While inside, this thread's first query whose SQL holds ``sql`` runs only once
    ``action`` has run and committed, in another thread on its own connection."""
    done = threading.Event()
    errors: list[BaseException] = []

    def act() -> None:
        try:
            action()
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()  # that thread's own connection

    def before_query(execute, query, params, many, context):
        if not done.is_set() and sql in query:
            done.set()
            thread = threading.Thread(target=act)
            thread.start()
            thread.join()
            if errors:  # the action failed: this test's premise does not hold
                raise errors[0]
        return execute(query, params, many, context)

    with connection.execute_wrapper(before_query):
        yield
    assert done.is_set(), f"no query held {sql}"


def merge_committed_before_the_first_query_on(
    table: str, *, tenant: Any, link: dict[str, Any]
) -> contextlib.AbstractContextManager[None]:
    """While inside, this thread's first query naming ``table`` runs only once another
    connection has posted ``link`` and committed the merge it makes."""

    def merge() -> None:
        intempt_post(Client(), tenant, link)
        identity_drain()

    return committed_before_the_first_query_on(table, merge)


def giant_profile_make(tenant: Any, *, prefix: str, identifiers: int, merged: int) -> Profile:
    """A profile as identity resolution leaves a giant component: ``identifiers`` user
    identifiers (``{prefix}-0`` ...) and ``merged`` profiles merged into it, written
    directly (resolving them through events would take the test minutes)."""
    now = timezone.now()
    project = tenant.project
    survivor = Profile.objects.create(project=project, first_seen=now, last_seen=now)
    losers = Profile.objects.bulk_create(
        [Profile(project=project, first_seen=now, last_seen=now, merged_into=survivor) for _ in range(merged)]
    )
    ProfileMerge.objects.bulk_create(
        [
            ProfileMerge(project=project, survivor=survivor, merged_id=loser.id, event_name="Login", event_id=str(n))
            for n, loser in enumerate(losers)
        ]
    )
    Identity.objects.bulk_create(
        [Identity(project=project, profile=survivor, value=f"{prefix}-{n}") for n in range(identifiers)]
    )
    return survivor

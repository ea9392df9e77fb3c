"""Identity work done by real `celery worker` processes on Redis, pointed at the test
database: convergence, the broker going away, and a worker killed in the middle of a merge."""

from __future__ import annotations

import json
import random
import signal
import threading
import urllib.request

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from profiles.models import Identity, IdentityWork, Profile
from tests.profiles.conftest import intempt_post
from tests.profiles.processes import (
    PrivateRedis,
    celery,
    db_url_of_test_run,
    process_stop,
    server_running,
    wait_for,
    worker_running,
)
from tests.seeds import seed_body

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BROKER = settings.CELERY_BROKER_URL


def pending() -> int:
    return IdentityWork.objects.filter(processed_at__isnull=True).count()


def sweep_now(*, broker_url: str) -> None:
    """Queue the periodic sweep now (beat would, every 30 s) for everything pending."""
    celery("call", "profiles.tasks.identity_sweep", "--kwargs", '{"older_than_seconds": 0}', broker_url=broker_url)


def all_done() -> bool:
    return IdentityWork.objects.exists() and pending() == 0


def partition() -> set[frozenset[str]]:
    groups: dict[int, set[str]] = {}
    for value, profile_id in Identity.objects.values_list("value", "profile_id"):
        groups.setdefault(profile_id, set()).add(value)
    return {frozenset(group) for group in groups.values()}


def test_worker_converges_profiles_posted_over_http(client, tenant, read_client):
    celery("purge", "-f", broker_url=BROKER)
    with worker_running(broker_url=BROKER):
        response = client.post(
            tenant.intempt_url, data=seed_body("intempt_example_1.json"), content_type="application/json"
        )
        assert response.status_code == 200
        intempt_post(client, tenant, {"eventId": "2", "userId": "+111111111", "timestamp": 1_714_631_905_000})
        intempt_post(client, tenant, {"eventId": "3", "userId": "bob", "anotherUserId": "rob", "timestamp": 1})
        intempt_post(client, tenant, {"eventId": "4", "userId": "rob", "accountId": "no-reply@intempt.com"})
        wait_for(lambda: IdentityWork.objects.count() == 4 and pending() == 0, what="the worker to drain the outbox")

    profiles = read_client.get("/api/v1/profiles/").json()["results"]
    (account,) = read_client.get("/api/v1/accounts/").json()["results"]
    assert sorted(p["identifiers"] for p in profiles) == [["+111111111", "custom@intempt.com"], ["bob", "rob"]]
    assert account["identifiers"] == ["Intempt", "no-reply@intempt.com"]
    assert sorted(account["members"]) == sorted(p["id"] for p in profiles)


def test_work_committed_after_its_queued_drain_ran_gets_a_drain_of_its_own(client, tenant, read_client):
    # A request remembers that a queued drain will still see its work only until that
    # drain may start; a later one must queue another, or its work waits for the sweep
    # (which no process runs here).
    celery("purge", "-f", broker_url=BROKER)
    with worker_running(broker_url=BROKER):
        intempt_post(client, tenant, {"eventId": "1", "userId": "ann", "timestamp": 1_000})
        wait_for(lambda: IdentityWork.objects.count() == 1 and pending() == 0, what="the first drain")
        intempt_post(client, tenant, {"eventId": "2", "userId": "bob", "timestamp": 2_000})
        wait_for(lambda: IdentityWork.objects.count() == 2 and pending() == 0, what="a drain for the later work")

    profiles = read_client.get("/api/v1/profiles/").json()["results"]
    assert sorted(p["identifiers"] for p in profiles) == [["ann"], ["bob"]]


def test_links_posted_concurrently_and_out_of_order_converge_under_two_workers_and_a_sweep(tenant, read_client):
    # A chain u0-u1-...-u24 and accounts a0..a4 joined by every other event, posted by four
    # clients at once in shuffled order (timestamps out of order too), one event also sent
    # in two requests at the same moment, while two worker processes drain and a sweep runs.
    rng = random.Random(11)
    items = [
        {
            "eventId": f"link-{i:02d}",
            "userId": f"u{i}",
            "anotherUserId": f"u{i + 1}",
            "timestamp": rng.randint(1, 40) * 1_000,
            "userAttributes": {"plan": i, f"seen-{i}": True},
            "accountId": f"a{i % 5}",
            **({"anotherAccountId": f"a{(i + 1) % 5}"} if i % 2 else {}),
            "accountAttributes": {"tier": i},
        }
        for i in range(24)
    ]
    bodies = [json.dumps({"track": [{"name": "Link", "payload": [item]}]}) for item in items]
    rng.shuffle(bodies)
    together = threading.Barrier(2)
    errors: list[BaseException] = []

    def post(chunk: list[str], *, at_once: bool = False) -> None:
        try:
            client = Client()
            if at_once:
                together.wait(timeout=30)
            for body in chunk:
                response = client.post(tenant.intempt_url, data=body, content_type="application/json")
                assert response.status_code == 200, response.content
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connection.close()  # each thread had its own connection

    celery("purge", "-f", broker_url=BROKER)
    with worker_running(broker_url=BROKER, concurrency=2):
        threads = [threading.Thread(target=post, args=(bodies[i::4],)) for i in range(4)]
        threads += [threading.Thread(target=post, args=([bodies[0]],), kwargs={"at_once": True}) for _ in range(2)]
        for thread in threads:
            thread.start()
        sweep_now(broker_url=BROKER)
        for thread in threads:
            thread.join()
        assert not errors, errors
        wait_for(lambda: IdentityWork.objects.count() == 24 and pending() == 0, what="the workers to drain")

    (profile,) = read_client.get("/api/v1/profiles/").json()["results"]
    (account,) = read_client.get("/api/v1/accounts/").json()["results"]
    latest = max(items, key=lambda item: (item["timestamp"], item["eventId"]))
    assert sorted(profile["identifiers"]) == sorted(f"u{i}" for i in range(25))
    assert profile["attributes"] == {"plan": latest["userAttributes"]["plan"], **{f"seen-{i}": True for i in range(24)}}
    assert account["identifiers"] == ["a0", "a1", "a2", "a3", "a4"]
    assert account["attributes"] == {"tier": latest["accountAttributes"]["tier"]}
    assert (profile["accounts"], account["members"]) == ([account["id"]], [profile["id"]])
    seconds = sorted(item["timestamp"] // 1_000 for item in items)
    assert profile["first_seen"] == f"1970-01-01T00:00:{seconds[0]:02d}.000Z"
    assert profile["last_seen"] == f"1970-01-01T00:00:{seconds[-1]:02d}.000Z"
    events = read_client.get("/api/v1/events/").json()["results"]
    assert len(events) == 24 and {event["profile"] for event in events} == {profile["id"]}


def http_post_intempt(base_url: str, tenant, *items: dict) -> None:
    body = json.dumps({"track": [{"name": "Purchase", "payload": list(items)}]}).encode()
    request = urllib.request.Request(
        base_url + tenant.intempt_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def test_identity_work_done_after_the_broker_comes_back(tenant):
    redis = PrivateRedis()
    try:
        redis.start()
        with server_running(broker_url=redis.url) as base_url, worker_running(broker_url=redis.url):
            http_post_intempt(base_url, tenant, {"eventId": "1", "userId": "a", "timestamp": 1_000})
            wait_for(all_done, what="the first event's identity work")

            redis.stop()
            for i, (user, other) in enumerate([("a", "b"), ("c", "d"), ("d", "e"), ("b", "e")]):
                http_post_intempt(base_url, tenant, {"eventId": f"x{i}", "userId": user, "anotherUserId": other})
            assert pending() == 4  # stored, their identity work recorded, not done

            redis.start()  # same port: the worker reconnects
            celery(
                "call", "profiles.tasks.identity_sweep", "--kwargs", '{"older_than_seconds": 0}', broker_url=redis.url
            )
            wait_for(lambda: pending() == 0, what="the sweep to do the recorded identity work")
    finally:
        redis.close()

    assert partition() == {frozenset("abcde")}


@pytest.mark.parametrize("worker_queues", ["identity", None], ids=["worker -Q identity", "worker without -Q"])
def test_identity_work_goes_to_the_queue_named_by_trackhub_identity_queue(tenant, worker_queues):
    # With -Q identity the drains reach the only worker only if the web process routes them
    # there; without -Q a worker consumes both the default queue and the identity queue.
    celery("purge", "-f", broker_url=BROKER)
    with (
        server_running(broker_url=BROKER, TRACKHUB_IDENTITY_QUEUE="identity") as base_url,
        worker_running(broker_url=BROKER, queues=worker_queues, TRACKHUB_IDENTITY_QUEUE="identity"),
    ):
        http_post_intempt(base_url, tenant, {"eventId": "1", "userId": "a", "anotherUserId": "b"})
        http_post_intempt(base_url, tenant, {"eventId": "2", "userId": "b", "anotherUserId": "c"})
        wait_for(lambda: IdentityWork.objects.count() == 2 and pending() == 0, what="the identity worker")

    assert partition() == {frozenset("abc")}


def test_worker_killed_mid_merge_leaves_no_partial_merge_and_the_sweep_completes_it(client, tenant):
    celery("purge", "-f", broker_url=BROKER)
    intempt_post(client, tenant, {"eventId": "1", "userId": "a", "timestamp": 1_000})
    intempt_post(client, tenant, {"eventId": "2", "userId": "b", "timestamp": 2_000})
    with worker_running(broker_url=BROKER):
        wait_for(lambda: pending() == 0, what="the two profiles")
    first, second = Profile.objects.order_by("id").values_list("id", flat=True)

    intempt_post(client, tenant, {"eventId": "3", "userId": "a", "anotherUserId": "b", "timestamp": 3_000})
    work = IdentityWork.objects.get(processed_at__isnull=True)
    # Hold the outbox row, so the worker blocks on its very last statement (marking the
    # batch done) with the whole merge written but not committed.
    with psycopg.connect(db_url_of_test_run()) as blocker:
        blocker.execute("SELECT id FROM profiles_identitywork WHERE id = %s FOR UPDATE", [work.id])
        with worker_running(broker_url=BROKER, concurrency=1) as worker:
            wait_for(lambda: worker_blocked_marking_done(), what="the worker to reach the end of the merge")
            assert Profile.objects.get(id=second).merged_into_id is None
            assert partition() == {frozenset("a"), frozenset("b")}
            process_stop(worker, signal.SIGKILL)
        blocker.rollback()

    wait_for(lambda: not worker_blocked_marking_done(), what="the killed worker's transaction to end")
    assert pending() == 1
    assert Profile.objects.get(id=second).merged_into_id is None
    assert partition() == {frozenset("a"), frozenset("b")}

    with worker_running(broker_url=BROKER):
        sweep_now(broker_url=BROKER)
        wait_for(lambda: pending() == 0, what="the sweep to redo the merge")
    assert Profile.objects.get(id=second).merged_into_id == first
    assert partition() == {frozenset("ab")}


def worker_blocked_marking_done() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state <> 'idle' AND query LIKE 'UPDATE profiles_identitywork SET processed_at%%'"
        )
        return cursor.fetchone()[0] > 0

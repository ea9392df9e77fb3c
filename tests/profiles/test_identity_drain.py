"""The identity outbox's drain: one queued task per project at a time, many batches per
transaction, and repeated identifiers resolved once without changing the outcome."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.db import connection

from profiles.models import IdentityWork, IngestionWarning
from profiles.services import drain as identity_drain
from profiles.services import identity_work_drain, identity_work_kick
from profiles.services import outbox as identity_outbox
from tests.profiles.conftest import intempt_post
from trackhub.redis import redis_client

pytestmark = pytest.mark.django_db

QUEUE = "celery"  # Celery's default queue: a list in the test broker's Redis database


def queued_messages() -> int:
    client = redis_client()
    assert client is not None, "the suite runs against Redis"
    return int(client.llen(QUEUE))


def queued_flag(project_id: int) -> bool:
    client = redis_client()
    assert client is not None
    return bool(client.exists(f"trackhub:identity:queued:{project_id}"))


@pytest.fixture
def empty_queue() -> None:
    client = redis_client()
    assert client is not None
    client.delete(QUEUE)


def test_second_kick_while_a_drain_is_queued_publishes_nothing(tenant, empty_queue):
    assert settings.REDIS_URL

    identity_work_kick(project_id=tenant.project.id)
    identity_work_kick(project_id=tenant.project.id)

    assert queued_messages() == 1
    assert queued_flag(tenant.project.id)


def test_drain_clears_the_flag_so_later_work_queues_a_new_drain(tenant, empty_queue, settings):
    settings.TRACKHUB_IDENTITY_DRAIN_DELAY_SECONDS = 30
    identity_work_kick(project_id=tenant.project.id)

    identity_work_drain(project_id=tenant.project.id)
    # The later work's kick in another web process: no memory of the drain this one queued,
    # only the flag in Redis (no sleep past the drain's countdown, no wall clock).
    identity_outbox._drain_surely_ahead_until.clear()
    identity_work_kick(project_id=tenant.project.id)

    assert queued_messages() == 2


def test_kick_before_its_queued_drain_can_start_skips_redis(tenant, empty_queue, settings):
    settings.TRACKHUB_IDENTITY_DRAIN_DELAY_SECONDS = 30
    identity_work_kick(project_id=tenant.project.id)
    redis_client().delete(f"trackhub:identity:queued:{tenant.project.id}")

    identity_work_kick(project_id=tenant.project.id)

    # No round trip: the flag was not set again, and nothing more was published.
    assert not queued_flag(tenant.project.id)
    assert queued_messages() == 1


def test_kick_trusts_a_drain_another_process_queued_until_that_drain_can_start(tenant, empty_queue, settings):
    settings.TRACKHUB_IDENTITY_DRAIN_DELAY_SECONDS = 30
    flag = f"trackhub:identity:queued:{tenant.project.id}"
    redis_client().set(flag, time.time())  # what another web process's kick leaves

    identity_work_kick(project_id=tenant.project.id)  # finds the flag, learns when it was set
    redis_client().delete(flag)
    identity_work_kick(project_id=tenant.project.id)

    assert queued_messages() == 0
    assert not queued_flag(tenant.project.id)


def test_kick_after_a_drain_queued_elsewhere_could_have_started_queues_its_own(tenant, empty_queue, settings):
    settings.TRACKHUB_IDENTITY_DRAIN_DELAY_SECONDS = 30
    flag = f"trackhub:identity:queued:{tenant.project.id}"
    redis_client().set(flag, time.time() - 30)  # queued 30 s ago: it may be running now

    identity_work_kick(project_id=tenant.project.id)
    redis_client().delete(flag)
    identity_work_kick(project_id=tenant.project.id)

    assert queued_messages() == 1
    assert queued_flag(tenant.project.id)


def test_with_eager_tasks_a_kick_never_counts_on_another_process_drain(client, tenant, eager_tasks):
    # An eager drain runs inside its kick, not after a countdown: a flag seen set says
    # nothing about what a later commit will find.
    flag = f"trackhub:identity:queued:{tenant.project.id}"
    redis_client().set(flag, time.time())  # another process, mid-drain
    identity_work_kick(project_id=tenant.project.id)
    redis_client().delete(flag)
    intempt_post(client, tenant, {"eventId": "e1", "userId": "a", "timestamp": 1_000})  # its kick waits for commit

    identity_work_kick(project_id=tenant.project.id)

    assert not IdentityWork.objects.filter(processed_at__isnull=True).exists()


def test_requests_queue_one_drain_that_resolves_all_their_batches(
    client, tenant, read_client, empty_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # each request's commit kicks
        intempt_post(client, tenant, {"eventId": "e1", "userId": "a", "timestamp": 1_000})
        intempt_post(client, tenant, {"eventId": "e2", "userId": "b", "timestamp": 2_000})
        intempt_post(client, tenant, {"eventId": "e3", "userId": "a", "anotherUserId": "b", "timestamp": 3_000})

    assert queued_messages() == 1
    assert identity_work_drain(project_id=tenant.project.id) == 3
    assert not IdentityWork.objects.filter(processed_at__isnull=True).exists()
    (profile,) = read_client.get("/api/v1/profiles/").json()["results"]
    assert profile["identifiers"] == ["a", "b"]


def test_many_events_of_one_user_keep_the_earliest_and_latest_as_first_and_last_seen(client, tenant, read_client):
    timestamps = [5_000, 1_000, 9_000, 7_000, 3_000]
    intempt_post(
        client, tenant, *({"eventId": f"e{i}", "userId": "a", "timestamp": ts} for i, ts in enumerate(timestamps))
    )

    identity_work_drain(project_id=tenant.project.id)

    (profile,) = read_client.get("/api/v1/profiles/").json()["results"]
    assert (profile["first_seen"], profile["last_seen"]) == ("1970-01-01T00:00:01.000Z", "1970-01-01T00:00:09.000Z")


def test_repeated_identifiers_still_merge_on_the_event_that_links_them(client, tenant, read_client):
    intempt_post(
        client,
        tenant,
        {"eventId": "e1", "userId": "a", "timestamp": 1_000},
        {"eventId": "e2", "userId": "a", "timestamp": 2_000},
        {"eventId": "e3", "userId": "b", "timestamp": 3_000},
        {"eventId": "e4", "userId": "a", "anotherUserId": "b", "timestamp": 4_000},
        {"eventId": "e5", "userId": "a", "anotherUserId": "b", "timestamp": 5_000},
    )

    identity_work_drain(project_id=tenant.project.id)

    (profile,) = read_client.get("/api/v1/profiles/").json()["results"]
    assert profile["identifiers"] == ["a", "b"]
    assert (profile["first_seen"], profile["last_seen"]) == ("1970-01-01T00:00:01.000Z", "1970-01-01T00:00:05.000Z")


def test_every_event_of_a_repeated_placeholder_gets_its_warning(client, tenant):
    intempt_post(
        client, tenant, *({"eventId": f"e{i}", "userId": "undefined", "timestamp": 1_000 + i} for i in range(4))
    )

    identity_work_drain(project_id=tenant.project.id)

    assert sorted(IngestionWarning.objects.values_list("event_id", flat=True)) == ["e0", "e1", "e2", "e3"]


def test_many_attribute_events_of_one_user_keep_the_latest_value_of_each_attribute(client, tenant, read_client):
    intempt_post(
        client,
        tenant,
        {"eventId": "e1", "userId": "a", "timestamp": 3_000, "userAttributes": {"plan": "pro", "seats": 3}},
        {"eventId": "e2", "userId": "a", "timestamp": 1_000, "userAttributes": {"plan": "free", "city": "Oslo"}},
        {"eventId": "e3", "userId": "a", "timestamp": 2_000, "userAttributes": {"seats": 5}},
        {"eventId": "e4", "userId": "a", "timestamp": 4_000},
        {"eventId": "e5", "userId": "a", "timestamp": 500, "userAttributes": {"city": None}},
    )

    identity_work_drain(project_id=tenant.project.id)

    (profile,) = read_client.get("/api/v1/profiles/").json()["results"]
    assert profile["attributes"] == {"plan": "pro", "seats": 3, "city": "Oslo"}
    assert (profile["first_seen"], profile["last_seen"]) == ("1970-01-01T00:00:00.500Z", "1970-01-01T00:00:04.000Z")


def test_outbox_facts_are_compressed_with_lz4_when_the_server_has_it():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        (server_has_lz4,) = cursor.fetchone()
        cursor.execute(
            "SELECT attcompression FROM pg_attribute "
            "WHERE attrelid = 'profiles_identitywork'::regclass AND attname = 'facts'"
        )
        (compression,) = cursor.fetchone()
    assert compression == ("l" if server_has_lz4 else "")


@pytest.mark.parametrize(
    "caps", [{"WORK_ROWS_PER_TRANSACTION": 3, "_WORK_CHUNK": 2}, {"DRAIN_FACTS_PER_TRANSACTION": 2}]
)
def test_one_drain_resolves_a_backlog_bigger_than_a_transaction_takes(client, tenant, read_client, monkeypatch, caps):
    for name, value in caps.items():
        monkeypatch.setattr(identity_drain, name, value)
    for n in range(7):
        intempt_post(client, tenant, {"eventId": f"e{n}", "userId": f"user-{n}", "timestamp": 1_000 + n})

    assert identity_work_drain(project_id=tenant.project.id) == 7
    assert not IdentityWork.objects.filter(processed_at__isnull=True).exists()
    assert len(read_client.get("/api/v1/profiles/").json()["results"]) == 7


def test_a_batch_bigger_than_the_fact_cap_is_still_taken_whole(client, tenant, monkeypatch):
    monkeypatch.setattr(identity_drain, "DRAIN_FACTS_PER_TRANSACTION", 2)
    intempt_post(client, tenant, *({"eventId": f"e{n}", "userId": f"u{n}", "timestamp": 1_000} for n in range(5)))

    assert identity_work_drain(project_id=tenant.project.id) == 1
    assert not IdentityWork.objects.filter(processed_at__isnull=True).exists()

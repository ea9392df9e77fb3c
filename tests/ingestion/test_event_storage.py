"""Event storage on PostgreSQL: time partitions, exact dedupe through the key ledger, partition
upkeep, retention, and concurrent identical batches."""

from __future__ import annotations

import json
import random
import threading
from datetime import UTC, datetime

import psycopg
import pytest
from django.db import connection
from django.test import Client

from ingestion.models import Event, EventKey, RejectedEvent
from ingestion.partitions import event_partitions
from ingestion.services import event_partitions_maintain
from ingestion.services.event_writes import PG_EVENTS_INSERT_SMALL_MAX
from ingestion.tasks import event_partitions_maintain_task
from profiles.models import IdentityWork
from tests.conftest import Tenant
from tests.database import at_once, waiting_for_locks

pytestmark = pytest.mark.django_db


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def intempt_body(items: list[dict]) -> str:
    return json.dumps({"track": [{"name": "Purchase", "payload": items}]})


def post(client: Client, tenant: Tenant, items: list[dict]):
    return client.post(tenant.intempt_url, data=intempt_body(items), content_type="application/json")


def partition_of(event: Event) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM ingestion_event WHERE id = %s", [event.id])
        return cursor.fetchone()[0]


def test_same_event_id_with_timestamps_years_apart_is_stored_once(client, tenant):
    first = post(client, tenant, [{"eventId": "evt-1", "userId": "u1", "timestamp": ms(2026, 11, 2)}])
    again = post(client, tenant, [{"eventId": "evt-1", "userId": "u1", "timestamp": ms(2003, 1, 1)}])

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {}
    event = Event.objects.get(project=tenant.project)
    assert event.timestamp == datetime(2026, 11, 2, tzinfo=UTC)
    assert EventKey.objects.filter(project_id=tenant.project.id, name="Purchase", event_id="evt-1").count() == 1


def test_events_land_in_their_month_or_the_default_partition(client, tenant):
    event_partitions_maintain(now=datetime(2026, 11, 2, tzinfo=UTC))
    post(client, tenant, [{"eventId": "now", "userId": "u1", "timestamp": ms(2026, 11, 2)}])
    post(client, tenant, [{"eventId": "old", "userId": "u1", "timestamp": ms(1999, 5, 5)}])

    assert partition_of(Event.objects.get(event_id="now")) == "ingestion_event_p202611"
    assert partition_of(Event.objects.get(event_id="old")) == "ingestion_event_default"


def test_partition_task_creates_the_coming_months_once(settings):
    settings.TRACKHUB_EVENT_RETENTION_DAYS = 0
    first = event_partitions_maintain(now=datetime(2031, 3, 10, tzinfo=UTC))
    second = event_partitions_maintain(now=datetime(2031, 3, 10, tzinfo=UTC))

    expected = [f"ingestion_event_p2031{month:02d}" for month in range(2, 7)]
    assert first["created"] == expected
    assert second["created"] == []
    assert set(expected) <= set(event_partitions())


def test_partition_task_keeps_as_many_months_ahead_as_configured(settings):
    settings.TRACKHUB_EVENT_RETENTION_DAYS = 0
    settings.TRACKHUB_EVENT_PARTITIONS_AHEAD = 6

    changes = event_partitions_maintain(now=datetime(2032, 3, 10, tzinfo=UTC))

    expected = [f"ingestion_event_p2032{month:02d}" for month in range(2, 10)]
    assert changes["created"] == expected
    assert set(expected) <= set(event_partitions())


def test_partition_task_called_locally_is_idempotent():
    # .apply() runs the task in this process; tests/ingestion/test_beat.py has a real worker run it.
    event_partitions_maintain_task.apply().get()
    before = event_partitions()
    result = event_partitions_maintain_task.apply().get()

    assert result["created"] == []
    assert event_partitions() == before


def test_new_partition_takes_over_its_rows_from_the_default_partition(client, tenant):
    post(client, tenant, [{"eventId": "future", "userId": "u1", "timestamp": ms(2031, 5, 20)}])
    assert partition_of(Event.objects.get(event_id="future")) == "ingestion_event_default"

    changes = event_partitions_maintain(now=datetime(2031, 5, 1, tzinfo=UTC))

    assert changes["moved_from_default"] == 1
    assert partition_of(Event.objects.get(event_id="future")) == "ingestion_event_p203105"


def test_retention_drops_only_partitions_past_the_cutoff(client, tenant, settings):
    settings.TRACKHUB_EVENT_RETENTION_DAYS = 0
    event_partitions_maintain(now=datetime(2020, 2, 1, tzinfo=UTC))  # 2020-01 .. 2020-05
    event_partitions_maintain(now=datetime(2026, 11, 2, tzinfo=UTC))
    post(
        client,
        tenant,
        [
            {"eventId": "jan", "userId": "u1", "timestamp": ms(2020, 1, 15)},
            {"eventId": "apr", "userId": "u1", "timestamp": ms(2020, 4, 15)},
            {"eventId": "ancient", "userId": "u1", "timestamp": ms(1999, 1, 1)},
            {"eventId": "recent", "userId": "u1", "timestamp": ms(2026, 11, 2)},
        ],
    )
    settings.TRACKHUB_EVENT_RETENTION_DAYS = 60

    changes = event_partitions_maintain(now=datetime(2020, 6, 1, tzinfo=UTC))  # cutoff 2020-04-02

    assert changes["dropped"] == ["ingestion_event_p202001", "ingestion_event_p202002", "ingestion_event_p202003"]
    assert changes["deleted_from_default"] == 1
    assert {"ingestion_event_p202004", "ingestion_event_p202005", "ingestion_event_p202611"} <= set(event_partitions())
    assert set(Event.objects.values_list("event_id", flat=True)) == {"apr", "recent"}
    # dedupe is permanent: a dropped event sent again is still a duplicate
    assert EventKey.objects.filter(project_id=tenant.project.id).count() == 4


def test_retention_off_drops_nothing(settings):
    settings.TRACKHUB_EVENT_RETENTION_DAYS = 0
    event_partitions_maintain(now=datetime(2020, 2, 1, tzinfo=UTC))

    changes = event_partitions_maintain(now=datetime(2030, 1, 1, tzinfo=UTC))

    assert changes["dropped"] == []
    assert "ingestion_event_p202001" in event_partitions()


def test_retention_shorter_than_a_month_leaves_nothing_to_do_the_next_hour(settings):
    # The upkeep keeps a month back, but last month is past a 1-day retention: it used to
    # be created and dropped again by every run.
    settings.TRACKHUB_EVENT_RETENTION_DAYS = 1
    event_partitions_maintain(now=datetime(2033, 3, 10, tzinfo=UTC))

    again = event_partitions_maintain(now=datetime(2033, 3, 10, 1, tzinfo=UTC))

    assert (again["created"], again["dropped"]) == ([], [])
    assert "ingestion_event_p203302" not in event_partitions()


# Requests of up to PG_EVENTS_INSERT_SMALL_MAX events take the one-statement write, larger
# ones the ledger COPY + events COPY (the ledger's ON CONFLICT statement when a key is
# already stored): every storage rule is checked on both sides of the line.
SMALL, BULK = PG_EVENTS_INSERT_SMALL_MAX, PG_EVENTS_INSERT_SMALL_MAX + 1


@pytest.mark.parametrize("size", [1, SMALL, BULK, 100])
def test_each_write_path_stores_every_field_and_each_key_once_from_its_first_occurrence(client, tenant, size):
    post(client, tenant, [{"eventId": "sent-before", "userId": "u0", "timestamp": ms(2026, 11, 1)}])
    rich = {
        "eventId": "rich", "userId": "ada@example.com", "profileId": "p-1", "sessionId": "s-1",
        "pageId": "pg\t1\n\\N\\",  # what COPY's text format would have to escape
        "timestamp": ms(2026, 11, 2, 10, 30), "accountId": "acme",
        "data": {"plan": "pro", "amount": 19.99, "big": 2**53, "ok": True, "none": None,
                 "text": "naïve ✓ \"q\" \t\n\\N\\", "nested": {"list": [1, "two", {"three": 3}]}},
    }  # fmt: skip
    items = [rich, {**rich, "data": {"plan": "the repeat, not stored"}}]
    items += [{"eventId": "sent-before", "userId": "u0", "timestamp": ms(2026, 11, 1)}]
    items += [
        {"eventId": f"filler-{n}", "profileId": f"p-{n}", "timestamp": ms(2026, 11, 3)}
        for n in range(size - len(items))
    ]

    response = post(client, tenant, items[:size] if size < len(items) else items)

    assert response.status_code == 200
    stored = Event.objects.get(project=tenant.project, event_id="rich")
    assert stored.properties == rich["data"]
    assert (stored.user_id, stored.profile_id, stored.session_id, stored.page_id, stored.identity_key) == (
        "ada@example.com", "p-1", "s-1", "pg\t1\n\\N\\", "ada@example.com",
    )  # fmt: skip
    assert stored.timestamp == datetime(2026, 11, 2, 10, 30, tzinfo=UTC)
    assert (stored.name, stored.source_id, stored.wire_format) == ("Purchase", tenant.source.id, "intempt")
    expected = {"rich", "sent-before"} | {f"filler-{n}" for n in range(size - 3)}
    assert set(Event.objects.filter(project=tenant.project).values_list("event_id", flat=True)) == expected
    assert Event.objects.filter(project=tenant.project).count() == len(expected)
    if size > 3:
        filler = Event.objects.get(project=tenant.project, event_id="filler-0")
        assert (filler.user_id, filler.profile_id, filler.identity_key) == (None, "p-0", "p-0")


@pytest.mark.parametrize("size", [1, SMALL, BULK])
def test_each_write_path_records_identity_work_for_the_new_events_only(client, tenant, size):
    post(client, tenant, [{"eventId": "sent-before", "userId": "u0", "timestamp": ms(2026, 11, 1)}])
    IdentityWork.objects.all().delete()
    items = [{"eventId": f"e-{n}", "userId": f"u-{n}", "timestamp": ms(2026, 11, 2)} for n in range(size - 1)]
    items.insert(0, {"eventId": "sent-before", "userId": "someone-else", "timestamp": ms(2026, 11, 1)})

    assert post(client, tenant, items).status_code == 200

    recorded = [fact for work in IdentityWork.objects.filter(project_id=tenant.project.id) for fact in work.facts]
    assert [(fact["event_id"], fact["user_id"]) for fact in recorded] == [(f"e-{n}", f"u-{n}") for n in range(size - 1)]


@pytest.mark.parametrize("size", [SMALL, BULK])
def test_a_retried_request_with_a_rejected_event_gets_the_same_answer_and_stores_nothing_twice(client, tenant, size):
    # A bulk request COPYs its keys into the ledger expecting them new; a retry's COPY
    # fails on the first known key, and the request is written again the deduplicating
    # way: the failed attempt must leave nothing behind, the rejected event included.
    items = [{"eventId": f"e-{n}", "userId": f"u-{n}", "timestamp": ms(2026, 11, 2)} for n in range(size - 1)]
    items.insert(1, {"eventId": "no-user", "timestamp": ms(2026, 11, 2)})

    first, retry = post(client, tenant, items), post(client, tenant, items)

    assert first.status_code == retry.status_code == 200
    assert first.json() == retry.json()
    assert [r["index"] for r in retry.json()["rejected"]] == ["track[0].payload[1]"]
    assert Event.objects.filter(project=tenant.project).count() == size - 1
    assert EventKey.objects.filter(project_id=tenant.project.id).count() == size - 1
    assert RejectedEvent.objects.filter(project=tenant.project).count() == 1  # it has its own id and timestamp
    assert sum(len(work.facts) for work in IdentityWork.objects.filter(project_id=tenant.project.id)) == size - 1


@pytest.mark.parametrize(
    "refused",
    [
        {"eventId": "no-user"},
        {"timestamp": ms(2026, 11, 2), "sessionId": "s-1"},
        {"eventId": "no-user", "timestamp": "yesterday", "userId": "ann"},
    ],
    ids=["own-id", "own-timestamp", "own-id-bad-timestamp"],
)
def test_a_refused_event_that_identifies_itself_is_kept_once_however_often_it_is_retried(client, tenant, refused):
    for _ in range(3):
        response = post(client, tenant, [refused])
        assert response.status_code == 400

    kept = RejectedEvent.objects.filter(project=tenant.project)
    assert kept.count() == 1
    assert kept.get().payload == {"name": "Purchase", "payload": [refused]}


def test_a_refused_event_with_neither_id_nor_timestamp_is_kept_for_each_sending(client, tenant):
    # As an accepted event with neither is a new event each time (contract: Deduplication).
    for _ in range(2):
        assert post(client, tenant, [{"sessionId": "s-1"}]).status_code == 400

    assert RejectedEvent.objects.filter(project=tenant.project).count() == 2


@pytest.mark.parametrize("unset", [0, "0", "00", 0.4, ""], ids=["0", "'0'", "'00'", "0.4", "''"])
def test_a_refused_event_whose_timestamp_is_0_is_kept_for_each_sending(client, tenant, unset):
    # 0 in any spelling is Intempt's timestamp not set (an SDK's int64 that cannot be
    # absent): the event has no time of its own, and each sending is a new event, as an
    # accepted one with it is stored each time.
    for _ in range(2):
        assert post(client, tenant, [{"timestamp": unset, "sessionId": "s-1"}]).status_code == 400
        assert post(client, tenant, [{"timestamp": unset, "userId": "u-1"}]).status_code == 200

    assert RejectedEvent.objects.filter(project=tenant.project).count() == 2
    assert Event.objects.filter(project=tenant.project).count() == 2


def test_a_refused_event_retried_with_another_sent_at_is_kept_once(client, tenant):
    # The body's fields beside the track (an SDK's sentAt) describe the sending, not the
    # event: a retry that changes them stores its valid events once (test_intempt.py) and
    # keeps its refused ones once, and gets the same answer.
    refused = {"eventId": "no-user", "timestamp": ms(2026, 11, 2)}
    group = {"name": "Purchase", "payload": [{"eventId": "ok", "userId": "u"}, refused]}
    answers = []
    for sent_at in (1714631904123, 1714631909999):
        body = {"sentAt": sent_at, "track": [group]}
        response = client.post(tenant.intempt_url, data=json.dumps(body), content_type="application/json")
        answers.append((response.status_code, response.json()))

    assert answers[0] == answers[1]
    assert answers[0][0] == 200
    assert Event.objects.filter(project=tenant.project).count() == 1
    kept = RejectedEvent.objects.filter(project=tenant.project)
    assert kept.count() == 1
    assert kept.get().payload == {"sentAt": 1714631904123, "name": "Purchase", "payload": [refused]}  # the first


def test_the_same_refused_event_is_kept_once_per_project(client, tenant, other_tenant):
    refused = [{"eventId": "no-user", "timestamp": ms(2026, 11, 2)}]

    assert post(client, tenant, refused).status_code == 400
    assert post(client, other_tenant, refused).status_code == 400

    assert RejectedEvent.objects.filter(project=tenant.project).count() == 1
    assert RejectedEvent.objects.filter(project=other_tenant.project).count() == 1


@pytest.mark.parametrize("size", [SMALL, 100])
@pytest.mark.django_db(transaction=True)
def test_identical_batches_sent_at_once_are_stored_once(tenant, size):
    items = [{"eventId": f"evt-{n}", "userId": f"user-{n % 7}", "timestamp": ms(2026, 11, 2)} for n in range(size)]
    body = intempt_body(items)
    senders = 4

    statuses = at_once(
        lambda: Client().post(tenant.intempt_url, data=body, content_type="application/json").status_code,
        copies=senders,
    )

    assert statuses == [200] * senders
    assert Event.objects.filter(project=tenant.project).count() == size
    assert EventKey.objects.filter(project_id=tenant.project.id).count() == size


@pytest.mark.parametrize(
    "item",
    [
        {"eventId": "nul-field", "userId": "u1", "sessionId": "a\u0000b"},
        {"eventId": "nul-property", "userId": "u1", "data": {"note": "a\u0000b"}},
    ],
)
def test_value_postgresql_cannot_store_is_a_400_and_nothing_is_stored(client, tenant, item):
    response = post(client, tenant, [item])

    assert response.status_code == 400
    # Refused at the event level before storage (tests/hardening/test_bad_input.py covers batches).
    assert "NUL character" in response.json()["errors"][0]["message"]
    assert not Event.objects.exists()
    assert not EventKey.objects.exists()


@pytest.mark.parametrize(
    "user_id, stored",
    [
        ("é" * 512, True),  # 1,024 bytes: the cap
        ("u" * 900, True),  # past the 4-bytes-a-character bound, within the cap
        ("é" * 513, False),  # 1,026 bytes
        ("u" * 1025, False),
    ],
)
def test_an_identifier_over_1024_bytes_refuses_its_event(client, tenant, user_id, stored):
    response = post(client, tenant, [{"eventId": "long-id", "userId": user_id, "timestamp": ms(2026, 11, 2)}])

    assert Event.objects.filter(project=tenant.project, user_id=user_id).exists() == stored
    if stored:
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        # Named as the producer sent it (Intempt's userId), not by TrackHub's column.
        assert response.json()["errors"][0]["message"] == "userId must be at most 1024 bytes"


def test_a_name_and_an_event_id_both_at_the_cap_fit_the_dedupe_key(client, tenant):
    """Both in one btree entry of the key ledger, and incompressible (random characters of
    4 bytes): the cap keeps their sum under PostgreSQL's ~2.7 kB, with a retry still
    recognised as one."""
    rng = random.Random(7)
    name, event_id = ("".join(chr(rng.randrange(0x10000, 0x10FFFF)) for _ in range(256)) for _ in range(2))
    body = json.dumps({"track": [{"name": name, "payload": [{"eventId": event_id, "userId": "u"}]}]})

    for _ in range(2):
        response = client.post(tenant.intempt_url, data=body, content_type="application/json")
        assert response.status_code == 200, response.json()
    assert len(name.encode()) == len(event_id.encode()) == 1024
    assert list(Event.objects.values_list("name", "event_id")) == [(name, event_id)]


@pytest.mark.parametrize("field", ["anotherUserId", "anotherAccountId"])
def test_an_intempt_context_identifier_over_1024_bytes_refuses_its_event(client, tenant, field):
    """They become profile and account identifiers, indexed like the event's own columns."""
    items = [
        {"eventId": "long", "userId": "u", field: "x" * 1025, "timestamp": ms(2026, 11, 2)},
        {"eventId": "fine", "userId": "u", field: "x" * 1024, "timestamp": ms(2026, 11, 2)},
    ]
    response = post(client, tenant, items)

    assert response.status_code == 200
    assert response.json()["rejected"] == [
        {"index": "track[0].payload[0]", "field": field, "message": f"{field} must be at most 1024 bytes"}
    ]
    assert list(Event.objects.filter(project=tenant.project).values_list("event_id", flat=True)) == ["fine"]


def test_every_identifier_over_1024_bytes_of_an_event_is_listed(client, tenant):
    long = "x" * 1025
    item = {"eventId": "e", "userId": "u", "sessionId": long, "pageId": long, "anotherUserId": long}
    response = post(client, tenant, [item])

    assert response.status_code == 400
    assert sorted(error["field"] for error in response.json()["errors"]) == ["anotherUserId", "pageId", "sessionId"]


@pytest.mark.parametrize("size", [SMALL, 2 * BULK])
@pytest.mark.django_db(transaction=True)
def test_two_requests_with_the_same_keys_in_opposite_orders_cannot_deadlock(tenant, size):
    # A third transaction holds the middle key, so both requests are mid-way through their
    # keys when it lets go. Taken in request order they would each hold what the other
    # needs next (PostgreSQL would abort one: a 503); the ledger takes keys sorted.
    ids = [f"k-{n:03d}" for n in range(size)]
    statuses: list[int] = []

    def send(order: list[str]) -> None:
        try:
            body = intempt_body([{"eventId": i, "userId": "u", "timestamp": ms(2026, 11, 2)} for i in order])
            statuses.append(Client().post(tenant.intempt_url, data=body, content_type="application/json").status_code)
        finally:
            connection.close()

    db = connection.settings_dict
    params = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "dbname": db["NAME"]}
    with psycopg.connect(**params) as holder, psycopg.connect(**params, autocommit=True) as observer:
        holder.execute(
            "INSERT INTO ingestion_eventkey (project_id, name, event_id) VALUES (%s, 'Purchase', %s)",
            [tenant.project.id, ids[size // 2]],
        )
        threads = [threading.Thread(target=send, args=(order,)) for order in (ids, ids[::-1])]
        for thread in threads:
            thread.start()
        waiting_for_locks(observer, count=2)
        holder.rollback()
    for thread in threads:
        thread.join()

    assert statuses == [200, 200]
    assert sorted(Event.objects.filter(project=tenant.project).values_list("event_id", flat=True)) == ids


@pytest.mark.parametrize("size", [1, BULK])
@pytest.mark.parametrize(
    "timestamp_ms, expected",
    [
        (-62135596800000, datetime(1, 1, 1, tzinfo=UTC)),
        (253402300799999, datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
        (1714631904123, datetime(2024, 5, 2, 6, 38, 24, 123000, tzinfo=UTC)),
    ],
)
def test_each_write_path_stores_timestamps_from_year_1_to_9999_exactly(client, tenant, size, timestamp_ms, expected):
    items = [{"eventId": f"t-{n}", "userId": "u", "timestamp": timestamp_ms} for n in range(size)]

    assert post(client, tenant, items).status_code == 200

    assert set(Event.objects.filter(project=tenant.project).values_list("timestamp", flat=True)) == {expected}

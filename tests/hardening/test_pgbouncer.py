"""TrackHub behind a real PgBouncer in transaction pooling mode, configured as
docs/scaling.md says: gunicorn (two workers) and a ``celery worker`` reach the test
database only through a private pgbouncer, with ``DATABASE_PREPARE_THRESHOLD=0`` (PgBouncer
before 1.21 keeps no prepared statement across transactions) and ``DATABASE_CONN_MAX_AGE``
at its default (connections kept between requests). The pool hands out its server
connections in turn, so one client's transactions move between them as transaction pooling
allows (``live.PrivatePgBouncer``). Assertions read the database directly, not through
pgbouncer."""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from ingestion.api.export import EXPORT_CHUNK_ROWS
from ingestion.models import Event
from profiles.models import Identity, IdentityWork, Profile, ProfileMerge
from profiles.services import identity_work_sweep
from profiles.services.drain import WORK_ROWS_PER_TRANSACTION
from profiles.tasks import identity_sweep
from tests.conftest import Tenant, tenant_create
from tests.hardening import live
from tests.hardening.formats import TrackFormat, event_specs, present_formats
from tests.profiles.processes import wait_for, worker_running
from trackhub.celery import app as celery_app

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BROKER = django_settings.CELERY_BROKER_URL
REQUESTS_PER_CONNECTION = 20  # well past psycopg's prepare threshold default (5)


@pytest.fixture(scope="module")
def pgbouncer(django_db_setup: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[live.PrivatePgBouncer]:
    """A private pgbouncer in front of the test database, its pool filled."""
    if live.PGBOUNCER is None:
        # CI installs it: fail rather than skip, so a missing pgbouncer cannot pass unseen.
        pytest.fail("pgbouncer is not installed: apt-get install pgbouncer (scripts/test.sh does as root)")
    db = connection.settings_dict
    directory = tmp_path_factory.mktemp("pgbouncer")
    bouncer = live.PrivatePgBouncer(
        directory, host=db["HOST"] or "127.0.0.1", port=int(db["PORT"] or 5432), user=db["USER"]
    )
    bouncer.start()
    try:
        bouncer.pool_fill(db["NAME"])
        yield bouncer
    finally:
        bouncer.stop()


def env_through(bouncer: live.PrivatePgBouncer, **overrides: str) -> dict[str, str]:
    """TrackHub's environment with its database behind ``bouncer``."""
    settings = {
        "DATABASE_URL": bouncer.url(connection.settings_dict["NAME"]),
        "CELERY_BROKER_URL": BROKER,
        "REDIS_URL": django_settings.REDIS_URL,
        # Sessions made here (Client.force_login) are valid there.
        "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,
    }
    return live.base_env(**{**settings, **overrides})


@dataclass
class Stack:
    port: int

    def post(self, fmt: TrackFormat, tenant: Tenant, body: bytes) -> live.Response:
        return live.request(self.port, "POST", fmt.url(tenant), body, fmt.headers(tenant))

    def read(self, tenant: Tenant, path: str) -> live.Response:
        return live.request(self.port, "GET", path, headers={"Authorization": f"Bearer {tenant.read_token}"})


@pytest.fixture(scope="module")
def stack(pgbouncer: live.PrivatePgBouncer) -> Iterator[Stack]:
    """gunicorn with two workers and a celery worker, both through pgbouncer as the docs
    configure them behind PgBouncer 1.18."""
    env = env_through(pgbouncer, DATABASE_PREPARE_THRESHOLD="0")
    celery_app.control.purge()  # no task of an earlier run for this worker
    worker_env = {name: env[name] for name in ("DATABASE_URL", "REDIS_URL", "DATABASE_PREPARE_THRESHOLD")}
    with (
        worker_running(broker_url=BROKER, concurrency=2, **worker_env),
        live.gunicorn(env, workers=2) as server,
    ):
        yield Stack(port=server.port)


@pytest.fixture(autouse=True)
def worker_idle_before_flush(transactional_db: None) -> Iterator[None]:
    """The module's celery worker outlives each test, and the test database is flushed
    (a TRUNCATE of every table) when a test ends. A drain still working on the test's
    identity work, or one queued by its last request, then takes its locks in another order
    than the TRUNCATE: PostgreSQL found a deadlock, and the flush failed. So before the
    flush: do whatever identity work is left here, then wait until the worker has no task
    left (queued drains find nothing) and no other session of the database is busy."""
    yield
    identity_work_sweep(older_than=timedelta(0))
    wait_for(lambda: _worker_has_no_task() and not _other_sessions_busy(), what="the worker to go idle")


def _worker_has_no_task() -> bool:
    inspect = celery_app.control.inspect(timeout=0.5)
    answers = [inspect.active(), inspect.reserved(), inspect.scheduled()]
    return all(not tasks for answer in answers if answer for tasks in answer.values())


def _other_sessions_busy() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state NOT IN ('idle')"
        )
        return cursor.fetchone()[0] > 0


FORMATS = present_formats()
INTEMPT = next(fmt for fmt in FORMATS if fmt.name == "intempt")
SINGLE_EVENT_REQUESTS = 12
BATCHES, BATCH_SIZE = 3, 20


def stored_ids(tenant: Tenant) -> list[str]:
    """The project's event ids as stored, sorted (read directly, not through pgbouncer)."""
    return sorted(Event.objects.filter(project=tenant.project).values_list("event_id", flat=True))


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda fmt: fmt.name)
def test_concurrent_single_event_and_batched_requests_and_their_retries_store_each_event_once(stack, fmt):
    tenant = tenant_create(org=f"pgb-{fmt.name}", project="concurrent")
    bodies = [fmt.body(event_specs(1, prefix=f"single-{n}")) for n in range(SINGLE_EVENT_REQUESTS)]
    bodies += [fmt.body(event_specs(BATCH_SIZE, prefix=f"batch-{n}")) for n in range(BATCHES)]
    expected = {f"single-{n}-0" for n in range(SINGLE_EVENT_REQUESTS)}
    expected |= {f"batch-{n}-{i}" for n in range(BATCHES) for i in range(BATCH_SIZE)}
    # Every request sent twice, as a client retrying after a lost answer, the copies
    # racing each other; a format without event ids stores each copy (its contract), so
    # it is sent once.
    sends = bodies * (2 if fmt.deduplicates else 1)
    random.Random(7).shuffle(sends)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda body: stack.post(fmt, tenant, body), sends))

    failed = [answer.body[:200] for answer in answers if answer.status != fmt.success_status]
    assert not failed, failed
    assert not any(fmt.is_error(answer.json()) or "rejected" in answer.json() for answer in answers)
    markers = Counter(Event.objects.filter(project=tenant.project).values_list("properties__marker", flat=True))
    assert markers == Counter(expected)


def test_more_single_event_requests_per_connection_than_the_default_prepare_threshold_all_succeed(stack):
    # Two workers, one kept connection each: one of them serves at least half the requests.
    tenant = tenant_create(org="pgb-prepared", project="threshold-0")
    fmt = INTEMPT
    answers = [
        stack.post(fmt, tenant, fmt.body(event_specs(1, prefix=f"p{n}"))) for n in range(REQUESTS_PER_CONNECTION)
    ]

    assert [answer.status for answer in answers] == [fmt.success_status] * REQUESTS_PER_CONNECTION
    assert stored_ids(tenant) == sorted(f"p{n}-0" for n in range(REQUESTS_PER_CONNECTION))


def test_with_the_default_prepare_threshold_requests_fail_once_statements_are_prepared(pgbouncer):
    # Why the docs ask for DATABASE_PREPARE_THRESHOLD=0 before PgBouncer 1.21: after five
    # runs psycopg prepares the write on the server connection of that moment, and a later
    # run names a statement that the server connection it has by then never saw.
    if live.PrivatePgBouncer.version() >= (1, 21):
        pytest.skip("PgBouncer 1.21+ can keep prepared statements (max_prepared_statements)")
    tenant = tenant_create(org="pgb-prepared", project="threshold-default")
    fmt = INTEMPT
    ids = [f"d{n}" for n in range(12)]
    with live.gunicorn(env_through(pgbouncer), workers=1) as server:
        answers = [
            live.request(server.port, "POST", fmt.url(tenant), fmt.body(event_specs(1, prefix=i)), fmt.headers(tenant))
            for i in ids
        ]
        log = server.output()

    statuses = [answer.status for answer in answers]
    assert 503 in statuses and set(statuses) == {fmt.success_status, 503}, statuses
    assert re.search(r'prepared statement \\?"_pg3_\d+\\?" does not exist', log), log[-2000:]
    # A failed request stored nothing (its answer says retry), an acknowledged one its event.
    acknowledged = [f"{i}-0" for i, answer in zip(ids, answers, strict=True) if answer.status == fmt.success_status]
    assert stored_ids(tenant) == sorted(acknowledged)


def pending() -> int:
    return IdentityWork.objects.filter(processed_at__isnull=True).count()


def test_the_celery_worker_resolves_identities_and_merges_profiles(stack):
    tenant = tenant_create(org="pgb-identity", project="merges")
    fmt = INTEMPT

    def post(*items: dict[str, Any]) -> None:
        body = json.dumps({"track": [{"name": "Link", "payload": list(items)}]}).encode()
        assert stack.post(fmt, tenant, body).status == 200

    # Four people seen apart (four profiles), then found to be one: three merges.
    for n, user in enumerate("abcd"):
        post({"eventId": f"seen-{n}", "userId": user, "timestamp": 1_000 + n})
    wait_for(lambda: IdentityWork.objects.count() == 4 and pending() == 0, what="the first drains")
    assert Profile.objects.filter(project=tenant.project).count() == 4
    for n, (user, other) in enumerate(["ab", "cd", "bc"]):
        post({"eventId": f"link-{n}", "userId": user, "anotherUserId": other, "timestamp": 2_000 + n})
    wait_for(lambda: IdentityWork.objects.count() == 7 and pending() == 0, what="the linking drains")

    (survivor,) = Profile.objects.filter(project=tenant.project, merged_into__isnull=True)
    merged_away = Profile.objects.filter(project=tenant.project).exclude(id=survivor.id)
    assert sorted(Identity.objects.filter(profile=survivor).values_list("value", flat=True)) == ["a", "b", "c", "d"]
    assert [profile.merged_into_id for profile in merged_away] == [survivor.id] * 3
    assert ProfileMerge.objects.filter(project=tenant.project, survivor=survivor).count() == 3


def test_one_drain_of_a_backlog_in_more_transactions_than_the_prepare_threshold_completes(stack):
    # As after a broker outage: thousands of outbox rows of a returning user, drained by one
    # sweep task in transactions of WORK_ROWS_PER_TRANSACTION rows, each running the drain's
    # statements once: more than five runs on the task's connection, where a worker left at
    # the default threshold failed ("prepared statement ... does not exist") and left rows.
    tenant = tenant_create(org="pgb-identity", project="backlog")
    body = json.dumps({"track": [{"name": "Visit", "payload": [{"eventId": "v0", "userId": "ann"}]}]}).encode()
    assert stack.post(INTEMPT, tenant, body).status == 200
    wait_for(lambda: IdentityWork.objects.count() == 1 and pending() == 0, what="the first drain")
    with connection.cursor() as cursor:  # the same visit's work, recorded 8 x 500 times more
        cursor.execute(
            "INSERT INTO profiles_identitywork (project_id, facts, created_at) "
            "SELECT project_id, facts, created_at FROM profiles_identitywork, generate_series(1, %s) "
            "WHERE project_id = %s",
            [8 * WORK_ROWS_PER_TRANSACTION, tenant.project.id],
        )

    identity_sweep.delay(older_than_seconds=0)

    wait_for(lambda: pending() == 0, timeout=30, what="one sweep to drain the backlog")
    (profile,) = Profile.objects.filter(project=tenant.project)
    assert list(Identity.objects.filter(profile=profile).values_list("value", flat=True)) == ["ann"]


def test_the_read_api_lists_every_event_page_by_page(stack):
    tenant = tenant_create(org="pgb-read", project="list")
    fmt = INTEMPT
    assert stack.post(fmt, tenant, fmt.body(event_specs(25, prefix="listed"))).status == fmt.success_status

    listed: list[str] = []
    path: str | None = "/api/v1/events/?page_size=10"
    while path:
        answer = stack.read(tenant, path)
        assert answer.status == 200, answer.body[:300]
        page = answer.json()
        listed += [event["event_id"] for event in page["results"]]
        path = page["next"] and "{0.path}?{0.query}".format(urlsplit(page["next"]))

    assert len(listed) == 25
    assert sorted(listed) == stored_ids(tenant)


def exported_ids(kind: str, body: bytes) -> list[str]:
    if kind == "ndjson":
        return [json.loads(line)["event_id"] for line in body.splitlines()]
    return [row["event_id"] for row in csv.DictReader(io.StringIO(body.decode()))]


@pytest.mark.parametrize("kind", ["ndjson", "csv"])
def test_an_export_of_more_than_one_chunk_streams_every_event_once(stack, kind):
    # More rows than one keyset chunk: the export's queries are separate transactions,
    # each on whichever server connection pgbouncer gives it.
    tenant = tenant_create(org="pgb-export", project=kind)
    fmt = INTEMPT
    total = EXPORT_CHUNK_ROWS + 100
    for start in range(0, total, 700):
        specs = [{"id": f"x{n}", "user": "u", "props": {}} for n in range(start, min(start + 700, total))]
        assert stack.post(fmt, tenant, fmt.body(specs)).status == fmt.success_status

    answer = stack.read(tenant, f"/api/v1/events/export.{kind}")

    assert answer.status == 200, answer.body[:300]
    exported = exported_ids(kind, answer.body)
    assert len(exported) == total
    assert sorted(exported) == stored_ids(tenant)


def test_an_admin_form_offering_related_rows_renders(stack):
    # A form's choices are read by Django's QuerySet.iterator(): by default a server-side
    # cursor, declared in one transaction and fetched in the next.
    staff = User.objects.create_superuser("pgb-staff", "staff@example.com", "pw-staff-123")
    client = Client()
    client.force_login(staff)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    answer = live.request(stack.port, "GET", "/admin/dashboard/projectmembership/add/", headers={"Cookie": cookie})

    assert answer.status == 200, answer.body[:300]
    assert f'<option value="{staff.id}">pgb-staff</option>' in answer.body.decode()

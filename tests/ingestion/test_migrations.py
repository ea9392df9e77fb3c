"""Upgrading a database that holds data from an earlier release: the migrations run in a
scratch database of their own (``manage.py migrate`` in a subprocess, as an operator runs
it), while the data is written with plain SQL as the earlier release wrote it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.database import empty_database
from tests.profiles.processes import wait_for

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch_database_url() -> Iterator[str]:
    """An empty PostgreSQL database beside the test database, dropped afterwards."""
    with empty_database("upgrade") as url:
        yield url


def _migrate(database_url: str, *target: str) -> subprocess.Popen[str]:
    """``manage.py migrate [app migration]`` on ``database_url``, started, not waited for."""
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SECRET_KEY": "s", "DJANGO_DEBUG": "0"}
    return subprocess.Popen(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0", *target],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _migrated(database_url: str, *target: str) -> None:
    process = _migrate(database_url, *target)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-2000:]


def _tenant_rows(cursor: psycopg.Cursor) -> None:
    """Organization 1 > project 1 > source 1001, as the first release's tables hold them."""
    cursor.execute("INSERT INTO ingestion_organization (id, name, created_at) VALUES (1, 'acme', now())")
    cursor.execute("INSERT INTO ingestion_project (id, name, organization_id, created_at) VALUES (1, 'web', 1, now())")
    cursor.execute(
        "INSERT INTO ingestion_source (id, name, kind, project_id, created_at) VALUES (1001, '', 'backend', 1, now())"
    )


_EVENT_INSERT = (
    "INSERT INTO ingestion_event (project_id, source_id, wire_format, name, event_id, timestamp, received_at, "
    "properties, context) VALUES (1, 1001, 'intempt', 'Purchase', %s, now(), now(), '{}', '{}')"
)


def test_partitioning_keeps_an_event_the_previous_release_commits_while_it_runs(scratch_database_url):
    # A rolling upgrade: a web process of the release before partitioning stores an event
    # while ``migrate`` copies the events table. The event was acknowledged to its
    # producer, so it must be in the partitioned table (and its key in the ledger).
    _migrated(scratch_database_url, "ingestion", "0001")
    with psycopg.connect(scratch_database_url, autocommit=True) as setup:
        _tenant_rows(setup.cursor())
        setup.execute(_EVENT_INSERT, ["before"])
    with psycopg.connect(scratch_database_url) as writer:
        writer.execute(_EVENT_INSERT, ["during"])  # not committed yet: the request is in flight
        migration = _migrate(scratch_database_url, "ingestion", "0002")
        with psycopg.connect(scratch_database_url, autocommit=True) as observer:

            def migration_waits_for_the_writer() -> bool:
                row = observer.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> %s",
                    [writer.info.backend_pid],
                ).fetchone()
                return row is not None and row[0] > 0

            wait_for(migration_waits_for_the_writer, timeout=60, what="the migration to wait for the writer")
        writer.commit()
    _, stderr = migration.communicate(timeout=120)
    assert migration.returncode == 0, stderr[-2000:]

    with psycopg.connect(scratch_database_url) as check:
        stored = {row[0] for row in check.execute("SELECT event_id FROM ingestion_event")}
        keys = {row[0] for row in check.execute("SELECT event_id FROM ingestion_eventkey")}
    assert stored == {"before", "during"}
    assert keys == {"before", "during"}


def _django(database_url: str, code: str) -> str:
    """The last line ``code`` prints, run with Django set up on ``database_url``."""
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SECRET_KEY": "s", "DJANGO_ALLOWED_HOSTS": "*"}
    env.update(DJANGO_DEBUG="0", DJANGO_SETTINGS_MODULE="trackhub.settings")
    setup = "import django; django.setup(); from django.test import Client; "
    result = subprocess.run(
        [sys.executable, "-c", setup + code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


_REJECTED_INSERT = (
    "INSERT INTO ingestion_rejectedevent (project_id, source_id, wire_format, received_at, index, field, message, "
    "errors, payload, replayed_at) VALUES (1, 1001, %s, now(), %s, 'f', 'm', '[]', %s, %s) RETURNING id"
)

# A request the release before 0005 refused an event of (each event has its own id or
# timestamp), and the row it kept for it: (format, URL, body, the row's index and payload).
_T = 1764000000000
REFUSED = {
    "intempt": (
        "/acme/projects/web/sources/1001/track?apiKey={key}",
        {"track": [{"name": "Broken", "payload": [{"eventId": "bad-1", "timestamp": _T}]}]},
        "track[0].payload[0]",
        {"name": "Broken", "payload": [{"eventId": "bad-1", "timestamp": _T}]},
    ),
    "thrivestack": (
        "/api/track",
        [{"event_name": "bad_ts", "user_id": "u1", "timestamp": "20-11-23T22:28:55.111Z"}],
        "0",
        {"event_name": "bad_ts", "user_id": "u1", "timestamp": "20-11-23T22:28:55.111Z"},
    ),
    "databuddy": (
        "/track",
        {"name": "", "eventId": "db-1", "anonymousId": "a"},
        "0",
        {"name": "", "eventId": "db-1", "anonymousId": "a"},
    ),
}


def _database_from_before_0005(database_url: str) -> None:
    _migrated(database_url, "ingestion", "0004")
    with psycopg.connect(database_url, autocommit=True) as setup:
        _tenant_rows(setup.cursor())


def _rejected_row(database_url: str, *, wire_format: str, index: str, payload: object, replayed: bool = False) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            _REJECTED_INSERT,
            [wire_format, index, psycopg.types.json.Jsonb(payload), "2026-11-24T00:00:00Z" if replayed else None],
        ).fetchone()
    assert row is not None
    return int(row[0])


def _keys(database_url: str) -> dict[int, str | None]:
    with psycopg.connect(database_url) as conn:
        return dict(conn.execute("SELECT id, key FROM ingestion_rejectedevent ORDER BY id").fetchall())


_RETRY = """
import json
from ingestion.models import RejectedEvent, Source
from ingestion.services import access_token_create, api_key_create
source = Source.objects.get(id=1001)
_, key = api_key_create(source=source)
_, token = access_token_create(project=source.project, source=source, scopes=["track_api"])
fmt, url, body = {args!r}
auth = {{"intempt": "", "thrivestack": "Bearer " + token, "databuddy": "Bearer " + key}}[fmt]
response = Client().post(url.format(key=key), json.dumps(body), content_type="application/json",
                         HTTP_AUTHORIZATION=auth)
assert response.status_code in (200, 400), response.content  # 400: its only event refused
print(RejectedEvent.objects.count())
"""


@pytest.mark.parametrize("wire_format", sorted(REFUSED))
def test_a_refused_event_kept_before_0005_is_kept_once_when_its_request_is_retried_after(
    scratch_database_url, wire_format
):
    url, body, index, payload = REFUSED[wire_format]
    _database_from_before_0005(scratch_database_url)
    _rejected_row(scratch_database_url, wire_format=wire_format, index=index, payload=payload)

    _migrated(scratch_database_url)

    assert _django(scratch_database_url, _RETRY.format(args=(wire_format, url, body))) == "1"


def test_a_refused_event_kept_before_0005_holding_a_number_past_64_bits_gets_its_retrys_key(scratch_database_url):
    # jsonb keeps 1e22 as 10000000000000000000000, which reads back as an integer orjson
    # cannot write: the migration stopped with a TypeError, and no upgrade could pass it.
    url, body, index, payload = REFUSED["intempt"]
    body = {"track": [{**body["track"][0], "payload": [{**body["track"][0]["payload"][0], "n": 1e22}]}]}
    payload = {**payload, "payload": [{**payload["payload"][0], "n": 1e22}]}
    _database_from_before_0005(scratch_database_url)
    _rejected_row(scratch_database_url, wire_format="intempt", index=index, payload=payload)

    _migrated(scratch_database_url)

    assert _django(scratch_database_url, _RETRY.format(args=("intempt", url, body))) == "1"


def test_of_an_earlier_release_s_copies_of_one_refused_event_the_first_gets_the_key(scratch_database_url):
    # Before 0005 a retried request kept its refused event once per sending.
    _, _, index, payload = REFUSED["intempt"]
    _database_from_before_0005(scratch_database_url)
    first = _rejected_row(scratch_database_url, wire_format="intempt", index=index, payload=payload)
    second = _rejected_row(scratch_database_url, wire_format="intempt", index=index, payload=payload)

    _migrated(scratch_database_url)

    keys = _keys(scratch_database_url)
    assert keys[first] is not None
    assert keys[second] is None


def test_a_replayed_refused_event_keeps_no_key(scratch_database_url):
    # Its payload is the corrected one, not what was sent: no retry would ever match it.
    _, _, index, payload = REFUSED["intempt"]
    _database_from_before_0005(scratch_database_url)
    replayed = _rejected_row(scratch_database_url, wire_format="intempt", index=index, payload=payload, replayed=True)

    _migrated(scratch_database_url)

    assert _keys(scratch_database_url)[replayed] is None


def test_reversing_partitioning_is_refused_and_keeps_the_dedupe_ledger(scratch_database_url):
    _migrated(scratch_database_url, "ingestion", "0001")
    with psycopg.connect(scratch_database_url, autocommit=True) as setup:
        _tenant_rows(setup.cursor())
        setup.execute(_EVENT_INSERT, ["e-1"])
    _migrated(scratch_database_url)

    back = _migrate(scratch_database_url, "ingestion", "0001")
    _, stderr = back.communicate(timeout=120)

    assert back.returncode != 0 and "cannot be reversed" in stderr
    with psycopg.connect(scratch_database_url) as check:
        keys = [row[0] for row in check.execute("SELECT event_id FROM ingestion_eventkey")]
    assert keys == ["e-1"]


_DATABUDDY_RETRY = """
import json
from ingestion.models import Event, Source
from ingestion.services import api_key_create
_, key = api_key_create(source=Source.objects.get(id=1001))
body = {"name": "button_clicked", "eventId": "db-1", "anonymousId": "a"}
auth = "Bearer " + key
response = Client().post("/track", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=auth)
assert response.status_code == 200, response.content
print(Event.objects.count())
"""


def test_a_databuddy_event_stored_before_its_event_id_was_its_id_is_stored_once_when_retried_after(
    scratch_database_url,
):
    # The release before 8a6358e kept eventId in the context and gave the event a random id.
    _migrated(scratch_database_url, "ingestion", "0006")
    with psycopg.connect(scratch_database_url, autocommit=True) as setup:
        _tenant_rows(setup.cursor())
        setup.execute(
            "INSERT INTO ingestion_event (project_id, source_id, wire_format, name, event_id, timestamp, received_at, "
            "anonymous_id, properties, context) VALUES (1, 1001, 'databuddy', 'button_clicked', "
            "'5a1d3b0e-0c5e-4c39-9d3e-8f0f7d0b1c2a', now(), now(), 'a', '{}', '{\"eventId\": \"db-1\"}')"
        )
        setup.execute(
            "INSERT INTO ingestion_eventkey (project_id, name, event_id) "
            "VALUES (1, 'button_clicked', '5a1d3b0e-0c5e-4c39-9d3e-8f0f7d0b1c2a')"
        )

    _migrated(scratch_database_url)

    assert _django(scratch_database_url, _DATABUDDY_RETRY) == "1"

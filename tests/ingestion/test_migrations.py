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

from tests.profiles.processes import db_url_of_test_run, wait_for

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch_database_url() -> Iterator[str]:
    """An empty PostgreSQL database beside the test database, dropped afterwards."""
    url = db_url_of_test_run()
    name = f"{url.rsplit('/', 1)[1]}_upgrade"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{url.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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

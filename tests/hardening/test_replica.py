"""``DATABASE_REPLICA_URL``: the read API reads a real streaming replica, everything else
the primary. Pausing replay on the replica tells the two apart."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from tests.hardening import live


@dataclass
class Stack:
    port: int
    env: dict[str, str]
    credentials: dict[str, Any]
    primary: live.PrivatePostgres
    replica: live.PrivatePostgres

    @property
    def track_path(self) -> str:
        return f"/o/projects/p/sources/5/track?apiKey={self.credentials['api_key']}"

    def track(self, event_id: str) -> int:
        body = json.dumps({"track": [{"name": "Signup", "payload": [{"eventId": event_id, "userId": "ann"}]}]})
        return live.request(self.port, "POST", self.track_path, body.encode()).status

    def read(self, path: str, token: str | None = None) -> live.Response:
        token = token or self.credentials["read_token"]
        return live.request(self.port, "GET", path, headers={"Authorization": f"Bearer {token}"})

    def listed(self) -> list[str]:
        answer = self.read("/api/v1/events/")
        assert answer.status == 200, answer.body
        return [event["event_id"] for event in answer.json()["results"]]

    def exported(self) -> list[str]:
        answer = self.read("/api/v1/events/export.ndjson")
        assert answer.status == 200, answer.body
        return [json.loads(line)["event_id"] for line in answer.body.splitlines()]

    def stored_on_primary(self) -> list[str]:
        return [row[0] for row in sql(self.primary.url, "SELECT event_id FROM ingestion_event ORDER BY id DESC")]

    def wait_until_listed(self, expected: list[str]) -> None:
        deadline = time.monotonic() + 30
        while self.listed() != expected:
            assert time.monotonic() < deadline, f"the replica never showed {expected}"
            time.sleep(0.1)

    @contextlib.contextmanager
    def replay_paused(self) -> Iterator[None]:
        """The replica stops applying the primary's changes until the block ends."""
        self.wait_until_listed(self.stored_on_primary())
        sql(self.replica.url, "SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            sql(self.replica.url, "SELECT pg_wal_replay_resume()")


def sql(url: str, statement: str) -> list[tuple]:
    with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        return conn.execute(statement).fetchall()


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """A primary, a hot standby of it made by ``pg_basebackup -R``, and gunicorn with
    ``DATABASE_REPLICA_URL`` pointing at the standby."""
    primary = live.PrivatePostgres()
    replica: live.PrivatePostgres | None = None
    try:
        primary.init()
        env = live.base_env(DATABASE_URL=primary.url, CELERY_BROKER_URL="", REDIS_URL="")
        live.manage(env, "migrate", "--no-input")
        credentials = json.loads(
            live.manage(env, "provision", "--org", "o", "--project", "p", "--source-id", "5", "--json")
        )
        replica = primary.streaming_replica()
        with live.gunicorn({**env, "DATABASE_REPLICA_URL": replica.url}, workers=1) as server:
            yield Stack(port=server.port, env=env, credentials=credentials, primary=primary, replica=replica)
    finally:
        if replica is not None:
            replica.destroy()
        primary.destroy()


def test_the_event_list_and_export_read_the_replica_and_tracking_writes_the_primary(stack):
    with stack.replay_paused():
        before = stack.listed()
        assert stack.track("while-paused") == 200

        assert stack.stored_on_primary()[0] == "while-paused"
        assert stack.listed() == before
        assert stack.exported() == before

    stack.wait_until_listed(["while-paused", *before])
    assert stack.exported() == ["while-paused", *before]


def test_a_read_token_revoked_on_the_primary_is_refused_while_the_replica_lags(stack):
    provision = ("provision", "--org", "o", "--project", "p", "--source-id", "5", "--json")
    token = json.loads(live.manage(stack.env, *provision))["read_token"]
    assert stack.read("/api/v1/events/", token).status == 200

    with stack.replay_paused():
        live.manage(stack.env, "revoke_credential", token)
        refused = stack.read("/api/v1/events/", token)

    assert refused.status == 401


def test_the_read_api_answers_503_while_the_replica_is_down_and_tracking_goes_on(stack):
    stack.replica.stop()
    try:
        unavailable = stack.read("/api/v1/events/")
        tracked = stack.track("while-replica-down")
    finally:
        stack.replica.start()

    assert (unavailable.status, unavailable.headers.get("retry-after")) == (503, "5")
    assert tracked == 200
    assert stack.stored_on_primary()[0] == "while-replica-down"

"""``DATABASE_REPLICA_URL``: the read API reads a real streaming replica, everything else
the primary. Replay on the replica is paused to tell the two apart."""

from __future__ import annotations

import json
import time

import psycopg

from tests.hardening import live


def intempt_body(event_id: str) -> bytes:
    return json.dumps({"track": [{"name": "Signup", "payload": [{"eventId": event_id, "userId": "ann"}]}]}).encode()


def sql(url: str, statement: str) -> list[tuple]:
    with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        return conn.execute(statement).fetchall()


def test_the_read_api_reads_the_replica_while_tracking_and_credentials_use_the_primary():
    primary = live.PrivatePostgres()
    replica: live.PrivatePostgres | None = None
    try:
        primary.init()
        env = live.base_env(DATABASE_URL=primary.url, CELERY_BROKER_URL="", REDIS_URL="")
        live.manage(env, "migrate", "--no-input")
        provision = ("provision", "--org", "o", "--project", "p", "--source-id", "5", "--json")
        creds = json.loads(live.manage(env, *provision))
        revoked_token = json.loads(live.manage(env, *provision))["read_token"]
        replica = primary.streaming_replica()
        track_path = f"/o/projects/p/sources/5/track?apiKey={creds['api_key']}"

        with live.gunicorn({**env, "DATABASE_REPLICA_URL": replica.url}, workers=1) as server:

            def listed(path: str = "/api/v1/events/", token: str = creds["read_token"]) -> list[str]:
                answer = live.request(server.port, "GET", path, headers={"Authorization": f"Bearer {token}"})
                assert answer.status == 200, answer.body
                return [event["event_id"] for event in answer.json()["results"]]

            def exported() -> list[str]:
                answer = live.request(
                    server.port, "GET", "/api/v1/events/export.ndjson",
                    headers={"Authorization": f"Bearer {creds['read_token']}"},
                )  # fmt: skip
                assert answer.status == 200, answer.body
                return [json.loads(line)["event_id"] for line in answer.body.splitlines()]

            def wait_until_listed(expected: list[str]) -> None:
                deadline = time.monotonic() + 30
                while listed() != expected:
                    assert time.monotonic() < deadline, f"the replica never showed {expected}"
                    time.sleep(0.1)

            assert live.request(server.port, "POST", track_path, intempt_body("first")).status == 200
            wait_until_listed(["first"])

            sql(replica.url, "SELECT pg_wal_replay_pause()")
            stored = live.request(server.port, "POST", track_path, intempt_body("second"))
            live.manage(env, "revoke_credential", revoked_token)

            # Written to the primary, not yet on the paused replica, which is what the
            # read API shows; the revocation, though, is read from the primary at once.
            assert stored.status == 200
            assert sql(primary.url, "SELECT count(*) FROM ingestion_event") == [(2,)]
            assert listed() == ["first"]
            assert exported() == ["first"]
            revoked = live.request(
                server.port, "GET", "/api/v1/events/", headers={"Authorization": f"Bearer {revoked_token}"}
            )
            assert revoked.status == 401

            sql(replica.url, "SELECT pg_wal_replay_resume()")
            wait_until_listed(["second", "first"])
            assert exported() == ["second", "first"]
    finally:
        if replica is not None:
            replica.destroy()
        primary.destroy()

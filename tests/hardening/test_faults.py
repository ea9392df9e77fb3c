"""Faults, for real: gunicorn processes, a private redis-server as the broker that goes
away, a private PostgreSQL cluster that restarts under load. Plus the production access
log (no API key in it) and a huge chunked body without Content-Length."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
import uuid
from urllib.parse import quote

import psycopg
import pytest
import redis
from django.conf import settings as django_settings

from ingestion.models import Event
from profiles.models import IdentityWork
from tests.conftest import tenant_create
from tests.database import database_down
from tests.hardening import live

pytestmark = pytest.mark.django_db(transaction=True)


def shared_test_db_url() -> str:
    db = django_settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def intempt_body(event_ids: list[str], user: str = "fault-user") -> bytes:
    payload = [{"eventId": eid, "userId": user, "timestamp": 1714631904000, "data": {}} for eid in event_ids]
    return json.dumps({"track": [{"name": "fault_event", "payload": payload}]}).encode()


def intempt_path(org: str, project: str, source_id: int, api_key: str) -> str:
    return f"/{org}/projects/{project}/sources/{source_id}/track?apiKey={api_key}"


def test_an_intempt_url_naming_the_longest_organization_and_project_is_served():
    # 200 four-byte characters each: 2,400 bytes apiece once percent-encoded.
    tenant = tenant_create(org="\U0001f680" * 200, project="\U0001f4e6" * 200)
    path = quote(tenant.intempt_url, safe="/?=.")
    assert len(path) > 4094

    with live.gunicorn(live.base_env(DATABASE_URL=shared_test_db_url()), workers=1) as server:
        response = live.request(server.port, "POST", path, intempt_body(["long-url-1"]))

    assert response.status == 200, response.body[:300]
    assert Event.objects.filter(event_id="long-url-1").count() == 1


def test_the_gunicorn_access_log_never_shows_the_api_key(tmp_path):
    tenant = tenant_create(org="log-org", project="log-project")
    access_log = tmp_path / "access.log"
    secret = tenant.api_key.split(".")[1]

    with live.gunicorn(live.base_env(DATABASE_URL=shared_test_db_url()), workers=1, access_log=access_log) as server:
        ok = live.request(server.port, "POST", tenant.intempt_url, intempt_body(["log-1"]))
        bad = live.request(server.port, "POST", tenant.intempt_url + "x", intempt_body(["log-2"]))
        server.stop()  # flush the log

    text = access_log.read_text()
    assert (ok.status, bad.status) == (200, 401)
    assert text.count("apiKey=[scrubbed]") == 2
    assert secret not in text and secret not in server.output()


def test_the_gunicorn_error_log_never_shows_the_api_key_of_a_malformed_request_line():
    # An organization named "Acme Corp" typed into the URL unencoded: gunicorn refuses the
    # request line and logs it, quoted, at warning level.
    tenant = tenant_create(org="Acme Corp", project="log-project")
    secret = tenant.api_key.split(".")[1]

    with live.gunicorn(live.base_env(DATABASE_URL=shared_test_db_url()), workers=1) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
            sock.sendall(
                f"POST {tenant.intempt_url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{{}}".encode()
            )
            answer = sock.recv(65536)
        server.stop()  # flush the log

    assert answer.startswith(b"HTTP/1.1 400")
    assert "Invalid request" in server.output() and "apiKey=[scrubbed]" in server.output()
    assert secret not in server.output()


def test_gunicorn_with_the_production_config_leaves_no_control_socket_for_another_to_clobber(tmp_path):
    # gunicorn 27 would put it at ~/.gunicorn/gunicorn.ctl, one path for every gunicorn
    # of the user: a second one takes it over and deletes it on exit.
    with live.gunicorn(live.base_env(DATABASE_URL=shared_test_db_url(), HOME=str(tmp_path)), workers=1) as server:
        assert live.request(server.port, "GET", "/healthz").status == 200

    assert not (tmp_path / ".gunicorn").exists()


def send_chunked(port: int, path: str, chunks) -> bytes:
    """POST with Transfer-Encoding: chunked and no Content-Length; the raw answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head.encode())
        try:
            for chunk in chunks:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed before we finished sending
        answer = b""
        try:
            while part := sock.recv(65536):
                answer += part
        except ConnectionResetError:
            pass
    return answer


def test_a_huge_chunked_body_without_content_length_is_refused_while_reading():
    tenant = tenant_create(org="chunk-org", project="chunk-project")

    with live.gunicorn(live.base_env(DATABASE_URL=shared_test_db_url()), workers=1) as server:
        answer = send_chunked(server.port, tenant.intempt_url, [b" " * 65536] * 64)  # 4 MiB, twice the limit

    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 400 " in status_line, answer[:300]
    assert b"larger than 2097152 bytes" in rest
    assert Event.objects.count() == 0


def test_a_chunked_body_within_the_limit_is_read_and_stored():
    tenant = tenant_create(org="chunk-org", project="chunk-project")
    body = intempt_body(["chunked-1", "chunked-2"])

    with live.gunicorn(live.base_env(DATABASE_URL=shared_test_db_url()), workers=1) as server:
        answer = send_chunked(server.port, tenant.intempt_url, [body[:10], body[10:]])

    assert b" 200 " in answer.partition(b"\r\n")[0], answer[:300]
    assert Event.objects.filter(project=tenant.project).count() == 2


def test_with_the_broker_down_requests_succeed_events_are_stored_and_identity_work_is_recorded():
    tenant = tenant_create(org="broker-org", project="broker-project")
    broker = live.PrivateRedis()
    broker.start()
    env = live.base_env(DATABASE_URL=shared_test_db_url(), CELERY_BROKER_URL=broker.url, TRACKHUB_RATE_LIMIT="60000")
    try:
        with live.gunicorn(env, workers=1) as server:
            assert live.request(server.port, "GET", "/readyz").status == 200
            broker.stop()

            ready = live.request(server.port, "GET", "/readyz")
            answers = [
                live.request(server.port, "POST", tenant.intempt_url, intempt_body([f"b{i}-1", f"b{i}-2"]), timeout=10)
                for i in range(5)
            ]
    finally:
        broker.stop()

    assert ready.status == 503 and ready.json()["failing"] == ["broker"]
    assert [answer.status for answer in answers] == [200] * 5
    assert Event.objects.filter(project=tenant.project).count() == 10
    pending = IdentityWork.objects.filter(project_id=tenant.project.id, processed_at__isnull=True)
    assert sum(len(work.facts) for work in pending) == 10


def test_a_failed_publish_leaves_no_queued_flag_so_the_next_request_queues_a_drain():
    """Redis (the flag store) up, the broker down: the request must not leave the
    project's "drain queued" flag set, or no drain would be queued once the broker is back."""
    tenant = tenant_create(org="flag-org", project="flag-project")
    broker = live.PrivateRedis()
    broker.start()
    broker.stop()
    flags = redis.Redis.from_url(django_settings.REDIS_URL)
    env = live.base_env(
        DATABASE_URL=shared_test_db_url(), CELERY_BROKER_URL=broker.url, REDIS_URL=django_settings.REDIS_URL
    )
    with live.gunicorn(env, workers=1) as server:
        answer = live.request(server.port, "POST", tenant.intempt_url, intempt_body(["f-1"]), timeout=10)

    assert answer.status == 200
    assert IdentityWork.objects.filter(project_id=tenant.project.id, processed_at__isnull=True).count() == 1
    assert not flags.exists(f"trackhub:identity:queued:{tenant.project.id}")


@pytest.mark.worker
def test_the_celery_worker_survives_the_broker_restarting_under_load_and_the_identity_work_gets_done(tmp_path):
    """gunicorn, a celery worker and beat as in production, on a private redis-server that
    is killed and started again twice while clients keep posting. The worker used to exit
    (``Unrecoverable error: AttributeError(... 'hostname')``) whenever the broker went away
    while it held a message it had not acknowledged, which under load it nearly always
    does; the outbox then waited for someone to restart it (trackhub/broker.py)."""
    tenant = tenant_create(org="restart-org", project="restart-project")
    broker = live.PrivateRedis()
    broker.start()
    env = live.base_env(DATABASE_URL=shared_test_db_url(), CELERY_BROKER_URL=broker.url)
    statuses: list[int] = []
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    sequence = itertools.count()

    def client(port: int) -> None:
        while not stop.is_set():
            n = next(sequence)
            # Users linked in a ring, so the identity work merges profiles as it goes.
            items = [
                {"eventId": f"r{n}-{k}", "userId": f"u{(n + k) % 50}", "anotherUserId": f"u{(n + k + 1) % 50}"}
                for k in range(5)
            ]
            body = json.dumps({"track": [{"name": "restart_event", "payload": items}]}).encode()
            try:
                answer = live.request(port, "POST", tenant.intempt_url, body, timeout=20)
            except OSError:
                continue  # nothing acknowledged
            with lock:
                statuses.append(answer.status)
                if answer.status == 200:
                    acknowledged.extend(item["eventId"] for item in items)

    def answered() -> int:
        with lock:
            return len(statuses)

    def wait_for(predicate, what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert worker.process.poll() is None, (
                f"the worker exited while waiting for {what}:\n{worker.output()[-3000:]}"
            )
            if time.monotonic() > deadline:
                raise TimeoutError(what)
            time.sleep(0.05)

    def unacknowledged() -> int:
        # kombu's Redis transport keeps each message delivered to a worker and not yet
        # acknowledged in this hash (its ``unacked_key``) until the worker acknowledges it.
        try:
            return redis.Redis(host="127.0.0.1", port=broker.port, socket_timeout=1).hlen("unacked")
        except redis.RedisError:
            return 0

    try:
        with (
            live.gunicorn(env, workers=2) as server,
            live.celery(env, "worker", "--concurrency", "2", "--loglevel", "WARNING") as worker,
            live.celery(env, "beat", "--loglevel", "WARNING", "--schedule", str(tmp_path / "schedule")),
        ):
            threads = [threading.Thread(target=client, args=(server.port,)) for _ in range(4)]
            for thread in threads:
                thread.start()
            try:
                for _ in range(2):
                    # What made the worker exit: a message it holds unacknowledged when the
                    # broker goes. Seen here, the worker is also consuming (again).
                    wait_for(lambda: unacknowledged() > 0, "the worker to hold a message")
                    broker.stop()
                    before = answered()
                    time.sleep(12)  # about the audit's outage
                    wait_for(lambda before=before: answered() >= before + 20, "requests answered with the broker down")
                    broker.start()  # same port, empty: what was queued is gone, the outbox is not
                wait_for(lambda: unacknowledged() > 0, "the worker to consume after the last restart")
            finally:
                stop.set()
                for thread in threads:
                    thread.join()

            # The drains queued after the restart and beat's sweep (every 30 s) do the rest.
            wait_for(
                lambda: not IdentityWork.objects.filter(processed_at__isnull=True).exists(),
                "the identity work to be done",
                timeout=240,
            )
            assert worker.process.poll() is None
    finally:
        broker.stop()

    assert set(statuses) == {200}
    assert "Unrecoverable error" not in worker.output()
    stored = list(Event.objects.filter(project=tenant.project).values_list("event_id", flat=True))
    assert sorted(stored) == sorted(acknowledged)
    assert IdentityWork.objects.filter(project_id=tenant.project.id).count() > 0


@pytest.mark.parametrize("events", [1, 30], ids=["one-statement write", "bulk write"])
def test_a_track_request_on_a_connection_the_server_dropped_reconnects_and_succeeds(events):
    # The worker has the credential cached after the first request, so the second one's
    # first statement is the one-statement write, or the bulk write's credential check: it
    # doubles as Django's per-request connection check (trackhub.db.request_first_fetchall).
    # A dropped idle connection must cost nothing but a reconnect.
    tenant = tenant_create(org="stale-org", project="stale-project")
    url = shared_test_db_url() + "?application_name=trackhub-stale-test"
    env = live.base_env(DATABASE_URL=url, DATABASE_CONN_MAX_AGE="600")
    second_ids = [f"stale-2-{n}" for n in range(events)]
    with live.gunicorn(env, workers=1) as server:
        first = live.request(server.port, "POST", tenant.intempt_url, intempt_body(["stale-1"]))
        with psycopg.connect(shared_test_db_url(), autocommit=True) as admin:
            dropped = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'trackhub-stale-test'"
            ).fetchone()
            # The backend exits after the signal, not with it: wait until it is gone.
            deadline = time.monotonic() + 30
            while admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'trackhub-stale-test'"
            ).fetchone() != (0,):
                assert time.monotonic() < deadline, "the terminated backend never exited"
                time.sleep(0.02)
        second = live.request(server.port, "POST", tenant.intempt_url, intempt_body(second_ids))

    assert dropped == (1,)
    assert (first.status, second.status) == (200, 200), second.body
    stored = Event.objects.filter(project=tenant.project).values_list("event_id", flat=True)
    assert sorted(stored) == sorted(["stale-1", *second_ids])


def test_the_database_restarting_under_load_never_acknowledges_an_uncommitted_event():
    cluster = live.PrivatePostgres()
    broker = live.PrivateRedis()
    try:
        cluster.init()
        broker.start()
        env = live.base_env(DATABASE_URL=cluster.url, CELERY_BROKER_URL=broker.url, DATABASE_CONN_MAX_AGE="60")
        live.manage(env, "migrate", "--no-input")
        creds = json.loads(live.manage(env, "provision", "--org", "o", "--project", "p", "--source-id", "77", "--json"))
        path = intempt_path("o", "p", 77, creds["api_key"])

        acknowledged: list[str] = []
        outcomes: list[tuple[int, str | None]] = []
        lock = threading.Lock()
        stop = threading.Event()
        sequence = itertools.count()

        def client(port: int) -> None:
            while not stop.is_set():
                ids = [f"e{next(sequence)}-{uuid.uuid4().hex[:8]}" for _ in range(5)]
                try:
                    answer = live.request(port, "POST", path, intempt_body(ids), timeout=20)
                except OSError:
                    continue  # the connection itself failed: nothing acknowledged
                with lock:
                    outcomes.append((answer.status, answer.headers.get("retry-after")))
                    if answer.status == 200:
                        acknowledged.extend(ids)
                if answer.status != 200:
                    time.sleep(0.05)

        def wait_for(predicate, what: str, timeout: float = 60) -> None:
            deadline = time.monotonic() + timeout
            while not predicate():
                if time.monotonic() > deadline:
                    raise TimeoutError(what)
                time.sleep(0.05)

        def count(status: int) -> int:
            with lock:
                return sum(1 for s, _ in outcomes if s == status)

        with live.gunicorn(env, workers=2) as server:
            threads = [threading.Thread(target=client, args=(server.port,)) for _ in range(4)]
            for thread in threads:
                thread.start()
            try:
                wait_for(lambda: count(200) >= 20, "successes before the outage")
                cluster.stop("immediate")  # a crash: in-flight transactions are lost
                wait_for(lambda: count(503) >= 5, "503s during the outage")
                ready_during_outage = live.request(server.port, "GET", "/readyz")
                during = count(200)
                cluster.start()
                wait_for(lambda: count(200) >= during + 20, "successes after the restart")
            finally:
                stop.set()
                for thread in threads:
                    thread.join()

        with psycopg.connect(cluster.url.replace("postgres://", "postgresql://")) as conn:
            stored = [row[0] for row in conn.execute("SELECT event_id FROM ingestion_event")]
    finally:
        cluster.destroy()
        broker.stop()

    statuses = {status for status, _ in outcomes}
    assert statuses <= {200, 503}, statuses
    assert ready_during_outage.status == 503 and "database" in ready_during_outage.json()["failing"]
    assert all(retry_after and int(retry_after) > 0 for status, retry_after in outcomes if status == 503)
    assert len(stored) == len(set(stored))
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged events were lost"


def test_metrics_add_up_across_gunicorn_workers():
    tenant = tenant_create(org="metrics-org", project="metrics-project")
    requests = 24

    with live.gunicorn(live.base_env(DATABASE_URL=shared_test_db_url()), workers=3) as server:
        threads = [
            threading.Thread(
                target=live.request,
                args=(server.port, "POST", tenant.intempt_url, intempt_body([f"m{i}-a", f"m{i}-b"])),
            )
            for i in range(requests)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        scrapes = [live.request(server.port, "GET", "/metrics").body.decode() for _ in range(3)]

    line = f'trackhub_events_accepted_total{{format="intempt",source="{tenant.source.id}"}} {2.0 * requests}'
    assert all(line in text for text in scrapes), [t for t in scrapes[0].splitlines() if "accepted_total" in t]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/events/", "/api/v1/events/export.ndjson", "/api/v1/events/export.csv", "/api/v1/rejected-events/",
        "/api/v1/profiles/", "/api/v1/profiles/1/", "/api/v1/profiles/1/events/", "/api/v1/accounts/",
        "/api/v1/accounts/1/",
    ],
)  # fmt: skip
def test_the_read_api_answers_503_with_retry_after_while_the_database_is_down(client, path):
    tenant = tenant_create(org="read-down-org", project="read-down-project")
    with database_down():
        response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {tenant.read_token}")

    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert response.json() == {"detail": "The database is unavailable; retry later."}

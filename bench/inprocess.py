"""CPU per track request in one process, through Django's WSGI handler (seconds, not minutes).

    python -m bench.inprocess [--format intempt] [--website] [--events 1] [--requests 3000] [--rounds 3]

No gunicorn, no load generator, no Celery worker: one process sends requests to
TrackHub's own WSGI application on a scratch PostgreSQL database and prints the CPU
(user + system) and the wall time per request. On a shared machine this is far steadier
than ``bench.ingest``, so it is the tool for "did this change make a request cheaper";
``bench.compare`` then says what that is worth under load.

``--website`` sends Databuddy's browser requests (``?website_id=``, no key). The identity
drain is held "queued" for the run, as it is for most requests under load, so the kick
costs what it costs there (no Redis round trip); ``bench.ingest`` measures the drain.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.bodies import LOADS, Credentials
from bench.stack import HOST, django_on_scratch_database

SOURCE_ID = 525252


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--format", default="intempt", choices=[load.wire_format for load in LOADS])
    parser.add_argument("--website", action="store_true", help="Databuddy's browser path (?website_id=)")
    parser.add_argument("--events", type=int, default=1, help="events per request")
    parser.add_argument("--requests", type=int, default=3000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or _scratch_dir()
    django_on_scratch_database("inprocess")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    send, release = _sender(args)
    try:
        for _ in range(300):  # warm: imports, prepared statements, the credential copy
            send()
        label = "databuddy browser (website_id)" if args.website else args.format
        print(f"{label}, {args.events} event(s) per request, {args.requests} requests per round")
        for round_number in range(1, args.rounds + 1):
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(args.requests):
                send()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(
                f"round {round_number}: CPU {cpu / args.requests * 1e6:6.0f} µs, "
                f"wall {wall / args.requests * 1e6:6.0f} µs per request"
            )
    finally:
        release()


def _sender(args: argparse.Namespace) -> tuple[Callable[[], None], Callable[[], None]]:
    """A function that sends one request with fresh events and checks it succeeded, and
    one that lets the project's drain flag go (project ids repeat in the next scratch
    database, so a flag left behind would hold back another benchmark's drains)."""
    from ingestion.services import source_provision
    from trackhub.redis import redis_client

    provisioned = source_provision(org="bench-inprocess", project="p", source_id=SOURCE_ID)
    credentials = Credentials(
        org=provisioned.org, project=provisioned.project, source_id=provisioned.source_id,
        api_key=provisioned.api_key, bearer_token=provisioned.bearer_token, website_id=provisioned.website_id,
    )  # fmt: skip
    load = next(load for load in LOADS if load.wire_format == ("databuddy" if args.website else args.format))
    if args.website:
        path, headers = f"/track?website_id={credentials.website_id}", {}
    else:
        path, headers = load.path(credentials), load.headers(credentials)
    path_info, _, query = path.partition("?")
    environ_headers = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    flag = _drain_held_queued(redis_client(), project_id=_project_id(provisioned.source_id))
    from trackhub.wsgi import application  # as gunicorn loads it (with its process tuning)

    numbers = itertools.count()

    def send() -> None:
        body = load.body(args.events, f"inprocess-{time.time_ns()}-{next(numbers)}")
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": path_info, "QUERY_STRING": query,
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
            "SERVER_NAME": HOST, "SERVER_PORT": "8000", "HTTP_HOST": HOST, "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http", **environ_headers,
        }  # fmt: skip
        statuses: list[str] = []
        response = application(environ, lambda status, _headers: statuses.append(status))
        content = b"".join(response)
        response.close()
        if not statuses[0].startswith(str(load.success_status)):
            sys.exit(f"request failed: {statuses[0]} {content[:300]!r}")

    return send, flag


def _project_id(source_id: int) -> int:
    from ingestion.selectors import source_get

    source = source_get(source_id=source_id)
    assert source is not None
    return source.project_id


def _drain_held_queued(client: Any, *, project_id: int) -> Callable[[], None]:
    """Mark the project's drain as queued far ahead, so every kick is the skip that most
    requests take under load (``profiles.services.identity_work_kick``); the release."""
    from profiles.services.outbox import _KICK_KEY

    if client is None:
        return lambda: None
    key = _KICK_KEY.format(project_id=project_id)
    client.set(key, time.time() + 3600, ex=3600)
    return lambda: client.delete(key)


def _scratch_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="trackhub-inprocess-prometheus-")


if __name__ == "__main__":
    main()

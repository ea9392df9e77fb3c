"""Ingest benchmark: ``python -m bench.ingest``. One bounded run, all on 127.0.0.1.

Creates a scratch PostgreSQL database, migrates it, provisions a source, starts TrackHub
under gunicorn (sync workers) with a Celery worker on its own Redis database, then
measures, in this order and in the same run:

- per wire format present: 100-event requests (events/s, p50/p99, database count checked
  against the events acknowledged), then single-event requests (requests/s, p50/p99);
- the raw ceilings: psycopg COPY of the same rows into a scratch table (a commit per
  100 rows, one connection per gunicorn worker), and a bare Django view answering ``{}``
  under the same gunicorn;
- p50/p99 of a 100-event request at half the maximum batched rate;
- the identity queue (outbox rows not yet processed) while ingesting at full speed.

Ratios to the ceilings are the headline; absolute figures depend on the machine. See
docs/scaling.md for how to read them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.bodies import COPY_COLUMNS, LOADS, Credentials, copy_rows, loads_available
from bench.load import LoadResult, Target, load_run

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
TARGETS = {"batched": 0.6, "single": 0.3, "p99_half_rate_ms": 50.0}


@dataclass(frozen=True)
class BodyMaker:
    """Picklable body factory for the load processes: unique events per request."""

    wire_format: str
    events: int
    run: str

    def __call__(self, client: int, number: int) -> bytes:
        load = next(load for load in LOADS if load.wire_format == self.wire_format)
        return load.body(self.events, f"{self.run}-{self.events}-{client}-{number}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


def _scratch_database_create(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def _wait_http(port: int, path: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def _event_count(conn: psycopg.Connection, wire_format: str) -> int:
    return conn.execute("SELECT count(*) FROM ingestion_event WHERE wire_format = %s", [wire_format]).fetchone()[0]


def _identity_pending(conn: psycopg.Connection) -> tuple[int, float]:
    """Outbox rows not processed yet, and the age in seconds of the oldest one."""
    row = conn.execute(
        "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) "
        "FROM profiles_identitywork WHERE processed_at IS NULL"
    ).fetchone()
    return int(row[0]), float(row[1])


class IdentityLagSampler(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.samples: list[tuple[int, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                self.samples.append(_identity_pending(conn))
                self.stop.wait(0.5)


def _copy_client(args: tuple[str, float, float, int, int, int]) -> int:
    url, start_at, duration, project_id, source_id, client = args
    rows_written = 0
    with psycopg.connect(url) as conn:
        while time.time() < start_at:
            time.sleep(0.001)
        number = 0
        while time.time() < start_at + duration:
            rows = copy_rows(100, f"copy-{client}-{number}", project_id=project_id, source_id=source_id)
            number += 1
            with conn.cursor() as cursor, cursor.copy(f"COPY bench_copy ({COPY_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            conn.commit()
            if time.time() <= start_at + duration:
                rows_written += len(rows)
    return rows_written


def copy_ceiling(url: str, *, connections: int, duration: float, project_id: int, source_id: int) -> float:
    """Events/s that a plain psycopg COPY reaches into a table of the same columns."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute(
            "CREATE TABLE bench_copy (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            "project_id bigint, source_id bigint, wire_format varchar(16), name text, namespace text, "
            "event_id text, timestamp timestamptz, received_at timestamptz, user_id text, profile_id text, "
            "anonymous_id text, account_id text, session_id text, page_id text, identity_key text, "
            "properties jsonb, context jsonb)"
        )
    start_at = time.time() + 0.3
    context = multiprocessing.get_context("fork")
    with context.Pool(connections) as pool:
        written = pool.map(
            _copy_client, [(url, start_at, duration, project_id, source_id, n) for n in range(connections)]
        )
    return sum(written) / duration


def _summary(result: LoadResult) -> dict[str, Any]:
    return {
        "requests_per_s": round(result.requests_per_s, 1),
        "events_per_s": round(result.events_per_s, 1),
        "p50_ms": round(result.percentile_ms(50), 2),
        "p99_ms": round(result.percentile_ms(99), 2),
        "ok": result.ok,
        "failed": result.failed,
        "first_failure": result.first_failure,
    }


def main(argv: list[str] | None = None) -> int:
    cpus = os.cpu_count() or 2
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per measured phase (default 6)")
    parser.add_argument("--workers", type=int, default=cpus, help="gunicorn sync workers (default: cores)")
    parser.add_argument("--clients", type=int, default=2 * cpus, help="load processes (default: 2 x cores)")
    parser.add_argument("--batch", type=int, default=100, help="events per batched request (default 100)")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL URL allowed to create databases",
    )
    parser.add_argument("--database", default="trackhub_bench", help="scratch database (dropped and recreated)")
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"), help="broker"
    )
    parser.add_argument("--formats", nargs="*", help="only these wire formats")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    url = _database_url(args.admin_url, args.database)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": args.redis_url,
        "REDIS_URL": args.redis_url,
        "DJANGO_SECRET_KEY": "bench-only-secret",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": HOST,
        "TRACKHUB_RATE_LIMIT": "0",
        "TRACKHUB_LOG_LEVEL": "WARNING",
    }
    print(f"scratch database {args.database}, broker {args.redis_url}, {cpus} cores", flush=True)
    _scratch_database_create(args.admin_url, args.database)
    _manage(env, "migrate", "--verbosity", "0")
    provisioned = json.loads(
        _manage(env, "provision", "--org", "bench-org", "--project", "bench", "--source-id", "424242", "--json")
    )
    credentials = Credentials(
        org=provisioned["org"], project=provisioned["project"], source_id=int(provisioned["source_id"]),
        api_key=provisioned["api_key"], bearer_token=provisioned["bearer_token"],
        website_id=provisioned["website_id"],
    )  # fmt: skip
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()  # the benchmark's own database number only

    os.environ.update(env)
    import django

    django.setup()
    from ingestion.urls import track_urlpatterns

    loads = loads_available({pattern.name for pattern in track_urlpatterns if pattern.name})
    if args.formats:
        loads = [load for load in loads if load.wire_format in args.formats]

    port = _free_port()
    logdir = Path(tempfile.mkdtemp(prefix="trackhub-bench-"))
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "trackhub.wsgi:application", "--workers", str(args.workers),
         "--worker-class", "sync", "--bind", f"{HOST}:{port}", "--backlog", "2048", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=(logdir / "gunicorn.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "trackhub", "worker", "--concurrency", "1", "--without-gossip",
         "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=(logdir / "celery.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    report: dict[str, Any] = {
        "machine": {"cores": cpus, "gunicorn_workers": args.workers, "load_processes": args.clients},
        "duration_per_phase_s": args.duration,
        "formats": {},
    }
    try:
        _wait_http(port, "/healthz")
        db = psycopg.connect(url, autocommit=True)
        project_id = db.execute("SELECT project_id FROM ingestion_source WHERE id = %s", [424242]).fetchone()[0]

        def target(load: Any, events: int, run: str) -> Target:
            return Target(
                host=HOST, port=port, path=load.path(credentials), headers=load.headers(credentials),
                success_status=load.success_status, events_per_request=events,
                body=BodyMaker(load.wire_format, events, run),
            )  # fmt: skip

        for load in loads:  # warm every worker's connection and code paths
            load_run(target(load, args.batch, "warm"), clients=args.clients, duration=0.5)

        sampler: IdentityLagSampler | None = None
        for index, load in enumerate(loads):
            figures: dict[str, Any] = {}
            before = _event_count(db, load.wire_format)
            if index == 0:
                sampler = IdentityLagSampler(url)
                sampler.start()
            batched = load_run(target(load, args.batch, "batched"), clients=args.clients, duration=args.duration)
            if sampler is not None and index == 0:
                sampler.stop.set()
                sampler.join()
            # Only complete answers inside the window count as acknowledged, but a request
            # answered just after it was stored too, so the check allows that tail.
            stored = _event_count(db, load.wire_format) - before
            figures["batched"] = {
                **_summary(batched),
                "stored": stored,
                "stored_matches_acknowledged": batched.events_acked
                <= stored
                <= batched.events_acked + args.clients * args.batch,
            }
            print(f"{load.wire_format:12} batched {figures['batched']}", flush=True)
            before = _event_count(db, load.wire_format)
            single = load_run(target(load, 1, "single"), clients=args.clients, duration=args.duration)
            stored = _event_count(db, load.wire_format) - before
            figures["single"] = {
                **_summary(single),
                "stored": stored,
                "stored_matches_acknowledged": single.events_acked <= stored <= single.events_acked + args.clients,
            }
            print(f"{load.wire_format:12} single  {figures['single']}", flush=True)
            report["formats"][load.wire_format] = figures

        if sampler is not None:
            drain_started = time.time()
            pending, _ = _identity_pending(db)
            while pending and time.time() - drain_started < 30:
                time.sleep(0.5)
                pending, _ = _identity_pending(db)
            report["identity_queue"] = {
                "during": loads[0].wire_format + " batched at max rate",
                "max_pending_rows": max(s[0] for s in sampler.samples),
                "max_oldest_age_s": round(max(s[1] for s in sampler.samples), 2),
                "pending_at_end_of_phase": sampler.samples[-1][0],
                "drained_s_after_all_phases": round(time.time() - drain_started, 2) if not pending else None,
            }
            print(f"identity queue {report['identity_queue']}", flush=True)

        copy_rate = copy_ceiling(
            url, connections=args.workers, duration=args.duration, project_id=project_id, source_id=424242
        )
        print(f"ceiling COPY {copy_rate:,.0f} events/s", flush=True)
        bare = load_run(
            Target(host=HOST, port=port, path="/bench/empty", headers={}, success_status=200, events_per_request=1,
                   body=BodyMaker(loads[0].wire_format, 1, "bare")),
            clients=args.clients, duration=args.duration,
        )  # fmt: skip
        print(f"ceiling bare view {_summary(bare)}", flush=True)
        report["ceilings"] = {"copy_events_per_s": round(copy_rate, 1), "bare_view": _summary(bare)}

        first = loads[0]
        max_rps = report["formats"][first.wire_format]["batched"]["requests_per_s"]
        half = load_run(
            target(first, args.batch, "half"), clients=args.clients, duration=args.duration, rate=max_rps / 2
        )
        report["half_rate"] = {"wire_format": first.wire_format, "rate_requests_per_s": round(max_rps / 2, 1)}
        report["half_rate"].update(_summary(half))
        print(f"half rate {report['half_rate']}", flush=True)

        headline: dict[str, Any] = {}
        for wire_format, figures in report["formats"].items():
            headline[wire_format] = {
                "batched_vs_copy": round(figures["batched"]["events_per_s"] / copy_rate, 3),
                "single_vs_bare_view": round(figures["single"]["requests_per_s"] / bare.requests_per_s, 3),
            }
        headline["p99_100_events_at_half_rate_ms"] = report["half_rate"]["p99_ms"]
        report["headline"] = headline
        report["targets_met"] = (
            all(
                figures["batched_vs_copy"] >= TARGETS["batched"] and figures["single_vs_bare_view"] >= TARGETS["single"]
                for key, figures in headline.items()
                if isinstance(figures, dict)
            )
            and headline["p99_100_events_at_half_rate_ms"] < TARGETS["p99_half_rate_ms"]
        )
        report["counts_match"] = all(
            figures[kind]["stored_matches_acknowledged"]
            for figures in report["formats"].values()
            for kind in ("batched", "single")
        )
        _print_table(report)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
        db.close()
    finally:
        for process in (server, worker):
            process.terminate()
        for process in (server, worker):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(logdir, ignore_errors=True)
    return 0 if report.get("counts_match") else 1


def _print_table(report: dict[str, Any]) -> None:
    copy_rate = report["ceilings"]["copy_events_per_s"]
    bare = report["ceilings"]["bare_view"]
    print()
    print(f"ceilings: COPY {copy_rate:,.0f} events/s; bare Django view {bare['requests_per_s']:,.0f} req/s")
    print(f"{'format':12} {'batched ev/s':>12} {'p50':>7} {'p99':>7} {'/COPY':>6} {'db ok':>5}   "
          f"{'single req/s':>12} {'p50':>7} {'p99':>7} {'/bare':>6} {'db ok':>5}")  # fmt: skip
    for wire_format, figures in report["formats"].items():
        b, s, h = figures["batched"], figures["single"], report["headline"][wire_format]
        print(
            f"{wire_format:12} {b['events_per_s']:>12,.0f} {b['p50_ms']:>7.1f} {b['p99_ms']:>7.1f} "
            f"{h['batched_vs_copy']:>6.2f} {'yes' if b['stored_matches_acknowledged'] else 'NO':>5}   "
            f"{s['requests_per_s']:>12,.0f} {s['p50_ms']:>7.1f} {s['p99_ms']:>7.1f} "
            f"{h['single_vs_bare_view']:>6.2f} {'yes' if s['stored_matches_acknowledged'] else 'NO':>5}"
        )
    half = report["half_rate"]
    print(
        f"100-event request at half the max rate ({half['rate_requests_per_s']} req/s): "
        f"p50 {half['p50_ms']} ms, p99 {half['p99_ms']} ms"
    )
    if "identity_queue" in report:
        print(f"identity queue at max ingest: {report['identity_queue']}")
    print(
        f"targets (batched >= {TARGETS['batched']} of COPY, single >= {TARGETS['single']} of bare view, "
        f"p99 < {TARGETS['p99_half_rate_ms']:.0f} ms): {'met' if report['targets_met'] else 'NOT met'}"
    )
    print(json.dumps({"headline": report["headline"]}))


if __name__ == "__main__":
    raise SystemExit(main())

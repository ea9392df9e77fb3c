"""Ingest benchmark: ``python -m bench.ingest``. One bounded run, all on 127.0.0.1.

Creates a scratch PostgreSQL database, migrates it, provisions a source, starts TrackHub
under gunicorn (sync workers) with a Celery worker on its own Redis database, then
measures, in this order and in the same run:

- per wire format present: 100-event requests (events/s, p50/p99, database count checked
  against the events acknowledged), then single-event requests (requests/s, p50/p99);
- the raw ceilings: psycopg COPY of the same rows into a scratch table (a commit per
  100 rows, one connection per gunicorn worker), and a bare Django view answering ``{}``
  under the same gunicorn;
- a yardstick, not a target: the issue's reference design (``bench.reference``: msgspec
  decode and COPY, a commit per 100-event request, nothing else) under the same gunicorn,
  against the same COPY ceiling;
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
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg

from bench.bodies import COPY_COLUMNS, COPY_TYPES, LOADS, copy_rows, loads_available
from bench.load import LoadResult, Target, load_run
from bench.reference import SCRATCH_TABLE_SQL
from bench.stack import (
    DEFAULT_ADMIN_URL,
    DEFAULT_REDIS_URL,
    HOST,
    bench_env,
    celery_worker_start,
    credentials_provision,
    database_url,
    free_port,
    gunicorn_start,
    manage,
    processes_stop,
    scratch_database_create,
    scratch_database_name,
    wait_http,
)

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


def _copy_client(args: tuple[str, str, str, float, float, int, int, int]) -> tuple[int, float, float]:
    """Rows written, this process's CPU seconds, its database session's CPU seconds.

    ``target`` ``scratch``: a plain COPY into the one-index scratch table (the issue's
    ceiling), in the binary format TrackHub's own COPY uses; ``scratch-text``: the same
    in COPY's text format (``bench.schema``: what the format alone is worth).
    ``events``: TrackHub's own write statements for the same rows, without the web tier:
    the dedupe ledger COPY, then its COPY into the partitioned, indexed events table (what
    the database alone needs for TrackHub's writes). ``events-ledger-insert``: the same
    with the ledger's ON CONFLICT statement (what a retried request pays).
    ``events-without-ledger``: the events COPY alone (``bench.schema``: what exact dedupe
    costs).
    """
    from ingestion.services.event_writes import PG_EVENT_COPY, PG_EVENT_COPY_TYPES, pg_binary_copy_prepare

    url, target, ledger_sql, start_at, duration, project_id, source_id, client = args
    rows_written = 0
    with psycopg.connect(url) as conn:
        backend = [conn.info.backend_pid]
        cpu_before, backend_before = time.process_time(), _cpu_seconds(backend)
        while time.time() < start_at:
            time.sleep(0.001)
        number = 0
        while time.time() < start_at + duration:
            tag = f"{target}-{start_at}-{client}-{number}"
            rows = copy_rows(100, tag, project_id=project_id, source_id=source_id)
            number += 1
            with conn.cursor() as cursor:
                if target == "events":
                    with cursor.copy(ledger_sql) as copy:
                        for name, event_id in sorted((row[3], row[5]) for row in rows):
                            copy.write_row((project_id, name, event_id))
                elif target == "events-ledger-insert":
                    names, event_ids = [row[3] for row in rows], [row[5] for row in rows]
                    cursor.execute(ledger_sql, [project_id, names, event_ids]).fetchall()
                if target == "scratch-text":
                    with cursor.copy(f"COPY bench_copy ({COPY_COLUMNS}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row((*row[:15], orjson.dumps(row[15]).decode(), orjson.dumps(row[16]).decode()))
                elif target == "scratch":
                    with cursor.copy(f"COPY bench_copy ({COPY_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                        pg_binary_copy_prepare(copy, types=COPY_TYPES)
                        for row in rows:
                            copy.write_row(row)
                else:
                    with cursor.copy(PG_EVENT_COPY) as copy:
                        pg_binary_copy_prepare(copy, types=PG_EVENT_COPY_TYPES)
                        for row in rows:  # in PG_EVENT_COPY's column order
                            copy.write_row((*row[:3], row[7], *row[3:7], *row[8:]))
            conn.commit()
            if time.time() <= start_at + duration:
                rows_written += len(rows)
        return rows_written, time.process_time() - cpu_before, _cpu_seconds(backend) - backend_before


@dataclass(frozen=True)
class CopyCeiling:
    events_per_s: float
    events_per_client_core_s: float
    events_per_database_core_s: float


def copy_ceiling(
    url: str, *, connections: int, duration: float, project_id: int, source_id: int, target: str = "scratch"
) -> CopyCeiling:
    """Events/s that plain psycopg reaches: a COPY into a scratch table of the same columns
    (``scratch``, binary as TrackHub's own; ``scratch-text`` in the text format),
    TrackHub's ledger write + COPY into its events table (``events``, or
    ``events-ledger-insert`` for the ledger's ON CONFLICT statement), or that COPY alone
    (``events-without-ledger``)."""
    ledger_sql = ""
    if target.startswith("events-ledger") or target == "events":
        # After django.setup(): the very statements.
        from ingestion.services.event_writes import PG_LEDGER_COPY, PG_LEDGER_INSERT

        ledger_sql = PG_LEDGER_COPY if target == "events" else PG_LEDGER_INSERT
    elif target.startswith("scratch"):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_copy")
            conn.execute(SCRATCH_TABLE_SQL)
    start_at = time.time() + 0.3
    context = multiprocessing.get_context("fork")
    with context.Pool(connections) as pool:
        parts = pool.map(
            _copy_client,
            [(url, target, ledger_sql, start_at, duration, project_id, source_id, n) for n in range(connections)],
        )
    rows = sum(part[0] for part in parts)
    return CopyCeiling(
        events_per_s=rows / duration,
        events_per_client_core_s=rows / max(sum(part[1] for part in parts), 1e-9),
        events_per_database_core_s=rows / max(sum(part[2] for part in parts), 1e-9),
    )


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by ``pids`` (from /proc; gone pids count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _CLOCK_TICKS


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class CpuMeter:
    """CPU seconds spent by the web workers, the database sessions of the scratch database
    and the Celery worker during a phase: what an event costs each tier, whatever else the
    machine is doing at the time (neighbours change wall-clock rates, not CPU per event)."""

    def __init__(self, *, db: psycopg.Connection, database: str, server_pid: int, worker_pid: int) -> None:
        self.db, self.database, self.server_pid, self.worker_pid = db, database, server_pid, worker_pid

    def groups(self) -> dict[str, list[int]]:
        backends = [
            row[0]
            for row in self.db.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.database]
            ).fetchall()
        ]
        return {
            "web": _children(self.server_pid),
            "database": backends,
            "celery": [self.worker_pid, *_children(self.worker_pid)],
        }

    def start(self) -> dict[str, dict[int, float]]:
        return {name: {pid: _cpu_seconds([pid]) for pid in pids} for name, pids in self.groups().items()}

    def stop(self, started: dict[str, dict[int, float]]) -> dict[str, float]:
        """CPU seconds per group since ``start``. Processes that started meanwhile count
        whole; those that ended meanwhile are lost, which the benchmark's long-lived
        database connections (``bench_env``) make rare."""
        return {
            name: round(sum(_cpu_seconds([pid]) - started[name].get(pid, 0.0) for pid in pids), 2)
            for name, pids in self.groups().items()
        }


def _identity_processed(conn: psycopg.Connection) -> int:
    """Events whose identity facts the Celery workers have processed so far."""
    return conn.execute(
        "SELECT COALESCE(sum(jsonb_array_length(facts)), 0) FROM profiles_identitywork WHERE processed_at IS NOT NULL"
    ).fetchone()[0]


def _per_core(events: int, identity_events: int, cpu: dict[str, float]) -> dict[str, float | None]:
    """Events per CPU-second of each tier: the events/s one fully busy core of it carries.
    Celery's is counted in events whose identity work it finished during the phase."""
    counted = {"web": events, "database": events, "celery": identity_events}
    return {f"events_per_{name}_core_s": round(counted[name] / used) if used else None for name, used in cpu.items()}


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
    parser.add_argument("--workers", type=int, default=2 * cpus, help="gunicorn sync workers (default: 2 x cores)")
    parser.add_argument("--clients", type=int, default=None, help="load processes (default: 2 x workers)")
    parser.add_argument("--batch", type=int, default=100, help="events per batched request (default 100)")
    parser.add_argument(
        "--admin-url",
        default=DEFAULT_ADMIN_URL,
        help="a PostgreSQL URL allowed to create databases",
    )
    parser.add_argument(
        "--database", default=scratch_database_name("bench"), help="scratch database (dropped and recreated)"
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="broker")
    parser.add_argument("--formats", nargs="*", help="only these wire formats")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    args.clients = args.clients or 2 * args.workers

    url = database_url(args.admin_url, args.database)
    env = bench_env(url=url, redis_url=args.redis_url)
    print(f"scratch database {args.database}, broker {args.redis_url}, {cpus} cores", flush=True)
    scratch_database_create(args.admin_url, args.database)
    manage(env, "migrate", "--verbosity", "0")
    credentials = credentials_provision(env, source_id=424242, org="bench-org", project="bench")
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()  # the benchmark's own database number only

    os.environ.update(env)
    import django

    django.setup()
    from ingestion.urls import track_urlpatterns

    loads = loads_available({pattern.name for pattern in track_urlpatterns if pattern.name})
    if args.formats:
        loads = [load for load in loads if load.wire_format in args.formats]

    port = free_port()
    logdir = Path(tempfile.mkdtemp(prefix="trackhub-bench-"))
    server = gunicorn_start(env, port=port, workers=args.workers, log=logdir / "gunicorn.log")
    worker = celery_worker_start(env, pool=("--concurrency", "1"), log=logdir / "celery.log")
    report: dict[str, Any] = {
        "machine": {"cores": cpus, "gunicorn_workers": args.workers, "load_processes": args.clients},
        "duration_per_phase_s": args.duration,
        "formats": {},
    }
    try:
        wait_http(port, "/healthz")
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

        meter = CpuMeter(db=db, database=args.database, server_pid=server.pid, worker_pid=worker.pid)

        def ceilings() -> tuple[CopyCeiling, CopyCeiling, LoadResult, float, tuple[LoadResult, dict[str, float]]]:
            copy, events_table = (
                copy_ceiling(
                    url, connections=args.workers, duration=args.duration, project_id=project_id,
                    source_id=424242, target=target,
                )
                for target in ("scratch", "events")
            )  # fmt: skip
            print(f"ceiling COPY {copy}", flush=True)
            print(f"ceiling ledger + COPY into the events table {events_table}", flush=True)
            cpu_started = meter.start()
            bare = load_run(
                Target(host=HOST, port=port, path="/api/bench/empty", headers={}, success_status=200,
                       events_per_request=1, body=BodyMaker(loads[0].wire_format, 1, "bare")),
                clients=args.clients, duration=args.duration,
            )  # fmt: skip
            bare_web_cpu = meter.stop(cpu_started)["web"]
            print(f"ceiling bare view {_summary(bare)}", flush=True)
            # The reference design (bench.reference) under the same gunicorn, into
            # the scratch table the COPY ceiling just created.
            cpu_started = meter.start()
            reference = load_run(
                Target(host=HOST, port=port, path=f"/api/bench/reference?project={project_id}&source=424242",
                       headers={}, success_status=200, events_per_request=args.batch,
                       body=BodyMaker("intempt", args.batch, "reference")),
                clients=args.clients, duration=args.duration,
            )  # fmt: skip
            reference_cpu = meter.stop(cpu_started)
            print(f"reference view (msgspec + COPY) {_summary(reference)} cpu {reference_cpu}", flush=True)
            return copy, events_table, bare, bare.ok / max(bare_web_cpu, 1e-9), (reference, reference_cpu)

        copy_before, events_table_before, bare_before, bare_per_core_before, reference_before = ceilings()

        sampler: IdentityLagSampler | None = None
        for index, load in enumerate(loads):
            figures: dict[str, Any] = {}
            before = _event_count(db, load.wire_format)
            if index == 0:
                sampler = IdentityLagSampler(url)
                sampler.start()
            cpu_started, identity_before = meter.start(), _identity_processed(db)
            batched = load_run(target(load, args.batch, "batched"), clients=args.clients, duration=args.duration)
            batched_cpu, identity_done = meter.stop(cpu_started), _identity_processed(db) - identity_before
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
                "cpu_s": batched_cpu,
                "identity_events_processed": identity_done,
                **_per_core(stored, identity_done, batched_cpu),
            }
            print(f"{load.wire_format:12} batched {figures['batched']}", flush=True)
            before = _event_count(db, load.wire_format)
            cpu_started, identity_before = meter.start(), _identity_processed(db)
            single = load_run(target(load, 1, "single"), clients=args.clients, duration=args.duration)
            single_cpu, identity_done_single = meter.stop(cpu_started), _identity_processed(db) - identity_before
            stored = _event_count(db, load.wire_format) - before
            figures["single"] = {
                **_summary(single),
                "stored": stored,
                "stored_matches_acknowledged": single.events_acked <= stored <= single.events_acked + args.clients,
                "cpu_s": single_cpu,
                "identity_events_processed": identity_done_single,
                **_per_core(stored, identity_done_single, single_cpu),
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

        copy_after, events_table_after, bare_after, bare_per_core_after, reference_after = ceilings()
        # Neighbours on a shared machine make any one phase noisy: the ratios use the
        # higher of the two measurements of each ceiling, so they never flatter TrackHub.
        copy_rate = max(copy_before.events_per_s, copy_after.events_per_s)
        bare = max(bare_before, bare_after, key=lambda result: result.requests_per_s)
        copy_per_db_core = max(copy_before.events_per_database_core_s, copy_after.events_per_database_core_s)
        bare_per_web_core = max(bare_per_core_before, bare_per_core_after)
        events_table_rate = max(events_table_before.events_per_s, events_table_after.events_per_s)
        reference, reference_cpu = max(reference_before, reference_after, key=lambda result: result[0].events_per_s)
        report["ceilings"] = {
            "copy_events_per_s": round(copy_rate, 1),
            # Not a target: how fast PostgreSQL takes TrackHub's own writes of these rows
            # (dedupe ledger + partitioned, indexed events table) with no web tier at all.
            "events_table_events_per_s": round(events_table_rate, 1),
            "events_table_events_per_database_core_s": round(
                max(events_table_before.events_per_database_core_s, events_table_after.events_per_database_core_s)
            ),
            "bare_view": _summary(bare),
            # Not a ceiling of the issue's, a yardstick: its reference design, measured here.
            "reference_view": _summary(reference),
            "reference_view_vs_copy": round(reference.events_per_s / copy_rate, 3),
            "reference_view_events_per_s_before_after": [
                round(reference_before[0].events_per_s),
                round(reference_after[0].events_per_s),
            ],
            **{
                f"reference_view_{key}": value
                for key, value in _per_core(reference.events_acked, 0, reference_cpu).items()
                if key != "events_per_celery_core_s"
            },
            "copy_events_per_database_core_s": round(copy_per_db_core),
            "copy_events_per_client_core_s": round(
                max(copy_before.events_per_client_core_s, copy_after.events_per_client_core_s)
            ),
            "bare_view_requests_per_web_core_s": round(bare_per_web_core),
            "copy_events_per_s_before_after": [round(copy_before.events_per_s), round(copy_after.events_per_s)],
            "bare_view_requests_per_s_before_after": [
                round(bare_before.requests_per_s),
                round(bare_after.requests_per_s),
            ],
        }

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
                "batched_vs_events_table": round(figures["batched"]["events_per_s"] / events_table_rate, 3),
                "batched_vs_reference_view": round(figures["batched"]["events_per_s"] / reference.events_per_s, 3),
                "single_vs_bare_view": round(figures["single"]["requests_per_s"] / bare.requests_per_s, 3),
            }
        headline["p99_100_events_at_half_rate_ms"] = report["half_rate"]["p99_ms"]
        # The same comparison in CPU per event, which neighbours on the machine disturb far
        # less than wall-clock rates: database CPU per batched event against COPY's, web CPU
        # per single-event request against the bare view's.
        report["cpu_ratios"] = {
            wire_format: {
                "batched_database_cpu_vs_copy": round(
                    (figures["batched"]["events_per_database_core_s"] or 0) / copy_per_db_core, 3
                ),
                "single_web_cpu_vs_bare_view": round(
                    (figures["single"]["events_per_web_core_s"] or 0) / bare_per_web_core, 3
                ),
            }
            for wire_format, figures in report["formats"].items()
        }
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
        processes_stop(server, worker)
        shutil.rmtree(logdir, ignore_errors=True)
    return 0 if report.get("counts_match") else 1


def _print_table(report: dict[str, Any]) -> None:
    copy_rate = report["ceilings"]["copy_events_per_s"]
    bare = report["ceilings"]["bare_view"]
    print()
    print(f"ceilings: COPY {copy_rate:,.0f} events/s; bare Django view {bare['requests_per_s']:,.0f} req/s")
    print(
        f"TrackHub's own writes without the web tier (ledger + COPY into the events table): "
        f"{report['ceilings']['events_table_events_per_s']:,.0f} events/s"
    )
    print(
        f"the issue's reference view (msgspec decode + COPY, a commit per 100-event request, no auth, dedupe or "
        f"indexes): {report['ceilings']['reference_view']['events_per_s']:,.0f} events/s = "
        f"{report['ceilings']['reference_view_vs_copy']:.2f} of COPY; per CPU-second: web "
        f"{report['ceilings']['reference_view_events_per_web_core_s']}, database "
        f"{report['ceilings']['reference_view_events_per_database_core_s']} events"
    )
    print(f"{'format':12} {'batched ev/s':>12} {'p50':>7} {'p99':>7} {'/COPY':>6} {'/own':>5} {'db ok':>5}   "
          f"{'single req/s':>12} {'p50':>7} {'p99':>7} {'/bare':>6} {'db ok':>5}")  # fmt: skip
    for wire_format, figures in report["formats"].items():
        b, s, h = figures["batched"], figures["single"], report["headline"][wire_format]
        print(
            f"{wire_format:12} {b['events_per_s']:>12,.0f} {b['p50_ms']:>7.1f} {b['p99_ms']:>7.1f} "
            f"{h['batched_vs_copy']:>6.2f} {h['batched_vs_events_table']:>5.2f} "
            f"{'yes' if b['stored_matches_acknowledged'] else 'NO':>5}   "
            f"{s['requests_per_s']:>12,.0f} {s['p50_ms']:>7.1f} {s['p99_ms']:>7.1f} "
            f"{h['single_vs_bare_view']:>6.2f} {'yes' if s['stored_matches_acknowledged'] else 'NO':>5}"
        )
    ceilings = report["ceilings"]
    print(
        f"events per CPU-second of each tier (= events/s one busy core of it carries); COPY: database "
        f"{ceilings['copy_events_per_database_core_s']}, client {ceilings['copy_events_per_client_core_s']}; "
        f"bare view: web {ceilings['bare_view_requests_per_web_core_s']} req"
    )
    for wire_format, figures in report["formats"].items():
        for kind in ("batched", "single"):
            f = figures[kind]
            print(
                f"  {wire_format:12} {kind:8} web {f['events_per_web_core_s']}, database "
                f"{f['events_per_database_core_s']}, celery {f['events_per_celery_core_s']} "
                f"({f['identity_events_processed']} identity events processed of {f['stored']} stored)"
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
    print(f"CPU ratios: {json.dumps(report['cpu_ratios'])}")
    print(json.dumps({"headline": report["headline"]}))


if __name__ == "__main__":
    raise SystemExit(main())

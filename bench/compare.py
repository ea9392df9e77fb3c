"""Compare two revisions of TrackHub on the same machine in the same minutes.

    python -m bench.compare REV_A REV_B [--format intempt] [--events 1] [--rounds 3]

One ``bench.ingest`` run meets different neighbours in each phase, so on a shared machine
it cannot tell a 10% change from noise. This runs the same load against two git revisions
(each checked out into a temporary worktree, with its own scratch database migrated by
its own code) alternately, ``--rounds`` times each, and prints per round the requests/s
and the CPU per request of each tier (gunicorn workers, the database sessions, the
Celery worker, from /proc). The load: ``--events`` events per request of one format,
8 load processes, 2 gunicorn sync workers, a Celery worker (solo pool, ``nice 10``), all
on 127.0.0.1. Uses this checkout's virtualenv for both revisions.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from bench.bodies import LOADS
from bench.ingest import BodyMaker, CpuMeter
from bench.load import Target, load_run
from bench.stack import (
    DEFAULT_ADMIN_URL,
    DEFAULT_REDIS_URL,
    HOST,
    ROOT,
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

SOURCE_ID = 424242


class Checkout:
    """One revision in a temporary worktree, with its scratch database and a source."""

    def __init__(self, *, label: str, rev: str, admin_url: str, redis_url: str) -> None:
        self.label, self.rev = label, rev
        self.root = Path(tempfile.mkdtemp(prefix=f"trackhub-compare-{label}-"))
        subprocess.run(["git", "worktree", "add", "--detach", str(self.root), rev], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        self.database = scratch_database_name(f"compare_{label}")
        scratch_database_create(admin_url, self.database)
        self.url = database_url(admin_url, self.database)
        self.env = {**bench_env(url=self.url, redis_url=redis_url), "PYTHONPATH": str(self.root)}
        manage(self.env, "migrate", "--no-input", "-v0", root=self.root)
        self.credentials = credentials_provision(self.env, source_id=SOURCE_ID, org="o", project="p", root=self.root)

    def round(self, *, wire_format: str, events: int, duration: float, number: int) -> dict[str, float]:
        """Start the stack, load it for ``duration`` seconds, stop it; the figures."""
        load = next(load for load in LOADS if load.wire_format == wire_format)
        port = free_port()
        log = self.root / "gunicorn.log"
        server = gunicorn_start(self.env, port=port, workers=2, log=log, root=self.root)
        worker = celery_worker_start(self.env, pool=("--pool", "solo"), root=self.root)
        try:
            wait_http(port, "/healthz")

            def target(run: str) -> Target:
                return Target(
                    host=HOST, port=port, path=load.path(self.credentials), headers=load.headers(self.credentials),
                    success_status=load.success_status, events_per_request=events,
                    body=BodyMaker(wire_format, events, f"{self.label}-{number}-{run}-{time.time()}"),
                )  # fmt: skip

            load_run(target("warm"), clients=8, duration=1)
            with psycopg.connect(self.url, autocommit=True) as db:
                meter = CpuMeter(db=db, database=self.database, server_pid=server.pid, worker_pid=worker.pid)
                started = meter.start()
                result = load_run(target("measure"), clients=8, duration=duration)
                cpu = meter.stop(started)
        finally:
            processes_stop(server, worker)
        requests = max(result.ok, 1)
        return {
            "requests_per_s": result.requests_per_s,
            "failed": result.failed,
            **{f"{tier}_us_per_request": seconds / requests * 1e6 for tier, seconds in cpu.items()},
        }

    def remove(self, admin_url: str) -> None:
        subprocess.run(["git", "worktree", "remove", "--force", str(self.root)], cwd=ROOT, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rev_a")
    parser.add_argument("rev_b")
    parser.add_argument("--format", default="intempt", choices=[load.wire_format for load in LOADS])
    parser.add_argument("--events", type=int, default=1, help="events per request")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds of load per round")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    args = parser.parse_args(argv)

    checkouts = []
    try:
        for label, rev in (("a", args.rev_a), ("b", args.rev_b)):
            checkouts.append(Checkout(label=label, rev=rev, admin_url=args.admin_url, redis_url=args.redis_url))
        print(f"{args.format}, {args.events} event(s) per request, {args.rounds} rounds of {args.duration:g} s each")
        for number in range(args.rounds):
            for checkout in checkouts:
                figures = checkout.round(
                    wire_format=args.format, events=args.events, duration=args.duration, number=number
                )
                print(
                    f"round {number + 1} {checkout.label} ({checkout.rev}): {figures['requests_per_s']:8.1f} req/s, "
                    f"failed {figures['failed']}; CPU per request: web {figures['web_us_per_request']:6.0f} µs, "
                    f"database {figures['database_us_per_request']:6.0f} µs, "
                    f"celery {figures['celery_us_per_request']:6.0f} µs",
                    flush=True,
                )
    finally:
        for checkout in checkouts:
            checkout.remove(args.admin_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A bounded soak run on loopback: ``python -m bench.soak --minutes 10``.

Starts gunicorn (gunicorn.conf.py), a celery worker and a private redis-server (the
broker) against ``DATABASE_URL``, provisions a fresh source, then sends track requests of
every wired format at a steady rate from a few client threads, with some retries of
already acknowledged requests. At the end it checks that every acknowledged event is
stored exactly once, waits for the identity work to drain, and compares the resident
memory (RSS) of the server processes after warm-up and at the end. Prints a JSON summary;
exit status 0 only if every check passed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench import wire

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Memory is "flat" if it grew by less than this after warm-up (per process group).
RSS_GROWTH_LIMIT = 0.25
RSS_GROWTH_FLOOR_KB = 30 * 1024


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    sent: int = 0
    retries: int = 0
    errors: int = 0
    bodies: list[tuple[str, bytes]] = field(default_factory=list)


def _request(port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(port: int, path: str, timeout: float) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"nothing answers {path} on port {port}")


def _rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def _tree(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    children = [int(p) for p in out.split()]
    return [pid, *[p for child in children for p in _tree(child)]]


def _spawn(stack: ExitStack, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    out = log.open("wb")
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def stop() -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        out.close()

    stack.callback(stop)
    return process


def _wired_formats(port: int, creds: dict[str, Any]) -> list[str]:
    """Formats whose endpoint exists here: anything but a 404 to an empty body."""
    found = []
    for name in wire.BUILDERS:
        path, headers = wire.path_and_headers(name, creds)
        if _request(port, path, b"{}", headers) != 404:
            found.append(name)
    return found


def soak(*, seconds: float, rate: float, batch: int, clients: int, workers: int, database_url: str) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"trackhub-soak-{run}"
    logs.mkdir(parents=True)
    broker_port = _free_port()
    with ExitStack() as stack:
        _spawn(stack, ["redis-server", "--port", str(broker_port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                       "no"], dict(os.environ), logs / "redis.log")  # fmt: skip
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{broker_port}/0",
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "soak-secret-key"),
            "DJANGO_DEBUG": "0",
            "TRACKHUB_RATE_LIMIT": "0",
            "PYTHONPATH": str(ROOT),
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        time.sleep(0.3)
        source_id = random.randint(10**9, 2**53)
        provision = subprocess.run(
            [sys.executable, "manage.py", "provision", "--org", f"soak-{run}", "--project", "soak",
             "--source-id", str(source_id), "--json"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        creds = json.loads(provision.stdout)
        port = _free_port()
        server = _spawn(stack, [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "trackhub.wsgi:application",
                                "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
                        {**env, "GUNICORN_ACCESS_LOG": str(logs / "access.log")}, logs / "gunicorn.log")  # fmt: skip
        worker = _spawn(stack, [str(BIN / "celery"), "-A", "trackhub", "worker", "--pool", "solo", "-l", "WARNING",
                                "--without-gossip", "--without-mingle"], env, logs / "celery.log")  # fmt: skip
        _wait_http(port, "/healthz", 60)
        formats = _wired_formats(port, creds)
        targets = {name: wire.path_and_headers(name, creds) for name in formats}

        tally = Tally()
        stop = threading.Event()
        counter = itertools.count()
        interval = clients / rate

        def client(seed: int) -> None:
            rng = random.Random(seed)
            next_at = time.monotonic()
            while not stop.is_set():
                next_at += interval
                name = rng.choice(formats)
                path, headers = targets[name]
                if tally.bodies and rng.random() < 0.1:  # a client retrying an acknowledged request
                    # (only of formats that deduplicate: the others make a new event by contract)
                    name, body = rng.choice(tally.bodies)
                    path, headers = targets[name]
                    ids: list[str] = []
                    with tally.lock:
                        tally.retries += 1
                else:
                    n = batch
                    ids = [f"{run}-{next(counter)}" for _ in range(n)]
                    specs = [
                        {"id": i, "user": f"user-{rng.randrange(200)}", "props": {"n": k}} for k, i in enumerate(ids)
                    ]
                    body = json.dumps(wire.BUILDERS[name](specs)).encode()
                try:
                    status = _request(port, path, body, headers)
                except OSError:
                    status = 0
                with tally.lock:
                    tally.sent += 1
                    tally.statuses[status] = tally.statuses.get(status, 0) + 1
                    if status == wire.SUCCESS_STATUS[name]:
                        tally.acknowledged.update(ids)
                        if ids and name not in wire.NOT_DEDUPLICATED and len(tally.bodies) < 1000:
                            tally.bodies.append((name, body))
                    else:
                        tally.errors += 1
                time.sleep(max(0.0, next_at - time.monotonic()))

        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
        for thread in threads:
            thread.start()
        warmup = min(max(seconds * 0.2, 5.0), 60.0)
        time.sleep(warmup)
        server_pids, worker_pids = _tree(server.pid), _tree(worker.pid)
        rss_start = {"gunicorn": _rss_kb(server_pids), "celery": _rss_kb(worker_pids)}
        time.sleep(max(0.0, seconds - warmup))
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        rss_end = {"gunicorn": _rss_kb(_tree(server.pid)), "celery": _rss_kb(_tree(worker.pid))}

        with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1)) as conn:
            rows = conn.execute(
                "SELECT properties->>'marker', count(*) FROM ingestion_event WHERE source_id = %s GROUP BY 1",
                [source_id],
            ).fetchall()
            stored = {marker: n for marker, n in rows}
            project_id = conn.execute("SELECT project_id FROM ingestion_source WHERE id = %s", [source_id]).fetchone()[
                0
            ]
            drain_deadline = time.monotonic() + 180
            pending = -1
            while time.monotonic() < drain_deadline:
                pending = conn.execute(
                    "SELECT count(*) FROM profiles_identitywork WHERE project_id = %s AND processed_at IS NULL",
                    [project_id],
                ).fetchone()[0]
                if pending == 0:
                    break
                time.sleep(0.5)

    missing = [marker for marker in tally.acknowledged if stored.get(marker, 0) == 0]
    duplicated = [marker for marker, n in stored.items() if n > 1]
    flat = all(
        rss_end[k] - rss_start[k] <= max(RSS_GROWTH_FLOOR_KB, rss_start[k] * RSS_GROWTH_LIMIT) for k in rss_start
    )
    summary = {
        "formats": formats,
        "seconds": round(elapsed, 1),
        "requests": tally.sent,
        "requests_per_second": round(tally.sent / elapsed, 1),
        "retries": tally.retries,
        "statuses": tally.statuses,
        "acknowledged_events": len(tally.acknowledged),
        "stored_events": sum(stored.values()),
        "missing": len(missing),
        "duplicated": len(duplicated),
        "identity_pending_after_drain": pending,
        "rss_kb_start": rss_start,
        "rss_kb_end": rss_end,
        "memory_flat": flat,
        "logs": str(logs),
    }
    summary["ok"] = bool(
        tally.acknowledged and not missing and not duplicated and pending == 0 and flat and tally.errors == 0
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float)
    length.add_argument("--seconds", type=float)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second, all clients together")
    parser.add_argument("--batch", type=int, default=10, help="events per request (batch formats)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else 60 * (args.minutes if args.minutes is not None else 1)
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("a PostgreSQL DATABASE_URL (or --database-url) is required")
    summary = soak(
        seconds=seconds, rate=args.rate, batch=args.batch, clients=args.clients, workers=args.workers,
        database_url=args.database_url,
    )  # fmt: skip
    print(json.dumps(summary, indent=2))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

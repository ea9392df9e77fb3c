"""Scale check: ``python -m bench.scale --events 10000000``.

COPY-generates N events (spread over a year, in monthly partitions, with their dedupe
keys) into one project of a scratch database, then times the event list API's first
pages with each filter, the next page and pages deep in time through the cursor (p50 and
p95 of each; the target is p95 under 300 ms) and streams an NDJSON export through
gunicorn while sampling the worker's memory. The ``profile`` filter asks for a giant
profile: one that owns every fifth user (20,000 identifiers, a fifth of the events), as a
shared identifier ("unknown", a shared device id) leaves one.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg

from bench.bodies import COPY_COLUMNS
from bench.stack import (
    DEFAULT_ADMIN_URL,
    DEFAULT_REDIS_URL,
    HOST,
    bench_env,
    database_url,
    free_port,
    gunicorn_start,
    manage,
    processes_stop,
    scratch_database_create,
    scratch_database_name,
    wait_http,
)

NAMES = [f"event_{n:02d}" for n in range(20)]
PLANS = ["free", "pro", "enterprise"]
USERS = 100_000
ACCOUNTS = 5_000
SPAN = timedelta(days=365)
TARGET_P95_MS = 300.0
CHUNK = 50_000
SOURCE_ID = 515151
GIANT_PROFILE_EVERY = 5  # the giant profile owns every fifth user


def giant_profile_ensure(env: dict[str, str], *, project_id: int) -> int:
    """The id of the giant profile, written directly as identity resolution leaves it
    (the generated events bypass the identity outbox); reused with ``--reuse``."""
    code = (
        "from django.utils import timezone; from profiles.models import Identity, Profile\n"
        f"found = Identity.objects.filter(project_id={project_id}, value='user-0').first()\n"
        "if found is None:\n"
        "    now = timezone.now()\n"
        f"    profile = Profile.objects.create(project_id={project_id}, first_seen=now, last_seen=now)\n"
        f"    values = [f'user-{{n}}' for n in range(0, {USERS}, {GIANT_PROFILE_EVERY})]\n"
        f"    Identity.objects.bulk_create([Identity(project_id={project_id}, profile=profile, value=value) "
        "for value in values], batch_size=5000)\n"
        "    print(profile.id)\n"
        "else:\n"
        "    print(found.profile_id)\n"
    )
    return int(manage(env, "shell", "-c", code).strip().splitlines()[-1])


def _event_lines(start: int, stop: int, *, total: int, project_id: int, now: datetime) -> bytes:
    """COPY text lines for events ``start``..``stop`` of ``total``; event i is i/total of
    a year old, so the newest come first."""
    step = SPAN / total
    received = now.isoformat()
    lines = []
    for i in range(start, stop):
        user = f"user-{(i * 7919) % USERS}"
        lines.append(
            f"{project_id}\t{SOURCE_ID}\tintempt\t{NAMES[i % 20]}\t\\N\te{i}\t{(now - step * i).isoformat()}\t"
            f"{received}\t{user}\t\\N\t\\N\tacct-{i % ACCOUNTS}\ts-{i // 20}\t\\N\t{user}\t"
            f'{{"plan": "{PLANS[i % 3]}", "amount": {i % 100}, "path": "/p/{i % 50}"}}\t{{}}\n'
        )
    return "".join(lines).encode()


def _generate_part(args: tuple[str, int, int, int, int, str]) -> None:
    url, start, stop, total, project_id, now_iso = args
    now = datetime.fromisoformat(now_iso)
    with psycopg.connect(url) as conn:
        for chunk in range(start, stop, CHUNK):
            end = min(chunk + CHUNK, stop)
            with conn.cursor() as cursor:
                with cursor.copy(f"COPY ingestion_event ({COPY_COLUMNS}) FROM STDIN") as copy:
                    copy.write(_event_lines(chunk, end, total=total, project_id=project_id, now=now))
                keys = "".join(f"{project_id}\t{NAMES[i % 20]}\te{i}\n" for i in range(chunk, end))
                with cursor.copy("COPY ingestion_eventkey (project_id, name, event_id) FROM STDIN") as copy:
                    copy.write(keys.encode())
            conn.commit()


def events_generate(url: str, *, events: int, project_id: int, connections: int, now: datetime) -> float:
    """COPY ``events`` rows in ``connections`` parallel sessions; the seconds it took."""
    per = -(-events // connections)
    parts = [
        (url, n * per, min(events, (n + 1) * per), events, project_id, now.isoformat()) for n in range(connections)
    ]
    started = time.time()
    with multiprocessing.get_context("fork").Pool(connections) as pool:
        pool.map(_generate_part, parts)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE ingestion_event")
        conn.execute("ANALYZE ingestion_eventkey")
    return time.time() - started


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _get(conn: http.client.HTTPConnection, path: str, token: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
    return elapsed, json.loads(body)


def list_latencies(
    port: int, token: str, *, repeat: int, now: datetime, events: int, giant_profile_id: int
) -> dict[str, dict[str, float]]:
    """p50/p95 (ms) of the event list's first page per filter, and of the next page."""
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    kinds: dict[str, list[str]] = {
        "no filter": [""] * repeat,
        "name": [urlencode({"name": NAMES[n % 20]}) for n in range(repeat)],
        "user_id": [urlencode({"user_id": f"user-{(n * 7919 * 13) % USERS}"}) for n in range(repeat)],
        "account_id": [urlencode({"account_id": f"acct-{n * 37 % ACCOUNTS}"}) for n in range(repeat)],
        "session_id": [urlencode({"session_id": f"s-{n * (events // 20 // repeat or 1)}"}) for n in range(repeat)],
        "source_id": [urlencode({"source_id": SOURCE_ID})] * repeat,
        "wire_format": [urlencode({"wire_format": "intempt"})] * repeat,
        "since+until (1 day)": [
            urlencode(
                {
                    "since": (now - timedelta(days=n * 17 % 360 + 1)).isoformat(),
                    "until": (now - timedelta(days=n * 17 % 360)).isoformat(),
                }
            )
            for n in range(repeat)
        ],
        "name+since (30 days)": [
            urlencode({"name": NAMES[n % 20], "since": (now - timedelta(days=30)).isoformat()}) for n in range(repeat)
        ],
        "property+value": [urlencode({"property": "plan", "value": PLANS[n % 3]}) for n in range(repeat)],
        "profile (giant)": [urlencode({"profile": giant_profile_id})] * repeat,
    }
    results: dict[str, dict[str, float]] = {}
    all_latencies: list[float] = []
    next_latencies: list[float] = []
    for kind, queries in kinds.items():
        latencies = []
        for query in queries:
            elapsed, page = _get(conn, f"/api/v1/events/?{query}", token)
            latencies.append(elapsed)
            if page.get("next") and len(next_latencies) < repeat:
                next_url = urlsplit(page["next"])
                elapsed, _ = _get(conn, f"{next_url.path}?{next_url.query}", token)
                next_latencies.append(elapsed)
        all_latencies += latencies
        results[kind] = {"p50_ms": round(_percentile(latencies, 50), 1), "p95_ms": round(_percentile(latencies, 95), 1)}
    if next_latencies:
        all_latencies += next_latencies
        results["next page (cursor)"] = {
            "p50_ms": round(_percentile(next_latencies, 50), 1),
            "p95_ms": round(_percentile(next_latencies, 95), 1),
        }
    deep_latencies = _deep_page_latencies(conn, token, repeat=repeat, now=now)
    if deep_latencies:
        all_latencies += deep_latencies
        results["deep page (cursor)"] = {
            "p50_ms": round(_percentile(deep_latencies, 50), 1),
            "p95_ms": round(_percentile(deep_latencies, 95), 1),
        }
    results["all"] = {
        "p50_ms": round(statistics.median(all_latencies), 1),
        "p95_ms": round(_percentile(all_latencies, 95), 1),
    }
    conn.close()
    return results


def _deep_page_latencies(conn: http.client.HTTPConnection, token: str, *, repeat: int, now: datetime) -> list[float]:
    """Latencies of unfiltered pages whose cursor lies 1-360 days back, up to millions of
    rows deep: the ``next`` link of a page filtered by ``until``, without that filter."""
    latencies = []
    for n in range(repeat):
        until = (now - timedelta(days=n * 17 % 360 + 1)).isoformat()
        _, page = _get(conn, f"/api/v1/events/?{urlencode({'until': until})}", token)
        if not page.get("next"):
            continue
        link = urlsplit(page["next"])
        query = urlencode([(key, value) for key, value in parse_qsl(link.query) if key != "until"])
        elapsed, _ = _get(conn, f"{link.path}?{query}", token)
        latencies.append(elapsed)
    return latencies


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def export_memory(port: int, token: str, *, server_pid: int, seconds: float) -> dict[str, Any] | None:
    """Stream the NDJSON export (all events) for up to ``seconds``, sampling the gunicorn
    worker's resident memory; None when this TrackHub has no export endpoint."""
    workers = _children(server_pid)
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    conn.request("GET", "/api/v1/events/export.ndjson", headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    if response.status == 404:
        conn.close()
        return None
    if response.status != 200:
        raise RuntimeError(f"export: {response.status} {response.read()[:300]!r}")
    started = time.time()
    rss = [sum(_rss_mib(pid) for pid in workers)]
    received = lines = 0
    next_sample = started + 0.25
    while time.time() - started < seconds:
        chunk = response.read1(1 << 16)
        if not chunk:
            break
        received += len(chunk)
        lines += chunk.count(b"\n")
        if time.time() >= next_sample:
            rss.append(sum(_rss_mib(pid) for pid in workers))
            next_sample += 0.25
    elapsed = time.time() - started
    conn.close()
    return {
        "rows_streamed": lines,
        "mib_streamed": round(received / 2**20, 1),
        "seconds": round(elapsed, 1),
        "rows_per_s": round(lines / elapsed),
        "worker_rss_mib_first": round(rss[min(1, len(rss) - 1)], 1),
        "worker_rss_mib_max": round(max(rss), 1),
        "worker_rss_mib_last": round(rss[-1], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20, help="requests per filter (default 20)")
    parser.add_argument("--connections", type=int, default=2, help="parallel COPY sessions (default 2)")
    parser.add_argument("--export-seconds", type=float, default=20.0)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument(
        "--database", default=scratch_database_name("scale"), help="scratch database (dropped and recreated)"
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the scratch database's events if it already has them"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    url = database_url(args.admin_url, args.database)
    env = bench_env(url=url, redis_url=args.redis_url)
    now = datetime.now(UTC)
    report: dict[str, Any] = {"events": args.events}
    existing = 0
    if args.reuse:
        try:
            with psycopg.connect(url) as conn:
                existing = conn.execute("SELECT count(*) FROM ingestion_event").fetchone()[0]
        except psycopg.Error:
            existing = 0
    if existing != args.events:
        scratch_database_create(args.admin_url, args.database)
    manage(env, "migrate", "--verbosity", "0")
    provisioned = json.loads(
        manage(env, "provision", "--org", "scale-org", "--project", "scale", "--source-id", str(SOURCE_ID), "--json")
    )
    token = provisioned["read_token"]
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT project_id FROM ingestion_source WHERE id = %s", [SOURCE_ID]).fetchone()
    project_id = row[0]
    if existing != args.events:
        # partitions for the whole year generated, as the beat task keeps them for live data
        code = (
            "from datetime import datetime; from ingestion.partitions import event_partitions_ensure; "
            f"event_partitions_ensure(now=datetime.fromisoformat('{now.isoformat()}'), months_back=13)"
        )
        manage(env, "shell", "-c", code)
        seconds = events_generate(url, events=args.events, project_id=project_id, connections=args.connections, now=now)
        report["generate"] = {"seconds": round(seconds, 1), "events_per_s": round(args.events / seconds)}
        print(f"generated {args.events:,} events in {seconds:.0f} s", flush=True)
    giant_profile_id = giant_profile_ensure(env, project_id=project_id)
    with psycopg.connect(url) as conn:
        # pg_total_relation_size of a partitioned parent is 0: sum the partitions
        size = conn.execute(
            "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits "
            "WHERE inhparent = 'ingestion_event'::regclass"
        ).fetchone()[0]
    report["table_size"] = size

    port = free_port()
    logdir = Path(tempfile.mkdtemp(prefix="trackhub-scale-"))
    server = gunicorn_start(env, port=port, workers=1, log=logdir / "gunicorn.log")
    try:
        wait_http(port, "/healthz")
        _get(http.client.HTTPConnection(HOST, port, timeout=120), "/api/v1/events/", token)  # warm up
        report["event_list"] = list_latencies(
            port, token, repeat=args.repeat, now=now, events=args.events, giant_profile_id=giant_profile_id
        )
        report["event_list_p95_under_300ms"] = report["event_list"]["all"]["p95_ms"] < TARGET_P95_MS
        report["export_ndjson"] = export_memory(port, token, server_pid=server.pid, seconds=args.export_seconds)
    finally:
        processes_stop(server)
    _print(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def _print(report: dict[str, Any]) -> None:
    print(f"\n{report['events']:,} events in one project; events table {report['table_size']}")
    if "generate" in report:
        print(f"generated by COPY at {report['generate']['events_per_s']:,} events/s")
    print(f"{'event list, first page':28} {'p50 ms':>8} {'p95 ms':>8}")
    for kind, figures in report["event_list"].items():
        print(f"{kind:28} {figures['p50_ms']:>8.1f} {figures['p95_ms']:>8.1f}")
    verdict = "yes" if report["event_list_p95_under_300ms"] else "NO"
    print(f"p95 of all event list requests under {TARGET_P95_MS:.0f} ms: {verdict}")
    export = report["export_ndjson"]
    if export is None:
        print("export: no export endpoint in this TrackHub")
    else:
        print(f"export.ndjson: {export}")


if __name__ == "__main__":
    raise SystemExit(main())

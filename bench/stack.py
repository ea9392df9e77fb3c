"""What the benchmarks need: a scratch database, manage.py, a provisioned source, a
gunicorn and a Celery worker, an environment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg

from bench.bodies import Credentials

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DEFAULT_ADMIN_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DEFAULT_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
# Each benchmark's scratch database is "<prefix>_<benchmark>" (trackhub_bench, ...). The test
# suite sets its own prefix (tests/pytest_env.py), so two suites on one server never drop
# each other's.
SCRATCH_PREFIX = os.environ.get("BENCH_SCRATCH_PREFIX", "trackhub")


def scratch_database_name(benchmark: str) -> str:
    return f"{SCRATCH_PREFIX}_{benchmark}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


def scratch_database_create(admin_url: str, name: str) -> None:
    """Drop and recreate the benchmark's own database (never any other)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_on_scratch_database(benchmark: str, *, url: str | None = None) -> str:
    """Recreate the benchmark's scratch database (unless ``url`` names a database to use
    instead), point this process's Django at it, set Django up; the database's URL."""
    if url is None:
        name = scratch_database_name(benchmark)
        scratch_database_create(DEFAULT_ADMIN_URL, name)
        url = database_url(DEFAULT_ADMIN_URL, name)
    os.environ.update(bench_env(url=url, redis_url=DEFAULT_REDIS_URL))
    import django

    django.setup()
    return url


def bench_env(*, url: str, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": redis_url,
        "REDIS_URL": redis_url,
        "DJANGO_SECRET_KEY": "bench-only-secret",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": f"{HOST},testserver",
        "TRACKHUB_RATE_LIMIT": "0",
        "TRACKHUB_LOG_LEVEL": "WARNING",
        # Connections live through the whole run: one recycled mid-phase (60 s by default)
        # would take its CPU seconds out of the per-tier figures (an ended process has none).
        "DATABASE_CONN_MAX_AGE": "3600",
        "PYTHONPATH": str(ROOT),
    }


def manage(env: dict[str, str], *args: str, root: Path = ROOT) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=root, env=env, check=True, capture_output=True, text=True
    ).stdout


def credentials_provision(
    env: dict[str, str], *, source_id: int, org: str, project: str, root: Path = ROOT
) -> Credentials:
    """Provision ``org`` > ``project`` > source ``source_id`` with ``manage.py provision``."""
    provisioned = json.loads(
        manage(env, "provision", "--org", org, "--project", project, "--source-id", str(source_id), "--json", root=root)
    )
    return Credentials(
        org=provisioned["org"], project=provisioned["project"], source_id=int(provisioned["source_id"]),
        api_key=provisioned["api_key"], bearer_token=provisioned["bearer_token"],
        website_id=provisioned["website_id"],
    )  # fmt: skip


def gunicorn_start(env: dict[str, str], *, port: int, workers: int, log: Path, root: Path = ROOT) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "trackhub.wsgi:application", "--workers", str(workers),
         "--worker-class", "sync", "--bind", f"{HOST}:{port}", "--backlog", "2048", "--log-level", "warning",
         "--timeout", "120", "--no-control-socket"],
        cwd=root, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def celery_worker_start(
    env: dict[str, str], *, pool: tuple[str, ...], log: Path | None = None, root: Path = ROOT
) -> subprocess.Popen:
    """A Celery worker (``pool``: its pool options), niced as docs/scaling.md advises for a
    worker sharing cores with web processes: identity work can wait a moment, a
    producer's request should not."""
    output = log.open("w") if log is not None else subprocess.DEVNULL
    return subprocess.Popen(
        ["nice", "-n", "10", sys.executable, "-m", "celery", "-A", "trackhub", "worker", *pool,
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING"],
        cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_http(port: int, path: str, timeout: float = 30) -> None:
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


def processes_stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()

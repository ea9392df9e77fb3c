"""What both benchmarks need: a scratch database, manage.py, a gunicorn, an environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DEFAULT_ADMIN_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DEFAULT_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


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


def gunicorn_start(env: dict[str, str], *, port: int, workers: int, log: Path, root: Path = ROOT) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "trackhub.wsgi:application", "--workers", str(workers),
         "--worker-class", "sync", "--bind", f"{HOST}:{port}", "--backlog", "2048", "--log-level", "warning",
         "--timeout", "120"],
        cwd=root, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
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

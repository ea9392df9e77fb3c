"""Real processes for end-to-end identity tests: a celery worker, gunicorn, and a private
redis-server (for tests that stop the broker; the shared one is never touched)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def db_url_of_test_run() -> str:
    """DATABASE_URL of the database pytest-django created for this run."""
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def wait_for(predicate: Callable[[], bool], *, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll until ``predicate()`` holds; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _env(broker_url: str, **settings: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": db_url_of_test_run(), "CELERY_BROKER_URL": broker_url, **settings}


def celery(*args: str, broker_url: str) -> subprocess.CompletedProcess:
    """Run a short celery command (purge, call) against ``broker_url``."""
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "trackhub", *args],
        cwd=ROOT,
        env=_env(broker_url),
        check=True,
        capture_output=True,
        timeout=60,
    )


@contextlib.contextmanager
def worker_running(
    *, broker_url: str, concurrency: int = 2, queues: str | None = None, **settings: str
) -> Iterator[subprocess.Popen]:
    """A real ``celery -A trackhub worker`` on ``broker_url`` and the test database,
    consuming ``queues`` (``-Q``) if given; ``settings``: more environment variables."""
    command = [sys.executable, "-m", "celery", "-A", "trackhub", "worker", "--loglevel=WARNING"]
    command += [f"--concurrency={concurrency}", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    command += ["-Q", queues] if queues else []
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=_env(broker_url, **settings),
        start_new_session=True,
    )
    try:
        yield process
    finally:
        process_stop(process)


@contextlib.contextmanager
def beat_running(*, broker_url: str, schedule: Path, **settings: str) -> Iterator[subprocess.Popen]:
    """A real ``celery -A trackhub beat`` on ``broker_url``, keeping its schedule in
    ``schedule``; ``settings``: more environment variables."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "trackhub",
        "beat",
        "--loglevel=WARNING",
        "--schedule",
        str(schedule),
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=_env(broker_url, **settings), start_new_session=True)
    try:
        yield process
    finally:
        process_stop(process)


def process_stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextlib.contextmanager
def server_running(*, broker_url: str, **settings: str) -> Iterator[str]:
    """TrackHub under gunicorn on a free loopback port; yields its base URL.
    ``settings``: more environment variables."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "trackhub.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "1"],
        cwd=ROOT,
        env=_env(broker_url, **settings),
        start_new_session=True,
    )
    try:
        wait_for(lambda: _port_open(port), timeout=30, what="gunicorn to listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        process_stop(process)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class PrivateRedis:
    """A redis-server of this test only, on a free port, that the test may stop and start."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="trackhub-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [redis_server, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", ""],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(lambda: _port_open(self.port), timeout=20, what="redis-server to listen")

    def stop(self) -> None:
        if self.process is not None:
            process_stop(self.process)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

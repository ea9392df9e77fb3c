"""Real processes for fault and load tests: gunicorn, celery, a private redis-server, a private
throwaway PostgreSQL cluster and a private pgbouncer. Never touches the shared services'
processes."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
# Debian's package puts it in /usr/sbin, which a non-root PATH may lack.
PGBOUNCER = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(check, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up: {last}")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 15,
) -> Response:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        raw = conn.getresponse()
        return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read())
    finally:
        conn.close()


def base_env(**overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "live-tests-secret-key",
        "DJANGO_DEBUG": "0",
        "TRACKHUB_RATE_LIMIT": "0",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(overrides)
    return env


@contextlib.contextmanager
def gunicorn(env: dict[str, str], *, workers: int = 2, access_log: Path | None = None) -> Iterator[Any]:
    """gunicorn with the production config (gunicorn.conf.py) on a free loopback port."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="trackhub-gunicorn-", suffix=".log")[1])
    env = {**env, "GUNICORN_ACCESS_LOG": str(access_log) if access_log else "-"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "trackhub.wsgi:application",
             "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = _Process(process=process, port=port, log=log)
    try:
        _wait_for(lambda: request(port, "GET", "/healthz", timeout=2).status == 200, timeout=60, what="gunicorn")
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def celery(env: dict[str, str], *args: str) -> Iterator[Any]:
    """``celery -A trackhub <args>`` (a worker, beat) as production runs it, its output in a
    temp log (``output()``)."""
    log = Path(tempfile.mkstemp(prefix="trackhub-celery-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "celery"), "-A", "trackhub", *args],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    program = _Process(process=process, port=0, log=log)
    try:
        yield program
    finally:
        program.stop()


@dataclass
class _Process:
    process: subprocess.Popen
    port: int  # 0 for a process that listens on none
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pids(self) -> list[int]:
        """The master and its children (gunicorn workers)."""
        result = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True)
        return [self.process.pid, *(int(pid) for pid in result.stdout.split())]


class PrivateRedis:
    """A redis-server of our own, on a free port, without persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def answers() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")

        _wait_for(answers, timeout=10, what="redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class PrivatePostgres:
    """A throwaway PostgreSQL 15 cluster in a temp dir, run as the postgres OS user."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="trackhub-pg-"))
        self.data = self.dir / "data"
        shutil.chown(self.dir, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/trackhub"

    def _as_postgres(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, check=check, timeout=120
        )

    def init(self) -> None:
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self._as_postgres(
            str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "trackhub"
        )

    def streaming_replica(self) -> PrivatePostgres:
        """A hot standby of this (running) cluster, copied by ``pg_basebackup -R`` and
        started: it streams the primary's WAL and answers read-only queries."""
        replica = PrivatePostgres()
        replica._as_postgres(
            str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-D", str(replica.data), "-R", "-X", "stream", "--no-sync",
            # Else it waits for a spread checkpoint: up to 0.9 x checkpoint_timeout (4.5 min).
            "--checkpoint=fast",
        )  # fmt: skip
        replica.start()
        return replica

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir}"
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start"
        )

    def stop(self, mode: str = "immediate") -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivatePgBouncer:
    """A pgbouncer of our own on a free loopback port, in transaction pooling mode, in
    front of the PostgreSQL at ``host:port`` (every database there, as ``user``; clients
    are not authenticated). ``pool_size`` server connections per database, handed out in
    turn (``server_round_robin``) rather than the last one freed first: once the pool is
    filled (``pool_fill``), consecutive transactions of one client land on different server
    connections, so anything that needs session state across transactions fails every
    time, not only now and then under load."""

    def __init__(self, directory: Path, *, host: str, port: int, user: str, pool_size: int = 3) -> None:
        if PGBOUNCER is None:
            raise FileNotFoundError("pgbouncer is not installed")
        self.port = free_port()
        self.pool_size = pool_size
        self.user = user
        self.ini = directory / "pgbouncer.ini"
        self.log = directory / "pgbouncer.log"
        self.ini.write_text(
            f"[databases]\n* = host={host} port={port} user={user}\n\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            "auth_type = any\npool_mode = transaction\n"
            f"default_pool_size = {pool_size}\nmax_client_conn = 200\nserver_round_robin = 1\n"
        )
        self.process: subprocess.Popen | None = None

    @staticmethod
    def version() -> tuple[int, int]:
        """(major, minor) of the installed pgbouncer ("PgBouncer 1.18.0" on Debian 12)."""
        out = subprocess.run([str(PGBOUNCER), "--version"], capture_output=True, text=True, check=True).stdout
        major, minor = out.split()[1].split(".")[:2]
        return int(major), int(minor)

    def url(self, database: str) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        # pgbouncer refuses to run as root: as root it reads its ini, then becomes postgres.
        user = ["-u", "postgres"] if os.geteuid() == 0 else []
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(PGBOUNCER), *user, str(self.ini)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

        def answers() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True

        _wait_for(answers, timeout=10, what="pgbouncer")

    def pool_fill(self, database: str) -> None:
        """Make pgbouncer open all ``pool_size`` server connections to ``database`` now:
        it opens them on demand, and a lone client would be served by one all along."""
        clients = [psycopg.connect(self.url(database)) for _ in range(self.pool_size)]
        try:
            # Each holds a server connection in its open transaction, so each gets another.
            backends = {client.execute("SELECT pg_backend_pid()").fetchone() for client in clients}
            assert len(backends) == self.pool_size, backends
            for client in clients:
                client.commit()
        finally:
            for client in clients:
                client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout

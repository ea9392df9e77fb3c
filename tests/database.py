"""Faults of the test database that a test can switch on for a moment, empty databases
beside it, calls made at the same moment on connections of their own, and a wait until
sessions are held up by a lock."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from django.db import connection

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")


def at_once(call: Callable[[], T], *, copies: int) -> list[T]:
    """Run ``call`` in ``copies`` threads released together, each on its own database
    connection (a ``transaction=True`` test sees what they commit); their results. An
    exception in any thread is raised here, not left as a thread warning."""
    barrier = threading.Barrier(copies)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(call())
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def waiting_for_locks(conn: psycopg.Connection, *, count: int, timeout: float = 10) -> None:
    """Until ``count`` sessions of the test database wait on a lock (``conn`` in
    autocommit: pg_stat_activity is read once per transaction)."""
    deadline = time.monotonic() + timeout
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    while conn.execute(query).fetchone()[0] < count:
        assert time.monotonic() < deadline, f"fewer than {count} sessions waiting on a lock"
        time.sleep(0.02)


@contextlib.contextmanager
def database_down() -> Iterator[None]:
    """Point the connection at a loopback port where nothing listens, for one request.

    The next query fails to connect (a real OperationalError from psycopg); the settings
    are restored before the test database is flushed.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(closed_port))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@contextlib.contextmanager
def empty_database(suffix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database named after the test database plus
    ``suffix`` (beside it, on the same server), dropped afterwards."""
    import psycopg

    from tests.profiles.processes import db_url_of_test_run

    url = db_url_of_test_run()
    server, test_name = url.rsplit("/", 1)
    name = f"{test_name}_{suffix}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

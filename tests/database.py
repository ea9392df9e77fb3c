"""Faults of the test database that a test can switch on for a moment."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

from django.db import connection


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

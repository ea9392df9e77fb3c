"""A cursor for the track path's hot statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection


@contextmanager
def prepared_cursor() -> Iterator[Any]:
    """A cursor on Django's connection (so inside its transaction) that binds parameters
    on the server: psycopg prepares a statement after ``DATABASE_PREPARE_THRESHOLD`` runs,
    and lists are sent as binary arrays rather than quoted into the SQL text. Django's own
    cursors bind on the client, which suits the ORM's varied queries but makes PostgreSQL
    parse and plan the same few ingest statements on every request. Errors are Django's,
    as from any cursor. On SQLite (the embedded setup) it is Django's cursor.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor

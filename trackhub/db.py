"""Cursors for the track path's hot statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import InterfaceError, OperationalError, connection

# What a retry can cure: a lost or refused connection, a deadlock, a database restarting.
# Tasks retry these only (``autoretry_for``); any other database error is a bug or bad
# data that a retry would repeat.
TRANSIENT_DATABASE_ERRORS = (OperationalError, InterfaceError)


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


def request_first_fetchall(sql: str, params: Any) -> list[tuple[Any, ...]]:
    """Run what may be a request's first statement, a read or an idempotent write, and let
    it double as the connection check; its rows.

    With ``CONN_HEALTH_CHECKS`` Django checks a reused connection with an extra ``SELECT 1``
    round trip on its first use in every request. On the track path that check costs about
    as much as the statement it precedes (the credential lookup, or the write when the
    credential came from the process's cache), so the statement is the check instead: if
    it fails on a reused connection (the server restarted, or dropped it while idle), the
    connection is replaced and the statement runs once more, as Django's check would have
    made it. That is safe only for a statement that may run twice: a read, or a write that
    is its own transaction and deduplicated (a committed first run makes the second a
    no-op). A failure on a fresh connection is a real outage and propagates.
    """
    # Django's own flags (4.1+; the stubs omit them): checks on, and none yet this request.
    check_due = connection.health_check_enabled and not connection.health_check_done  # type: ignore[attr-defined]
    stale_possible = connection.connection is not None and check_due and not connection.in_atomic_block
    try:
        rows = _fetchall(sql, params)
    except (OperationalError, InterfaceError):
        if not stale_possible:
            raise
        connection.close()
        rows = _fetchall(sql, params)
    connection.health_check_done = True  # type: ignore[attr-defined]
    return rows


def request_first_fetchone(sql: str, params: Any) -> tuple[Any, ...] | None:
    """``request_first_fetchall``'s first row, or None."""
    rows = request_first_fetchall(sql, params)
    return rows[0] if rows else None


def _fetchall(sql: str, params: Any) -> list[tuple[Any, ...]]:
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()

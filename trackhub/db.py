"""Cursors for the track path's hot statements; one snapshot for a page's reads."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections, transaction

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


@contextmanager
def read_snapshot(*, using: str) -> Iterator[None]:
    """Every query inside sees one snapshot: a read-only REPEATABLE READ transaction on
    PostgreSQL (a plain transaction on SQLite, whose reads see one state anyway).

    Under PostgreSQL's default READ COMMITTED each statement sees what had committed when
    it started, so a profile read in one query and its identifiers in the next could come
    out empty, or its events missing, when an identity merge committed in between. Inside
    a transaction already open (a test's) it only adds a savepoint: the isolation level
    can only be set as a transaction begins.
    """
    connection = connections[using]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


View = TypeVar("View", bound=Callable[..., Any])


def snapshot_page(view: View) -> View:
    """A view whose reads all see one snapshot of the primary (``read_snapshot``): a page
    showing a profile, its identifiers and its timeline, read while a merge commits."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with read_snapshot(using=DEFAULT_DB_ALIAS):
            return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]

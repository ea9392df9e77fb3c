"""The read API's answer when its database cannot be reached: 503 with ``Retry-After``
(as the track endpoints answer, contract: errors), never a 500."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from django.db import InterfaceError, OperationalError, ProgrammingError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

# What every 503 asks a client to wait (the track endpoints, the read API, the pages).
RETRY_AFTER_SECONDS = "5"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus: a lost or refused database connection (the primary, or the
    replica of ``DATABASE_REPLICA_URL``, restarting or down), or one not migrated yet, is a
    503 the client may retry."""
    if database_unavailable(exc=exc):
        logger.warning("database unavailable: %s", exc)
        return Response(
            {"detail": "The database is unavailable; retry later."},
            status=503,
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    return drf_exception_handler(exc, context)


def database_unavailable(*, exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database cannot serve the request for now: a lost or refused
    connection, or a database not migrated yet. A 503 to retry, not the site's fault."""
    if isinstance(exc, OperationalError) and _sqlite_function_failed(exc):
        return False
    return isinstance(exc, OperationalError | InterfaceError) or (isinstance(exc, Exception) and _schema_missing(exc))


def _sqlite_function_failed(exc: OperationalError) -> bool:
    """SQLite's error when a Python function a query runs in it raised (Django runs
    ``__regex`` that way: ``?name__regex=(`` in an admin list): an OperationalError that
    says nothing about the database being unavailable."""
    return str(exc) == "user-defined function raised exception"


def _schema_missing(exc: Exception) -> bool:
    """A database not migrated yet (PostgreSQL: undefined table): as unavailable as a down
    one for this node (``/readyz`` says ``schema``), and as temporary; not the client's fault."""
    return isinstance(exc, ProgrammingError) and isinstance(exc.__cause__, psycopg.errors.UndefinedTable)

"""Process tuning for long-running web and worker processes."""

from __future__ import annotations

import gc
import inspect
import os
import traceback

# Collections of the young generation every 50,000 net allocations of container objects
# instead of CPython's 700. A 100-event track request allocates thousands of short-lived
# dicts and lists (decoded JSON, canonical events, identity facts), so with the default a
# request ran several young collections and, every few requests, a full one over every
# object the process holds: about a quarter of a batched request's CPU in
# ``bench.inprocess --events 100``. Young objects die young either way; only the scans go.
YOUNG_GENERATION_THRESHOLD = 50_000


def gc_tune(*, load_urls: bool = False) -> None:
    """Call once the application is loaded in a process that will serve requests or run
    tasks: moves everything alive now (modules, settings, models) out of the collector's
    reach for good (``gc.freeze``: it lives as long as the process) and makes collections
    of short-lived objects rarer. ``load_urls``: load the URLconf and its views first (a
    web process; Django would load them on the first request), so they are frozen too.
    Idempotent."""
    if load_urls:
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018 - the loading is the point
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, 10, 10)  # older generations: CPython's ratios


def settings_load_or_exit() -> None:
    """Read the settings now, and if the environment makes them invalid (no
    ``DJANGO_SECRET_KEY`` in production, say) stop the process with their one clear
    message rather than a traceback (gunicorn's master, ``manage.py``)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackhub.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.SECRET_KEY  # noqa: B018  (loading the settings runs their checks)
    except ImproperlyConfigured as exc:
        raise SystemExit(f"TrackHub cannot start: {exc}") from None


# The environment variable each database alias is configured by (trackhub.settings).
_DATABASE_VARIABLES = {"default": "DATABASE_URL", "replica": "DATABASE_REPLICA_URL"}


def database_connect_failure_message(*, error: BaseException) -> str | None:
    """The one-line message for ``error`` when it is a failure to connect to a database (a
    wrong host, port, name or password in DATABASE_URL, or the server down), else None.
    ``manage.py`` prints it instead of a 90-line traceback that says the same. Told apart
    from a failure later on a live connection (worth its traceback) by where it was
    raised: inside Django's ``connect``."""
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.utils import OperationalError

    if not isinstance(error, OperationalError):
        return None
    connect_code = inspect.unwrap(BaseDatabaseWrapper.connect).__code__
    for frame, _ in traceback.walk_tb(error.__traceback__):
        if frame.f_code is connect_code:
            alias = getattr(frame.f_locals.get("self"), "alias", "default")
            variable = _DATABASE_VARIABLES.get(alias, f"database {alias!r}")
            detail = " ".join(str(error).split())  # psycopg's message spans lines
            return f"TrackHub cannot connect to the database of {variable}: {detail}"
    return None


def database_unmigrated_message(*, error: BaseException, command: str) -> str | None:
    """The one-line message for ``error`` when the database it came from has migrations
    still to apply (created but never migrated, or a release's migrations not yet run),
    else None. A command then fails on a missing table or column, whose traceback says
    nothing of the cause. Not for ``migrate`` itself, whose own failure is the news."""
    from django.db import DatabaseError

    if command == "migrate" or not isinstance(error, DatabaseError):
        return None
    try:
        pending = migrations_unapplied()
    except Exception:  # the database cannot even say: leave the original error to be told
        return None
    if not pending:
        return None
    return (
        f"TrackHub's database (DATABASE_URL) is not migrated: {pending} migration(s) to apply. "
        "Run: python manage.py migrate"
    )


def migrations_unapplied() -> int:
    """How many migrations the default database has yet to apply (raising what the
    database raises when it cannot say)."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))

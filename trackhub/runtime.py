"""Process tuning for long-running web and worker processes."""

from __future__ import annotations

import gc
import os

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

"""``/healthz`` (process up), ``/readyz`` (database migrated and broker reachable), ``/metrics``;
the site's 400, 404 and 500 answers."""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from ops.api import RETRY_AFTER_SECONDS, database_unavailable
from ops.metrics import metrics_render
from ops.middleware import machine_request, refusal_before_view
from trackhub.runtime import migrations_unapplied

logger = logging.getLogger(__name__)

_LOOPBACK = ("127.0.0.0/8", "::1/128")


@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers; says nothing about its dependencies (that is /readyz)."""
    return HttpResponse("ok", content_type="text/plain")


def _database_ready() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return None


# Once this process has seen every migration applied, it need not look again.
_schema_seen_migrated = False


def _schema_ready() -> str | None:
    """None once every migration is applied: a node on an unmigrated database would answer
    every track request 503, so it must not receive traffic."""
    global _schema_seen_migrated
    if _schema_seen_migrated:
        return None
    try:
        unapplied = migrations_unapplied()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    if unapplied:
        return f"{unapplied} migrations not applied: run python manage.py migrate"
    _schema_seen_migrated = True
    return None


def _broker_ready() -> str | None:
    from trackhub.celery import app

    try:
        with app.connection_for_write() as conn:
            # One attempt, bounded by the transport's socket timeouts (settings).
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, interval_max=0, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return None


@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """200 when the database answers with every migration applied and the broker answers,
    else 503 naming what is not ready."""
    database = _database_ready()
    checks = {"database": database, "schema": None if database else _schema_ready(), "broker": _broker_ready()}
    failing = {name: problem for name, problem in checks.items() if problem}
    if failing:
        logger.warning("not ready: %s", failing)
        response = JsonResponse({"status": "unavailable", "failing": sorted(failing)}, status=503)
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    return JsonResponse({"status": "ok"})


@lru_cache(maxsize=1)
def _allowed_networks(configured: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(net, strict=False) for net in (*_LOOPBACK, *configured))


# Headers a reverse proxy adds to what it forwards (nginx, HAProxy, load balancers).
_FORWARDING_HEADERS = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_REAL_IP")


def request_forwarded(*, meta: Mapping[str, Any]) -> bool:
    """Whether a proxy forwarded the request for someone else: then REMOTE_ADDR is the
    proxy's address, loopback when it runs on the same machine, not the caller's."""
    return any(header in meta for header in _FORWARDING_HEADERS)


def metrics_allowed(*, remote_addr: str, forwarded: bool) -> bool:
    """Loopback and TRACKHUB_METRICS_ALLOW only, judged by REMOTE_ADDR, never by a
    forwarded header's address, which any client can set. A forwarded request is refused
    whatever its REMOTE_ADDR: a TLS proxy on the same machine connects from loopback, and
    would otherwise serve /metrics to the internet. Scrapers reach the process directly."""
    if forwarded:
        return False
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in net for net in _allowed_networks(tuple(settings.TRACKHUB_METRICS_ALLOW)))


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(
        remote_addr=request.META.get("REMOTE_ADDR", ""), forwarded=request_forwarded(meta=request.META)
    ):
        return HttpResponse("Forbidden", status=403, content_type="text/plain")
    return HttpResponse(metrics_render(), content_type=CONTENT_TYPE_LATEST)


_DATABASE_UNAVAILABLE_PAGE = (
    '<!doctype html>\n<html lang="en">\n<head>\n  <title>Service Unavailable (503)</title>\n</head>\n<body>\n'
    "  <h1>Service Unavailable (503)</h1><p>The database is unavailable; retry in a few seconds.</p>\n"
    "</body>\n</html>\n"
)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """What Django refuses before any view runs (a Host header not in
    DJANGO_ALLOWED_HOSTS, above all): in the track format's own shape at a track URL, JSON
    for the read API and other machines (their SDKs parse the body), Django's page for a
    browser. The producer of a host the operator left out of the list learns why."""
    if not machine_request(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, DisallowedHost):
        host = request.META.get("HTTP_HOST", "")[:200]
        message = f"This TrackHub does not serve the host {host!r}: its operator lists hosts in DJANGO_ALLOWED_HOSTS"
        # Not ``invalid_body``: the body may be fine, and Userpilot names the cause by kind.
        kind = "host_not_allowed"
    else:
        message, kind = "Bad request", "invalid_request"
    return refusal_before_view(request, status=400, message=message, kind=kind)


# Under /api/ every answer is JSON, also for a URL no pattern matches (``/api/v1/profiles/abc/``)
# and a failure: an API client parses the body whatever the status.
def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this inside its ``except`` for the failure, so the exception is at hand.
    # The database down, restarting or not migrated yet is a 503 to retry (the dashboard,
    # the sign-in and the admin read it on every page, sessions included), as the track
    # endpoints and the read API answer it, and as docs/hardening.md promises: no fault
    # turns into a 500.
    if database_unavailable(exc=sys.exc_info()[1]):
        if request.path_info.startswith("/api/"):
            response: HttpResponse = JsonResponse({"detail": "The database is unavailable; retry later."}, status=503)
        else:
            response = HttpResponse(_DATABASE_UNAVAILABLE_PAGE, status=503, content_type="text/html; charset=utf-8")
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": "Internal server error; the request id is in X-Request-ID."}, status=500)
    return defaults.server_error(request)

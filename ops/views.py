"""``/healthz`` (process up), ``/readyz`` (database and broker reachable), ``/metrics``."""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from ops.metrics import metrics_render

logger = logging.getLogger(__name__)

_LOOPBACK = ("127.0.0.0/8", "::1/128")


@require_GET
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


def _broker_ready() -> str | None:
    from trackhub.celery import app

    try:
        with app.connection_for_write() as conn:
            # One attempt, bounded by the transport's socket timeouts (settings).
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, interval_max=0, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return None


@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """200 when the database and the broker answer, else 503 naming what is down."""
    checks = {"database": _database_ready(), "broker": _broker_ready()}
    failing = {name: problem for name, problem in checks.items() if problem}
    if failing:
        logger.warning("not ready: %s", failing)
        response = JsonResponse({"status": "unavailable", "failing": sorted(failing)}, status=503)
        response["Retry-After"] = "5"
        return response
    return JsonResponse({"status": "ok"})


@lru_cache(maxsize=1)
def _allowed_networks(configured: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(net, strict=False) for net in (*_LOOPBACK, *configured))


def metrics_allowed(remote_addr: str) -> bool:
    """Loopback and TRACKHUB_METRICS_ALLOW only. REMOTE_ADDR, never a forwarded header,
    which any client can set."""
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in net for net in _allowed_networks(tuple(settings.TRACKHUB_METRICS_ALLOW)))


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request.META.get("REMOTE_ADDR", "")):
        return HttpResponse("Forbidden", status=403, content_type="text/plain")
    return HttpResponse(metrics_render(), content_type=CONTENT_TYPE_LATEST)

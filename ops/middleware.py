"""Request id and latency for every request."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import ResolverMatch

from ops import metrics
from ops.context import request_id_var

REQUEST_ID_HEADER = "X-Request-ID"
# A client-sent id is kept only if it is short and plain, so it cannot forge log lines.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class ProbeMiddleware:
    """``/healthz``, ``/readyz`` and ``/metrics``, answered before the rest of the stack.

    Load balancers, Kubernetes probes and scrapers reach a process by its address, so
    their Host header (``10.1.2.3:8000``) is rarely one DJANGO_ALLOWED_HOSTS names, and
    Django would answer 400; behind TLS termination they speak plain HTTP, which the SSL
    redirect would bounce. None of the three builds a URL from the Host header, which is
    what host validation protects; ``/metrics`` checks the caller's address itself.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        from ops import views  # the views import settings-dependent modules; load them once

        self.probes: dict[str, tuple[str, Callable[[HttpRequest], HttpResponse]]] = {
            "/healthz": ("healthz", views.healthz), "/readyz": ("readyz", views.readyz),
            "/metrics": ("metrics", views.metrics),
        }  # fmt: skip

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = self.probes.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        name, view = probe
        # As URL resolution would have set it: the request metrics are labelled by route.
        request.resolver_match = ResolverMatch(view, (), {}, url_name=name)
        return view(request)


class RequestIdMiddleware:
    """Give each request an id (the client's ``X-Request-ID`` if sane, else a UUID), put it
    in every log line of the request and in the response's ``X-Request-ID``, and observe
    the request's latency per route."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else str(uuid.uuid4())
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        match = getattr(request, "resolver_match", None)
        route = match.url_name if match is not None and match.url_name else "unmatched"
        metrics.request_observe(route=route, method=request.method or "", seconds=time.perf_counter() - started)
        response[REQUEST_ID_HEADER] = request_id
        return response


class ApiNotFoundMiddleware:
    """Answer an unknown ``/api/`` URL with JSON, with DEBUG on or off.

    Django's 404 for a URL no pattern matches is an HTML page (the debug page with DEBUG
    on, as in the quick start), which an API client cannot read; DRF's own 404s are JSON
    already and pass through. Sits outside ``CommonMiddleware`` so its slash redirect wins.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.path_info.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return JsonResponse({"detail": "Not found."}, status=404)
        return response

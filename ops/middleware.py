"""Request id and latency for every request; JSON 404s for machines; the slash and HTTPS
redirects for page visits only."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import Resolver404, ResolverMatch, resolve
from django.utils.cache import patch_cache_control

from ops import metrics
from ops.context import request_id_var, request_uuid

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


# A producer whose base URL or path is wrong learns where the track endpoints are.
TRACK_URLS_HINT = (
    "No track endpoint at this URL. TrackHub takes events at POST "
    "/{orgName}/projects/{projectName}/sources/{sourceId}/track (Intempt), /api/track (ThriveStack), "
    "/track (Databuddy) and /v1/track (Userpilot); the read API is under /api/v1/."
)
# What a browser asks for when it opens a page; anything else that finds no URL is a machine.
_PAGE_METHODS = frozenset({"GET", "HEAD"})


class JsonNotFoundMiddleware:
    """Answer a URL no pattern matches with JSON, with DEBUG on or off, for machines: any
    path under ``/api/``, and a request of any other method than a page visit's (a
    producer's POST to a wrong URL, a preflight). A browser opening a missing page still
    gets Django's HTML 404.

    Django's 404 for a URL no pattern matches is an HTML page (the debug page with DEBUG
    on, as in the quick start), which an API client or a producer's SDK cannot read; DRF's
    own 404s are JSON already and pass through. Sits outside ``CommonMiddleware`` so its
    slash redirect wins.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 404 or response.get("Content-Type", "").startswith("application/json"):
            return response
        if request.path_info.startswith("/api/"):
            return JsonResponse({"detail": "Not found."}, status=404)
        if request.method not in _PAGE_METHODS:
            return JsonResponse({"detail": TRACK_URLS_HINT}, status=404)
        return response


class PrivateApiMiddleware:
    """Answers of the read API (``/api/v1/``) carry ``Cache-Control: private, no-store``.

    They are one tenant's events, profiles and accounts, fetched with a bearer token, and
    nothing told a proxy or a browser's cache not to keep them (the dashboard's pages say
    so, ``ops.pages.PageHeadersMiddleware``). The schema and its docs (``/api/schema/``,
    ``/api/docs/``) are public and may be cached.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path_info.startswith("/api/v1/"):
            patch_cache_control(response, private=True, no_store=True)
        return response


class PageSlashCommonMiddleware(CommonMiddleware):
    """Django's ``CommonMiddleware`` with its slash redirect (``APPEND_SLASH``) for page
    visits only. A POST to ``/api/v1/events`` would be answered 301, which clients follow
    as a GET without the body, and with DEBUG on (the quick start) Django raises instead
    of redirecting a POST: a 500. Other methods get the 404 (JSON, see above)."""

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        return request.method in _PAGE_METHODS and super().should_redirect_with_slash(request)


class MachineHttpsMiddleware:
    """With ``SECURE_SSL_REDIRECT`` on, a request over plain HTTP of any other method than
    a page visit's gets a JSON 403 naming its HTTPS URL; Django's ``SecurityMiddleware``,
    next in the chain, still redirects page visits.

    A producer's POST answered 301 is followed as a GET without the body (or not at all),
    so its events vanish while the SDK saw no error. A 403 it reports and does not retry,
    and its operator fixes the base URL. Not a 308 either: that would go on sending the
    credential in the clear on every request without anyone noticing. The rule (exempt
    paths, redirect host) is SecurityMiddleware's own, asked of an instance of it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.security = SecurityMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in _PAGE_METHODS:
            redirect = self.security.process_request(request)
            if redirect is not None:
                message = f"TrackHub takes requests over HTTPS only: send this request to {redirect['Location']}"
                return refusal_before_view(request, status=403, message=message, kind="https_required")
        return self.get_response(request)


def refusal_before_view(request: HttpRequest, *, status: int, message: str, kind: str) -> HttpResponse:
    """An error answered before the view runs: in the wire format's own shape at a track
    URL (its view names the format's adapter), else ``{"detail": ...}`` as DRF's."""
    adapter = _track_adapter(request)
    if adapter is None:
        return JsonResponse({"detail": message}, status=status)
    return adapter.error(status=status, message=message, kind=kind, request_id=request_uuid(request))


def machine_request(request: HttpRequest) -> bool:
    """Whether a program rather than a browser page visit sent ``request``: the read API,
    a track URL, or any other method than a page visit's. Its errors are JSON."""
    return (
        request.path_info.startswith("/api/")
        or request.method not in _PAGE_METHODS
        or _track_adapter(request) is not None
    )


def _track_adapter(request: HttpRequest) -> Any:
    try:
        view_class = getattr(resolve(request.path_info).func, "view_class", None)
    except Resolver404:
        return None
    return getattr(view_class, "adapter", None)

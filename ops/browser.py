"""Django's browser-only middleware, skipped for machine requests.

The track endpoints and the read API carry their own credentials (an API key or a bearer
token, checked by DRF) and never a session cookie, so a session, a signed-in user and
flash messages mean nothing to them. Django's middleware would still set them up and
tear them down on every request (the message store alone builds a cookie signer):
about 45 µs of CPU per single-event track request, 8% of it (``bench.inprocess``,
eleventh session). Every other path (the dashboard, the admin, sign-in) gets Django's
middleware unchanged; CSRF, security and clickjacking headers stay on for every path.
"""

from __future__ import annotations

import re
from functools import cache

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse


def carries_own_credentials(request: HttpRequest) -> bool:
    """A producer's track request (a path one of the track URLs takes) or the read API
    (``/api/``, its schema and docs included). Decided once per request: each of the
    three middleware asks. (``ops.middleware.machine_request`` asks another question:
    whether an error should be JSON.)"""
    decided = getattr(request, "_trackhub_own_credentials", None)
    if decided is None:
        decided = request._trackhub_own_credentials = _credentials_path(request.path_info)  # type: ignore[attr-defined]
    return decided


def _credentials_path(path: str) -> bool:
    if path.startswith("/api/"):
        return True
    # The track URLs' own patterns, not a suffix: the admin also answers paths ending in
    # "/track" (an object's "/admin/ingestion/event/1/track/"), and without the signed-in
    # user its permission check fails (a 500, not the login page); and the track URLs
    # include "/identify" and any number of trailing slashes.
    return any(pattern.match(path.removeprefix("/")) for pattern in _track_patterns())


@cache
def _track_patterns() -> tuple[re.Pattern[str], ...]:
    """The track URLs' own regular expressions (``ingestion.urls``), as the resolver
    matches them: after the path's leading slash. Loaded on first use, once the URL
    configuration can be imported."""
    from ingestion.urls import track_urlpatterns

    return tuple(pattern.pattern.regex for pattern in track_urlpatterns)


class BrowserSessionMiddleware(SessionMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if not carries_own_credentials(request):
            super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if carries_own_credentials(request):
            return response
        return super().process_response(request, response)


class BrowserAuthenticationMiddleware(AuthenticationMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if not carries_own_credentials(request):
            super().process_request(request)


class BrowserMessageMiddleware(MessageMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if not carries_own_credentials(request):
            super().process_request(request)

    # process_response already skips a request without a message store.

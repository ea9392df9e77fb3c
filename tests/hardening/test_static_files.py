"""Static files come from the web process itself in production (no DEBUG, no file server):
the dashboard's styles, the admin's, and the API docs' Swagger UI."""

from __future__ import annotations

import urllib.request

from django.conf import settings

from tests.profiles.processes import server_running

PATHS = (
    "/static/dashboard/dashboard.css",
    "/static/admin/css/base.css",
    "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
)


def test_gunicorn_without_debug_serves_the_static_files():
    answers = {}
    with server_running(broker_url=settings.CELERY_BROKER_URL, DJANGO_DEBUG="0") as base_url:
        for path in PATHS:
            with urllib.request.urlopen(base_url + path, timeout=10) as response:
                answers[path] = (response.status, len(response.read()) > 100)

    assert answers == dict.fromkeys(PATHS, (200, True))

"""Per-credential rate limits in Redis: 429 + Retry-After in the format's shape; fail open."""

from __future__ import annotations

import logging
import socket

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from ingestion.models import Event
from ingestion.services import access_token_create
from tests.hardening.formats import event_specs, post, present_formats, response_json

pytestmark = pytest.mark.django_db

FORMATS = present_formats()
LIMIT = 3
BURST = 8  # > 2 * LIMIT: at least one request is over the limit even across a window edge


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
@override_settings(TRACKHUB_RATE_LIMIT=LIMIT)
def test_requests_over_the_limit_get_429_with_retry_after_in_the_format_shape(client, tenant, fmt):
    responses = [post(client, fmt, tenant, fmt.body(event_specs(1, prefix=f"r{i}"))) for i in range(BURST)]

    assert [r.status_code for r in responses[:LIMIT]] == [fmt.success_status] * LIMIT
    limited = [r for r in responses if r.status_code == 429]
    assert limited
    assert all(1 <= int(r["Retry-After"]) <= 60 for r in limited)
    assert all(fmt.is_error(response_json(r)) for r in limited)
    assert Event.objects.count() == BURST - len(limited)


@override_settings(TRACKHUB_RATE_LIMIT=LIMIT)
def test_the_limit_is_per_credential(client, tenant, other_tenant):
    fmt = FORMATS[0]
    burst = [post(client, fmt, tenant, fmt.body(event_specs(1, prefix=f"a{i}"))).status_code for i in range(BURST)]

    response = post(client, fmt, other_tenant, fmt.body(event_specs(1, prefix="b")))

    assert 429 in burst  # the first credential is over its limit ...
    assert response.status_code == fmt.success_status  # ... the second one is not
    assert Event.objects.filter(project=other_tenant.project).count() == 1


@override_settings(TRACKHUB_RATE_LIMIT=LIMIT)
def test_the_read_api_is_rate_limited_per_token(tenant):
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.read_token}")

    statuses = [reader.get("/api/v1/events/") for _ in range(BURST)]
    _, other_token = access_token_create(project=tenant.project, scopes=["read"])
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_token}")

    assert [r.status_code for r in statuses[:LIMIT]] == [200] * LIMIT
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and all(int(r["Retry-After"]) >= 1 for r in limited)
    assert other.get("/api/v1/events/").status_code == 200  # another token of the project is not limited


@override_settings(TRACKHUB_RATE_LIMIT=0)
def test_zero_turns_the_limit_off(client, tenant):
    fmt = FORMATS[0]

    statuses = {post(client, fmt, tenant, fmt.body(event_specs(1, prefix=f"z{i}"))).status_code for i in range(20)}

    assert statuses == {fmt.success_status}


def test_redis_down_lets_requests_through_and_logs_it(client, tenant, caplog):
    fmt = FORMATS[0]
    dead_redis = f"redis://127.0.0.1:{_free_port()}/0"

    with override_settings(TRACKHUB_RATE_LIMIT=1, REDIS_URL=dead_redis), caplog.at_level(logging.WARNING):
        statuses = [post(client, fmt, tenant, fmt.body(event_specs(1, prefix=f"d{i}"))).status_code for i in range(3)]

    assert statuses == [fmt.success_status] * 3
    assert Event.objects.count() == 3
    assert any("rate limit store unavailable" in record.getMessage() for record in caplog.records)

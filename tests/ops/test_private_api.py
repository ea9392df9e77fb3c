"""The read API's answers are one tenant's data: no cache may keep them
(``ops.middleware.PrivateApiMiddleware``); the public schema may be cached."""

from __future__ import annotations

import pytest
from django.http.response import HttpResponseBase
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def cache_control(response: HttpResponseBase) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


@pytest.mark.parametrize(
    "path", ["/api/v1/events/", "/api/v1/profiles/", "/api/v1/accounts/", "/api/v1/events/export.ndjson"]
)
def test_a_read_api_answer_tells_every_cache_not_to_keep_it(read_client, path):
    response = read_client.get(path)

    assert response.status_code == 200
    assert {"private", "no-store"} <= cache_control(response)


def test_a_refused_read_is_not_kept_either(tenant):
    response = APIClient().get("/api/v1/events/", HTTP_AUTHORIZATION="Bearer th_wrong.token")

    assert response.status_code == 401
    assert {"private", "no-store"} <= cache_control(response)


def test_the_public_schema_may_be_cached(client):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    assert "no-store" not in cache_control(response)

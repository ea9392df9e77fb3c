"""GET /api/v1/profiles/ and /api/v1/accounts/ (profiles.api): pages and bad input."""

from __future__ import annotations

import base64

import pytest

from tests.profiles.conftest import identity_drain, intempt_post

pytestmark = pytest.mark.django_db


def drf_cursor(query: str) -> str:
    """A cursor in the form these lists hand out (base64 of a query string), forged."""
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize("path", ["/api/v1/profiles/", "/api/v1/accounts/"])
@pytest.mark.parametrize("position", ["abc", "%00", "1.5", "-1", "", "9" * 5000])
def test_a_forged_cursor_position_is_400_naming_the_cursor(client, tenant, read_client, path, position):
    intempt_post(client, tenant, {"userId": "ann", "accountId": "acme", "timestamp": 1_000})
    identity_drain()

    response = read_client.get(path, {"cursor": drf_cursor(f"o=0&r=0&p={position}")})

    assert response.status_code == 400, response.content
    assert response.json() == {"cursor": ["Invalid cursor; use the next or previous link as given"]}


@pytest.mark.parametrize("path", ["/api/v1/profiles/", "/api/v1/accounts/"])
def test_a_next_link_still_pages(client, tenant, read_client, path):
    intempt_post(client, tenant, *({"userId": f"u{i}", "accountId": f"a{i}", "timestamp": 1_000} for i in range(3)))
    identity_drain()

    first = read_client.get(path, {"page_size": 2}).json()
    second = read_client.get(first["next"])

    assert second.status_code == 200
    assert len(first["results"]) == 2 and len(second.json()["results"]) == 1

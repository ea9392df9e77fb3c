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
@pytest.mark.parametrize("position", ["abc", "%00", "1.5", "-1", "", "9" * 5000, str(2**63)])
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


@pytest.mark.parametrize("path", ["/api/v1/profiles/", "/api/v1/accounts/"])
@pytest.mark.parametrize("cursor", ["AAAA", "!", "\x00", " ", drf_cursor("x=1"), drf_cursor("o=0&p=1")])
def test_a_cursor_the_list_never_wrote_is_400_not_the_first_page(client, tenant, read_client, path, cursor):
    # DRF read each of these as the first page.
    intempt_post(client, tenant, {"userId": "ann", "accountId": "acme", "timestamp": 1_000})
    identity_drain()

    response = read_client.get(path, {"cursor": cursor})

    assert response.status_code == 400, response.content
    assert response.json() == {"cursor": ["Invalid cursor; use the next or previous link as given"]}


@pytest.mark.parametrize("path", ["/api/v1/profiles/", "/api/v1/accounts/"])
def test_every_link_of_a_list_pages_both_ways(client, tenant, read_client, path):
    intempt_post(client, tenant, *({"userId": f"u{i}", "accountId": f"a{i}", "timestamp": 1_000} for i in range(5)))
    identity_drain()

    first = read_client.get(path, {"page_size": 2}).json()
    second = read_client.get(first["next"]).json()
    third = read_client.get(second["next"]).json()
    back = read_client.get(third["previous"]).json()

    assert [len(page["results"]) for page in (first, second, third)] == [2, 2, 1]
    assert back["results"] == second["results"]
    assert read_client.get(back["previous"]).json()["results"] == first["results"]

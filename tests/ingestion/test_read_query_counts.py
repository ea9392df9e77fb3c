"""The read API's queries per request do not grow with the rows on the page (no query
per event, profile or account). The read token's own lookup runs on a raw psycopg cursor
(``trackhub.db.request_first_fetchone``), which Django does not count."""

from __future__ import annotations

import pytest

from tests.profiles.conftest import identity_drain, intempt_post

pytestmark = pytest.mark.django_db

ROWS = 30  # well over any of the bounds below: a query per row would show


@pytest.fixture
def full_page(client, tenant, read_client):
    """ROWS events of ROWS people (each with an account and a second identifier), ROWS
    rejected events, all resolved; then one read so the token's last use is written."""
    intempt_post(
        client,
        tenant,
        *({"userId": f"u{i}", "anotherUserId": f"p{i}", "accountId": f"a{i}", "timestamp": 1_000 + i}
          for i in range(ROWS)),
        *({"userId": "", "eventId": f"bad{i}"} for i in range(ROWS)),
    )  # fmt: skip
    identity_drain()
    assert read_client.get("/api/v1/events/").status_code == 200


def read_all(read_client, url: str) -> int:
    response = read_client.get(url)
    assert response.status_code == 200, response.content
    if response.streaming:
        return len(b"".join(response.streaming_content).splitlines())
    body = response.json()
    return len(body["results"]) if "results" in body else 1


@pytest.mark.parametrize(
    ("url", "queries"),
    [
        ("/api/v1/events/", 2),  # the page, its profiles
        ("/api/v1/events/?name=Purchase&since=1970-01-01", 2),
        ("/api/v1/rejected-events/", 1),
        ("/api/v1/profiles/", 3),  # the page, its identifiers, its accounts
        ("/api/v1/accounts/", 3),  # the page, its identifiers, its members
        ("/api/v1/events/export.ndjson", 2),  # the chunk, its profiles
        ("/api/v1/events/export.csv", 2),
    ],
)
def test_a_list_of_many_rows_costs_a_fixed_number_of_queries(
    read_client, full_page, django_assert_max_reads, url, queries
):
    with django_assert_max_reads(queries):
        rows = read_all(read_client, url)

    assert rows >= ROWS


@pytest.fixture
def busy_profile(client, tenant, read_client, full_page) -> int:
    """The id of u0's profile, given ROWS more events: its pages hold many rows."""
    intempt_post(client, tenant, *({"userId": "u0", "eventId": f"u0-{i}", "timestamp": 2_000 + i} for i in range(ROWS)))
    identity_drain()
    return read_client.get("/api/v1/profiles/", {"identifier": "u0"}).json()["results"][0]["id"]


def test_a_profile_s_events_cost_a_fixed_number_of_queries(read_client, busy_profile, django_assert_max_reads):
    with django_assert_max_reads(4):  # the profile, its identifiers, the page, its profiles
        rows = read_all(read_client, f"/api/v1/profiles/{busy_profile}/events/")

    assert rows > ROWS  # the fixture's event and the ROWS more


def test_the_events_filtered_by_profile_cost_a_fixed_number_of_queries(
    read_client, busy_profile, django_assert_max_reads
):
    with django_assert_max_reads(4):
        rows = read_all(read_client, f"/api/v1/events/?profile={busy_profile}")

    assert rows > ROWS

"""The events of a giant profile: a shared identifier ("unknown", a shared device id) joins
thousands of people into one profile. Its events are those of every identifier, however
many, and the query selects them by a subquery instead of naming each identifier (which
PostgreSQL took longer to plan than to run)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from profiles.selectors import IDENTIFIERS_NAMED_MAX
from tests.profiles.conftest import giant_profile_make, intempt_post

pytestmark = pytest.mark.django_db


def _post_events_of_three_people(client, tenant, *, last_identifier: str) -> None:
    intempt_post(client, tenant, {"eventId": "first", "userId": "person-0", "timestamp": 1_000})
    intempt_post(client, tenant, {"eventId": "last", "userId": last_identifier, "timestamp": 3_000})
    intempt_post(client, tenant, {"eventId": "stranger", "userId": "someone-else", "timestamp": 2_000})


@pytest.mark.parametrize("identifiers", [3, IDENTIFIERS_NAMED_MAX + 1], ids=["few identifiers", "past the list"])
def test_a_profiles_events_are_those_of_every_identifier_however_many(client, tenant, read_client, identifiers):
    profile = giant_profile_make(tenant, prefix="person", identifiers=identifiers, merged=0)
    _post_events_of_three_people(client, tenant, last_identifier=f"person-{identifiers - 1}")

    listed = read_client.get(f"/api/v1/profiles/{profile.id}/events/")
    filtered = read_client.get("/api/v1/events/", {"profile": profile.id})

    assert listed.status_code == filtered.status_code == 200
    assert [event["event_id"] for event in listed.json()["results"]] == ["last", "first"]
    assert [event["event_id"] for event in filtered.json()["results"]] == ["last", "first"]


def test_a_giant_profiles_events_query_names_no_identifier(client, tenant, read_client):
    identifiers = IDENTIFIERS_NAMED_MAX + 1
    profile = giant_profile_make(tenant, prefix="person", identifiers=identifiers, merged=0)
    _post_events_of_three_people(client, tenant, last_identifier=f"person-{identifiers - 1}")

    with CaptureQueriesContext(connection) as captured:
        response = read_client.get(f"/api/v1/profiles/{profile.id}/events/")

    assert response.status_code == 200
    [events_query] = [q["sql"] for q in captured.captured_queries if q["sql"].startswith('SELECT "ingestion_event"')]
    assert "profiles_identity" in events_query  # the subquery
    assert "person-" not in events_query

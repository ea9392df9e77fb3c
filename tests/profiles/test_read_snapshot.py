"""Each read API answer is one snapshot (``trackhub.db.read_snapshot``): a merge
committed between its queries does not show half-applied. These tests commit for real
(``transaction=True``): inside a test's own transaction the snapshot is only a savepoint."""

from __future__ import annotations

import pytest

from profiles.models import Profile
from tests.profiles.conftest import identity_drain, intempt_post, merge_committed_before_the_first_query_on

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ann_and_bob(client, tenant):
    """Two people, Ann seen first (so she survives their merge)."""
    intempt_post(client, tenant, {"userId": "ann", "eventId": "e1", "timestamp": 1_000})
    intempt_post(client, tenant, {"userId": "bob", "eventId": "e2", "timestamp": 2_000})
    identity_drain()
    return Profile.objects.get(identities__value="ann"), Profile.objects.get(identities__value="bob")


def read_while_bob_is_merged_into_ann(read_client, tenant, path: str):
    """GET ``path``, Bob's merge into Ann committing after its first query (his profile)."""
    with merge_committed_before_the_first_query_on(
        "profiles_identity", tenant=tenant, link={"userId": "ann", "anotherUserId": "bob", "eventId": "e3"}
    ):
        return read_client.get(path)


def test_a_profile_read_while_it_is_merged_away_shows_it_whole_as_it_was(tenant, read_client, ann_and_bob):
    _, bob = ann_and_bob

    response = read_while_bob_is_merged_into_ann(read_client, tenant, f"/api/v1/profiles/{bob.id}/")

    assert response.status_code == 200
    assert response.json()["identifiers"] == ["bob"]  # not [] (the identities moved in between)
    assert Profile.objects.get(id=bob.id).merged_into_id is not None  # the merge did commit meanwhile


def test_a_profiles_events_read_while_it_is_merged_away_are_its_events_as_they_were(tenant, read_client, ann_and_bob):
    _, bob = ann_and_bob

    response = read_while_bob_is_merged_into_ann(read_client, tenant, f"/api/v1/profiles/{bob.id}/events/")

    assert response.status_code == 200
    assert [event["event_id"] for event in response.json()["results"]] == ["e2"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/events/",
        "/api/v1/events/?profile={profile}",
        "/api/v1/rejected-events/",
        "/api/v1/profiles/",
        "/api/v1/profiles/?identifier=ann",
        "/api/v1/profiles/{profile}/",
        "/api/v1/profiles/{profile}/events/",
        "/api/v1/accounts/",
        "/api/v1/events/export.ndjson",
        "/api/v1/events/export.csv",
    ],
)
def test_every_read_endpoint_answers_in_its_read_only_snapshot(read_client, ann_and_bob, path):
    ann, _ = ann_and_bob

    response = read_client.get(path.format(profile=ann.id))

    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"ann" in body or path.startswith(("/api/v1/rejected-events/", "/api/v1/accounts/"))

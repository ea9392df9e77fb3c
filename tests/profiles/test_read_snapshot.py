"""Each read API answer is one snapshot (``trackhub.db.read_snapshot``): a merge
committed between its queries does not show half-applied. These tests commit for real
(``transaction=True``): inside a test's own transaction the snapshot is only a savepoint."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from profiles.models import Profile
from tests.profiles.conftest import (
    READ_SNAPSHOT_SQL,
    assert_read_in_one_snapshot,
    merge_committed_before_the_first_query_on,
)

pytestmark = pytest.mark.django_db(transaction=True)


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


# The tables whose rows an answer is made of: all read in its one snapshot.
DATA_TABLES = ('"ingestion_event"', '"ingestion_rejectedevent"', '"profiles_')


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/api/v1/events/", b'"ann"'),
        ("/api/v1/events/?profile={profile}", b'"ann"'),
        ("/api/v1/rejected-events/", b'"ann-rejected"'),
        ("/api/v1/profiles/", b'"ann"'),
        ("/api/v1/profiles/?identifier=ann", b'"ann"'),
        ("/api/v1/profiles/{profile}/", b'"ann"'),
        ("/api/v1/profiles/{profile}/events/", b'"ann"'),
        ("/api/v1/accounts/", b'"acme"'),
    ],
)
def test_every_read_endpoint_answers_in_its_read_only_snapshot(read_client, ann_and_bob, path, shown):
    ann, _ = ann_and_bob

    with CaptureQueriesContext(connection) as captured:
        response = read_client.get(path.format(profile=ann.id))

    assert response.status_code == 200, response.content
    assert shown in response.content
    assert_read_in_one_snapshot(captured.captured_queries, tables=DATA_TABLES)


@pytest.mark.parametrize("path", ["/api/v1/events/export.ndjson", "/api/v1/events/export.csv"])
def test_an_export_reads_its_chunks_without_holding_a_snapshot(read_client, ann_and_bob, path):
    # By design (ingestion.api.export): each chunk is its own query, no transaction held
    # between them, so an export of any length works through PgBouncer.
    with CaptureQueriesContext(connection) as captured:
        response = read_client.get(path)
        body = b"".join(response.streaming_content)

    assert response.status_code == 200
    assert b"ann" in body and b"e1" in body
    assert READ_SNAPSHOT_SQL not in [query["sql"] for query in captured.captured_queries]

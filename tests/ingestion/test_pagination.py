"""Keyset cursor pages on (timestamp, id) over /api/v1/events/ while events keep arriving."""

from __future__ import annotations

import base64
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingestion.api.pagination import Cursor, cursor_encode
from ingestion.models import Event
from tests.ingestion.bulk import bulk_events, rows_removed_by_filters

pytestmark = pytest.mark.django_db

BASE_MS = 1714631904000


def track(client, tenant, *events: tuple[str, int]) -> None:
    """Store events (event id, timestamp ms) through the Intempt endpoint."""
    body = {
        "track": [{"name": "E", "payload": [{"eventId": eid, "userId": "u", "timestamp": ts} for eid, ts in events]}]
    }
    response = client.post(tenant.intempt_url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content


def walk(read_client, url: str, key: str = "next") -> list[str]:
    seen: list[str] = []
    while url:
        response = read_client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [e["event_id"] for e in body["results"]]
        url = body[key]
    return seen


def test_pages_walk_newest_first_through_equal_timestamps(client, tenant, read_client):
    # Six events on two timestamps: ties are broken by id, so page edges never split wrongly.
    track(client, tenant, *[(f"a{n}", BASE_MS) for n in range(3)], *[(f"b{n}", BASE_MS + 1) for n in range(3)])

    seen = walk(read_client, "/api/v1/events/?page_size=2")

    assert seen == ["b2", "b1", "b0", "a2", "a1", "a0"]


def test_inserts_between_page_fetches_cause_no_duplicates_or_skips(client, tenant, read_client):
    track(client, tenant, *[(f"e{n}", BASE_MS + n * 1000) for n in range(10)])
    first = read_client.get("/api/v1/events/?page_size=3").json()
    assert [e["event_id"] for e in first["results"]] == ["e9", "e8", "e7"]

    # Arriving meanwhile: a newer event, one back-dated into the part not read yet, one
    # back-dated into the part already read, and one on the exact timestamp of the cursor.
    track(client, tenant, ("newer", BASE_MS + 60_000), ("late", BASE_MS + 2500), ("seen-range", BASE_MS + 8500))
    track(client, tenant, ("tie", BASE_MS + 7000))

    rest = walk(read_client, first["next"])

    # The tie was inserted later, so its id is greater than e7's: it sorts before e7 in
    # (timestamp, id) descending order and belongs to the part already read.
    assert rest == ["e6", "e5", "e4", "e3", "late", "e2", "e1", "e0"]
    assert len(rest) == len(set(rest))


def test_previous_link_walks_back_to_the_first_page(client, tenant, read_client):
    track(client, tenant, *[(f"e{n}", BASE_MS + n) for n in range(7)])
    page1 = read_client.get("/api/v1/events/?page_size=3").json()
    page2 = read_client.get(page1["next"]).json()
    page3 = read_client.get(page2["next"]).json()
    assert page1["previous"] is None and page3["next"] is None

    back2 = read_client.get(page3["previous"]).json()
    back1 = read_client.get(back2["previous"]).json()

    assert [e["event_id"] for e in back2["results"]] == ["e3", "e2", "e1"]
    assert [e["event_id"] for e in back1["results"]] == ["e6", "e5", "e4"]
    assert back1["previous"] is None


def test_previous_from_the_first_page_position_shows_newer_arrivals(client, tenant, read_client):
    track(client, tenant, *[(f"e{n}", BASE_MS + n) for n in range(4)])
    page1 = read_client.get("/api/v1/events/?page_size=2").json()
    page2 = read_client.get(page1["next"]).json()
    track(client, tenant, ("newest", BASE_MS + 100))

    back = read_client.get(page2["previous"]).json()

    assert [e["event_id"] for e in back["results"]] == ["e3", "e2"]
    assert back["previous"] is not None
    assert [e["event_id"] for e in read_client.get(back["previous"]).json()["results"]] == ["newest"]


def test_ascending_ordering_walks_oldest_first(client, tenant, read_client):
    track(client, tenant, *[(f"e{n}", BASE_MS + n) for n in range(5)])

    assert walk(read_client, "/api/v1/events/?ordering=timestamp&page_size=2") == ["e0", "e1", "e2", "e3", "e4"]


def test_filters_are_kept_in_next_links(client, tenant, read_client):
    track(client, tenant, *[(f"e{n}", BASE_MS + n) for n in range(5)])

    assert walk(read_client, f"/api/v1/events/?page_size=2&since={BASE_MS + 1}&until={BASE_MS + 4}") == [
        "e3",
        "e2",
        "e1",
    ]


LISTS = ["/api/v1/events/", "/api/v1/rejected-events/", "/api/v1/profiles/", "/api/v1/accounts/"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("cursor", ["garbage", "eyJ0IjoxfQ", "e30"])
def test_invalid_cursor_is_400(read_client, cursor, path):
    response = read_client.get(f"{path}?cursor={cursor}")

    assert response.status_code == 400
    assert "cursor" in response.json()


def _forged(data: str) -> str:
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/api/v1/events/", "/api/v1/rejected-events/"])
@pytest.mark.parametrize(
    "cursor",
    [
        _forged('{"t":1,"i":5,"b":7}'),
        _forged('{"t":1,"i":5,"b":0,"x":1}'),
        _forged('{"t": 1, "i": 5, "b": 0}'),
        "!!!!" + _forged('{"t":1,"i":5,"b":0}'),
    ],
)
def test_a_cursor_the_list_never_wrote_is_400(read_client, path, cursor):
    # Each decoded to a position (base64 skips the "!"s), so it answered a page.
    response = read_client.get(path, {"cursor": cursor})

    assert response.status_code == 400, response.content
    assert response.json() == {"cursor": ["Invalid cursor; use the next or previous link as given"]}


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("query", ["page_size=0", "page_size=1001", "page_size=x"])
def test_bad_page_size_is_400_on_every_list(read_client, path, query):
    response = read_client.get(f"{path}?{query}")

    assert response.status_code == 400
    assert "page_size" in response.json()


@pytest.mark.parametrize("query", ["page_size=0", "page_size=1001", "page_size=x", "ordering=name"])
def test_bad_page_size_or_ordering_is_400(read_client, query):
    assert read_client.get(f"/api/v1/events/?{query}").status_code == 400


def test_rejected_events_page_by_received_at(client, tenant, read_client):
    for n in range(5):
        body = {"track": [{"name": "Bad", "payload": [{"eventId": f"r{n}"}]}]}
        client.post(tenant.intempt_url, data=json.dumps(body), content_type="application/json")

    seen: list[str] = []
    url = "/api/v1/rejected-events/?page_size=2"
    while url:
        body = read_client.get(url).json()
        seen += [r["payload"]["payload"][0]["eventId"] for r in body["results"]]
        url = body["next"]

    assert seen == ["r4", "r3", "r2", "r1", "r0"]


def test_a_deep_page_reads_only_its_own_rows(tenant, read_client):
    bulk_events(tenant, 20_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ingestion_event")
    deep = Event.objects.filter(project_id=tenant.project.id).order_by("-timestamp", "-id")[15_000]
    cursor_token = cursor_encode(Cursor(time=deep.timestamp, id=deep.id, backwards=False))

    with CaptureQueriesContext(connection) as captured:
        response = read_client.get(f"/api/v1/events/?page_size=1000&cursor={cursor_token}")

    assert response.status_code == 200
    assert response.json()["results"][0]["event_id"] == f"bulk-{20_000 - 15_001}"
    (page_query,) = [query["sql"] for query in captured if query["sql"].endswith("LIMIT 1001")]
    # The page starts at the cursor in the index instead of reading the 15,000 rows before it.
    assert rows_removed_by_filters(page_query) < 100


def track_as(client, tenant, user: str, *events: tuple[str, int]) -> None:
    """Store events (event id, timestamp ms) of ``user`` through the Intempt endpoint."""
    body = {
        "track": [{"name": "E", "payload": [{"eventId": eid, "userId": user, "timestamp": ts} for eid, ts in events]}]
    }
    response = client.post(tenant.intempt_url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content


def test_previous_of_a_page_left_empty_by_an_erasure_leads_back_to_the_row_its_cursor_names(
    client, tenant, read_client
):
    from profiles.services import profile_erase

    track_as(client, tenant, "kept", *[(f"k{n}", BASE_MS + 10 + n) for n in range(3)])
    track_as(client, tenant, "gone", *[(f"g{n}", BASE_MS + n) for n in range(3)])
    page1 = read_client.get("/api/v1/events/?page_size=3").json()
    assert [e["event_id"] for e in page1["results"]] == ["k2", "k1", "k0"]
    # The rest of the walk is erased before it is read: the next page is empty.
    assert profile_erase(project_id=tenant.project.id, identifier="gone") is not None

    page2 = read_client.get(page1["next"]).json()
    assert page2["results"] == [] and page2["next"] is None

    # Its previous page is the one read before, k0 (the row the cursor names) included.
    back = read_client.get(page2["previous"]).json()
    assert [e["event_id"] for e in back["results"]] == ["k2", "k1", "k0"]


@pytest.mark.parametrize("ordering", ["", "&ordering=timestamp"])
def test_next_of_a_previous_page_left_empty_by_an_erasure_leads_back_to_the_row_its_cursor_names(
    client, tenant, read_client, ordering
):
    from profiles.services import profile_erase

    newest_first = not ordering
    track_as(client, tenant, "gone" if newest_first else "kept", *[(f"a{n}", BASE_MS + 10 + n) for n in range(3)])
    track_as(client, tenant, "kept" if newest_first else "gone", *[(f"b{n}", BASE_MS + n) for n in range(3)])
    page1 = read_client.get(f"/api/v1/events/?page_size=3{ordering}").json()
    page2 = read_client.get(page1["next"]).json()
    kept = [e["event_id"] for e in page2["results"]]
    assert profile_erase(project_id=tenant.project.id, identifier="gone") is not None

    back = read_client.get(page2["previous"]).json()
    assert back["results"] == [] and back["previous"] is None

    # Its next page is the one read before, from the row the cursor names (its first) on.
    assert [e["event_id"] for e in read_client.get(back["next"]).json()["results"]] == kept


def test_previous_of_a_cursor_reused_with_a_filter_that_leaves_nothing_after_it_includes_its_row(
    client, tenant, read_client
):
    track_as(client, tenant, "ann", *[(f"ann{n}", BASE_MS + 10 + n) for n in range(3)])
    track_as(client, tenant, "bob", *[(f"bob{n}", BASE_MS + n) for n in range(3)])
    page1 = read_client.get("/api/v1/events/?page_size=3").json()
    cursor = page1["next"].split("cursor=")[1].split("&")[0]

    # Ann has nothing older than the cursor (her ann0): an empty page.
    filtered = read_client.get(f"/api/v1/events/?page_size=3&user_id=ann&cursor={cursor}").json()
    assert filtered["results"] == []

    back = read_client.get(filtered["previous"]).json()
    assert [e["event_id"] for e in back["results"]] == ["ann2", "ann1", "ann0"]

"""GET /api/v1/events/ with a read token."""

from __future__ import annotations

import json

import pytest

from ingestion.services import access_token_create
from tests.seeds import seed_body

pytestmark = pytest.mark.django_db


def ingest(client, tenant, body: bytes | dict) -> None:
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    response = client.post(tenant.intempt_url, data=body, content_type="application/json")
    assert response.status_code == 200, response.content


def test_event_reads_back_with_every_field(client, tenant, read_client):
    ingest(client, tenant, seed_body("intempt_curl.json"))

    response = read_client.get("/api/v1/events/")

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None and body["previous"] is None
    (event,) = body["results"]
    assert {k: v for k, v in event.items() if k not in {"id", "received_at"}} == {
        "name": "Purchase",
        "namespace": None,
        "event_id": "generated-event-id",
        "timestamp": "2024-05-02T06:38:24.000Z",
        "user_id": "custom@intempt.com",
        "profile_id": "generated-profile-id",
        "anonymous_id": None,
        "account_id": "Intempt",
        "session_id": "generated-session-id",
        "page_id": "generated-page-id",
        "properties": {"amount": 150, "productName": "Wine", "quantity": 4, "locationLatitude": 51.509865},
        "context": {
            "anotherUserId": "+111111111",
            "anotherAccountId": "no-reply@intempt.com",
            "userAttributes": {"location": "USA"},
            "accountAttributes": {"founded": 2000},
        },
        "source_id": tenant.source.id,
        "wire_format": "intempt",
        "profile": event["profile"],
    }
    assert event["received_at"].endswith("Z") and len(event["received_at"]) == 24


def test_events_are_newest_first(client, tenant, read_client):
    ingest(client, tenant, seed_body("intempt_example_3.json"))

    names = [e["name"] for e in read_client.get("/api/v1/events/").json()["results"]]

    assert names == ["Purchase", "Signup"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name=Signup", ["evt_signup_001"]),
        ("user_id=user1@example.com", ["evt_purchase_001"]),
        ("session_id=sess_002", ["evt_purchase_002"]),
        ("since=1714631904000", ["evt_purchase_002", "evt_purchase_003", "evt_purchase_001"]),
        ("until=2024-05-02T06:38:24Z", ["evt_signup_001"]),
        ("property=productName&value=Beer", ["evt_purchase_002"]),
        ("property=amount&value=120", ["evt_purchase_003"]),
        ("wire_format=intempt&name=Nope", []),
    ],
)
def test_filters(client, tenant, read_client, query, expected):
    ingest(client, tenant, seed_body("intempt_example_2.json"))
    ingest(client, tenant, seed_body("intempt_example_3.json"))

    response = read_client.get(f"/api/v1/events/?{query}")

    assert response.status_code == 200
    assert [e["event_id"] for e in response.json()["results"]] == expected


def test_cursor_pages_cover_every_event_once(client, tenant, read_client):
    for n in range(5):
        ingest(
            client,
            tenant,
            {"track": [{"name": "N", "payload": [{"eventId": str(n), "userId": "u", "timestamp": 1714631904000}]}]},
        )

    seen: list[str] = []
    url = "/api/v1/events/?page_size=2"
    while url:
        body = read_client.get(url).json()
        seen += [e["event_id"] for e in body["results"]]
        url = body["next"]

    assert sorted(seen) == ["0", "1", "2", "3", "4"]


def test_read_token_sees_only_its_project(client, tenant, other_tenant):
    ingest(client, tenant, seed_body("intempt_example_1.json"))
    other = client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Bearer {other_tenant.read_token}")

    assert other.status_code == 200
    assert other.json()["results"] == []


@pytest.mark.parametrize("header", [None, "Bearer nope.nope", "Token x"])
def test_missing_or_bad_read_token_is_401(client, tenant, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    assert client.get("/api/v1/events/", **extra).status_code == 401


def test_track_token_cannot_read(client, tenant):
    response = client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Bearer {tenant.bearer_token}")

    assert response.status_code == 401


def test_token_without_scope_cannot_read(client, tenant):
    _, token = access_token_create(project=tenant.project, scopes=[])

    assert client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_bad_since_is_400(read_client):
    assert read_client.get("/api/v1/events/?since=yesterday").status_code == 400

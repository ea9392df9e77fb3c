"""The Userpilot-style endpoint ``POST /v1/track`` through its URL (seed 004)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from ingestion.models import Event, RejectedEvent
from tests.ingestion.track_formats import USERPILOT
from tests.seeds import seed_body

pytestmark = pytest.mark.django_db


def post(client, tenant, body, **extra):
    return USERPILOT.post(client, tenant, body, **extra)


def test_seed_example_is_accepted_with_202(client, tenant):
    response = post(client, tenant, seed_body("userpilot_example.json"))

    assert response.status_code == 202
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}
    assert Event.objects.filter(wire_format="userpilot").count() == 1


def test_the_event_reads_back_with_every_field(client, tenant, read_client):
    before = timezone.now()
    post(client, tenant, seed_body("userpilot_example.json"))

    (event,) = read_client.get("/api/v1/events/", {"wire_format": "userpilot"}).json()["results"]

    assert event["event_id"]
    assert event["timestamp"] == event["received_at"]
    assert Event.objects.get().timestamp >= before
    assert {k: v for k, v in event.items() if k not in {"id", "received_at", "event_id", "timestamp", "profile"}} == {
        "name": "schedule_appointment",
        "namespace": None,
        "user_id": "user_789456",
        "profile_id": None,
        "anonymous_id": None,
        "account_id": None,
        "session_id": None,
        "page_id": None,
        "properties": json.loads(seed_body("userpilot_example.json"))["metadata"],
        "context": {},
        "source_id": tenant.source.id,
        "wire_format": "userpilot",
    }


def test_each_request_is_a_new_event(client, tenant):
    post(client, tenant, seed_body("userpilot_example.json"))
    post(client, tenant, seed_body("userpilot_example.json"))

    assert Event.objects.count() == 2
    assert len(set(Event.objects.values_list("event_id", flat=True))) == 2


@pytest.mark.parametrize(
    ("event", "field", "message"),
    [
        ({"event_name": "x"}, "user_id", "user_id is required"),
        ({"user_id": "", "event_name": "x"}, "user_id", "user_id is required"),
        ({"user_id": 42, "event_name": "x"}, "user_id", "user_id must be a string"),
        ({"user_id": "u"}, "event_name", "event_name is required"),
        ({"user_id": "u", "event_name": ""}, "event_name", "event_name is required"),
        ({"user_id": "u", "event_name": "x", "metadata": "m"}, "metadata", "metadata must be a JSON object"),
    ],
)
def test_event_level_problem_is_400_in_the_seeds_errors_shape_naming_the_field(client, tenant, event, field, message):
    response = post(client, tenant, event)

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "details": f"Event at index 0: {message}",
                "error": "bad_request",
                "error_code": "INVALID_FIELD",
                "message": message,
                "index": 0,
                "field": field,
            }
        ]
    }
    assert RejectedEvent.objects.get().payload == event


def test_request_level_error_keeps_the_seeds_keys(client, tenant):
    response = post(client, tenant, b"{oops")

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert set(error) == {"details", "error", "error_code", "message"}
    assert error["error_code"] == "INVALID_BODY"
    assert "not valid JSON" in error["details"]


@pytest.mark.parametrize(
    ("authorization", "error_code"),
    [("", "MISSING_API_KEY"), ("Token nope", "INVALID_API_KEY"), ("Token ABC_1234_EFGH_5678", "INVALID_API_KEY")],
)
def test_missing_or_invalid_api_key_is_401_naming_authorization(client, tenant, authorization, error_code):
    response = post(client, tenant, seed_body("userpilot_example.json"), authorization=authorization)

    assert response.status_code == 401
    (error,) = response.json()["errors"]
    assert error["error"] == "unauthorized"
    assert error["error_code"] == error_code
    assert "Authorization" in error["message"]


def test_an_array_is_taken_as_a_batch(client, tenant):
    example = json.loads(seed_body("userpilot_example.json"))
    response = post(client, tenant, [example, {**example, "user_id": ""}])

    assert response.status_code == 202
    assert [(item["index"], item["field"]) for item in response.json()["rejected"]] == [(1, "user_id")]
    assert Event.objects.count() == 1


def test_unlisted_fields_are_kept_in_context(client, tenant):
    body = {**json.loads(seed_body("userpilot_example.json")), "timestamp": 1700000000000, "company_id": "c-1"}
    post(client, tenant, body)

    event = Event.objects.get()
    assert event.context == {"timestamp": 1700000000000, "company_id": "c-1"}
    assert event.account_id is None


def test_a_key_sent_with_the_bearer_scheme_is_401_naming_the_token_scheme(client, tenant):
    response = client.post(
        "/v1/track", data=json.dumps({"user_id": "u", "event_name": "x"}), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {tenant.api_key}",
    )  # fmt: skip

    assert response.status_code == 401
    (error,) = response.json()["errors"]
    assert error["error_code"] == "MISSING_API_KEY" and "Token <API key>" in error["message"]
    assert Event.objects.count() == 0

"""The ThriveStack-style endpoint ``POST /api/track`` through its URL (seed 002)."""

from __future__ import annotations

import json
import uuid

import pytest

from ingestion.models import Event, RejectedEvent
from ingestion.services import access_token_create
from tests.ingestion.track_formats import THRIVESTACK
from tests.seeds import seed_body

pytestmark = pytest.mark.django_db

DOCS_TIMESTAMP = "20-11-23T22:28:55.111Z"
FIXED_TIMESTAMP = "2023-11-20T22:28:55.111Z"
EXPECTED = f"ISO 8601 with a 4-digit year in UTC, e.g. {FIXED_TIMESTAMP}"


def post(client, tenant, body, **extra):
    return THRIVESTACK.post(client, tenant, body, **extra)


def seed_with_fixed_timestamp(name: str) -> bytes:
    body = seed_body(name)
    assert DOCS_TIMESTAMP.encode() in body
    return body.replace(DOCS_TIMESTAMP.encode(), FIXED_TIMESTAMP.encode())


@pytest.mark.parametrize("seed", ["thrivestack_example.json", "thrivestack_curl.json"])
def test_seed_body_verbatim_gets_400_naming_timestamp_with_the_expected_form(client, tenant, seed):
    response = post(client, tenant, seed_body(seed))

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert uuid.UUID(body["response_id"])
    assert body["message"] == "Bad Request, invalid input data"  # the docs' text; errors say why
    assert body["errors"] == [
        {
            "index": 0,
            "field": "timestamp",
            "message": f"timestamp '{DOCS_TIMESTAMP}' is not valid: expected ISO 8601 with a 4-digit year in UTC, "
            f"e.g. {FIXED_TIMESTAMP}",
        }
    ]
    assert Event.objects.count() == 0
    rejected = RejectedEvent.objects.get()
    assert (rejected.wire_format, rejected.field) == ("thrivestack", "timestamp")
    assert rejected.payload == json.loads(seed_body(seed))[0]


@pytest.mark.parametrize("seed", ["thrivestack_example.json", "thrivestack_curl.json"])
def test_seed_body_with_a_valid_timestamp_gets_the_docs_success_body(client, tenant, seed):
    response = post(client, tenant, seed_with_fixed_timestamp(seed))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "response_id", "message"}
    assert body["success"] is True
    assert body["message"] == "Event tracked successfully"
    assert str(uuid.UUID(body["response_id"])) == body["response_id"]
    assert Event.objects.filter(wire_format="thrivestack").count() == 1


def test_each_request_gets_its_own_response_id(client, tenant):
    first = post(client, tenant, seed_with_fixed_timestamp("thrivestack_curl.json")).json()["response_id"]
    second = post(client, tenant, seed_with_fixed_timestamp("thrivestack_curl.json")).json()["response_id"]

    assert first != second


def test_error_answers_carry_the_request_response_id(client, tenant):
    response = post(client, tenant, b"not json")

    assert response.status_code == 400
    assert uuid.UUID(response.json()["response_id"])


def test_response_id_is_the_request_id_of_the_logs_and_header(client, tenant):
    response = post(client, tenant, seed_with_fixed_timestamp("thrivestack_curl.json"))

    assert response.json()["response_id"] == response["X-Request-ID"]


def test_a_client_request_id_that_is_a_uuid_becomes_the_response_id(client, tenant):
    sent = str(uuid.uuid4())

    response = post(client, tenant, b"not json", HTTP_X_REQUEST_ID=sent)

    assert response.json()["response_id"] == sent == response["X-Request-ID"]


def test_a_request_level_400_keeps_the_docs_message_and_says_what_was_wrong_in_errors(client, tenant):
    response = post(client, tenant, b"")

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Bad Request, invalid input data"
    (error,) = body["errors"]
    assert "index" not in error and "empty" in error["message"]


def test_an_event_level_400_keeps_the_docs_message_and_lists_the_problems_in_errors(client, tenant):
    response = post(client, tenant, b'[{"event_name": "x", "timestamp": "2024-01-01T00:00:00Z"}]')

    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Bad Request, invalid input data"
    assert body["errors"] == [{"index": 0, "field": "user_id", "message": "user_id is required"}]
    assert Event.objects.count() == 0
    assert RejectedEvent.objects.count() == 1  # kept for replay


def test_a_retried_request_is_stored_once(client, tenant):
    first = post(client, tenant, seed_with_fixed_timestamp("thrivestack_curl.json"))
    second = post(client, tenant, seed_with_fixed_timestamp("thrivestack_curl.json"))

    assert first.status_code == second.status_code == 200
    assert second.json()["success"] is True
    assert Event.objects.count() == 1


def test_a_changed_event_is_another_event(client, tenant):
    event = THRIVESTACK.event(1)
    post(client, tenant, [event])
    post(client, tenant, [{**event, "properties": {"n": 2}}])

    assert Event.objects.count() == 2


def test_the_event_reads_back_with_every_field(client, tenant, read_client):
    post(client, tenant, seed_with_fixed_timestamp("thrivestack_example.json"))

    (event,) = read_client.get("/api/v1/events/", {"wire_format": "thrivestack"}).json()["results"]

    assert event["event_id"].startswith("th-")
    assert {k: v for k, v in event.items() if k not in {"id", "received_at", "event_id", "profile"}} == {
        "name": "signed_up",
        "namespace": None,
        "timestamp": "2023-11-20T22:28:55.111Z",
        "user_id": "3e474abe-5943-41fd-8b7b-4c87ad95b0c7",
        "profile_id": None,
        "anonymous_id": None,
        "account_id": "55444abe-41fd-5943-d95b-4c87ad95b674",
        "session_id": None,
        "page_id": None,
        "properties": {"email": "JohnDoe@acmelabs.com", "name": "John Doe", "first name": "John", "last name": "Doe"},
        "context": {"group_id": "55444abe-41fd-5943-d95b-4c87ad95b674"},
        "source_id": tenant.source.id,
        "wire_format": "thrivestack",
    }


def test_context_keys_are_kept_as_they_are_beside_unlisted_fields(client, tenant):
    event = {
        **THRIVESTACK.event(1),
        "source": "backend",
        "context": {"group_id": "acct-1", "device_id": "d-1", "session_id": "s-1", "page": {"url": "/x"}},
    }
    post(client, tenant, [event])

    stored = Event.objects.get()
    assert stored.context == {
        "source": "backend",
        "group_id": "acct-1",
        "device_id": "d-1",
        "session_id": "s-1",
        "page": {"url": "/x"},
    }
    assert stored.account_id == "acct-1"


def test_without_group_id_there_is_no_account(client, tenant):
    post(client, tenant, [{**THRIVESTACK.event(1), "context": {"device_id": "d-1"}}])

    assert Event.objects.get().account_id is None


@pytest.mark.parametrize(
    ("timestamp", "stored"),
    [
        ("2023-11-20T22:28:55.111Z", "2023-11-20T22:28:55.111000+00:00"),
        ("2023-11-20T23:28:55.111+01:00", "2023-11-20T22:28:55.111000+00:00"),
        ("2023-11-20T22:28:55", "2023-11-20T22:28:55+00:00"),
        (" 2023-11-20T22:28:55.111Z", "2023-11-20T22:28:55.111000+00:00"),
        ("2023-11-20T22:28:55.111Z ", "2023-11-20T22:28:55.111000+00:00"),
    ],
)
def test_iso_timestamps_are_stored_in_utc(client, tenant, timestamp, stored):
    response = post(client, tenant, [{**THRIVESTACK.event(1), "timestamp": timestamp}])

    assert response.status_code == 200
    assert Event.objects.get().timestamp.isoformat() == stored


@pytest.mark.parametrize(
    ("timestamp", "stored"),
    [
        ("20231120T222855Z", "2023-11-20T22:28:55+00:00"),
        ("20231120T222855.111Z", "2023-11-20T22:28:55.111000+00:00"),
        ("20231120T232855+0100", "2023-11-20T22:28:55+00:00"),
        ("20231120", "2023-11-20T00:00:00+00:00"),
    ],
)
def test_iso_8601_basic_format_timestamps_are_accepted(client, tenant, timestamp, stored):
    """ISO 8601's basic format (no separators) has the 4-digit year the docs' example lacks."""
    response = post(client, tenant, [{**THRIVESTACK.event(1), "timestamp": timestamp}])

    assert response.status_code == 200, response.json()
    assert Event.objects.get().timestamp.isoformat() == stored


@pytest.mark.parametrize("timestamp", ["1700519335111", "201120T222855Z", "2023112T222855Z"])
def test_digit_strings_that_are_not_a_basic_format_date_are_refused(client, tenant, timestamp):
    response = post(client, tenant, [{**THRIVESTACK.event(1), "timestamp": timestamp}])

    assert response.status_code == 400
    assert [problem["field"] for problem in response.json()["errors"]] == ["timestamp"]
    assert Event.objects.count() == 0
    assert RejectedEvent.objects.count() == 1  # kept for replay


@pytest.mark.parametrize(
    "timestamp", ["2023-11-20+05:00", "2023-11-20-05:00", "2023-11-20Z", "2023-11-20X22:28:55Z", "2023-11-20_22:28"]
)
def test_a_date_followed_by_anything_but_t_or_a_space_and_a_time_is_refused(client, tenant, timestamp):
    # Python's fromisoformat takes any one character after the date as the separator: an
    # offset on a date alone was read as a time of day ("+05:00": 05:00 UTC, ten hours
    # from the midnight at +05:00 it names), and any letter passed for the T.
    response = post(client, tenant, [{**THRIVESTACK.event(1), "timestamp": timestamp}])

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"index": 0, "field": "timestamp", "message": f"timestamp {timestamp!r} is not valid: expected {EXPECTED}"}
    ]
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    ("event", "field", "message"),
    [
        ({"user_id": "u", "timestamp": FIXED_TIMESTAMP}, "event_name", "event_name is required"),
        ({"event_name": "", "user_id": "u", "timestamp": FIXED_TIMESTAMP}, "event_name", "event_name is required"),
        ({"event_name": "x", "timestamp": FIXED_TIMESTAMP}, "user_id", "user_id is required"),
        ({"event_name": "x", "user_id": "", "timestamp": FIXED_TIMESTAMP}, "user_id", "user_id is required"),
        ({"event_name": "x", "user_id": 7, "timestamp": FIXED_TIMESTAMP}, "user_id", "user_id must be a string"),
        (
            {"event_name": "x", "user_id": "u"},
            "timestamp",
            f"timestamp is required: {EXPECTED}",
        ),
        (
            {"event_name": "x", "user_id": "u", "timestamp": 1700000000000},
            "timestamp",
            f"timestamp 1700000000000 is not valid: expected {EXPECTED}",
        ),
        (
            {"event_name": "x", "user_id": "u", "timestamp": FIXED_TIMESTAMP, "properties": []},
            "properties",
            "properties must be a JSON object",
        ),
        (
            {"event_name": "x", "user_id": "u", "timestamp": FIXED_TIMESTAMP, "context": "c"},
            "context",
            "context must be a JSON object",
        ),
        (
            {"event_name": "x", "user_id": "u", "timestamp": FIXED_TIMESTAMP, "context": {"group_id": 5}},
            "context.group_id",
            "context.group_id must be a string",
        ),
    ],
)
def test_event_level_problems_are_400_naming_the_field(client, tenant, event, field, message):
    response = post(client, tenant, [event])

    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 0, "field": field, "message": message}]
    assert Event.objects.count() == 0
    assert RejectedEvent.objects.count() == 1  # kept for replay


def test_partial_success_lists_the_rejected_events(client, tenant):
    response = post(client, tenant, [THRIVESTACK.event(1), {**THRIVESTACK.event(2), "timestamp": DOCS_TIMESTAMP}])

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["message"] == "Event tracked successfully"
    assert [(item["index"], item["field"]) for item in body["rejected"]] == [(1, "timestamp")]
    assert Event.objects.count() == 1


@pytest.mark.parametrize("scopes", [["track_api"], ["telemetry_apis"]])
def test_either_track_scope_is_enough(client, tenant, scopes):
    _, token = access_token_create(project=tenant.project, source=tenant.source, scopes=scopes)
    response = post(client, tenant, [THRIVESTACK.event(1)], authorization=f"Bearer {token}")

    assert response.status_code == 200
    assert response.json()["success"] is True
    event = Event.objects.get()
    assert (event.user_id, event.source_id) == ("user-1", tenant.source.id)


@pytest.mark.parametrize("authorization", ["", "Bearer", "Bearer nope", "Basic abc"])
def test_missing_or_invalid_token_answers_the_docs_401(client, tenant, authorization):
    response = post(client, tenant, [THRIVESTACK.event(1)], authorization=authorization)

    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False
    assert body["message"] == "Access token missing or invalid"
    assert uuid.UUID(body["response_id"])


def test_a_read_token_cannot_track(client, tenant):
    response = post(client, tenant, [THRIVESTACK.event(1)], authorization=f"Bearer {tenant.read_token}")

    assert response.status_code == 401
    assert Event.objects.count() == 0

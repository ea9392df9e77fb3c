"""The Databuddy-style endpoint ``POST /track`` through its URL (seed 003)."""

from __future__ import annotations

import json
import uuid

import pytest

from ingestion.models import ApiKey, Event, RejectedEvent, Website
from ingestion.services import api_key_create, source_ensure, website_create
from tests.seeds import seed_body

pytestmark = pytest.mark.django_db

SUCCESS_1 = {"status": "success", "type": "custom_event", "count": 1}
BAD_TIMESTAMP = "timestamp must be milliseconds since the epoch or an ISO 8601 string"
DOCS_WEBSITE_ID = "550e8400-e29b-41d4-a716-446655440000"


def post(client, tenant, body, *, query: str = "", **extra):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(f"/track{query}", data=data, content_type="application/json", **extra)


def post_key(client, tenant, body, *, query: str = "", **extra):
    return post(client, tenant, body, query=query, HTTP_AUTHORIZATION=f"Bearer {tenant.api_key}", **extra)


# --- the seed's examples, verbatim -----------------------------------------------------


def test_single_event_example_gets_the_docs_response(client, tenant):
    response = post_key(client, tenant, seed_body("databuddy_single.json"))

    assert response.status_code == 200
    assert response.json() == SUCCESS_1
    event = Event.objects.get()
    assert (event.name, event.anonymous_id, event.session_id) == ("button_clicked", "user-123", "session-456")


def test_multiple_events_example_gets_the_docs_response(client, tenant):
    response = post_key(client, tenant, seed_body("databuddy_multiple.json"))

    assert response.status_code == 200
    assert response.json() == {"status": "success", "type": "custom_event", "count": 2}
    assert sorted(Event.objects.values_list("name", flat=True)) == ["feature_used", "page_viewed"]


def test_website_id_example_with_the_tenants_website_is_accepted(client, tenant):
    response = post(client, tenant, seed_body("databuddy_website.json"), query=f"?website_id={tenant.website_id}")

    assert response.status_code == 200
    assert response.json() == SUCCESS_1
    assert Event.objects.get().source_id == tenant.source.id


def test_website_id_example_verbatim_names_an_unknown_website(client, tenant):
    response = post(client, tenant, seed_body("databuddy_website.json"), query=f"?website_id={DOCS_WEBSITE_ID}")

    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "Website not found"}
    assert Event.objects.count() == 0


def test_request_template_verbatim_is_refused_for_its_empty_timestamp(client, tenant):
    response = post_key(client, tenant, seed_body("databuddy_template.json"))

    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "message": "Invalid request body",
        "errors": [
            {
                "index": 0,
                "field": "timestamp",
                "message": "timestamp must be milliseconds since the epoch or an ISO 8601 string",
            }
        ],
    }
    assert Event.objects.count() == 0
    assert RejectedEvent.objects.count() == 1  # kept for replay


def test_request_template_without_timestamp_is_refused_for_its_placeholder_website(client, tenant):
    body = json.loads(seed_body("databuddy_template.json"))
    del body["timestamp"]
    response = post_key(client, tenant, body)

    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "Website not found"}
    assert Event.objects.count() == RejectedEvent.objects.count() == 0


# --- the docs' error messages with the contract's statuses --------------------------------


def test_invalid_body_is_400(client, tenant):
    response = post_key(client, tenant, b"{not json")

    assert response.status_code == 400
    body = response.json()
    assert (body["status"], body["message"]) == ("error", "Invalid request body")
    assert "not valid JSON" in body["errors"][0]["message"]


def test_no_key_and_no_website_id_is_401(client, tenant):
    response = post(client, tenant, seed_body("databuddy_single.json"))

    assert response.status_code == 401
    assert response.json() == {"status": "error", "message": "API key or website_id required"}


@pytest.mark.parametrize("key", ["nope", "key_0000.secret", "a.b.c"])
def test_unknown_key_is_401(client, tenant, key):
    response = post(client, tenant, seed_body("databuddy_single.json"), HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 401
    assert response.json() == {"status": "error", "message": "Invalid API key"}


def test_key_without_track_events_scope_is_403(client, tenant):
    stored, key = api_key_create(source=tenant.source)
    ApiKey.objects.filter(pk=stored.pk).update(scopes=[])  # stored before keys needed their scope
    response = post(client, tenant, seed_body("databuddy_single.json"), HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 403
    assert response.json() == {"status": "error", "message": "API key missing track:events scope"}
    assert Event.objects.count() == 0


@pytest.mark.parametrize("website_id", [DOCS_WEBSITE_ID, "not-a-uuid"])
def test_unknown_website_id_is_404(client, tenant, website_id):
    response = post(client, tenant, seed_body("databuddy_single.json"), query=f"?website_id={website_id}")

    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "Website not found"}


@pytest.mark.parametrize("website_id", [DOCS_WEBSITE_ID, "not-a-uuid", "<string>"])
def test_unknown_website_id_in_an_event_refuses_the_whole_request(client, tenant, website_id):
    body = [{"name": "ok"}, {"name": "ok", "websiteId": website_id}]
    response = post_key(client, tenant, body)

    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "Website not found"}
    assert Event.objects.count() == RejectedEvent.objects.count() == 0


def test_website_id_of_another_project_in_an_event_is_404(client, tenant, other_tenant):
    response = post_key(client, tenant, [{"name": "ok", "websiteId": other_tenant.website_id}])

    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "Website not found"}
    assert Event.objects.count() == 0


def test_website_id_of_another_source_in_the_same_project_is_accepted(client, tenant):
    sibling = source_ensure(project=tenant.project, source_id=tenant.source.id + 50_000)
    website = website_create(source=sibling)
    response = post_key(client, tenant, [{"name": "ok", "websiteId": str(website.id)}])

    assert response.status_code == 200
    assert Event.objects.get().source_id == tenant.source.id


def test_with_key_and_website_id_the_key_decides(client, tenant):
    sibling = source_ensure(project=tenant.project, source_id=tenant.source.id + 60_000)
    website = website_create(source=sibling)
    response = post_key(client, tenant, [{"name": "ok"}], query=f"?website_id={website.id}")

    assert response.status_code == 200
    assert Event.objects.get().source_id == tenant.source.id


def test_with_key_and_website_id_of_another_project_is_404(client, tenant, other_tenant):
    response = post_key(client, tenant, [{"name": "ok"}], query=f"?website_id={other_tenant.website_id}")

    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "Website not found"}
    assert Event.objects.count() == 0


def test_with_an_invalid_key_and_a_valid_website_id_the_key_decides(client, tenant):
    response = post(
        client, tenant, [{"name": "ok"}], query=f"?website_id={tenant.website_id}", HTTP_AUTHORIZATION="Bearer nope"
    )

    assert response.status_code == 401
    assert response.json() == {"status": "error", "message": "Invalid API key"}


# --- fields -----------------------------------------------------------------------------------


def test_every_field_reads_back(client, tenant, read_client):
    body = {
        "name": "button_clicked",
        "namespace": "ui",
        "timestamp": "2024-05-02T08:38:24.500+02:00",
        "properties": {"button_id": "signup", "page": "/pricing"},
        "anonymousId": "user-123",
        "profileId": "profile-9",
        "sessionId": "session-456",
        "websiteId": tenant.website_id,
        "source": "web-sdk",
        "sdkVersion": "2.1.0",
    }
    post_key(client, tenant, body)

    (event,) = read_client.get("/api/v1/events/", {"wire_format": "databuddy"}).json()["results"]

    assert {k: v for k, v in event.items() if k not in {"id", "received_at", "event_id", "profile"}} == {
        "name": "button_clicked",
        "namespace": "ui",
        "timestamp": "2024-05-02T06:38:24.500Z",
        "user_id": None,
        "profile_id": "profile-9",
        "anonymous_id": "user-123",
        "account_id": None,
        "session_id": "session-456",
        "page_id": None,
        "properties": {"button_id": "signup", "page": "/pricing"},
        "context": {"websiteId": tenant.website_id, "source": "web-sdk", "sdkVersion": "2.1.0"},
        "source_id": tenant.source.id,
        "wire_format": "databuddy",
    }


def test_anonymous_id_fills_anonymous_id_only(client, tenant):
    post_key(client, tenant, seed_body("databuddy_single.json"))

    event = Event.objects.get()
    assert (event.anonymous_id, event.user_id, event.profile_id) == ("user-123", None, None)
    assert event.identity_key == "user-123"


def test_an_event_needs_no_user_identifier(client, tenant):
    response = post_key(client, tenant, {"name": "page_viewed"})

    assert response.status_code == 200
    assert Event.objects.get().identity_key is None


@pytest.mark.parametrize(
    ("timestamp", "stored"),
    [
        (1714631904000, "2024-05-02T06:38:24+00:00"),
        ("1714631904000", "2024-05-02T06:38:24+00:00"),
        ("2024-05-02T06:38:24Z", "2024-05-02T06:38:24+00:00"),
        ("2024-05-02T08:38:24+02:00", "2024-05-02T06:38:24+00:00"),
        (0, "1970-01-01T00:00:00+00:00"),  # the epoch, as Databuddy's server reads it (Intempt: not set)
    ],
)
def test_timestamp_in_ms_or_iso_is_stored_in_utc(client, tenant, timestamp, stored):
    response = post_key(client, tenant, {"name": "x", "timestamp": timestamp})

    assert response.status_code == 200
    assert Event.objects.get().timestamp.isoformat() == stored


@pytest.mark.parametrize("timestamp", ["2024-05-02+02:00", "2024-05-02X06:38:24Z"])
def test_a_date_followed_by_anything_but_t_or_a_space_and_a_time_is_a_400_naming_timestamp(client, tenant, timestamp):
    # "+02:00" after a date alone was read as the time 02:00 UTC; no Date reads either.
    response = post_key(client, tenant, {"name": "x", "timestamp": timestamp})

    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 0, "field": "timestamp", "message": BAD_TIMESTAMP}]
    assert Event.objects.count() == 0


def test_a_timestamp_string_of_thousands_of_digits_is_a_400_naming_timestamp(client, tenant):
    # int() refuses more than 4,300 digits with a ValueError: this was a 500.
    response = post_key(client, tenant, {"name": "x", "timestamp": "9" * 5000})

    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 0, "field": "timestamp", "message": BAD_TIMESTAMP}]
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "longest", "stored_in"),
    [
        ("name", 256, "name"),
        ("namespace", 64, "namespace"),
        ("anonymousId", 256, "anonymous_id"),
        ("sessionId", 256, "session_id"),
        ("source", 64, "context"),  # no column of its own
        ("profileId", 256, "profile_id"),
    ],
)
def test_field_at_its_length_limit_is_accepted(client, tenant, field, longest, stored_in):
    response = post_key(client, tenant, {"name": "x", field: "a" * longest})

    assert response.status_code == 200
    event = Event.objects.get()
    stored = event.context[field] if stored_in == "context" else getattr(event, stored_in)
    assert stored == "a" * longest


@pytest.mark.parametrize(
    ("field", "column"),
    [("name", "name"), ("anonymousId", "anonymous_id"), ("sessionId", "session_id"), ("profileId", "profile_id")],
)
def test_a_256_character_value_of_four_byte_characters_is_stored(client, tenant, field, column):
    """The docs count characters: 256 emoji are 1,024 bytes of UTF-8, still within them."""
    value = "\U0001f600" * 256
    response = post_key(client, tenant, {"name": "x", field: value})

    assert response.status_code == 200, response.json()
    assert getattr(Event.objects.get(), column) == value


@pytest.mark.parametrize(
    ("field", "longest"),
    [("name", 256), ("namespace", 64), ("anonymousId", 256), ("sessionId", 256), ("source", 64), ("profileId", 256)],
)
def test_field_over_its_length_limit_is_an_event_level_error(client, tenant, field, longest):
    response = post_key(client, tenant, [{"name": "ok"}, {"name": "x", field: "a" * (longest + 1)}])

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["rejected"] == [
        {"index": 1, "field": field, "message": f"{field} must be at most {longest} characters"}
    ]
    assert list(Event.objects.values_list("name", flat=True)) == ["ok"]
    assert RejectedEvent.objects.get().payload[field] == "a" * (longest + 1)


@pytest.mark.parametrize(
    ("event", "field", "message"),
    [
        ({}, "name", "name is required"),
        ({"name": ""}, "name", "name is required"),
        ({"name": 5}, "name", "name must be a string"),
        ({"name": "x", "timestamp": "yesterday"}, "timestamp", BAD_TIMESTAMP),
        ({"name": "x", "timestamp": "\u00b2"}, "timestamp", BAD_TIMESTAMP),
        ({"name": "x", "timestamp": True}, "timestamp", BAD_TIMESTAMP),
        ({"name": "x", "timestamp": {}}, "timestamp", BAD_TIMESTAMP),
        ({"name": "x", "timestamp": ""}, "timestamp", BAD_TIMESTAMP),  # as Databuddy's server: no Date reads it
        ({"name": "x", "properties": "p"}, "properties", "properties must be a JSON object"),
        ({"name": "x", "anonymousId": 12}, "anonymousId", "anonymousId must be a string"),
        ({"name": "x", "websiteId": 12}, "websiteId", "websiteId must be a string holding a UUID"),
    ],
)  # fmt: skip
def test_event_level_problems_are_400_with_the_docs_message_and_an_errors_list(client, tenant, event, field, message):
    response = post_key(client, tenant, event)

    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "message": "Invalid request body",
        "errors": [{"index": 0, "field": field, "message": message}],
    }
    assert Event.objects.count() == 0
    assert RejectedEvent.objects.count() == 1  # kept for replay


# --- deduplication and count ------------------------------------------------------------------


def test_a_retry_gets_the_same_count_and_is_stored_once(client, tenant):
    body = [{"name": "a", "timestamp": 1714631904000}, {"name": "b", "timestamp": 1714631904000}]
    first = post_key(client, tenant, body)
    second = post_key(client, tenant, body)

    assert first.json() == second.json() == {"status": "success", "type": "custom_event", "count": 2}
    assert Event.objects.count() == 2


def test_events_without_timestamp_are_new_on_each_request(client, tenant):
    post_key(client, tenant, seed_body("databuddy_single.json"))
    post_key(client, tenant, seed_body("databuddy_single.json"))

    assert Event.objects.count() == 2


def test_an_event_id_sent_like_databuddys_sdks_is_the_events_id(client, tenant):
    """Databuddy's Node SDK gives every event an ``eventId`` it keeps across retries."""
    event = {"eventId": "5b0e8f7e-2f6a-4a55-9d55-0d3c1c7e3d11", "name": "api_call"}
    first = post_key(client, tenant, [event])
    again = post_key(client, tenant, [event])

    assert first.json() == again.json() == SUCCESS_1
    stored = Event.objects.get()
    assert stored.event_id == "5b0e8f7e-2f6a-4a55-9d55-0d3c1c7e3d11"
    assert "eventId" not in stored.context


@pytest.mark.parametrize("event_id", [7, "x" * 1025])
def test_a_refused_event_whose_event_id_cannot_be_one_is_kept_for_each_sending(client, tenant, event_id):
    # Without a timestamp such an event is new each time it is sent, accepted (stored
    # each time) or refused (kept each time): its eventId is only data.
    for _ in range(2):
        assert post_key(client, tenant, [{"eventId": event_id, "name": ""}]).status_code == 400
        assert post_key(client, tenant, [{"eventId": event_id, "name": "api_call"}]).json() == SUCCESS_1

    assert Event.objects.count() == 2
    assert RejectedEvent.objects.count() == 2


@pytest.mark.parametrize("event_id", [7, "", None, "x" * 1025])
def test_an_event_id_that_cannot_be_one_is_kept_in_context_and_refuses_nothing(client, tenant, event_id):
    response = post_key(client, tenant, {"eventId": event_id, "name": "api_call", "timestamp": 1714631904000})

    assert response.json() == SUCCESS_1
    stored = Event.objects.get()
    assert stored.context["eventId"] == event_id
    assert stored.event_id.startswith("th-")  # the content hash of an event with a timestamp


def test_count_includes_duplicates_within_a_request(client, tenant):
    event = {"name": "a", "timestamp": 1714631904000}
    response = post_key(client, tenant, [event, event])

    assert response.json()["count"] == 2
    assert Event.objects.count() == 1


# --- browsers ----------------------------------------------------------------------------------


def set_origins(tenant, origins):
    Website.objects.filter(id=tenant.website_id).update(allowed_origins=origins)


def preflight(client, query: str, origin: str = "https://shop.example"):
    return client.options(
        f"/track{query}",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )


def test_preflight_for_a_website_without_origins_grants_the_asking_origin(client, tenant):
    response = preflight(client, f"?website_id={tenant.website_id}")

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"
    assert response["Vary"] == "Origin, Access-Control-Request-Headers"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Content-Type" in response["Access-Control-Allow-Headers"]


@pytest.mark.parametrize("origins", [[], ["https://shop.example"]], ids=["any origin", "listed origin"])
def test_preflight_allows_credentials_as_a_beacon_sends_them(client, tenant, origins):
    set_origins(tenant, origins)
    response = preflight(client, f"?website_id={tenant.website_id}")

    assert response["Access-Control-Allow-Origin"] == "https://shop.example"
    assert response["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.parametrize("origins", [[], ["https://shop.example"]], ids=["any origin", "listed origin"])
def test_post_from_an_allowed_origin_allows_credentials(client, tenant, origins):
    set_origins(tenant, origins)
    response = post(
        client, tenant, {"name": "x"}, query=f"?website_id={tenant.website_id}", HTTP_ORIGIN="https://shop.example"
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"
    assert response["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.parametrize("origin", [None, "null"])
def test_a_website_allowing_any_origin_answers_a_request_naming_none_with_a_star(client, tenant, origin):
    extra = {"HTTP_ORIGIN": origin} if origin else {}
    response = post(client, tenant, {"name": "x"}, query=f"?website_id={tenant.website_id}", **extra)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response


# What Databuddy's browser tracker adds to every request (packages/tracker, HttpClient's
# default headers); the browser asks the preflight for them, lower-cased.
TRACKER_HEADERS = "content-type,databuddy-client-id,databuddy-sdk-name,databuddy-sdk-version"


def test_preflight_allows_the_headers_the_browser_asks_for(client, tenant):
    response = client.options(
        f"/track?website_id={tenant.website_id}",
        HTTP_ORIGIN="https://shop.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=TRACKER_HEADERS,
    )

    assert response.status_code == 204
    allowed = {header.strip().lower() for header in response["Access-Control-Allow-Headers"].split(",")}
    assert set(TRACKER_HEADERS.split(",")) <= allowed
    # The answer depends on the headers asked for: a cache must keep them apart.
    assert "Access-Control-Request-Headers" in response["Vary"]


def test_preflight_echoes_a_listed_origin(client, tenant):
    set_origins(tenant, ["https://shop.example"])
    response = preflight(client, f"?website_id={tenant.website_id}")

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"
    assert response["Vary"] == "Origin, Access-Control-Request-Headers"


def test_preflight_grants_nothing_to_an_unlisted_origin(client, tenant):
    set_origins(tenant, ["https://shop.example"])
    response = preflight(client, f"?website_id={tenant.website_id}", origin="https://evil.example")

    assert "Access-Control-Allow-Origin" not in response


def test_preflight_for_an_unknown_website_is_404(client, tenant):
    response = preflight(client, f"?website_id={DOCS_WEBSITE_ID}")

    assert response.status_code == 404
    assert "Access-Control-Allow-Origin" not in response


def test_preflight_without_website_grants_nothing(client, tenant):
    response = preflight(client, "")

    assert response.status_code == 204
    assert "Access-Control-Allow-Origin" not in response


def test_post_from_a_listed_origin_carries_cors_headers(client, tenant):
    set_origins(tenant, ["https://shop.example"])
    response = post(
        client, tenant, {"name": "x"}, query=f"?website_id={tenant.website_id}", HTTP_ORIGIN="https://shop.example"
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"


def test_error_answers_for_a_website_carry_cors_headers(client, tenant):
    response = post(client, tenant, b"nope", query=f"?website_id={tenant.website_id}", HTTP_ORIGIN="https://a.example")

    assert response.status_code == 400
    assert response["Access-Control-Allow-Origin"] == "https://a.example"


def test_post_from_an_unlisted_origin_is_refused(client, tenant):
    set_origins(tenant, ["https://shop.example"])
    response = post(
        client, tenant, {"name": "x"}, query=f"?website_id={tenant.website_id}", HTTP_ORIGIN="https://evil.example"
    )

    assert response.status_code == 403
    assert response.json()["status"] == "error"
    assert "Access-Control-Allow-Origin" not in response
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    ("listed", "origin"),
    [
        ("https://shop.example:443", "https://shop.example"),
        ("https://shop.example", "https://shop.example:443"),
        ("http://shop.example:80", "http://shop.example"),
        ("https://*.shop.example", "https://eu.shop.example"),
        ("https://*.shop.example", "https://a.b.shop.example"),
        ("https://*.shop.example:8443", "https://eu.shop.example:8443"),
    ],
)
def test_an_origin_is_allowed_as_a_browser_writes_it(client, tenant, listed, origin):
    response = post_from_origin(client, tenant, listed=listed, origin=origin)

    assert response.status_code == 200, response.content
    assert response["Access-Control-Allow-Origin"] == origin
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    ("listed", "origin"),
    [
        ("https://*.shop.example", "https://shop.example"),
        ("https://*.shop.example", "http://eu.shop.example"),
        ("https://*.shop.example", "https://eu.shop.example:8443"),
        ("https://*.shop.example", "https://evilshop.example"),
        ("https://*.shop.example", "https://evil.example/x.shop.example"),
        ("https://shop.example:8443", "https://shop.example"),
    ],
)
def test_an_origin_outside_the_listed_one_or_its_wildcard_is_refused(client, tenant, listed, origin):
    response = post_from_origin(client, tenant, listed=listed, origin=origin)

    assert response.status_code == 403
    assert Event.objects.count() == 0


def post_from_origin(client, tenant, *, listed: str, origin: str):
    """A browser's event from ``origin`` to the website allowing only ``listed``."""
    set_origins(tenant, [listed])
    return post(client, tenant, {"name": "x"}, query=f"?website_id={tenant.website_id}", HTTP_ORIGIN=origin)


def test_website_id_of_the_requesting_website_is_kept_in_context(client, tenant):
    post(client, tenant, {"name": "x", "websiteId": tenant.website_id}, query=f"?website_id={tenant.website_id}")

    assert uuid.UUID(Event.objects.get().context["websiteId"]) == uuid.UUID(tenant.website_id)


def test_an_unsupported_content_encoding_is_415_saying_why(client, tenant):
    response = post_key(client, tenant, {"name": "x"}, HTTP_CONTENT_ENCODING="br")

    assert response.status_code == 415
    body = response.json()
    assert body["status"] == "error" and body["message"] == "Invalid request body"
    assert "Content-Encoding" in body["errors"][0]["message"]
    assert Event.objects.count() == 0

"""Every read API endpoint takes only its own query parameters, each once, in UTF-8
(ingestion.api.query): anything else is a 400 naming the parameter, never ignored."""

from __future__ import annotations

import json

import pytest

from tests.seeds import seed_body

pytestmark = pytest.mark.django_db

READ_URLS = [
    "/api/v1/events/",
    "/api/v1/events/export.ndjson",
    "/api/v1/events/export.csv",
    "/api/v1/rejected-events/",
    "/api/v1/profiles/",
    "/api/v1/profiles/1/",
    "/api/v1/profiles/1/events/",
    "/api/v1/accounts/",
    "/api/v1/accounts/1/",
]


def ingest(client, tenant) -> None:
    response = client.post(tenant.intempt_url, data=seed_body("intempt_curl.json"), content_type="application/json")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("url", READ_URLS)
def test_an_unknown_parameter_is_400_naming_it(read_client, url):
    response = read_client.get(url, {"nmae": "Purchase"})

    assert response.status_code == 400, response.content
    (message,) = response.json()["nmae"]
    assert message.startswith("unknown parameter; this endpoint takes")


def test_the_unknown_parameter_message_lists_what_the_endpoint_takes(read_client):
    response = read_client.get("/api/v1/rejected-events/", {"name": "x"})

    assert response.json() == {
        "name": [
            "unknown parameter; this endpoint takes: cursor, ordering, page_size, since, source_id, until, wire_format"
        ]
    }


def test_an_unknown_parameter_is_not_ignored_even_beside_a_good_filter(client, tenant, read_client):
    ingest(client, tenant)

    response = read_client.get("/api/v1/events/", {"name": "Purchase", "usr_id": "nobody"})

    assert response.status_code == 400
    assert list(response.json()) == ["usr_id"]


@pytest.mark.parametrize("url", ["/api/v1/events/export.ndjson", "/api/v1/events/export.csv"])
@pytest.mark.parametrize("parameter", ["cursor", "page_size"])
def test_an_export_refuses_the_list_s_paging_parameters_it_would_ignore(read_client, url, parameter):
    response = read_client.get(url, {parameter: "5"})

    assert response.status_code == 400
    assert parameter in response.json()


@pytest.mark.parametrize("url", ["/api/v1/events/export.ndjson", "/api/v1/events/export.csv"])
def test_an_export_takes_the_list_s_filters_and_ordering(client, tenant, read_client, url):
    ingest(client, tenant)

    response = read_client.get(url, {"name": "Purchase", "ordering": "timestamp", "since": "2024-01-01"})

    assert response.status_code == 200
    assert b"generated-event-id" in b"".join(response.streaming_content)


@pytest.mark.parametrize("url", ["/api/v1/events/", "/api/v1/profiles/"])
@pytest.mark.parametrize("value", ["json", "csv"])
def test_format_is_an_unknown_parameter_not_a_404(read_client, url, value):
    response = read_client.get(url, {"format": value})

    assert response.status_code == 400
    assert "format" in response.json()


@pytest.mark.parametrize(
    ("url", "query", "parameter"),
    [
        ("/api/v1/events/", "name=Purchase&name=Signup", "name"),
        ("/api/v1/events/", "page_size=1&page_size=1000", "page_size"),
        ("/api/v1/events/export.csv", "since=2024-01-01&since=2025-01-01", "since"),
        ("/api/v1/profiles/", "identifier=a&identifier=b", "identifier"),
    ],
)
def test_a_repeated_parameter_is_400_not_its_last_value(read_client, url, query, parameter):
    response = read_client.get(f"{url}?{query}")

    assert response.status_code == 400
    assert response.json() == {parameter: ["given more than once; give it once"]}


@pytest.mark.parametrize(
    ("url", "query", "parameter"),
    [
        ("/api/v1/events/", "name=%FF", "name"),
        ("/api/v1/events/", "user_id=ann%C3", "user_id"),
        ("/api/v1/events/export.ndjson", "property=%80", "property"),
        ("/api/v1/profiles/", "identifier=%FE%FF", "identifier"),
        ("/api/v1/accounts/", "identifier=%E9", "identifier"),
    ],
)
def test_a_value_that_is_not_utf8_is_400_not_a_search_for_u_fffd(read_client, url, query, parameter):
    response = read_client.get(f"{url}?{query}")

    assert response.status_code == 400
    assert response.json() == {parameter: ["not valid UTF-8: percent-encode the UTF-8 bytes of the text"]}


def test_a_utf8_value_still_matches(client, tenant, read_client):
    body = {"track": [{"name": "Café", "payload": [{"userId": "zoë", "timestamp": 1714631904000}]}]}
    response = client.post(tenant.intempt_url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200

    response = read_client.get("/api/v1/events/?name=Caf%C3%A9&user_id=zo%C3%AB")

    assert response.status_code == 200
    assert [event["name"] for event in response.json()["results"]] == ["Café"]


def test_a_bad_token_is_401_whatever_the_query(client):
    response = client.get("/api/v1/events/?nmae=1&name=%FF", HTTP_AUTHORIZATION="Bearer nope.nope")

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/events/", "user_id"),
        ("/api/v1/events/", "name"),
        ("/api/v1/events/", "since"),
        ("/api/v1/events/", "source_id"),
        ("/api/v1/events/", "property"),
        ("/api/v1/events/export.csv", "account_id"),
        ("/api/v1/rejected-events/", "wire_format"),
        ("/api/v1/profiles/", "identifier"),
        ("/api/v1/accounts/", "identifier"),
    ],
)
def test_an_empty_filter_is_400_not_every_row(client, tenant, read_client, url, parameter):
    ingest(client, tenant)

    response = read_client.get(f"{url}?{parameter}=")

    assert response.status_code == 400
    assert response.json() == {parameter: ["empty; leave the parameter out not to filter by it"]}


def test_an_empty_cursor_is_the_first_page(client, tenant, read_client):
    ingest(client, tenant)

    response = read_client.get("/api/v1/events/?cursor=")

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_an_empty_value_beside_property_matches_any_value(client, tenant, read_client):
    ingest(client, tenant)  # amount 150
    others = [
        {"eventId": "other-amount", "userId": "u", "timestamp": 1714631905000, "data": {"amount": 7}},
        {"eventId": "no-amount", "userId": "u", "timestamp": 1714631906000, "data": {"productName": "Wine"}},
    ]
    body = json.dumps({"track": [{"name": "Purchase", "payload": others}]})
    assert client.post(tenant.intempt_url, data=body, content_type="application/json").status_code == 200

    response = read_client.get("/api/v1/events/?property=amount&value=")

    assert response.status_code == 200
    assert sorted(event["event_id"] for event in response.json()["results"]) == ["generated-event-id", "other-amount"]

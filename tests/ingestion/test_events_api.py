"""GET /api/v1/events/ with a read token."""

from __future__ import annotations

import json

import pytest

from ingestion.models import Event
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


PROPERTY_EVENT = {
    "track": [
        {
            "name": "Typed",
            "payload": [
                {
                    "eventId": "typed",
                    "userId": "u",
                    "data": {"text": "héllo", "n": 120, "s": "120", "f": 1.5, "b": True, "o": {"a": 1}, "123": "k"},
                }
            ],
        }
    ]
}


@pytest.mark.parametrize(
    ("key", "value", "matches"),
    [
        ("text", "héllo", True),
        ("n", "120", True),
        ("s", "120", True),
        ("f", "1.5", True),
        ("b", "true", True),
        ("123", "k", True),
        ("text", "hello", False),
        ("s", '"120"', False),
        ("o", '{"a": 1}', False),
        ("o", '{"a":1}', False),
        ("missing", "x", False),
    ],
)
def test_property_value_matches_strings_and_the_json_text_of_numbers_and_booleans(
    client, tenant, read_client, key, value, matches
):
    ingest(client, tenant, PROPERTY_EVENT)

    response = read_client.get("/api/v1/events/", {"property": key, "value": value})

    assert response.status_code == 200
    assert [e["event_id"] for e in response.json()["results"]] == (["typed"] if matches else [])


def test_property_value_matches_a_small_number_as_the_answer_writes_it(client, tenant, read_client):
    # jsonb keeps 1.5e-07 as numeric 0.00000015; the answer writes it 1.5e-07, and an
    # analyst filters by what the answer shows.
    ingest(client, tenant, {"track": [{"name": "Tiny", "payload": [{"eventId": "tiny", "userId": "u",
                                                                    "data": {"p": 1.5e-07}}]}]})  # fmt: skip
    shown = read_client.get("/api/v1/events/").content.decode()
    assert '"p":1.5e-07' in shown

    response = read_client.get("/api/v1/events/", {"property": "p", "value": "1.5e-07"})

    assert response.status_code == 200
    assert [e["event_id"] for e in response.json()["results"]] == ["tiny"]


@pytest.mark.parametrize(("value", "matches"), [("1.5e-07", True), ("0.00000015", False), ("1.5E-7", False)])
def test_property_value_matches_a_string_that_looks_like_a_number_only_by_its_own_text(
    client, tenant, read_client, value, matches
):
    ingest(client, tenant, {"track": [{"name": "Tiny", "payload": [{"eventId": "tiny", "userId": "u",
                                                                    "data": {"p": "1.5e-07"}}]}]})  # fmt: skip

    response = read_client.get("/api/v1/events/", {"property": "p", "value": value})

    assert response.status_code == 200
    assert [e["event_id"] for e in response.json()["results"]] == (["tiny"] if matches else [])


@pytest.mark.parametrize(("key", "matches"), [("text", True), ("o", True), ("123", True), ("missing", False)])
@pytest.mark.parametrize("value", [None, ""])
def test_property_alone_matches_the_events_that_have_it(client, tenant, read_client, key, matches, value):
    ingest(client, tenant, PROPERTY_EVENT)
    ingest(client, tenant, {"track": [{"name": "Plain", "payload": [{"eventId": "plain", "userId": "u"}]}]})

    query = {"property": key} if value is None else {"property": key, "value": value}
    response = read_client.get("/api/v1/events/", query)

    assert response.status_code == 200
    assert [e["event_id"] for e in response.json()["results"]] == (["typed"] if matches else [])


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
    own = client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Bearer {tenant.read_token}")
    other = client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Bearer {other_tenant.read_token}")

    assert own.status_code == 200 and len(own.json()["results"]) == 1  # there is something to hide
    assert other.status_code == 200
    assert other.json()["results"] == []


@pytest.mark.parametrize("header", [None, "Bearer nope.nope", "Token x"])
def test_missing_or_bad_read_token_is_401(client, tenant, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    assert client.get("/api/v1/events/", **extra).status_code == 401


def test_track_token_cannot_read(client, tenant):
    response = client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Bearer {tenant.bearer_token}")

    assert response.status_code == 401


def test_token_without_scope_cannot_read_and_is_told_the_scope_it_lacks(client, tenant):
    _, token = access_token_create(project=tenant.project, scopes=[])

    response = client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 401
    assert response.json() == {"detail": "This token lacks the 'read' scope: create one with --scope read"}


def test_an_unknown_read_token_is_told_it_is_invalid_or_expired(client, tenant):
    response = client.get("/api/v1/events/", HTTP_AUTHORIZATION="Bearer th_at_nope.nope")

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or expired read token"}


def test_bad_since_is_400(read_client):
    assert read_client.get("/api/v1/events/?since=yesterday").status_code == 400


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/events/?since=yesterday", "since"),  # our own time parser
        ("/api/v1/events/?source_id=abc", "source_id"),  # django-filter's
        ("/api/v1/events/?wire_format=nope", "wire_format"),
        ("/api/v1/events/?value=1", "property"),
        ("/api/v1/events/?page_size=0", "page_size"),
        ("/api/v1/events/?cursor=garbage", "cursor"),
        ("/api/v1/events/export.ndjson?until=soon", "until"),
        ("/api/v1/rejected-events/?since=yesterday", "since"),
        ("/api/v1/profiles/?cursor=garbage", "cursor"),
        ("/api/v1/accounts/?page_size=x", "page_size"),
    ],
)
def test_every_400_names_the_parameter_with_a_list_of_messages(read_client, url, parameter):
    response = read_client.get(url)

    assert response.status_code == 400
    body = response.json()
    assert list(body) == [parameter]
    assert isinstance(body[parameter], list) and all(isinstance(message, str) for message in body[parameter])


@pytest.mark.parametrize("path", ["/api/v1/events/", "/api/v1/rejected-events/"])
@pytest.mark.parametrize(
    "query",
    [
        "page_size=%C2%B2",  # "²": str.isdigit() says yes, int() says no
        "page_size=%D9%A1%D9%A0",  # Arabic-Indic "10"
        "since=%C2%B2",
        "source_id=99999999999999999999999",
        "source_id=1001.9",
        "source_id=1.001e3",
    ],
)
def test_a_malformed_number_is_400_naming_the_parameter(read_client, path, query):
    response = read_client.get(f"{path}?{query}")

    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/events/", "since"),
        ("/api/v1/events/", "until"),
        ("/api/v1/events/", "page_size"),
        ("/api/v1/events/export.csv", "since"),
        ("/api/v1/rejected-events/", "until"),
        ("/api/v1/rejected-events/", "page_size"),
        ("/api/v1/profiles/", "page_size"),
        ("/api/v1/accounts/", "page_size"),
    ],
)
def test_a_number_of_thousands_of_digits_is_400_not_a_500(read_client, path, parameter):
    # int() refuses more than 4,300 digits with a ValueError.
    response = read_client.get(path, {parameter: "9" * 5000})

    assert response.status_code == 400
    assert list(response.json()) == [parameter]


def test_a_negative_number_of_thousands_of_digits_is_400(read_client):
    response = read_client.get("/api/v1/events/", {"since": "-" + "9" * 5000})

    assert response.status_code == 400
    assert list(response.json()) == ["since"]


def test_milliseconds_with_leading_zeros_still_parse(client, tenant, read_client):
    ingest(client, tenant, FILTER_EVENTS)

    response = read_client.get("/api/v1/events/", {"since": "0001714631904000", "page_size": "0002"})

    assert response.status_code == 200, response.content
    assert [e["event_id"] for e in response.json()["results"]] == ["p2", "p1"]


def test_a_fractional_profile_id_is_400(read_client):
    response = read_client.get("/api/v1/events/?profile=13.7")

    assert response.status_code == 400
    assert "profile" in response.json()


# --- every filter ---------------------------------------------------------------------------

FILTER_EVENTS = {
    "track": [
        {
            "name": "Purchase",
            "payload": [
                {"eventId": "p1", "userId": "ann", "accountId": "acme", "sessionId": "s1", "timestamp": 1714631904000,
                 "data": {"plan": "pro", "amount": 120, "paid": True, "note": "120"}},
                {"eventId": "p2", "userId": "bob", "accountId": "initech", "sessionId": "s2",
                 "timestamp": 1714631905000, "data": {"plan": "free", "amount": 120.5, "paid": False}},
            ],
        },
        {
            "name": "Signup",
            "payload": [{"eventId": "s1", "userId": "ann", "sessionId": "s1", "timestamp": 1714631903000}],
        },
    ]
}  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name=Purchase", ["p2", "p1"]),
        ("user_id=ann", ["p1", "s1"]),
        ("account_id=initech", ["p2"]),
        ("session_id=s1", ["p1", "s1"]),
        ("wire_format=intempt", ["p2", "p1", "s1"]),
        ("wire_format=userpilot", []),
        ("since=2024-05-02T06:38:24Z", ["p2", "p1"]),
        ("since=2024-05-02T08:38:24%2B02:00", ["p2", "p1"]),
        ("since=1714631904000&until=1714631905000", ["p1"]),
        ("until=2024-05-02T06:38:24.000Z", ["s1"]),
        ("property=plan&value=pro", ["p1"]),
        ("property=amount&value=120", ["p1"]),
        ("property=amount&value=120.5", ["p2"]),
        ("property=paid&value=true", ["p1"]),
        ("property=paid&value=false", ["p2"]),
        ("property=note&value=120", ["p1"]),
        ("property=plan&value=nope", []),
        ("name=Purchase&user_id=ann", ["p1"]),
        # p1 is at 06:38:24.000 and p2 at 06:38:25.000 (FILTER_EVENTS); a bound finer than
        # the millisecond lies strictly between two stored instants: compared as written.
        ("since=2024-05-02T06:38:23.9995Z", ["p2", "p1"]),
        ("since=2024-05-02T06:38:24.0005Z", ["p2"]),
        ("since=2024-05-02T06:38:24.0000001Z", ["p2"]),
        ("until=2024-05-02T06:38:24.0005Z", ["p1", "s1"]),
        ("until=2024-05-02T06:38:24.0000001Z", ["p1", "s1"]),
        ("until=2024-05-02T06:38:23.9995Z", ["s1"]),
    ],
)
def test_each_filter_selects_its_events(client, tenant, read_client, query, expected):
    ingest(client, tenant, FILTER_EVENTS)

    response = read_client.get(f"/api/v1/events/?{query}")

    assert response.status_code == 200, response.content
    assert [e["event_id"] for e in response.json()["results"]] == expected


@pytest.mark.parametrize(
    "query",
    [
        "since=2024-05-02T08:38:24+02:00",  # "+" typed unencoded: the server reads a space
        "since=2024-05-02T08:38:24.000+0200",
        "since=2024-05-02 08:38:24+02:00",
        "since=2024-05-02T01:08:24-05:30",
    ],
)
def test_an_offset_whose_plus_was_not_percent_encoded_still_applies(client, tenant, read_client, query):
    ingest(client, tenant, FILTER_EVENTS)

    response = read_client.get(f"/api/v1/events/?{query}")

    assert response.status_code == 200, response.content
    assert [e["event_id"] for e in response.json()["results"]] == ["p2", "p1"]


def test_a_date_with_an_hour_after_a_space_is_still_that_hour_in_utc(client, tenant, read_client):
    ingest(client, tenant, FILTER_EVENTS)

    response = read_client.get("/api/v1/events/?until=2024-05-02+06")  # 06:00 UTC, not midnight at +06:00

    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


def test_source_id_filter_selects_that_source(client, tenant, read_client):
    from tests.conftest import tenant_create

    second = tenant_create(org=tenant.project.organization.name, project=tenant.project.name)
    ingest(client, tenant, FILTER_EVENTS)
    ingest(client, second, {"track": [{"name": "Other", "payload": [{"eventId": "o1", "userId": "zed"}]}]})

    only_second = read_client.get(f"/api/v1/events/?source_id={second.source.id}").json()["results"]
    only_first = read_client.get(f"/api/v1/events/?source_id={tenant.source.id}").json()["results"]

    assert [e["event_id"] for e in only_second] == ["o1"]
    assert sorted(e["event_id"] for e in only_first) == ["p1", "p2", "s1"]


def test_profile_filter_with_unknown_profile_is_empty(client, tenant, read_client):
    ingest(client, tenant, FILTER_EVENTS)

    response = read_client.get("/api/v1/events/?profile=987654321")

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_value_without_property_is_400(read_client):
    response = read_client.get("/api/v1/events/?value=1")

    assert response.status_code == 400
    assert "property" in response.json()


def test_bad_until_is_400(read_client):
    assert read_client.get("/api/v1/events/?until=20-11-23").status_code == 400


# --- rejected events -------------------------------------------------------------------------


def reject_one(client, tenant, event_id: str) -> None:
    body = {"track": [{"name": "Bad", "payload": [{"eventId": event_id}]}]}  # no user identifier
    response = client.post(tenant.intempt_url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400


def test_rejected_events_list_newest_first_with_payload(client, tenant, read_client):
    reject_one(client, tenant, "r1")
    reject_one(client, tenant, "r2")

    response = read_client.get("/api/v1/rejected-events/")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["payload"]["payload"][0]["eventId"] for r in results] == ["r2", "r1"]
    assert results[0]["field"] == "userId" and results[0]["index"] == "track[0].payload[0]"
    assert results[0]["wire_format"] == "intempt" and results[0]["source_id"] == tenant.source.id


def test_rejected_events_ordering_received_at_is_oldest_first(client, tenant, read_client):
    # docs/read-api.md: rejected events order by received_at, not by the events' timestamp.
    reject_one(client, tenant, "r1")
    reject_one(client, tenant, "r2")

    response = read_client.get("/api/v1/rejected-events/", {"ordering": "received_at"})

    assert response.status_code == 200
    assert [r["payload"]["payload"][0]["eventId"] for r in response.json()["results"]] == ["r1", "r2"]


def test_a_rejected_event_lists_every_problem_it_had(client, tenant, read_client):
    body = {"track": [{"name": "Bad", "payload": [{"eventId": "r1", "timestamp": "noon"}]}]}  # two problems
    response = client.post(tenant.intempt_url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400

    (rejected,) = read_client.get("/api/v1/rejected-events/").json()["results"]

    assert [error["field"] for error in rejected["errors"]] == ["userId", "timestamp"]
    assert rejected["errors"] == response.json()["errors"]
    first = rejected["errors"][0]
    assert (rejected["field"], rejected["message"]) == (first["field"], first["message"])


@pytest.mark.parametrize(
    ("url", "auth", "body"),
    [
        ("/api/track", "Bearer {bearer_token}",
         [{"event_name": "ok", "user_id": "u", "timestamp": "2024-05-02T06:38:24Z"},
          {"event_name": "bad", "user_id": "", "timestamp": "2024-05-02T06:38:24Z"}]),
        ("/v1/track", "Token {api_key}", [{"user_id": "u", "event_name": "ok"}, {"user_id": "u"}]),
        ("/track", "Bearer {api_key}", [{"name": "ok", "anonymousId": "a"}, {"name": "x" * 300}]),
    ],
)  # fmt: skip
def test_a_rejected_event_s_index_is_the_one_the_track_answer_gave(client, tenant, read_client, url, auth, body):
    # The array formats answer the position as a number: reading it back must not turn it into text.
    credentials = {"bearer_token": tenant.bearer_token, "api_key": tenant.api_key}
    response = client.post(
        url, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=auth.format(**credentials)
    )
    assert response.status_code in (200, 202), response.content
    (given,) = [item["index"] for item in response.json()["rejected"]]  # every format's answer lists it

    (rejected,) = read_client.get("/api/v1/rejected-events/").json()["results"]

    assert rejected["index"] == given == 1
    assert rejected["errors"][0]["index"] == 1


def test_rejected_events_filters(client, tenant, read_client):
    from ingestion.models import RejectedEvent

    reject_one(client, tenant, "old")
    reject_one(client, tenant, "new")
    RejectedEvent.objects.filter(payload__payload__0__eventId="old").update(received_at="2024-01-01T00:00:00Z")

    def ids(query: str) -> list[str]:
        response = read_client.get(f"/api/v1/rejected-events/?{query}")
        assert response.status_code == 200, response.content
        return [r["payload"]["payload"][0]["eventId"] for r in response.json()["results"]]

    assert ids("until=2024-01-02T00:00:00Z") == ["old"]
    assert ids("since=2024-01-02T00:00:00Z") == ["new"]
    assert ids(f"source_id={tenant.source.id}") == ["new", "old"]
    assert ids(f"source_id={tenant.source.id + 1000}") == []
    assert ids("wire_format=intempt") == ["new", "old"]
    assert ids("wire_format=databuddy") == []


def test_rejected_events_of_another_project_are_hidden(client, tenant, other_tenant):
    reject_one(client, tenant, "r1")

    response = client.get("/api/v1/rejected-events/", HTTP_AUTHORIZATION=f"Bearer {other_tenant.read_token}")

    assert response.status_code == 200 and response.json()["results"] == []


def test_event_record_keys_are_the_contract_fields_in_order(client, tenant, read_client):
    from ingestion.api.serializers import EVENT_FIELDS

    ingest(client, tenant, seed_body("intempt_curl.json"))

    (event,) = read_client.get("/api/v1/events/").json()["results"]

    assert tuple(event) == EVENT_FIELDS


def resolve_identities() -> None:
    from profiles.models import IdentityWork
    from profiles.services import identity_work_process

    for work_id in IdentityWork.objects.filter(processed_at__isnull=True).values_list("id", flat=True):
        identity_work_process(work_id=work_id)


def test_profile_filter_selects_the_profiles_events_and_fills_profile(client, tenant, read_client):
    ingest(client, tenant, FILTER_EVENTS)
    resolve_identities()
    (ann,) = read_client.get("/api/v1/profiles/?identifier=ann").json()["results"]

    response = read_client.get(f"/api/v1/events/?profile={ann['id']}")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [e["event_id"] for e in results] == ["p1", "s1"]
    assert {e["profile"] for e in results} == {ann["id"]}


@pytest.mark.parametrize("url", ["/api/v1/profiles/abc/", "/api/v1/accounts/abc/", "/api/v1/nothing-here/"])
def test_an_api_url_that_matches_nothing_is_a_json_404(read_client, url):
    response = read_client.get(url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_identifier_filters_match_exactly_whitespace_included(client, tenant, read_client):
    items = [
        {"eventId": "plain", "userId": "ann", "sessionId": "s"},
        {"eventId": "spaced", "userId": " ann ", "sessionId": " s"},
    ]
    body = {"track": [{"name": "X", "payload": items}]}
    assert client.post(tenant.intempt_url, data=json.dumps(body), content_type="application/json").status_code == 200

    for query, expected in [
        ({"user_id": " ann "}, ["spaced"]),
        ({"user_id": "ann"}, ["plain"]),
        ({"session_id": " s"}, ["spaced"]),
    ]:
        results = read_client.get("/api/v1/events/", query).json()["results"]
        assert [event["event_id"] for event in results] == expected, query


def test_an_api_url_that_matches_nothing_is_a_json_404_with_debug_on(read_client, settings):
    # The quick start runs with DJANGO_DEBUG=1, where Django would answer its HTML debug page.
    settings.DEBUG = True

    response = read_client.get("/api/v1/nothing-here/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_an_api_url_missing_its_slash_is_still_redirected(read_client):
    response = read_client.get("/api/v1/events")

    assert response.status_code == 301
    assert response["Location"] == "/api/v1/events/"


def test_a_page_url_that_matches_nothing_is_still_the_html_404(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_api_failure_is_a_json_500(rf):
    from ops.views import server_error

    response = server_error(rf.get("/api/v1/events/"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert "request id" in json.loads(response.content)["detail"]


def test_events_that_read_as_simultaneous_are_listed_by_id_newest_first(client, tenant, read_client):
    # Microseconds apart, in the opposite order to their ids: the same millisecond as read.
    events = [
        {"name": "tick", "anonymousId": "a", "eventId": "first", "timestamp": "2024-04-01T00:00:02.123789Z"},
        {"name": "tick", "anonymousId": "a", "eventId": "second", "timestamp": "2024-04-01T00:00:02.123456Z"},
    ]
    auth = f"Bearer {tenant.api_key}"
    response = client.post("/track", data=json.dumps(events), content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200, response.content

    results = read_client.get("/api/v1/events/").json()["results"]

    assert [(event["event_id"], event["timestamp"]) for event in results] == [
        ("second", "2024-04-01T00:00:02.123Z"),
        ("first", "2024-04-01T00:00:02.123Z"),
    ]
    assert results[0]["id"] > results[1]["id"]


def test_an_event_without_a_time_of_its_own_is_stamped_to_the_millisecond(client, tenant):
    ingest(client, tenant, {"track": [{"name": "Ping", "payload": [{"userId": "u"}]}]})

    event = Event.objects.get()
    assert event.timestamp.microsecond % 1000 == 0 and event.received_at.microsecond % 1000 == 0


def test_since_and_until_at_the_last_instant_of_year_9999_are_taken(client, tenant, read_client):
    ingest(client, tenant, FILTER_EVENTS)

    since = read_client.get("/api/v1/events/?since=9999-12-31T23:59:59.9999999Z")
    until = read_client.get("/api/v1/events/?until=9999-12-31T23:59:59.9999999Z")

    assert since.status_code == 200 and since.json()["results"] == []
    assert until.status_code == 200 and len(until.json()["results"]) == 3

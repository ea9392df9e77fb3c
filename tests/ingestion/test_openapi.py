"""The OpenAPI schema at /api/schema/ and the docs at /api/docs/."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from ingestion.models import Event
from ingestion.views import TrackView
from profiles.models import Profile


def schema_json(client) -> dict:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def track_operations(schema: dict) -> dict[str, dict]:
    return {
        path: item["post"] for path, item in schema["paths"].items() if "track" in item.get("post", {}).get("tags", [])
    }


def url_patterns(resolver: URLResolver | None = None):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern)
        elif isinstance(pattern, URLPattern):
            yield pattern


def test_schema_generates_and_validates_without_warnings(tmp_path):
    # --fail-on-warn turns any drf-spectacular warning or error into a failure.
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))

    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.")


def test_schema_is_public_even_with_a_bad_credential(client):
    response = client.get("/api/schema/?format=json", HTTP_AUTHORIZATION="Bearer nope.nope")

    assert response.status_code == 200
    assert json.loads(response.content)["openapi"].startswith("3.")


@pytest.mark.parametrize(
    ("url", "bundle"),
    [
        ("/api/docs/", "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"),
        ("/api/redoc/", "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"),
    ],
)
def test_docs_pages_load_only_the_projects_static_files(client, url, bundle):
    response = client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert bundle in html
    assert not re.search(r"(?:src|href)=[\"']?(?:https?:)?//", html)  # nothing from another host (no CDN)
    # Every asset the page loads is one of the project's static files.
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert assets
    for asset in assets:
        assert asset.startswith(settings.STATIC_URL), asset
        assert finders.find(asset.removeprefix(settings.STATIC_URL)), asset


def test_every_track_view_is_documented_with_examples(client):
    track_views = {p.callback.cls for p in url_patterns() if issubclass(getattr(p.callback, "cls", object), TrackView)}
    operations = track_operations(schema_json(client))

    assert len(operations) == len(track_views) >= 1
    for path, operation in operations.items():
        content = operation["requestBody"]["content"]["application/json"]
        assert content["examples"], path
        assert operation["security"], path


def test_track_request_examples_validate_against_the_documented_schema(client):
    operations = track_operations(schema_json(client))

    checked = 0
    for path, operation in operations.items():
        content = operation["requestBody"]["content"]["application/json"]
        validator = jsonschema.Draft7Validator(content["schema"])
        for name, example in content["examples"].items():
            errors = [error.message for error in validator.iter_errors(example["value"])]
            assert errors == [], f"{path} example {name!r}: {errors}"
            checked += 1
    assert checked >= len(operations)


def test_documented_schema_refuses_what_the_endpoint_refuses(client):
    """The validation test above can fail: a body without ``track`` does not validate."""
    intempt = track_operations(schema_json(client))["/{org_name}/projects/{project_name}/sources/{source_id}/track"]
    validator = jsonschema.Draft7Validator(intempt["requestBody"]["content"]["application/json"]["schema"])

    assert list(validator.iter_errors({"events": []}))


def track_request(tenant, path: str) -> tuple[str, dict[str, str], int]:
    """(URL, headers, success status) for a documented track path, with the tenant's credentials."""
    return {
        "/{org_name}/projects/{project_name}/sources/{source_id}/track": (tenant.intempt_url, {}, 200),
        "/api/track": ("/api/track", {"HTTP_AUTHORIZATION": f"Bearer {tenant.bearer_token}"}, 200),
        "/track": ("/track", {"HTTP_AUTHORIZATION": f"Bearer {tenant.api_key}"}, 200),
        "/v1/track": ("/v1/track", {"HTTP_AUTHORIZATION": f"Token {tenant.api_key}"}, 202),
        "/identify": ("/identify", {"HTTP_AUTHORIZATION": f"Bearer {tenant.api_key}"}, 200),
    }[path]


@pytest.mark.django_db
def test_documented_track_examples_are_accepted_by_their_endpoints(client, tenant):
    operations = track_operations(schema_json(client))
    assert operations, "the schema documents no track operation"

    for path, operation in operations.items():
        url, headers, status = track_request(tenant, path)
        for name, example in operation["requestBody"]["content"]["application/json"]["examples"].items():
            body = json.dumps(example["value"])
            before = Event.objects.count()
            response = client.post(url, data=body, content_type="application/json", **headers)
            assert response.status_code == status, (path, name, response.content)
            assert "rejected" not in (response.json() if response.content else {}), (path, name)
            assert Event.objects.count() > before, (path, name)  # accepted and stored, not just answered


_INTEMPT = "/{org_name}/projects/{project_name}/sources/{source_id}/track"
_TS = "2024-05-02T06:38:24.000Z"
# (documented path, body, whether the endpoint stores it): schemathesis found the schema
# allowing empty arrays the endpoints refuse, and refusing nulls (the field left out) and
# Userpilot batches they take.
_BODIES_THE_SCHEMA_MUST_JUDGE_AS_THE_ENDPOINT_DOES = [
    (_INTEMPT, {"track": []}, False),
    (
        _INTEMPT,
        {"track": [{"name": "n", "payload": [{"userId": "u", "eventId": None, "timestamp": None, "data": None}]}]},
        True,
    ),
    ("/api/track", [], False),
    ("/api/track", {"event_name": "n", "user_id": "u", "timestamp": _TS, "properties": None, "context": None}, True),
    ("/track", [], False),
    ("/track", {"name": "n", "timestamp": None, "properties": None, "anonymousId": None, "websiteId": None}, True),
    ("/track", {"name": "n", "websiteId": ""}, True),
    ("/track", {"name": "n", "profileId": "p" * 257}, False),
    ("/identify", {"profileId": "u", "traits": None, "anonymousId": None}, True),
    ("/v1/track", [], False),
    ("/v1/track", [{"event_name": "n", "user_id": "u"}], True),
    ("/v1/track", {"event_name": "n", "user_id": "u", "metadata": None}, True),
    # The audit-schema session's schemathesis run: the schema took an Intempt event with no
    # user identifier (null or empty) or a group of no events, an identify whose only id is
    # empty, a Databuddy timestamp that is empty or no time at all, and timestamps past the
    # years 1-9999 the endpoints can store (each a 400 the schema did not predict); and it
    # refused an Intempt timestamp "" (not set: the time received), which the endpoint takes.
    (_INTEMPT, {"track": [{"name": "n", "payload": [{"userId": None, "profileId": "", "sessionId": "s"}]}]}, False),
    (_INTEMPT, {"track": [{"name": "n", "payload": [{"anotherUserId": "u2"}]}]}, True),
    (_INTEMPT, {"track": [{"name": "n", "payload": []}]}, False),
    (_INTEMPT, {"track": [{"name": "n", "payload": [{"userId": "u", "timestamp": ""}]}]}, True),
    (_INTEMPT, {"track": [{"name": "n", "payload": [{"userId": "u", "timestamp": 2**63 - 1}]}]}, False),
    (_INTEMPT, {"track": [{"name": "n", "payload": [{"userId": "u", "timestamp": "9" * 23}]}]}, False),
    (_INTEMPT, {"track": [{"name": "n", "payload": [{"userId": "u", "timestamp": 253402300799999}]}]}, True),
    (_INTEMPT, {"track": [{"name": "n", "payload": [{"userId": "u", "timestamp": -62135596800000}]}]}, True),
    ("/identify", {"anonymousId": "", "": None}, False),
    ("/identify", {"anonymousId": "a", "profileId": ""}, True),
    ("/track", {"name": "n", "timestamp": ""}, False),
    ("/track", {"name": "n", "timestamp": "yesterday"}, False),
    ("/track", {"name": "n", "timestamp": 1e20}, False),
    ("/track", {"name": "n", "timestamp": "9" * 23}, False),
    ("/track", {"name": "n", "timestamp": 1714631904000.5}, True),
    ("/track", {"name": "n", "timestamp": "1714631904000"}, True),
    ("/track", {"name": "n", "timestamp": _TS}, True),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "body", "stored"), _BODIES_THE_SCHEMA_MUST_JUDGE_AS_THE_ENDPOINT_DOES)
def test_the_documented_request_schema_takes_what_the_endpoint_takes(client, tenant, path, body, stored):
    schema = schema_json(client)
    documented = track_operations(schema)[path]["requestBody"]["content"]["application/json"]["schema"]
    url, headers, status = track_request(tenant, path)

    response = client.post(url, data=json.dumps(body), content_type="application/json", **headers)

    assert response.status_code == (status if stored else 400), response.content
    assert Event.objects.exists() == stored
    errors = [error.message for error in openapi_validator(schema, documented).iter_errors(body)]
    assert (errors == []) == stored, errors


@pytest.mark.django_db
def test_a_track_body_is_documented_as_required(client, tenant):
    for path, operation in track_operations(schema_json(client)).items():
        url, headers, _ = track_request(tenant, path)

        response = client.post(url, data=b"", content_type="application/json", **headers)

        assert response.status_code == 400, (path, response.content)
        assert operation["requestBody"].get("required") is True, path
    assert not Event.objects.exists()


def test_read_endpoints_document_the_read_token_and_page_shape(client):
    schema = schema_json(client)

    events = schema["paths"]["/api/v1/events/"]["get"]
    assert events["security"] == [{"readToken": []}]
    assert {p["name"] for p in events["parameters"]} >= {
        "name", "source_id", "wire_format", "user_id", "account_id", "session_id", "profile", "since", "until",
        "property", "value", "cursor", "page_size",
    }  # fmt: skip
    for export in ("/api/v1/events/export.ndjson", "/api/v1/events/export.csv"):
        parameters = {p["name"] for p in schema["paths"][export]["get"]["parameters"]}
        assert parameters >= {"name", "since", "until", "ordering"}
    assert set(schema["components"]["schemas"]["PaginatedEventList"]["properties"]) == {"next", "previous", "results"}
    assert set(schema["components"]["securitySchemes"]) >= {"apiKeyQuery", "readToken"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "url", "status", "credential"),
    [
        ("/api/v1/events/", "/api/v1/events/?since=yesterday", "400", "read"),
        ("/api/v1/events/export.csv", "/api/v1/events/export.csv?source_id=x", "400", "read"),
        ("/api/v1/rejected-events/", "/api/v1/rejected-events/", "401", "none"),
        ("/api/v1/profiles/{profile_id}/", "/api/v1/profiles/999999/", "404", "read"),
        ("/api/v1/profiles/{profile_id}/events/", "/api/v1/profiles/999999/events/", "404", "read"),
        ("/api/v1/accounts/{account_id}/", "/api/v1/accounts/1/", "401", "none"),
        ("/api/v1/profiles/{profile_id}/", "/api/v1/profiles/1/?expand=events", "400", "read"),
    ],
)
def test_read_api_errors_have_the_documented_shape(client, read_client, path, url, status, credential):
    schema = schema_json(client)
    documented = schema["paths"][path]["get"]["responses"][status]["content"]["application/json"]["schema"]
    name = documented["$ref"].rsplit("/", 1)[1]

    response = (read_client if credential == "read" else client).get(url)

    assert response.status_code == int(status)
    jsonschema.validate(response.json(), schema["components"]["schemas"][name])


def read_operations(schema: dict) -> list[tuple[str, dict]]:
    """(path, operation) of every read API operation in ``schema``."""
    operations = [
        (path, operation)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/")
        for operation in item.values()
    ]
    assert operations, "the schema documents no read API operation"
    return operations


def test_every_read_operation_documents_its_401_and_503(client):
    for path, operation in read_operations(schema_json(client)):
        assert {"401", "503"} <= set(operation["responses"]), path
        assert "Retry-After" in operation["responses"]["503"]["headers"], path


# One good and one bad event per documented track path: the bad one is refused at event level.
_GOOD_AND_BAD = {
    "/{org_name}/projects/{project_name}/sources/{source_id}/track": {
        "track": [{"name": "x", "payload": [{"userId": "u1"}, {"userId": ""}]}]
    },
    "/api/track": [
        {"event_name": "x", "user_id": "u1", "timestamp": "2024-01-01T00:00:00Z"},
        {"event_name": "x", "user_id": "", "timestamp": "2024-01-01T00:00:00Z"},
    ],
    "/track": [{"name": "x", "anonymousId": "a1"}, {"name": "x" * 300}],
    "/v1/track": [{"user_id": "u1", "event_name": "x"}, {"user_id": "u1"}],
}


def _answer_validator(operation: dict, status: int, components: dict) -> jsonschema.Draft7Validator:
    content = operation["responses"][str(status)]["content"]["application/json"]
    return jsonschema.Draft7Validator({**content["schema"], "components": components})


@pytest.mark.django_db
@pytest.mark.parametrize("path", list(_GOOD_AND_BAD))
@pytest.mark.parametrize("case", ["partial success", "event-level 400", "request-level 400"])
def test_track_answers_match_their_documented_schema(client, tenant, path, case):
    schema = schema_json(client)
    operation = track_operations(schema)[path]
    url, headers, success = track_request(tenant, path)
    both = _GOOD_AND_BAD[path]
    bad = [both[1]] if isinstance(both, list) else {"track": [{"name": "x", "payload": [{"userId": ""}]}]}
    body = {
        "partial success": json.dumps(both),
        "event-level 400": json.dumps(bad),
        "request-level 400": "{",
    }[case]

    response = client.post(url, data=body, content_type="application/json", **headers)

    status = success if case == "partial success" else 400
    assert response.status_code == status, response.content
    answer = response.json()
    if case == "partial success":
        assert answer["rejected"], "the bad event is reported"
    errors = list(_answer_validator(operation, status, schema.get("components", {})).iter_errors(answer))
    assert errors == [], [error.message for error in errors]


@pytest.mark.django_db
@pytest.mark.parametrize("path", [*_GOOD_AND_BAD, "/identify"])
def test_a_track_answer_to_an_unsupported_content_encoding_is_documented(client, tenant, path):
    schema = schema_json(client)
    operation = track_operations(schema)[path]
    url, headers, _ = track_request(tenant, path)

    response = client.post(url, data=b"{}", content_type="application/json", HTTP_CONTENT_ENCODING="br", **headers)

    assert response.status_code == 415, response.content
    errors = list(_answer_validator(operation, 415, schema.get("components", {})).iter_errors(response.json()))
    assert errors == [], [error.message for error in errors]
    assert not Event.objects.exists()


def test_every_read_list_documents_its_page_size_bounds(client):
    schema = schema_json(client)

    for path in ("/api/v1/events/", "/api/v1/rejected-events/", "/api/v1/profiles/", "/api/v1/accounts/"):
        (page_size,) = (p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "page_size")
        assert page_size["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000}, path


@pytest.mark.parametrize(
    ("component", "nullable"),
    [
        ("Event", {"namespace", "user_id", "profile_id", "anonymous_id", "account_id", "session_id", "page_id",
                   "profile"}),
        ("Profile", set()),
        ("Account", set()),
        ("RejectedEvent", {"payload"}),
    ],
)  # fmt: skip
def test_every_field_of_a_read_api_object_is_required_and_nullable_only_where_null_is_answered(
    client, component, nullable
):
    # Every field is always in the answer, null or not: a generated client must not make it optional.
    documented = schema_json(client)["components"]["schemas"][component]

    assert sorted(documented["required"]) == sorted(documented["properties"])
    assert {name for name, field in documented["properties"].items() if field.get("nullable")} == nullable


def test_every_read_list_page_documents_next_and_previous_as_required(client):
    schemas = schema_json(client)["components"]["schemas"]

    for page in ("PaginatedEventList", "PaginatedRejectedEventList", "PaginatedProfileList", "PaginatedAccountList"):
        assert sorted(schemas[page]["required"]) == ["next", "previous", "results"], page


def test_every_read_operation_documents_its_400_and_429(client):
    # Any read operation answers 400 (an unknown parameter, even where it takes none) and
    # 429 (the read token's rate limit), with Retry-After on the 429.
    for path, operation in read_operations(schema_json(client)):
        assert {"400", "429"} <= set(operation["responses"]), path
        assert "Retry-After" in operation["responses"]["429"]["headers"], path


@pytest.mark.django_db
@override_settings(TRACKHUB_RATE_LIMIT=1)
def test_a_read_api_429_has_the_documented_shape(client, read_client):
    schema = schema_json(client)
    documented = schema["paths"]["/api/v1/events/"]["get"]["responses"]["429"]

    read_client.get("/api/v1/events/")
    response = read_client.get("/api/v1/events/")

    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    name = documented["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    jsonschema.validate(response.json(), schema["components"]["schemas"][name])


def test_profile_and_account_pages_carry_no_example_links_of_another_endpoint(client):
    # DRF's default examples pointed every list at http://api.example.org/accounts/ (with a stray quote).
    schemas = schema_json(client)["components"]["schemas"]

    for page in ("PaginatedProfileList", "PaginatedAccountList"):
        for link in ("next", "previous"):
            assert "example" not in schemas[page]["properties"][link], (page, link)


@pytest.mark.parametrize("component", ["Profile", "Account"])
def test_profile_and_account_attributes_are_documented_as_an_object(client, component):
    attributes = schema_json(client)["components"]["schemas"][component]["properties"]["attributes"]

    assert attributes["type"] == "object"


def openapi_validator(schema: dict, documented: dict) -> jsonschema.Draft7Validator:
    """A JSON Schema validator for an OpenAPI 3.0 schema fragment: ``nullable`` becomes a
    null type and ``$ref`` points into the components."""

    def convert(node):
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {key: convert(value) for key, value in node.items()}
        if "$ref" in node:
            node["$ref"] = node["$ref"].replace("#/components/schemas/", "#/definitions/")
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
        return node

    definitions = convert(schema["components"]["schemas"])
    return jsonschema.Draft7Validator(
        {**convert(documented), "definitions": definitions}, format_checker=jsonschema.FormatChecker()
    )


@pytest.fixture
def every_kind_of_row(client, tenant):
    """Events of every format (one rejected from each), a merged profile and an account."""
    from tests.profiles.conftest import identity_drain, intempt_post

    intempt_post(client, tenant, {"userId": "ann", "accountId": "acme", "userAttributes": {"plan": "pro"},
                                  "accountAttributes": {"seats": 3}, "timestamp": 1_000}, {"userId": ""})  # fmt: skip
    intempt_post(client, tenant, {"userId": "ann-phone", "timestamp": 2_000})
    identity_drain()
    intempt_post(client, tenant, {"userId": "ann", "anotherUserId": "ann-phone", "timestamp": 3_000})
    identity_drain()
    for path in ("/api/track", "/track", "/v1/track"):
        url, headers, _ = track_request(tenant, path)
        body = json.dumps(_GOOD_AND_BAD[path])
        assert client.post(url, data=body, content_type="application/json", **headers).status_code < 300


@pytest.mark.django_db
def test_every_read_answer_matches_its_documented_200(client, read_client, every_kind_of_row):
    schema = schema_json(client)
    profiles = read_client.get("/api/v1/profiles/").json()["results"]
    (account,) = read_client.get("/api/v1/accounts/").json()["results"]
    merged_away = Profile.objects.get(merged_into__isnull=False).id  # ann-phone's, merged into ann's
    urls = {
        "/api/v1/events/": "/api/v1/events/?page_size=2",
        "/api/v1/rejected-events/": "/api/v1/rejected-events/",
        "/api/v1/profiles/": "/api/v1/profiles/",
        "/api/v1/profiles/{profile_id}/": f"/api/v1/profiles/{merged_away}/",
        "/api/v1/profiles/{profile_id}/events/": f"/api/v1/profiles/{profiles[0]['id']}/events/",
        "/api/v1/accounts/": "/api/v1/accounts/",
        "/api/v1/accounts/{account_id}/": f"/api/v1/accounts/{account['id']}/",
    }

    for path, url in urls.items():
        response = read_client.get(url)
        assert response.status_code == 200, (url, response.content)
        documented = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in openapi_validator(schema, documented).iter_errors(
            response.json())]  # fmt: skip
        assert errors == [], url
    assert {path for path in schema["paths"] if path.startswith("/api/v1/") and "export" not in path} == set(urls)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "media_type"),
    [("/api/v1/events/export.ndjson", "application/x-ndjson"), ("/api/v1/events/export.csv", "text/csv")],
)
def test_an_export_answers_the_documented_media_type(client, read_client, every_kind_of_row, path, media_type):
    documented = schema_json(client)["paths"][path]["get"]["responses"]["200"]["content"]

    response = read_client.get(path)

    assert response.status_code == 200
    assert list(documented) == [media_type]
    assert response["Content-Type"].split(";")[0] == media_type


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/events/", "source_id"),
        ("/api/v1/events/", "profile"),
        ("/api/v1/events/export.csv", "profile"),
        ("/api/v1/rejected-events/", "source_id"),
    ],
)
def test_an_id_parameter_documents_the_range_the_endpoint_takes(client, read_client, path, parameter):
    operation = schema_json(client)["paths"][path]["get"]
    (documented,) = (p for p in operation["parameters"] if p["name"] == parameter)

    assert (documented["schema"]["minimum"], documented["schema"]["maximum"]) == (0, 2**63 - 1)
    assert read_client.get(path, {parameter: -1}).status_code == 400
    assert read_client.get(path, {parameter: 2**63}).status_code == 400


def test_the_profile_filter_is_described(client):
    operation = schema_json(client)["paths"]["/api/v1/events/"]["get"]
    (profile,) = (p for p in operation["parameters"] if p["name"] == "profile")

    assert "profile id" in profile["description"]


@pytest.mark.django_db
def test_a_parameter_the_endpoint_refuses_empty_is_documented_as_never_empty(client, read_client):
    # ?user_id= is a 400 (it would answer every event): the schema must not offer "" as valid.
    schema = schema_json(client)

    checked = 0
    for path, operation in read_operations(schema):
        url = path.replace("{profile_id}", "1").replace("{account_id}", "1")
        for parameter in operation["parameters"]:
            if parameter["in"] != "query":
                continue
            response = read_client.get(url, {parameter["name"]: ""})
            if response.status_code != 400:
                continue
            assert list(response.json()) == [parameter["name"]], (url, response.content)
            accepts_empty = openapi_validator(schema, parameter["schema"]).is_valid("")
            assert not accepts_empty, (path, parameter["name"])
            checked += 1
    assert checked >= 20  # the text filters of every list and export


@pytest.mark.django_db
def test_a_text_parameter_documents_that_it_refuses_a_nul_character(client, read_client):
    # schemathesis sent ?property=%00 (a 400: PostgreSQL text cannot hold NUL) where the
    # schema allowed any string.
    schema = schema_json(client)

    checked = 0
    for path, operation in read_operations(schema):
        if "{" in path:  # no such profile here: a 404 first (the same filters as the events list)
            continue
        for parameter in operation["parameters"]:
            if parameter["in"] != "query" or parameter["name"] == "cursor":  # opaque: any bad one is a 400
                continue
            if not openapi_validator(schema, parameter["schema"]).is_valid("a"):
                continue  # not free text (a number, an enum, a time)
            query = {parameter["name"]: "a\x00b", **({"property": "k"} if parameter["name"] == "value" else {})}

            response = read_client.get(path, query)

            assert response.status_code == 400, (path, parameter["name"], response.content)
            assert list(response.json()) == [parameter["name"]], (path, response.content)
            assert not openapi_validator(schema, parameter["schema"]).is_valid("a\x00b"), (path, parameter["name"])
            assert openapi_validator(schema, parameter["schema"]).is_valid("a b\u00e9"), (path, parameter["name"])
            checked += 1
    assert checked >= 20  # the text filters of the events list and exports, and identifier


# (value, whether the endpoint takes it): schemathesis sent since/until values the schema
# (any string) allowed and the endpoint refused with a 400.
_INSTANTS = [
    ("2024-05-02T06:38:24Z", True),
    ("2024-05-02T08:38:24.5+02:00", True),
    ("1714631904000", True),
    ("-5", True),
    ("99999999999999", True),  # 14 digits: year 5138
    ("-9999999999999", True),
    ("yesterday", False),
    ("(\u00e9", False),
    ("1e3", False),
    ("9" * 23, False),
    ("-99999999999999", False),  # before year 1
]


@pytest.mark.django_db
@pytest.mark.parametrize("parameter", ["since", "until"])
@pytest.mark.parametrize(("value", "taken"), _INSTANTS)
def test_a_time_parameter_documents_the_values_the_endpoint_takes(client, read_client, tenant, parameter, value, taken):
    schema = schema_json(client)
    for path in ("/api/v1/events/", "/api/v1/events/export.ndjson", "/api/v1/rejected-events/"):
        (documented,) = (p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == parameter)

        response = read_client.get(path, {parameter: value})

        assert response.status_code == (200 if taken else 400), (path, response.content)
        if not taken:
            assert list(response.json()) == [parameter]
        assert openapi_validator(schema, documented["schema"]).is_valid(value) == taken, (path, value)
        assert "ISO 8601" in documented["description"]


@pytest.mark.django_db
def test_an_accept_without_json_gets_a_documented_answer_on_every_read_operation(client, read_client):
    schema = schema_json(client)

    for path, operation in read_operations(schema):
        url = path.replace("{profile_id}", "1").replace("{account_id}", "1")
        response = read_client.get(url, HTTP_ACCEPT="text/html")

        documented = operation["responses"].get(str(response.status_code))
        assert documented is not None, (path, response.status_code)
        media_type = response["Content-Type"].split(";")[0]
        if response.status_code == 406:
            assert media_type == "application/json"
            errors = list(openapi_validator(schema, documented["content"][media_type]["schema"]).iter_errors(
                response.json()))  # fmt: skip
            assert errors == [], path

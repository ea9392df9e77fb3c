"""The OpenAPI schema at /api/schema/ and the docs at /api/docs/."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

from ingestion.views import TrackView


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
    }[path]


@pytest.mark.django_db
def test_documented_track_examples_are_accepted_by_their_endpoints(client, tenant):
    operations = track_operations(schema_json(client))

    for path, operation in operations.items():
        url, headers, status = track_request(tenant, path)
        for name, example in operation["requestBody"]["content"]["application/json"]["examples"].items():
            body = json.dumps(example["value"])
            response = client.post(url, data=body, content_type="application/json", **headers)
            assert response.status_code == status, (path, name, response.content)
            assert "rejected" not in (response.json() if response.content else {}), (path, name)


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
    ],
)
def test_read_api_errors_have_the_documented_shape(client, read_client, path, url, status, credential):
    schema = schema_json(client)
    documented = schema["paths"][path]["get"]["responses"][status]["content"]["application/json"]["schema"]
    name = documented["$ref"].rsplit("/", 1)[1]

    response = (read_client if credential == "read" else client).get(url)

    assert response.status_code == int(status)
    jsonschema.validate(response.json(), schema["components"]["schemas"][name])


def test_every_read_operation_documents_its_401_and_503(client):
    schema = schema_json(client)

    for path, item in schema["paths"].items():
        if path.startswith("/api/v1/"):
            for operation in item.values():
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

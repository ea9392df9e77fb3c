"""Rules the contract gives all formats, tested once over ThriveStack, Databuddy and Userpilot."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.models import ApiKey, Event, RejectedEvent
from ingestion.services import access_token_create, api_key_create, credential_revoke
from tests.conftest import tenant_create
from tests.database import database_down
from tests.ingestion.track_formats import DATABUDDY, FORMATS, THRIVESTACK, USERPILOT, assert_error_shape, error_message

pytestmark = pytest.mark.django_db

formats = pytest.mark.parametrize("spec", FORMATS, ids=lambda spec: spec.name)


@formats
def test_a_batch_of_valid_events_is_stored_with_its_wire_format(client, tenant, spec):
    response = spec.post(client, tenant, [spec.event(1), spec.event(2)])

    assert response.status_code == spec.success_status, response.content
    assert "rejected" not in response.json()
    assert Event.objects.filter(source=tenant.source, wire_format=spec.name).count() == 2


@formats
def test_one_invalid_event_is_rejected_and_the_rest_stored(client, tenant, spec):
    response = spec.post(client, tenant, [spec.event(1), spec.invalid_event])

    assert response.status_code == spec.success_status
    assert [(p["index"], p["field"]) for p in spec.problems(response)] == [(1, spec.invalid_field)]
    assert Event.objects.count() == 1
    rejected = RejectedEvent.objects.get()
    assert (rejected.wire_format, rejected.index, rejected.field) == (spec.name, "1", spec.invalid_field)
    assert rejected.payload == spec.invalid_event


@pytest.mark.parametrize("spec", [THRIVESTACK, USERPILOT], ids=lambda spec: spec.name)
def test_a_json_null_user_id_is_refused_as_a_missing_one(client, tenant, spec):
    response = spec.post(client, tenant, [{**spec.event(1), "user_id": None}])

    assert response.status_code == 400
    assert [(p["index"], p["field"]) for p in spec.problems(response)] == [(0, "user_id")]
    assert not Event.objects.exists()
    assert RejectedEvent.objects.get().field == "user_id"


@formats
def test_all_events_invalid_is_400_listing_each_with_its_index(client, tenant, spec):
    response = spec.post(client, tenant, [spec.invalid_event, spec.invalid_event])

    assert response.status_code == 400
    assert_error_shape(spec, response)
    assert [(p["index"], p["field"]) for p in spec.problems(response)] == [
        (0, spec.invalid_field),
        (1, spec.invalid_field),
    ]
    assert all(spec.invalid_field in p["message"] for p in spec.problems(response))
    assert Event.objects.count() == 0
    assert RejectedEvent.objects.count() == 2


@formats
def test_a_single_object_is_one_event_at_index_0(client, tenant, spec):
    ok = spec.post(client, tenant, spec.event(1))
    bad = spec.post(client, tenant, spec.invalid_event)

    assert ok.status_code == spec.success_status
    assert bad.status_code == 400
    assert [(p["index"], p["field"]) for p in spec.problems(bad)] == [(0, spec.invalid_field)]
    assert Event.objects.count() == 1


@formats
def test_an_array_item_that_is_not_an_object_is_an_event_level_error(client, tenant, spec):
    response = spec.post(client, tenant, [spec.event(1), "oops"])

    assert response.status_code == spec.success_status
    assert [(p["index"], p["field"]) for p in spec.problems(response)] == [(1, "event")]
    assert Event.objects.count() == 1  # the valid event is stored ...
    assert RejectedEvent.objects.get().payload == "oops"  # ... and the bad item kept for replay


@formats
def test_unlisted_fields_are_kept_in_context(client, tenant, spec):
    event = {**spec.event(1), "sdkVersion": "4.2.0", "library": {"name": "js"}}
    response = spec.post(client, tenant, [event])

    assert response.status_code == spec.success_status
    context = Event.objects.get().context
    assert context["sdkVersion"] == "4.2.0"
    assert context["library"] == {"name": "js"}


@formats
@pytest.mark.parametrize("body", [b"not json", b"", b'"text"', b"42", b"[]", b"{", b"\xff\xfe", b'[{"a": NaN}]'])
def test_request_level_problems_are_400_in_the_format_shape_and_store_nothing(client, tenant, spec, body):
    response = spec.post(client, tenant, body)

    assert response.status_code == 400
    assert_error_shape(spec, response)
    assert Event.objects.count() == RejectedEvent.objects.count() == 0


@formats
def test_more_than_1000_events_is_refused_and_nothing_stored(client, tenant, spec):
    response = spec.post(client, tenant, [spec.event(n) for n in range(1001)])

    assert response.status_code == 400
    assert_error_shape(spec, response)
    assert "1000" in error_message(spec, response)
    assert Event.objects.count() == 0


@formats
def test_exactly_1000_events_are_accepted(client, tenant, spec):
    response = spec.post(client, tenant, [spec.event(n) for n in range(1000)])

    assert response.status_code == spec.success_status
    assert Event.objects.count() == 1000


@formats
def test_body_over_2_mib_is_refused(client, tenant, spec):
    event = spec.event(1)
    event["padding"] = "x" * 2_100_000
    response = spec.post(client, tenant, [event])

    assert response.status_code == 400
    assert_error_shape(spec, response)
    assert "2097152" in error_message(spec, response)
    assert Event.objects.count() == 0


@formats
def test_a_declared_length_of_thousands_of_digits_is_refused_as_too_large(client, tenant, spec):
    # More digits than Python's int() takes (4,300): the declared length was a 500.
    response = spec.post(client, tenant, [spec.event(1)], CONTENT_LENGTH="9" * 5000)

    assert response.status_code == 400
    assert_error_shape(spec, response)
    assert "2097152" in error_message(spec, response)
    assert Event.objects.count() == 0


@formats
@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", ""],
    ids=["json-charset", "beacon-text", "form", "none"],
)
def test_the_body_is_json_whatever_the_content_type_says(client, tenant, spec, content_type):
    headers = {"HTTP_AUTHORIZATION": spec.authorization(tenant)}
    body = json.dumps([spec.event(1)]).encode()
    response = client.generic("POST", spec.path, body, content_type=content_type, **headers)

    assert response.status_code == spec.success_status, response.json()
    assert Event.objects.count() == 1


@formats
@pytest.mark.parametrize(
    "shape",
    ["/{path}", "/{path}/", "/{path}//", "//{path}", "/{spaced}"],
    ids=["path", "trailing", "trailing-doubled", "base", "inner"],
)
def test_the_endpoint_answers_with_a_trailing_or_doubled_slash(client, tenant, spec, shape):
    """A base URL configured with a trailing slash gives ``//track``: the vendors' proxies
    (nginx merges slashes by default) take it, and a 404 page would drop the events."""
    path = shape.format(path=spec.path.lstrip("/"), spaced=spec.path.lstrip("/").replace("/", "//"))
    response = spec.post(client, tenant, [spec.event(1)], PATH_INFO=path)

    assert response.status_code == spec.success_status, (path, response.content[:200])
    assert Event.objects.count() == 1


@formats
def test_a_body_starting_with_a_utf8_byte_order_mark_is_read(client, tenant, spec):
    """As the vendors' own servers read it (a fetch-style .json() or Node's body parsers
    drop the mark); Windows tools write one."""
    response = spec.post(client, tenant, b"\xef\xbb\xbf" + json.dumps([spec.event(1)]).encode())

    assert response.status_code == spec.success_status, response.json()
    assert Event.objects.count() == 1


@formats
def test_gzip_body_is_accepted(client, tenant, spec):
    response = spec.post_gzip(client, tenant, json.dumps([spec.event(1), spec.event(2)]).encode())

    assert response.status_code == spec.success_status
    assert Event.objects.count() == 2


@formats
def test_a_gzip_body_of_several_members_is_read_whole(client, tenant, spec):
    body = json.dumps([spec.event(1), spec.event(2)]).encode()
    half = len(body) // 2
    members = gzip.compress(body[:half]) + gzip.compress(body[half:])  # as `cat a.gz b.gz`

    response = spec.post(client, tenant, members, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == spec.success_status, response.content
    assert Event.objects.count() == 2


@formats
def test_bytes_after_the_gzip_stream_are_refused_not_dropped(client, tenant, spec):
    body = gzip.compress(json.dumps([spec.event(1)]).encode()) + b"GARBAGE"

    response = spec.post(client, tenant, body, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert_error_shape(spec, response)
    assert "gzip" in error_message(spec, response)
    assert Event.objects.count() == 0


@formats
def test_gzip_bomb_is_refused_at_the_limit_after_decompression(client, tenant, spec):
    bomb = b'[{"padding": "' + b"a" * 20_000_000 + b'"}]'
    response = spec.post(client, tenant, gzip.compress(bomb), HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert "2097152" in error_message(spec, response)
    assert Event.objects.count() == 0


@formats
def test_get_is_405_in_the_format_shape(client, tenant, spec):
    response = client.get(spec.path, HTTP_AUTHORIZATION=spec.authorization(tenant))

    assert response.status_code == 405
    assert_error_shape(spec, response)


# --- credentials ----------------------------------------------------------------------------


def _scheme(spec) -> str:
    return "Token" if spec is USERPILOT else "Bearer"


@formats
@pytest.mark.parametrize("credential", ["", "nodot", "key_0000.wrong", "tok_0000.wrong"])
def test_missing_or_unknown_credential_is_401_and_writes_nothing(client, tenant, spec, credential):
    authorization = f"{_scheme(spec)} {credential}" if credential else ""
    response = spec.post(client, tenant, [spec.event(1)], authorization=authorization)

    assert response.status_code == 401
    assert_error_shape(spec, response)
    assert Event.objects.count() == 0


@formats
def test_revoked_credential_is_refused_on_the_next_request(client, tenant, spec):
    credential = spec.authorization(tenant).split(" ", 1)[1]
    assert spec.post(client, tenant, [spec.event(1)]).status_code == spec.success_status

    credential_revoke(presented_or_identifier=credential)
    response = spec.post(client, tenant, [spec.event(2)])

    assert response.status_code == 401
    assert_error_shape(spec, response)
    assert Event.objects.count() == 1


@formats
def test_credential_without_the_scope_is_refused(client, tenant, spec):
    if spec is THRIVESTACK:
        _, credential = access_token_create(project=tenant.project, source=tenant.source, scopes=[])
    else:
        key, credential = api_key_create(source=tenant.source)
        ApiKey.objects.filter(pk=key.pk).update(scopes=[])  # stored before keys needed their scope
    response = spec.post(client, tenant, [spec.event(1)], authorization=f"{_scheme(spec)} {credential}")

    assert response.status_code == spec.scope_failure_status
    assert_error_shape(spec, response)
    assert Event.objects.count() == 0


@formats
def test_credential_writes_only_into_its_own_source(client, tenant, other_tenant, spec):
    response = spec.post(client, tenant, [spec.event(1)], authorization=spec.authorization(other_tenant))

    assert response.status_code == spec.success_status
    assert Event.objects.get().source_id == other_tenant.source.id
    assert Event.objects.get().project_id == other_tenant.project.id


@formats
@pytest.mark.parametrize(
    "shape", ["{scheme} {credential}", "{lower} {credential}", "{upper}  {credential} ", "{scheme}\t{credential}"],
    ids=["as-documented", "lower-case", "upper-case-spaces", "tab"],
)  # fmt: skip
def test_the_scheme_is_read_whatever_its_case_and_whitespace(client, tenant, spec, shape):
    scheme, credential = spec.authorization(tenant).split(" ", 1)
    authorization = shape.format(scheme=scheme, lower=scheme.lower(), upper=scheme.upper(), credential=credential)
    response = spec.post(client, tenant, [spec.event(1)], authorization=authorization)

    assert response.status_code == spec.success_status, response.json()
    assert Event.objects.count() == 1


@formats
def test_the_other_formats_credential_scheme_is_refused(client, tenant, spec):
    other_scheme = "Bearer" if spec is USERPILOT else "Token"
    credential = spec.authorization(tenant).split(" ", 1)[1]
    response = spec.post(client, tenant, [spec.event(1)], authorization=f"{other_scheme} {credential}")

    assert response.status_code == 401
    assert Event.objects.count() == 0


def test_expired_track_token_is_refused(client, tenant):
    _, token = access_token_create(
        project=tenant.project, source=tenant.source, scopes=["track_api"], expires_in=timedelta(seconds=-1)
    )
    response = THRIVESTACK.post(client, tenant, [THRIVESTACK.event(1)], authorization=f"Bearer {token}")

    assert response.status_code == 401
    assert response.json()["message"] == "Access token missing or invalid"
    assert Event.objects.count() == 0


@pytest.mark.parametrize("spec", [DATABUDDY, USERPILOT], ids=lambda spec: spec.name)
def test_a_track_token_is_not_an_api_key(client, tenant, spec):
    response = spec.post(client, tenant, [spec.event(1)], authorization=f"{_scheme(spec)} {tenant.bearer_token}")

    assert response.status_code == 401
    assert_error_shape(spec, response)
    assert "Invalid API key" in response.content.decode()
    assert Event.objects.count() == 0


# --- no input is a server error -------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)


def _event_like(spec):
    """A valid event with some of its fields replaced by arbitrary JSON values."""
    return st.dictionaries(st.sampled_from([*spec.event(1), "context", "websiteId", "extra"]), json_values).map(
        lambda changes: {**spec.event(1), **changes}
    )


@formats
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_body_is_answered_with_a_server_error(client, tenant, spec, data):
    body = data.draw(st.one_of(json_values, st.lists(_event_like(spec), max_size=3), _event_like(spec)))
    response = spec.post(client, tenant, body)

    assert response.status_code in {spec.success_status, 400, 404}, response.content
    if response.status_code == spec.success_status:
        assert isinstance(response.json(), dict), response.content
    else:
        assert_error_shape(spec, response)


@pytest.mark.parametrize(
    "timestamp", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2023-13-01T00:00:00Z", "2023-11-20T25:00"]
)
def test_timestamps_out_of_range_are_event_level_errors(client, tenant, timestamp):
    response = THRIVESTACK.post(client, tenant, [{**THRIVESTACK.event(1), "timestamp": timestamp}])

    assert response.status_code == 400
    assert [(p["index"], p["field"]) for p in THRIVESTACK.problems(response)] == [(0, "timestamp")]
    assert Event.objects.count() == 0
    assert RejectedEvent.objects.count() == 1  # kept for replay


# --- database unavailable ------------------------------------------------------------------


@formats
def test_database_unavailable_is_503_with_retry_after_in_the_format_shape(client, transactional_db, spec):
    tenant = tenant_create(org="down-org", project="down-project")
    with database_down():
        response = spec.post(client, tenant, [spec.event(1)])

    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert_error_shape(spec, response)
    assert Event.objects.count() == 0


@formats
def test_a_lone_surrogate_refuses_its_event_not_the_request(client, tenant, spec):
    # JSON may escape any code unit, and JavaScript's JSON.stringify writes half an emoji
    # (a string cut with .slice()) as "\ud83d": valid JSON that names no Unicode
    # character, which PostgreSQL cannot store. It refused the whole batch as "not JSON".
    bad = {**spec.event(2), "cut": "abc\ud83d", "\udc00key": 1}
    body = json.dumps([spec.event(1), bad]).encode()  # ensure_ascii: the escapes as a JS client writes them
    assert b"\\ud83d" in body

    response = spec.post(client, tenant, body)

    assert response.status_code == spec.success_status, response.content
    assert [(p["index"], p["field"]) for p in spec.problems(response)] == [(1, "cut"), (1, "\\udc00key")]
    assert "lone surrogate" in spec.problems(response)[0]["message"]
    assert Event.objects.filter(source=tenant.source).count() == 1
    rejected = RejectedEvent.objects.get()
    assert rejected.payload["cut"] == "abc\ufffd" and rejected.payload["\ufffdkey"] == 1


@formats
def test_an_escaped_surrogate_pair_is_the_character_it_encodes(client, tenant, spec):
    body = json.dumps([{**spec.event(1), "emoji": "😀"}]).encode()
    assert b"\\ud83d\\ude00" in body

    response = spec.post(client, tenant, body)

    assert response.status_code == spec.success_status, response.content
    assert Event.objects.get().context["emoji"] == "😀"

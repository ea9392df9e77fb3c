"""Malformed bodies get a clear 4xx in the format's own error shape, never a 500, and
store nothing; a NUL character refuses just its event."""

from __future__ import annotations

import base64
import gzip
import json
import os

import pytest

from ingestion.models import Event, RejectedEvent
from tests.hardening.formats import event_specs, post, present_formats, response_json

pytestmark = pytest.mark.django_db

FORMATS = present_formats()
LIMIT = 2 * 1024 * 1024

MALFORMED = {
    "not_json": b"this is not json",
    "empty": b"",
    "whitespace": b"   \n",
    "truncated": b'{"track": [',
    "null": b"null",
    "number": b"42",
    "string": b'"hello"',
    "empty_array": b"[]",
    "empty_object": b"{}",
    "nan": b'{"track": [{"name": "x", "payload": [{"userId": "u", "data": {"v": NaN}}]}]}',
    "infinity": b'[{"event_name": "x", "value": Infinity}]',
    "invalid_utf8": b'{"track": "\xff\xfe\xfd"}',
    "lone_surrogate": b'{"track": "\\ud800"}',
    "deep_nesting": b"[" * 100_000 + b"]" * 100_000,
    "trailing_garbage": b"{} {}",
    "array_of_nulls": b"[null, null]",
    "array_of_numbers": b"[1, 2, 3]",
    "nested_empty": b'{"track": [{"name": "x", "payload": []}]}',
}


def assert_clean_refusal(fmt, response) -> None:
    assert 400 <= response.status_code < 500, (fmt.name, response.status_code, response.content[:300])
    assert fmt.is_error(response_json(response)), (fmt.name, response.content[:300])


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_body_is_a_4xx_in_the_format_shape_and_stores_nothing(client, tenant, fmt, body):
    response = post(client, fmt, tenant, body)

    assert_clean_refusal(fmt, response)
    assert Event.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_over_limit_batch_is_refused_and_stores_nothing(client, tenant, fmt):
    if not fmt.batch:
        pytest.skip("single-event format")
    response = post(client, fmt, tenant, fmt.body(event_specs(1001)))

    assert response.status_code == 400
    assert fmt.is_error(response_json(response))
    assert Event.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_body_over_2_mib_is_refused(client, tenant, fmt):
    body = fmt.body([{"id": "big", "user": "u", "props": {"blob": "x" * (LIMIT + 10)}}])

    response = post(client, fmt, tenant, body)

    assert response.status_code == 400
    assert fmt.is_error(response_json(response))
    assert Event.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_a_wrong_method_is_405_even_without_credentials(client, tenant, fmt, method):
    url = fmt.url(tenant).split("?")[0]  # no Intempt apiKey either

    response = getattr(client, method)(url)

    assert response.status_code == 405
    assert fmt.is_error(response_json(response))


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_gzip_bomb_is_refused_without_inflating_it(client, tenant, fmt):
    bomb = gzip.compress(b"[" + b" " * (50 * LIMIT) + b"]")  # 100 MiB of spaces inflated

    response = post(client, fmt, tenant, bomb, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert fmt.is_error(response_json(response))


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_gzip_padding_that_inflates_to_nothing_is_refused_as_too_large(client, tenant, fmt):
    # Empty gzip members, one after another: megabytes that decompress to nothing, which
    # a client could keep sending for as long as a worker kept reading.
    empty_member = gzip.compress(b"")
    padding = empty_member * (2 * LIMIT // len(empty_member))

    response = post(client, fmt, tenant, padding, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert fmt.is_error(response_json(response))
    assert "larger than" in response.content.decode()


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_a_body_near_the_limit_gzipped_in_a_thousand_parts_is_read(client, tenant, fmt):
    # The bound on compressed bytes leaves room for an encoder's overhead: a client
    # gzipping its body in parts (a member each), of data that hardly compresses.
    blob = base64.b64encode(os.urandom(LIMIT * 3 // 4 - 4096)).decode()
    body = fmt.body([{"id": "parts", "user": "u", "props": {"blob": blob}}])
    assert LIMIT - 8192 < len(body) <= LIMIT
    part = len(body) // 1000 + 1
    compressed = b"".join(gzip.compress(body[at : at + part]) for at in range(0, len(body), part))

    response = post(client, fmt, tenant, compressed, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code in (200, 202)
    assert Event.objects.count() == 1


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_corrupt_gzip_and_unknown_encoding_are_refused(client, tenant, fmt):
    corrupt = post(client, fmt, tenant, b"\x1f\x8b\x08\x00garbage", HTTP_CONTENT_ENCODING="gzip")
    unknown = post(client, fmt, tenant, fmt.body(event_specs(1)), HTTP_CONTENT_ENCODING="br")

    assert_clean_refusal(fmt, corrupt)
    assert_clean_refusal(fmt, unknown)
    assert Event.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
@pytest.mark.parametrize("cut", [1, 2, 10], ids=lambda n: f"first-{n}-bytes")
def test_a_gzip_body_cut_short_is_refused_as_truncated(client, tenant, fmt, cut):
    # Cut before its deflate data yields a byte: not "the body is empty".
    response = post(client, fmt, tenant, gzip.compress(fmt.body(event_specs(1)))[:cut], HTTP_CONTENT_ENCODING="gzip")

    assert_clean_refusal(fmt, response)
    assert "The gzip body is truncated" in response.content.decode()
    assert Event.objects.count() == 0


# Each format's user field, and what it says of one too long to store.
USER_FIELD_TOO_LONG = {
    "intempt": ("userId", "userId must be at most 1024 bytes"),
    "thrivestack": ("user_id", "user_id must be at most 1024 bytes"),
    "databuddy": ("anonymousId", "anonymousId must be at most 256 characters"),
    "userpilot": ("user_id", "user_id must be at most 1024 bytes"),
}


def nested(levels: int) -> object:
    value: object = "leaf"
    for _ in range(levels):
        value = {"n": value}
    return value


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_a_huge_user_id_within_the_body_limit_is_a_400_naming_the_field(client, tenant, fmt):
    body = fmt.body([{"id": "long", "user": "u" * 1_500_000, "props": {}}])

    response = post(client, fmt, tenant, body)

    field, message = USER_FIELD_TOO_LONG[fmt.name]
    assert response.status_code == 400
    assert fmt.is_error(response_json(response))
    assert [(e["field"], e["message"]) for e in response_json(response)["errors"]] == [(field, message)]
    assert Event.objects.count() == 0
    assert RejectedEvent.objects.get().field == field  # kept for replay


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_a_huge_property_string_within_the_body_limit_is_stored_whole(client, tenant, fmt):
    body = fmt.body([{"id": "long", "user": "u", "props": {"text": "x" * 1_500_000}}])

    response = post(client, fmt, tenant, body)

    assert response.status_code == fmt.success_status
    assert Event.objects.get().properties["text"] == "x" * 1_500_000


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_properties_nested_deeper_than_can_be_stored_are_a_400_saying_so(client, tenant, fmt):
    # 500 levels: within what the parser reads (1,024), past what orjson writes (254).
    body = fmt.body([{"id": "deep", "user": "u", "props": {"deep": nested(500)}}])

    response = post(client, fmt, tenant, body)

    assert response.status_code == 400
    assert fmt.is_error(response_json(response))
    assert [e["message"] for e in response_json(response)["errors"]] == ["The event is nested deeper than 254 levels"]
    assert Event.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_properties_nested_past_the_stack_with_a_nul_character_are_a_400_not_a_500(client, tenant, fmt):
    # 1,000 levels, as the parser reads: a NUL makes the request walked for it, and that
    # walk must not go deeper than what can be stored.
    body = fmt.body([{"id": "deep", "user": "u", "props": {"deep": "DEEP", "note": "a\x00b"}}])
    body = body.replace(b'"DEEP"', b'{"n":' * 1000 + b"1" + b"}" * 1000)

    response = post(client, fmt, tenant, body)

    assert response.status_code == 400
    assert [e["message"] for e in response_json(response)["errors"]] == ["The event is nested deeper than 254 levels"]
    assert Event.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_deeply_nested_properties_that_can_be_stored_are_stored_whole(client, tenant, fmt):
    body = fmt.body([{"id": "deep", "user": "u", "props": {"deep": nested(250)}}])

    response = post(client, fmt, tenant, body)

    assert response.status_code == fmt.success_status
    assert Event.objects.get().properties["deep"] == nested(250)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_a_json_body_sent_as_text_plain_is_taken(client, tenant, fmt):
    # Content-Type is not read (docs/formats.md): navigator.sendBeacon sends text/plain.
    response = post(client, fmt, tenant, fmt.body(event_specs(1)), content_type="text/plain")

    assert response.status_code == fmt.success_status
    assert Event.objects.get().properties["marker"] == "evt-0"


# Databuddy's anonymousId is optional, so null is a valid value there (not a case here).
WRONG_TYPED_USERS = [
    pytest.param(fmt, value, id=f"{value_id}-{fmt.name}")
    for fmt in FORMATS
    for value, value_id in [
        (123, "int"),
        (1.5, "float"),
        (True, "bool"),
        (["a"], "list"),
        ({"a": 1}, "dict"),
        (None, "null"),
    ]
    if not (fmt.name == "databuddy" and value is None)
]


@pytest.mark.parametrize(("fmt", "bad_value"), WRONG_TYPED_USERS)
def test_a_user_id_of_the_wrong_type_rejects_the_event_with_a_reason(client, tenant, fmt, bad_value):
    body = fmt.build([{"id": "typed", "user": "placeholder-user", "props": {}}])
    document = json.loads(json.dumps(body))
    events = document["track"][0]["payload"] if fmt.name == "intempt" else document
    for event in events if isinstance(events, list) else [events]:
        key = {"intempt": "userId", "databuddy": "anonymousId"}.get(fmt.name, "user_id")
        event[key] = bad_value

    response = post(client, fmt, tenant, json.dumps(document))

    assert response.status_code == 400
    assert fmt.is_error(response_json(response))
    assert Event.objects.count() == 0
    assert RejectedEvent.objects.filter(project=tenant.project).count() == 1


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_a_nul_character_refuses_only_its_event_and_keeps_it(client, tenant, fmt):
    if not fmt.batch:
        pytest.skip("single-event format: see the next test")
    specs = [
        {"id": "clean", "user": "user-1", "props": {"ok": "yes"}},
        {"id": "dirty", "user": "user-1", "props": {"note": "a\x00b"}},
    ]

    response = post(client, fmt, tenant, fmt.body(specs))

    assert response.status_code == fmt.success_status, response.content
    rejected = response_json(response)["rejected"]
    assert len(rejected) == 1
    assert "NUL" in rejected[0]["message"] and "note" in rejected[0]["field"]
    assert Event.objects.filter(project=tenant.project).count() == 1
    kept = RejectedEvent.objects.get(project=tenant.project)
    assert "a\ufffdb" in json.dumps(kept.payload, ensure_ascii=False)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_a_request_whose_only_event_has_a_nul_character_is_a_400_naming_the_field(client, tenant, fmt):
    body = fmt.body([{"id": "dirty", "user": "user\x00one", "props": {}}])

    response = post(client, fmt, tenant, body)

    assert response.status_code == 400
    assert fmt.is_error(response_json(response))
    assert "NUL" in response.content.decode()
    assert Event.objects.count() == 0
    assert RejectedEvent.objects.filter(project=tenant.project).count() == 1


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_every_field_holding_a_nul_character_is_listed(client, tenant, fmt):
    body = fmt.body([{"id": "dirty", "user": "u", "props": {"a": "x\x00", "b\x00": 1, "c": ["ok", "\x00"]}}])

    response = post(client, fmt, tenant, body)

    assert response.status_code == 400
    messages = [error["message"] for error in response_json(response)["errors"]]
    assert len(messages) == 3 and all("NUL" in message for message in messages), messages
    assert Event.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_a_nul_character_in_a_key_is_refused_not_a_500(client, tenant, fmt):
    body = fmt.body([{"id": "dirty-key", "user": "u", "props": {"k\x00ey": 1}}])

    response = post(client, fmt, tenant, body)

    assert response.status_code == 400
    assert fmt.is_error(response_json(response))
    assert Event.objects.count() == 0

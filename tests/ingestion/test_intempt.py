"""The Intempt-style endpoint through its URL: status, body and database state."""

from __future__ import annotations

import functools
import gzip
import hashlib
import json

import orjson
import pytest
from django.utils import timezone

from ingestion.models import ApiKey, Event, RejectedEvent
from ingestion.services import credential_revoke
from tests.conftest import Tenant
from tests.seeds import seed_body

pytestmark = pytest.mark.django_db


def post(client, tenant: Tenant, body: bytes | str | dict, **extra):
    if isinstance(body, dict):
        body = json.dumps(body)
    return client.post(tenant.intempt_url, data=body, content_type="application/json", **extra)


@pytest.mark.parametrize(
    ("seed", "stored"),
    [
        ("intempt_example_1.json", 1),
        ("intempt_example_2.json", 2),
        ("intempt_example_3.json", 2),
        ("intempt_curl.json", 1),
    ],
)
def test_seed_examples_are_accepted_verbatim(client, tenant, seed, stored):
    response = post(client, tenant, seed_body(seed))

    assert response.status_code == 200
    assert response.json() == {}
    assert Event.objects.filter(project=tenant.project, wire_format="intempt").count() == stored


def test_every_field_of_the_curl_example_is_stored(client, tenant):
    post(client, tenant, seed_body("intempt_curl.json"))

    event = Event.objects.get()
    assert event.name == "Purchase"
    assert event.event_id == "generated-event-id"
    assert event.user_id == "custom@intempt.com"
    assert event.profile_id == "generated-profile-id"
    assert event.timestamp.isoformat() == "2024-05-02T06:38:24+00:00"
    assert event.account_id == "Intempt"
    assert event.session_id == "generated-session-id"
    assert event.page_id == "generated-page-id"
    assert event.properties == {"amount": 150, "productName": "Wine", "quantity": 4, "locationLatitude": 51.509865}
    assert event.context == {
        "anotherUserId": "+111111111",
        "anotherAccountId": "no-reply@intempt.com",
        "userAttributes": {"location": "USA"},
        "accountAttributes": {"founded": 2000},
    }
    assert event.source_id == tenant.source.id


def test_a_retried_request_is_stored_once(client, tenant):
    first = post(client, tenant, seed_body("intempt_example_2.json"))
    second = post(client, tenant, seed_body("intempt_example_2.json"))

    assert first.status_code == second.status_code == 200
    assert second.json() == {}
    assert Event.objects.count() == 2


def test_same_event_id_under_another_name_is_another_event(client, tenant):
    post(client, tenant, {"track": [{"name": "A", "payload": [{"eventId": "e1", "userId": "u"}]}]})
    post(client, tenant, {"track": [{"name": "B", "payload": [{"eventId": "e1", "userId": "u"}]}]})

    assert sorted(Event.objects.values_list("name", flat=True)) == ["A", "B"]


def test_missing_event_id_and_timestamp_gets_a_new_uuid_each_request(client, tenant):
    body = {"track": [{"name": "Ping", "payload": [{"userId": "u1"}]}]}
    before = timezone.now()
    post(client, tenant, body)
    post(client, tenant, body)

    events = list(Event.objects.order_by("id"))
    assert len(events) == 2
    assert events[0].event_id != events[1].event_id
    assert all(event.timestamp >= before for event in events)


def test_missing_event_id_with_timestamp_is_deduplicated_by_content(client, tenant):
    body = {"track": [{"name": "Ping", "payload": [{"userId": "u1", "timestamp": 1714631904000}]}]}
    post(client, tenant, body)
    post(client, tenant, body)

    assert Event.objects.count() == 1


def test_a_timestamp_sent_as_a_string_of_digits_is_milliseconds(client, tenant):
    body = {"track": [{"name": "Ping", "payload": [{"eventId": "e1", "userId": "u1", "timestamp": "1714631904000"}]}]}

    assert post(client, tenant, body).status_code == 200

    assert Event.objects.get().timestamp.isoformat() == "2024-05-02T06:38:24+00:00"


@pytest.mark.parametrize("unset", [0, 0.0, -0.0, 0.4, "0", "00", " 0 ", ""])
def test_a_timestamp_of_0_is_not_set_so_the_time_received_applies_and_each_request_is_new(client, tenant, unset):
    # An SDK whose int64 field cannot be absent sends 0 for an event it did not stamp.
    body = {"track": [{"name": "Ping", "payload": [{"userId": "u1", "timestamp": unset}]}]}
    before = timezone.now()

    assert post(client, tenant, body).status_code == 200
    assert post(client, tenant, body).status_code == 200

    events = list(Event.objects.all())
    assert len(events) == 2  # no timestamp of its own: a new event each time
    assert all(event.timestamp >= before for event in events)


@pytest.mark.parametrize("timestamp", [False, "-5", "1e3", " ", "0x10"])
def test_a_timestamp_that_is_no_number_of_milliseconds_is_refused(client, tenant, timestamp):
    body = {"track": [{"name": "Ping", "payload": [{"userId": "u1", "timestamp": timestamp}]}]}

    response = post(client, tenant, body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "timestamp"
    assert Event.objects.count() == 0


def test_a_derived_event_id_is_the_content_hash_so_it_survives_an_upgrade(client, tenant):
    # A retry that arrives after an upgrade must derive the same id, or it is stored twice.
    item = {"userId": "u1", "timestamp": 1714631904000, "data": {"b": 1, "a": 2}}
    expected = "th-" + hashlib.sha256(b"Ping\0" + orjson.dumps(item, option=orjson.OPT_SORT_KEYS)).hexdigest()[:40]

    assert post(client, tenant, {"track": [{"name": "Ping", "payload": [item]}]}).status_code == 200

    assert Event.objects.get().event_id == expected


def test_data_and_attributes_may_be_json_strings(client, tenant):
    body = {
        "track": [
            {
                "name": "Purchase",
                "payload": [
                    {
                        "eventId": "e1",
                        "userId": "u1",
                        "data": '{"amount": 5}',
                        "userAttributes": '{"plan": "pro"}',
                        "accountAttributes": "{}",
                    }
                ],
            }
        ]
    }
    response = post(client, tenant, body)

    assert response.status_code == 200
    event = Event.objects.get()
    assert event.properties == {"amount": 5}
    assert event.context["userAttributes"] == {"plan": "pro"}


@pytest.mark.parametrize("key", ["data", "userAttributes", "accountAttributes"])
@pytest.mark.parametrize("value", ["", "  ", "null"])
def test_an_empty_or_null_json_string_field_is_absent(client, tenant, key, value):
    """Typed "string, format json": a client built from that schema sends "" (or a
    serialised null) for no attributes, as it sends "" for an id it does not have."""
    body = {"track": [{"name": "Purchase", "payload": [{"eventId": "e1", "userId": "u1", key: value}]}]}
    response = post(client, tenant, body)

    assert (response.status_code, response.json()) == (200, {})
    event = Event.objects.get()
    assert event.properties == {}
    assert not RejectedEvent.objects.exists()


@pytest.mark.parametrize("key", ["data", "userAttributes", "accountAttributes"])
@pytest.mark.parametrize(
    ("text", "named"), [("a\u0000b", "NUL"), ("abc\ud83d", "lone surrogate")], ids=["NUL", "surrogate"]
)
def test_an_unstorable_character_inside_a_json_string_field_refuses_only_its_event(client, tenant, key, text, named):
    # The string holds JSON whose text PostgreSQL cannot store: a NUL, or an escaped half
    # of an emoji (valid JSON; it was refused as "must be a JSON object or a string holding
    # one", as if no JSON). The field is named with its path either way.
    bad = {"eventId": "bad", "userId": "u", key: json.dumps({"k": text})}
    body = {"track": [{"name": "X", "payload": [{"eventId": "ok", "userId": "u"}, bad]}]}
    response = post(client, tenant, body)

    assert response.status_code == 200, response.content
    (problem,) = response.json()["rejected"]
    assert problem["index"] == "track[0].payload[1]" and problem["field"] == f"{key}.k"
    assert named in problem["message"]
    assert list(Event.objects.values_list("event_id", flat=True)) == ["ok"]
    assert RejectedEvent.objects.get().payload == {"name": "X", "payload": [bad]}


@pytest.mark.parametrize(
    "deep",
    [
        json.dumps(functools.reduce(lambda inner, _: {"n": inner}, range(300), "leaf")),
        # 1,000 levels (the parser reads 1,024) and a NUL: the NUL walk must not run on it.
        '{"n":' * 1000 + '"a\\u0000b"' + "}" * 1000,
    ],
    ids=["300 levels", "1000 levels and a NUL"],
)
def test_a_json_string_field_nested_too_deep_to_store_refuses_only_its_event(client, tenant, deep):
    bad = {"eventId": "bad", "userId": "u", "data": deep}
    body = {"track": [{"name": "X", "payload": [{"eventId": "ok", "userId": "u"}, bad]}]}
    response = post(client, tenant, body)

    assert response.status_code == 200, response.content
    (problem,) = response.json()["rejected"]
    assert problem["field"] == "data" and "nested deeper" in problem["message"]
    assert list(Event.objects.values_list("event_id", flat=True)) == ["ok"]


def test_every_nul_inside_a_json_string_field_is_listed(client, tenant):
    bad = {"eventId": "bad", "userId": "u", "data": json.dumps({"k": "a\u0000b", "n\u0000": 1, "j": ["\u0000"]})}
    body = {"track": [{"name": "X", "payload": [{"eventId": "ok", "userId": "u"}, bad]}]}
    response = post(client, tenant, body)

    assert response.status_code == 200, response.content
    assert [problem["field"] for problem in response.json()["rejected"]] == ["data.k", "data.n\\u0000", "data.j[0]"]


def test_unlisted_fields_are_kept_in_context(client, tenant):
    post(client, tenant, {"track": [{"name": "X", "payload": [{"userId": "u", "sdkVersion": "1.2", "eventId": "1"}]}]})

    assert Event.objects.get().context == {"sdkVersion": "1.2"}


def test_fields_beside_the_payload_and_the_track_are_kept_in_each_events_context(client, tenant):
    body = {
        "sentAt": 1714631904123,
        "track": [
            {
                "name": "X",
                "source": "sdk",
                "payload": [{"userId": "u", "eventId": "1"}, {"userId": "u", "eventId": "2", "source": "own"}],
            }
        ],
    }

    response = post(client, tenant, body)

    assert response.status_code == 200
    contexts = dict(Event.objects.values_list("event_id", "context"))
    assert contexts == {
        "1": {"sentAt": 1714631904123, "source": "sdk"},
        "2": {"sentAt": 1714631904123, "source": "own"},
    }


def test_a_refused_event_is_kept_with_the_fields_beside_the_track_and_replays_with_them(client, tenant):
    bad = {"eventId": "bad", "userId": ""}
    body = {"sentAt": 1714631904123, "track": [{"name": "X", "payload": [{"eventId": "ok", "userId": "u"}, bad]}]}

    assert post(client, tenant, body).status_code == 200

    kept = RejectedEvent.objects.get().payload
    assert kept == {"sentAt": 1714631904123, "name": "X", "payload": [bad]}
    replayed = post(client, tenant, {"track": [{**kept, "payload": [{**bad, "userId": "u"}]}]})
    assert replayed.status_code == 200
    assert Event.objects.get(event_id="bad").context == {"sentAt": 1714631904123}


def test_a_nul_beside_the_track_refuses_each_event_naming_the_field(client, tenant):
    events = [{"eventId": "a", "userId": "u"}, {"eventId": "b", "userId": "v"}]
    response = post(client, tenant, {"sentAt": "2024\u0000", "track": [{"name": "X", "payload": events}]})

    message = "sentAt contains a NUL character (\\u0000)"

    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"index": f"track[0].payload[{i}]", "field": "sentAt", "message": message} for i in range(2)]
    }
    assert not Event.objects.exists()
    assert RejectedEvent.objects.count() == 2


def test_nesting_too_deep_beside_the_track_refuses_each_event_not_a_500(client, tenant):
    # 1,000 levels: within what the parser reads, past what the encoder writes back.
    deep = "[" * 1000 + "]" * 1000
    body = '{"meta": DEEP, "track": [{"name": "X", "payload": [{"eventId": "a", "userId": "u"}]}]}'.replace(
        "DEEP", deep
    )

    response = post(client, tenant, body)

    assert response.status_code == 400
    (problem,) = response.json()["errors"]
    assert problem["index"] == "track[0].payload[0]" and "nested deeper" in problem["message"]
    assert not Event.objects.exists()
    assert RejectedEvent.objects.count() == 1


@pytest.mark.parametrize("where", ["body", "group"])
def test_fields_copied_into_every_event_count_once_per_event_against_the_size_limit(client, tenant, where):
    # 3 KB copied into 1,000 events is 3 MB stored: over the 2 MiB a request may carry.
    payload = [{"eventId": str(i), "userId": "u"} for i in range(1000)]
    group = {"name": "X", "payload": payload}
    body = {"sentAt": "s" * 3000, "track": [group]} if where == "body" else {"track": [{**group, "sdk": "s" * 3000}]}

    response = post(client, tenant, body)

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "track" and "copied into each of their events" in error["message"]
    assert not Event.objects.exists() and not RejectedEvent.objects.exists()


@pytest.mark.parametrize("where", ["body", "group"])
def test_copied_fields_holding_a_lone_surrogate_count_against_the_size_limit(client, tenant, where):
    # The surrogate refuses each event, whose kept payload (U+FFFD in its place) still
    # copies the 3 KB: 1,000 rejected events of 3 KB each, had the copy not been counted.
    payload = [{"eventId": str(i), "userId": "u"} for i in range(1000)]
    group = {"name": "X", "payload": payload}
    copied = "s" * 3000 + "\ud83d"
    body = {"sentAt": copied, "track": [group]} if where == "body" else {"track": [{**group, "sdk": copied}]}
    text = json.dumps(body)
    assert "\\ud83d" in text

    response = post(client, tenant, text)

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "track" and "copied into each of their events" in error["message"]
    assert not Event.objects.exists() and not RejectedEvent.objects.exists()


# A body-level ``name`` or ``payload`` (beside ``track``) is copied into each event's context
# like any field there, though a kept group cannot hold it (it would be the group's own):
# the checks of what an event carries must see it all the same.


@pytest.mark.parametrize("key", ["name", "payload"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x\\u0000", "{key} contains a NUL character (\\u0000)"),
        (
            "x\\ud83d",
            "{key} contains a lone surrogate (\\ud83d), half of a character written in UTF-16, "
            "which is no Unicode text",
        ),
    ],
    ids=["nul", "lone-surrogate"],
)
@pytest.mark.parametrize("events", [1, 30], ids=["one-statement write", "bulk write"])
def test_an_unstorable_body_level_name_or_payload_refuses_each_event_naming_it_not_a_500(
    client, tenant, key, value, message, events
):
    items = ", ".join(f'{{"eventId": "{i}", "userId": "u"}}' for i in range(events))
    body = f'{{"{key}": "{value}", "track": [{{"name": "X", "payload": [{items}]}}]}}'

    response = post(client, tenant, body)

    assert response.status_code == 400
    expected = message.format(key=key)
    assert response.json() == {
        "errors": [{"index": f"track[0].payload[{i}]", "field": key, "message": expected} for i in range(events)]
    }
    assert not Event.objects.exists()
    assert RejectedEvent.objects.count() == events


@pytest.mark.parametrize("key", ["name", "payload"])
@pytest.mark.parametrize("events", [1, 30], ids=["one-statement write", "bulk write"])
def test_a_body_level_name_or_payload_nested_too_deep_refuses_each_event_not_a_500(client, tenant, key, events):
    deep = "[" * 1000 + "]" * 1000
    items = ", ".join(f'{{"eventId": "{i}", "userId": "u"}}' for i in range(events))
    body = f'{{"{key}": {deep}, "track": [{{"name": "X", "payload": [{items}]}}]}}'

    response = post(client, tenant, body)

    assert response.status_code == 400
    problems = response.json()["errors"]
    assert [problem["index"] for problem in problems] == [f"track[0].payload[{i}]" for i in range(events)]
    assert all("nested deeper" in problem["message"] for problem in problems)
    assert not Event.objects.exists()
    assert RejectedEvent.objects.count() == events


@pytest.mark.parametrize("key", ["name", "payload"])
def test_a_body_level_name_or_payload_counts_once_per_event_against_the_size_limit(client, tenant, key):
    # 3 KB copied into 1,000 events' context is 3 MB stored, as for a sentAt beside the track.
    payload = [{"eventId": str(i), "userId": "u"} for i in range(1000)]
    body = {key: "s" * 3000, "track": [{"name": "X", "payload": payload}]}

    response = post(client, tenant, body)

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "track" and "copied into each of their events" in error["message"]
    assert not Event.objects.exists() and not RejectedEvent.objects.exists()


def test_a_body_level_name_or_payload_is_kept_in_each_events_context(client, tenant):
    body = {
        "name": "batch-7",
        "payload": {"v": 1},
        "track": [{"name": "X", "payload": [{"eventId": "1", "userId": "u"}]}],
    }

    assert post(client, tenant, body).status_code == 200
    assert Event.objects.get().context == {"name": "batch-7", "payload": {"v": 1}}


def test_small_fields_beside_a_thousand_events_are_within_the_limit(client, tenant):
    payload = [{"eventId": str(i), "userId": "u"} for i in range(1000)]

    response = post(client, tenant, {"sentAt": 1714631904123, "track": [{"name": "X", "payload": payload}]})

    assert response.status_code == 200
    assert Event.objects.count() == 1000


def test_a_retry_with_another_sent_at_is_stored_once(client, tenant):
    event = {"userId": "u", "timestamp": 1714631904000}
    for sent_at in (1, 2):
        post(client, tenant, {"sentAt": sent_at, "track": [{"name": "Ping", "payload": [event]}]})

    assert Event.objects.count() == 1


@pytest.mark.parametrize("group", [{"name": "X"}, {"name": "X", "payload": {"userId": "u"}}])
def test_a_group_without_a_payload_array_is_refused_naming_payload(client, tenant, group):
    response = post(client, tenant, {"track": [group]})

    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"index": "track[0]", "field": "payload", "message": "payload is required and must be an array"}]
    }
    assert RejectedEvent.objects.get().payload == group


def test_a_group_without_a_name_is_kept_as_sent(client, tenant):
    group = {"payload": [{"eventId": "e1", "userId": "u"}]}
    response = post(client, tenant, {"track": [group]})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "name"
    assert RejectedEvent.objects.get().payload == group  # no "name": null the sender never sent


def test_a_user_id_of_the_wrong_type_is_one_problem(client, tenant):
    response = post(client, tenant, {"track": [{"name": "X", "payload": [{"userId": 5}]}]})

    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"index": "track[0].payload[0]", "field": "userId", "message": "userId must be a string"}]
    }
    assert Event.objects.count() == 0
    assert RejectedEvent.objects.count() == 1  # kept for replay


def test_profile_id_alone_identifies_the_user(client, tenant):
    response = post(client, tenant, {"track": [{"name": "X", "payload": [{"profileId": "p1"}]}]})

    assert response.status_code == 200
    assert Event.objects.get().profile_id == "p1"


@pytest.mark.parametrize("user", ["", None], ids=["empty", "json-null"])
def test_an_empty_or_null_user_id_with_no_other_user_is_an_event_level_error(client, tenant, user):
    response = post(client, tenant, {"track": [{"name": "X", "payload": [{"eventId": "bad", "userId": user}]}]})

    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [("track[0].payload[0]", "userId")]
    assert not Event.objects.exists()
    assert RejectedEvent.objects.get().field == "userId"


def test_event_without_user_is_rejected_with_index_and_kept(client, tenant):
    body = {"track": [{"name": "X", "payload": [{"eventId": "ok", "userId": "u"}, {"eventId": "bad", "userId": ""}]}]}
    response = post(client, tenant, body)

    assert response.status_code == 200
    assert response.json() == {
        "rejected": [
            {
                "index": "track[0].payload[1]",
                "field": "userId",
                "message": "userId is required when profileId is not set",
            }
        ]
    }
    assert list(Event.objects.values_list("event_id", flat=True)) == ["ok"]
    rejected = RejectedEvent.objects.get()
    assert rejected.index == "track[0].payload[1]"
    assert rejected.field == "userId"
    assert rejected.payload == {"name": "X", "payload": [{"eventId": "bad", "userId": ""}]}


def test_all_events_invalid_is_400_listing_each(client, tenant):
    body = {"track": [{"name": "X", "payload": [{"timestamp": "soon", "userId": "u"}]}, {"payload": [{"userId": "u"}]}]}
    response = post(client, tenant, body)

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "index": "track[0].payload[0]",
                "field": "timestamp",
                "message": "timestamp must be a number of milliseconds since the epoch",
            },
            {"index": "track[1].payload[0]", "field": "name", "message": "name is required"},
        ]
    }
    assert Event.objects.count() == 0
    assert RejectedEvent.objects.count() == 2


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"track": {}}',
        b"",
        b'{"track": [{"name": "X", "payload": [{"userId": NaN}]}]}',
        b"\xff\xfe",
    ],
)
def test_request_level_problems_are_400_and_store_nothing(client, tenant, body):
    response = post(client, tenant, body)

    assert response.status_code == 400
    assert "errors" in response.json()
    assert Event.objects.count() == RejectedEvent.objects.count() == 0


def test_more_than_1000_events_is_refused(client, tenant):
    body = {"track": [{"name": "X", "payload": [{"userId": "u"}] * 1001}]}
    response = post(client, tenant, body)

    assert response.status_code == 400
    assert "1000" in response.json()["errors"][0]["message"]
    assert Event.objects.count() == 0


def test_body_over_2_mib_is_refused(client, tenant):
    body = json.dumps({"track": [{"name": "X", "payload": [{"userId": "u", "data": {"pad": "x" * 2_100_000}}]}]})
    response = post(client, tenant, body)

    assert response.status_code == 400
    assert Event.objects.count() == 0


@pytest.mark.parametrize("doubled", ["leading", "inner", "trailing", "trailing-doubled"])
def test_the_endpoint_answers_with_a_doubled_or_trailing_slash(client, tenant, doubled):
    """A base URL configured with a trailing slash gives ``//org/...``."""
    path = tenant.intempt_url.split("?")[0]
    path = {
        "leading": "/" + path,
        "inner": path.replace("/projects/", "//projects//"),
        "trailing": path + "/",
        "trailing-doubled": path + "//",
    }[doubled]
    response = post(client, tenant, seed_body("intempt_example_1.json"), PATH_INFO=path)

    assert response.status_code == 200, (path, response.content[:200])
    assert Event.objects.count() == 1


def test_a_body_starting_with_a_utf8_byte_order_mark_is_read(client, tenant):
    response = post(client, tenant, b"\xef\xbb\xbf" + seed_body("intempt_example_1.json"))

    assert response.status_code == 200
    assert Event.objects.count() == 1


def test_gzip_body_is_accepted(client, tenant):
    response = post(client, tenant, gzip.compress(seed_body("intempt_example_2.json")), HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 200
    assert Event.objects.count() == 2


def test_gzip_bomb_is_refused_at_the_limit(client, tenant):
    bomb = gzip.compress(b'{"track": [{"name": "X", "payload": [{"userId": "' + b"a" * 50_000_000 + b'"}]}]}')
    response = post(client, tenant, bomb, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert "2097152" in response.json()["errors"][0]["message"]


def test_the_rendered_pages_curl_verbatim_is_a_401_in_intempts_shape(client, tenant):
    """Its URL, ``//projects//sources/0/track?apiKey``, leaves the org, the project and the
    key empty: the answer says the credentials are missing, not a 404 page."""
    response = client.post(
        "/", data=seed_body("intempt_curl.json"), content_type="application/json",
        PATH_INFO="//projects//sources/0/track", QUERY_STRING="apiKey",
    )  # fmt: skip

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Credentials are missing"}]}
    assert Event.objects.count() == 0


def test_a_valid_key_on_the_rendered_pages_empty_path_is_not_valid_for_it(client, tenant):
    response = client.post(
        "/", data=seed_body("intempt_curl.json"), content_type="application/json",
        PATH_INFO="//projects//sources/0/track", QUERY_STRING=f"apiKey={tenant.api_key}",
    )  # fmt: skip

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "API key is not valid for this source"}]}
    assert Event.objects.count() == 0


@pytest.mark.parametrize("api_key", ["", "nodot", "key_x.wrong", "key_x"])
def test_bad_api_key_is_401_and_writes_nothing(client, tenant, api_key):
    url = tenant.intempt_url.split("?")[0] + (f"?apiKey={api_key}" if api_key else "")
    response = client.post(url, data=seed_body("intempt_example_1.json"), content_type="application/json")

    assert response.status_code == 401
    assert "errors" in response.json()
    assert Event.objects.count() == 0


@pytest.mark.parametrize("api_key", ["key_x%00.secret", "%00.secret"])
def test_an_api_key_with_a_nul_in_its_identifier_is_an_invalid_key(client, tenant, api_key):
    """No key has one (PostgreSQL text cannot even hold it): an unknown key, not a body
    that cannot be stored."""
    url = tenant.intempt_url.split("?")[0] + f"?apiKey={api_key}"
    response = client.post(url, data=seed_body("intempt_example_1.json"), content_type="application/json")

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Invalid API key"}]}
    assert Event.objects.count() == 0


def test_revoked_key_is_refused_on_the_next_request(client, tenant):
    first = {"track": [{"name": "e", "payload": [{"eventId": "before", "userId": "u", "timestamp": 1714631904000}]}]}
    assert post(client, tenant, first).status_code == 200
    credential_revoke(presented_or_identifier=tenant.api_key)

    response = post(client, tenant, seed_body("intempt_example_1.json"))

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Invalid API key"}]}
    assert list(Event.objects.values_list("event_id", flat=True)) == ["before"]


def test_key_of_another_source_is_refused(client, tenant, other_tenant):
    url = tenant.intempt_url.split("?")[0] + f"?apiKey={other_tenant.api_key}"
    response = client.post(url, data=seed_body("intempt_example_1.json"), content_type="application/json")

    assert response.status_code == 401
    assert Event.objects.count() == 0


def test_wrong_org_or_project_in_path_is_refused(client, tenant):
    url = tenant.intempt_url.replace("demo-project", "nope")
    response = client.post(url, data=seed_body("intempt_example_1.json"), content_type="application/json")

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "API key is not valid for this source"}]}
    assert Event.objects.count() == 0


def test_key_without_track_scope_is_refused(client, tenant):
    from ingestion.services import api_key_create

    stored, key = api_key_create(source=tenant.source)
    ApiKey.objects.filter(pk=stored.pk).update(scopes=[])  # stored before keys needed their scope
    url = tenant.intempt_url.split("?")[0] + f"?apiKey={key}"
    response = client.post(url, data=seed_body("intempt_example_1.json"), content_type="application/json")

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "API key missing track:events scope"}]}
    assert Event.objects.count() == 0

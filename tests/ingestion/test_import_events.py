"""manage.py import_events: the HTTP path's validation and dedupe, for a whole file."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tracemalloc
from datetime import timedelta
from pathlib import Path
from unittest.mock import ANY

import orjson
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from ingestion.formats import adapter_for, adapter_names
from ingestion.formats.intempt import IntemptAdapter
from ingestion.imports import EXPORTED_FIELDS_BYTES
from ingestion.models import Event, RejectedEvent
from tests.conftest import tenant_create
from tests.seeds import seed_body

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
COMPARED = ("name", "namespace", "event_id", "timestamp", "user_id", "profile_id", "anonymous_id", "account_id",
            "session_id", "page_id", "properties", "context")  # fmt: skip


def run_import(path: Path, tenant, file_format: str, *extra: str) -> tuple[str, str]:
    """The command's output; an import that rejected something ends in a CommandError
    (exit status 1) once the whole file is read, which is taken as its answer here."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(
            "import_events", str(path), "--source-id", str(tenant.source.id), "--format", file_format, *extra,
            stdout=out, stderr=err,
        )  # fmt: skip
    except CommandError as exc:
        if "rejected: see " not in str(exc):
            raise
        assert exc.returncode == 1
        assert "rejected lines and events with their reasons: " in out.getvalue()
    return out.getvalue(), err.getvalue()


def ndjson_event(event_id: str, **fields) -> str:
    return json.dumps({"name": "Imported", "event_id": event_id, "timestamp": "2024-05-02T06:38:24.000Z",
                       "user_id": "u1", "properties": {"n": event_id}, **fields})  # fmt: skip


def rejected_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_ndjson_with_bad_lines_stores_the_good_ones_and_reports_the_bad(tmp_path, tenant):
    path = tmp_path / "history.ndjson"
    path.write_text(
        "\n".join(
            [
                ndjson_event("a"),
                "{not json",
                ndjson_event("b"),
                "",
                json.dumps({"event_id": "no-name", "timestamp": "2024-05-02T06:38:24.000Z"}),
                json.dumps(["an", "array"]),
                ndjson_event("c", timestamp="20-11-23"),
                ndjson_event("d", extra_field="kept"),
            ]
        )
        + "\n"
    )

    out, err = run_import(path, tenant, "ndjson")

    assert "7 lines: 3 events stored, 0 duplicates (already stored), 3 events rejected, 1 line rejected" in out
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["a", "b", "d"]
    assert Event.objects.get(event_id="d").context == {"extra_field": "kept"}
    assert set(Event.objects.values_list("wire_format", flat=True)) == {"import"}
    reasons = {r["line"]: r["errors"] for r in rejected_records(tmp_path / "history.ndjson.rejected.ndjson")}
    assert set(reasons) == {2, 5, 6, 7}
    assert reasons[2][0]["message"].startswith("The body is not valid JSON")
    assert reasons[5][0]["field"] == "name"
    assert reasons[7][0]["field"] == "timestamp"
    assert RejectedEvent.objects.filter(wire_format="import").count() == 3
    assert "events/s" in err and " left" in err and " elapsed" in err


@pytest.mark.parametrize(
    ("timestamp", "message"),
    [
        ({"timestamp": "bad"}, "timestamp is not valid: expected ISO 8601 with a 4-digit year"),
        ({"timestamp": True}, "timestamp is not valid: expected ISO 8601 with a 4-digit year"),
        ({"timestamp": ""}, "timestamp is required: ISO 8601 with a 4-digit year"),
        ({}, "timestamp is required: ISO 8601 with a 4-digit year"),
    ],
)
def test_an_ndjson_timestamp_is_refused_as_invalid_or_as_missing(tmp_path, tenant, timestamp, message):
    path = tmp_path / "history.ndjson"
    path.write_text(json.dumps({"name": "z", **timestamp}) + "\n")

    run_import(path, tenant, "ndjson")

    (record,) = rejected_records(tmp_path / "history.ndjson.rejected.ndjson")
    (error,) = record["errors"]
    assert error["field"] == "timestamp"
    assert error["message"].startswith(message)
    assert "(2024-05-02T06:38:24.000Z) or milliseconds since the epoch" in error["message"]
    assert RejectedEvent.objects.get().message == error["message"]
    assert not Event.objects.exists()


def test_a_rejected_ndjson_event_is_indexed_by_its_line_in_the_file(tmp_path, tenant):
    # Batches of two: lines 2 and 5 (line 3 is blank) are both second in their batch.
    path = tmp_path / "history.ndjson"
    bad = json.dumps({"name": "Imported"})  # no timestamp
    path.write_text("\n".join([ndjson_event("a"), bad, "", ndjson_event("b"), bad, ndjson_event("c")]) + "\n")

    run_import(path, tenant, "ndjson", "--batch-size", "2")

    assert sorted(RejectedEvent.objects.values_list("index", flat=True)) == ["2", "5"]
    assert sorted(RejectedEvent.objects.values_list("errors", flat=True), key=str) == [
        [{"index": "2", "field": "timestamp", "message": ANY}],
        [{"index": "5", "field": "timestamp", "message": ANY}],
    ]
    records = rejected_records(tmp_path / "history.ndjson.rejected.ndjson")
    assert [(r["line"], r["index"], [e["index"] for e in r["errors"]]) for r in records] == [
        (2, "2", ["2"]),
        (5, "5", ["5"]),
    ]
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["a", "b", "c"]


def test_importing_the_same_file_twice_stores_nothing_new(tmp_path, tenant):
    path = tmp_path / "history.ndjson"
    path.write_text("\n".join(ndjson_event(str(n)) for n in range(25)) + "\n")
    run_import(path, tenant, "ndjson", "--batch-size", "10")

    out, _ = run_import(path, tenant, "ndjson", "--batch-size", "10")

    assert "25 lines: 0 events stored, 25 duplicates" in out
    assert Event.objects.count() == 25
    assert not (tmp_path / "history.ndjson.rejected.ndjson").exists()


def test_export_then_import_round_trips_every_field(client, tenant, other_tenant, read_client, tmp_path):
    for name in ("intempt_curl.json", "intempt_example_2.json", "intempt_example_3.json"):
        response = client.post(tenant.intempt_url, data=seed_body(name), content_type="application/json")
        assert response.status_code == 200
    export = read_client.get("/api/v1/events/export.ndjson")
    path = tmp_path / "export.ndjson"
    path.write_bytes(b"".join(export.streaming_content))

    out, _ = run_import(path, other_tenant, "ndjson")
    again, _ = run_import(path, other_tenant, "ndjson")

    assert "5 events stored" in out and "0 events stored, 5 duplicates" in again
    exported = [json.loads(line) for line in path.read_text().splitlines()]
    imported = client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Bearer {other_tenant.read_token}").json()["results"]

    def comparable(events: list[dict]) -> list[dict]:
        # Events on one timestamp are ordered by row id, which the import assigns anew.
        return sorted(({k: e[k] for k in COMPARED} for e in events), key=lambda e: (e["timestamp"], e["event_id"]))

    assert comparable(imported) == comparable(exported)
    # Each event keeps the format it was sent in; the import's source applies.
    assert {(e["wire_format"], e["source_id"]) for e in imported} == {("intempt", other_tenant.source.id)}


def test_an_event_accepted_near_the_size_limit_is_restored_from_its_export(
    client, tenant, other_tenant, read_client, tmp_path
):
    # Sent compactly, the event fits in a request; the export writes it longer (a space
    # after every ',' and ':'; on SQLite a non-ASCII character as \u escapes), past 2 MiB.
    data = {"zeros": [0] * 600_000, "text": "\u00e9\U0001f600" * 100_000}
    body = orjson.dumps({"track": [{"name": "Big", "payload": [{"eventId": "big-1", "userId": "u", "data": data}]}]})
    assert len(body) <= settings.TRACKHUB_MAX_BODY_BYTES
    assert client.post(tenant.intempt_url, data=body, content_type="application/json").status_code == 200
    path = tmp_path / "export.ndjson"
    path.write_bytes(b"".join(read_client.get("/api/v1/events/export.ndjson").streaming_content))
    assert len(path.read_bytes()) > settings.TRACKHUB_MAX_BODY_BYTES

    out, _ = run_import(path, other_tenant, "ndjson")

    assert "1 event stored, 0 duplicates (already stored), 0 events rejected, 0 lines rejected" in out
    assert Event.objects.get(project=other_tenant.project).properties == data


def test_an_ndjson_event_over_the_size_limit_is_refused_as_a_line(tmp_path, tenant):
    path = tmp_path / "history.ndjson"
    too_long = "a" * (settings.TRACKHUB_MAX_BODY_BYTES + EXPORTED_FIELDS_BYTES)
    path.write_text(ndjson_event("huge", properties={"x": too_long}) + "\n")

    out, _ = run_import(path, tenant, "ndjson")

    assert "1 line: 0 events stored, 0 duplicates (already stored), 0 events rejected, 1 line rejected" in out
    assert not Event.objects.exists()
    [record] = rejected_records(tmp_path / "history.ndjson.rejected.ndjson")
    assert record["line"] == 1
    assert record["errors"][0]["message"].startswith("The event is over the 2097152 byte limit")


def test_an_ndjson_event_over_the_size_limit_with_a_lone_surrogate_is_refused_as_a_line(tmp_path, tenant):
    # Refused for its surrogate alone, it was kept whole (U+FFFD in its place): an event
    # past the size limit in the rejected store.
    path = tmp_path / "history.ndjson"
    too_long = "a" * (settings.TRACKHUB_MAX_BODY_BYTES + EXPORTED_FIELDS_BYTES) + "\ud83d"
    line = ndjson_event("huge", properties={"x": too_long})
    assert "\\ud83d" in line
    path.write_text(line + "\n")

    out, _ = run_import(path, tenant, "ndjson")

    assert "1 line: 0 events stored, 0 duplicates (already stored), 0 events rejected, 1 line rejected" in out
    assert not Event.objects.exists() and not RejectedEvent.objects.exists()
    [record] = rejected_records(tmp_path / "history.ndjson.rejected.ndjson")
    assert record["errors"][0]["message"].startswith("The event is over the 2097152 byte limit")


def test_timestamps_before_the_year_1000_export_with_four_digits_and_import_again(
    client, tenant, other_tenant, read_client, tmp_path
):
    body = {
        "track": [{"name": "Old", "payload": [{"eventId": "year-50", "userId": "u", "timestamp": -60589296000000}]}]
    }
    assert client.post(tenant.intempt_url, data=body, content_type="application/json").status_code == 200

    listed = read_client.get("/api/v1/events/").json()["results"]
    export = read_client.get("/api/v1/events/export.ndjson")
    path = tmp_path / "export.ndjson"
    path.write_bytes(b"".join(export.streaming_content))
    out, _ = run_import(path, other_tenant, "ndjson")

    assert [event["timestamp"] for event in listed] == ["0050-01-01T00:00:00.000Z"]
    assert "1 event stored" in out
    assert Event.objects.get(project=other_tenant.project).timestamp.year == 50


def test_intempt_file_goes_through_the_track_validation(tmp_path, tenant):
    good = seed_body("intempt_example_3.json").decode().strip()
    partly_bad = json.dumps({"track": [{"name": "P", "payload": [{"eventId": "ok", "userId": "u"}, {"eventId": "x"}]}]})
    path = tmp_path / "intempt.ndjson"
    path.write_text("\n".join([good, "[1, 2", partly_bad, json.dumps({"nope": 1})]) + "\n")
    rejected = tmp_path / "rejected.ndjson"

    out, _ = run_import(path, tenant, "intempt", "--rejected-file", str(rejected), "--no-progress")

    assert "4 lines: 3 events stored, 0 duplicates (already stored), 1 event rejected, 2 lines rejected" in out
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["evt_purchase_003", "evt_signup_001", "ok"]
    records = {r["line"]: r for r in rejected_records(rejected)}
    assert records[3]["index"] == "track[0].payload[1]"
    assert records[3]["errors"][0]["field"] == "userId"
    assert records[3]["payload"] == {"name": "P", "payload": [{"eventId": "x"}]}
    assert records[4]["errors"][0]["field"] == "track" and records[4]["raw"] == '{"nope": 1}'
    assert set(records) == {2, 3, 4}


def test_a_databuddy_timestamp_of_thousands_of_digits_rejects_that_event_not_the_import(tmp_path, tenant):
    # int() refuses more than 4,300 digits with a ValueError, which stopped the command.
    path = tmp_path / "databuddy.ndjson"
    lines = [{"name": "late", "anonymousId": "a", "timestamp": "9" * 5000}, {"name": "ok", "anonymousId": "a"}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    rejected = tmp_path / "rejected.ndjson"

    out, _ = run_import(path, tenant, "databuddy", "--rejected-file", str(rejected), "--no-progress")

    assert "2 lines: 1 event stored, 0 duplicates (already stored), 1 event rejected, 0 lines rejected" in out
    assert list(Event.objects.values_list("name", flat=True)) == ["ok"]
    (record,) = rejected_records(rejected)
    assert record["errors"][0]["field"] == "timestamp"
    assert RejectedEvent.objects.get().field == "timestamp"


def test_wire_events_without_id_or_timestamp_are_not_stored_twice(tmp_path, tenant):
    body = {"track": [{"name": "NoIdNoTime", "payload": [{"userId": "u1"}, {"userId": "u2"}]}]}
    path = tmp_path / "intempt.ndjson"
    path.write_text(json.dumps(body) + "\n" + json.dumps(body) + "\n")

    run_import(path, tenant, "intempt", "--no-progress")
    out, _ = run_import(path, tenant, "intempt", "--no-progress")

    # Two lines with the same events are two requests, as over HTTP; a second run adds nothing.
    assert Event.objects.count() == 4
    assert "0 events stored, 4 duplicates" in out


@pytest.mark.parametrize(
    ("file_format", "bad_line"),
    [
        ("ndjson", json.dumps({"event_id": "no-name", "timestamp": "2024-05-02T06:38:24.000Z"})),
        ("intempt", json.dumps({"track": [{"name": "NoUser", "payload": [{"sessionId": "s-1"}]}]})),
    ],
)
def test_importing_a_file_with_refused_events_twice_keeps_each_refused_event_once(
    tmp_path, tenant, file_format, bad_line
):
    # The Intempt event has neither id nor timestamp: its place in the file identifies it.
    path = tmp_path / "history.ndjson"
    path.write_text(bad_line + "\n" + bad_line + "\n")

    run_import(path, tenant, file_format, "--no-progress")
    out, _ = run_import(path, tenant, file_format, "--no-progress")

    assert "2 events rejected" in out  # each run reports what it refused
    assert RejectedEvent.objects.filter(project=tenant.project).count() == 2  # one per line


def test_unknown_source_is_a_command_error(tmp_path, tenant):
    path = tmp_path / "x.ndjson"
    path.write_text(ndjson_event("a") + "\n")

    with pytest.raises(CommandError, match="no source"):
        call_command("import_events", str(path), "--source-id", "999999999", "--format", "ndjson")


def test_missing_file_is_a_command_error(tmp_path, tenant):
    with pytest.raises(CommandError, match="cannot read"):
        run_import(tmp_path / "missing.ndjson", tenant, "ndjson")


@pytest.mark.parametrize("batch_size", ["0", "-1", "1001"])
def test_a_batch_size_outside_1_to_1000_is_a_command_error(tmp_path, tenant, batch_size):
    path = tmp_path / "history.ndjson"
    path.write_text(ndjson_event("a") + "\n")

    with pytest.raises(CommandError, match=f"--batch-size must be from 1 to 1000, got {batch_size}"):
        run_import(path, tenant, "ndjson", "--batch-size", batch_size)

    assert not Event.objects.exists()
    assert not (tmp_path / "history.ndjson.rejected.ndjson").exists()


def test_adapter_for_finds_formats_by_name():
    assert isinstance(adapter_for("intempt"), IntemptAdapter)
    assert adapter_for("ndjson").wire_format == "import"
    with pytest.raises(KeyError):
        adapter_for("segment")


def test_import_events_offers_every_wire_format_and_ndjson(tmp_path, tenant):
    assert adapter_names() == ["databuddy", "intempt", "ndjson", "thrivestack", "userpilot"]
    path = tmp_path / "history.json"
    path.write_text("{}\n")

    with pytest.raises(CommandError, match="invalid choice: 'segment'"):
        run_import(path, tenant, "segment")
    with pytest.raises(CommandError, match="invalid choice: 'import'"):
        run_import(path, tenant, "import")


@pytest.mark.parametrize(("wire_format", "linked"), [("intempt", True), ("thrivestack", False)])
def test_an_imported_event_links_identities_as_its_wire_format_did(tmp_path, tenant, read_client, wire_format, linked):
    from profiles.services import identity_work_sweep

    context = {"anotherUserId": "phone-7"}
    path = tmp_path / "export.ndjson"
    path.write_text(ndjson_event("e1", user_id="ada", context=context, wire_format=wire_format) + "\n")
    run_import(path, tenant, "ndjson")
    identity_work_sweep(older_than=timedelta(0))

    (profile,) = read_client.get("/api/v1/profiles/", {"identifier": "ada"}).json()["results"]
    assert profile["identifiers"] == (["ada", "phone-7"] if linked else ["ada"])


@pytest.mark.parametrize("events", [3, 25], ids=["one-statement write", "bulk write"])
@pytest.mark.parametrize(
    ("sent_as", "stored_as"),
    [("intempt", "intempt"), ("userpilot", "userpilot"), ("import", "import"), ("segment", "import"), (None, "import")],
)
def test_an_imported_event_keeps_the_track_format_it_was_exported_with(tmp_path, tenant, events, sent_as, stored_as):
    path = tmp_path / "export.ndjson"
    lines = [json.loads(ndjson_event(f"e{n}")) | ({"wire_format": sent_as} if sent_as else {}) for n in range(events)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    run_import(path, tenant, "ndjson", "--batch-size", "50")

    assert set(Event.objects.filter(project=tenant.project).values_list("wire_format", flat=True)) == {stored_as}
    assert Event.objects.filter(project=tenant.project).count() == events


def test_intempt_identity_links_survive_export_and_import_twice(client, tenant, other_tenant, tmp_path):
    from profiles.services import identity_work_sweep

    third = tenant_create(org="third-org", project="third-project")
    body = {"track": [{"name": "Linked", "payload": [{"eventId": "l1", "userId": "ada", "anotherUserId": "phone-7"}]}]}
    assert client.post(tenant.intempt_url, data=json.dumps(body), content_type="application/json").status_code == 200
    for source, target in ((tenant, other_tenant), (other_tenant, third)):
        export = client.get("/api/v1/events/export.ndjson", HTTP_AUTHORIZATION=f"Bearer {source.read_token}")
        path = tmp_path / f"{source.project.name}.ndjson"
        path.write_bytes(b"".join(export.streaming_content))
        run_import(path, target, "ndjson")
    identity_work_sweep(older_than=timedelta(0))

    profiles = client.get(
        "/api/v1/profiles/", {"identifier": "ada"}, HTTP_AUTHORIZATION=f"Bearer {third.read_token}"
    ).json()["results"]
    assert [profile["identifiers"] for profile in profiles] == [["ada", "phone-7"]]


def export_and_import(client, source, target, tmp_path) -> None:
    export = client.get("/api/v1/events/export.ndjson", HTTP_AUTHORIZATION=f"Bearer {source.read_token}")
    path = tmp_path / f"{source.project.name}.ndjson"
    path.write_bytes(b"".join(export.streaming_content))
    run_import(path, target, "ndjson")


def profiles_of(client, tenant, identifier: str) -> list[tuple[list[str], dict]]:
    from profiles.services import identity_work_sweep

    identity_work_sweep(older_than=timedelta(0))
    profiles = client.get(
        "/api/v1/profiles/", {"identifier": identifier}, HTTP_AUTHORIZATION=f"Bearer {tenant.read_token}"
    ).json()["results"]
    return [(profile["identifiers"], profile["attributes"]) for profile in profiles]


def test_databuddy_identify_traits_survive_export_and_import(client, tenant, other_tenant, tmp_path):
    body = {"anonymousId": "anon-7", "profileId": "prof-7", "traits": {"plan": "gold", "seats": 5}}
    response = client.post(
        "/identify", data=json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {tenant.api_key}",
    )  # fmt: skip
    assert response.status_code == 200
    sent = profiles_of(client, tenant, "prof-7")

    export_and_import(client, tenant, other_tenant, tmp_path)

    assert sent == [(["anon-7", "prof-7"], {"plan": "gold", "seats": 5})]
    assert profiles_of(client, other_tenant, "prof-7") == sent


def test_a_databuddy_track_events_own_user_attributes_stay_data_after_import(client, tenant, other_tenant, tmp_path):
    body = {"name": "clicked", "anonymousId": "anon-8", "userAttributes": {"plan": "gold"}}
    response = client.post(
        "/track", data=json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {tenant.api_key}",
    )  # fmt: skip
    assert response.status_code == 200

    export_and_import(client, tenant, other_tenant, tmp_path)

    assert profiles_of(client, tenant, "anon-8") == [(["anon-8"], {})]
    assert profiles_of(client, other_tenant, "anon-8") == [(["anon-8"], {})]
    assert Event.objects.get(project=other_tenant.project).context == {"userAttributes": {"plan": "gold"}}


@pytest.mark.parametrize("another", [42, ["x"], {"a": 1}])
def test_an_imported_intempt_event_with_a_non_string_another_user_id_is_stored_without_a_profile(
    tmp_path, tenant, another
):
    path = tmp_path / "export.ndjson"
    line = json.loads(ndjson_event("e1", wire_format="intempt", context={"anotherUserId": another}))
    del line["user_id"]
    path.write_text(json.dumps(line) + "\n")

    out, _ = run_import(path, tenant, "ndjson")

    assert "1 event stored" in out
    assert Event.objects.get(event_id="e1").identity_key is None


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    ("file_format", "line"),
    [
        ("intempt", '{"track":[{"name":"deep","payload":[{"eventId":"deep","userId":"u","data":%s}]}]}'),
        ("databuddy", '{"name":"deep","anonymousId":"u","timestamp":1714631904000,"properties":%s}'),
        ("ndjson", '{"name":"deep","event_id":"deep","timestamp":"2024-05-02T06:38:24Z","properties":%s}'),
    ],
)
@pytest.mark.parametrize("depth", [260, 1000])
def test_an_event_nested_too_deep_is_rejected_and_the_import_goes_on(tmp_path, tenant, file_format, line, depth):
    path = tmp_path / "history.json"
    path.write_text("\n".join([line.replace('"deep"', '"before"', 1) % "{}", line % nested(depth),
                               line.replace('"deep"', '"after"', 1) % "{}"]) + "\n")  # fmt: skip

    out, _ = run_import(path, tenant, file_format)

    assert "2 events stored" in out
    assert sorted(Event.objects.values_list("name", flat=True)) == ["after", "before"]
    [record] = rejected_records(tmp_path / "history.json.rejected.ndjson")
    assert record["line"] == 2
    assert "nested deeper than 254 levels" in json.dumps(record)


def test_a_rejected_file_that_is_the_input_is_refused_and_the_input_kept(tmp_path, tenant):
    path = tmp_path / "history.ndjson"
    path.write_text(ndjson_event("a") + "\n")

    with pytest.raises(CommandError, match="is the file being imported"):
        run_import(path, tenant, "ndjson", "--rejected-file", str(tmp_path / "." / "history.ndjson"))

    assert path.read_text() == ndjson_event("a") + "\n"
    assert not Event.objects.exists()


def test_a_rejected_file_that_is_no_regular_file_is_written_to_and_kept(tmp_path, tenant):
    path = tmp_path / "history.ndjson"
    path.write_text(ndjson_event("a") + "\n")
    fifo = tmp_path / "rejected.fifo"  # as /dev/null is: not a file the command made
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so opening it to write does not wait

    try:
        out, _ = run_import(path, tenant, "ndjson", "--rejected-file", str(fifo))
    finally:
        os.close(reader)

    assert "1 event stored" in out
    assert fifo.exists()


def test_an_ndjson_line_with_a_lone_surrogate_is_refused_alone_and_kept(tmp_path, tenant):
    path = tmp_path / "history.ndjson"
    # json.dumps escapes the half emoji as "\ud83d", as JavaScript's JSON.stringify does.
    bad = ndjson_event("cut", properties={"title": "abc\ud83d"})
    assert "\\ud83d" in bad
    path.write_text("\n".join([ndjson_event("a"), bad, ndjson_event("b")]) + "\n")

    run_import(path, tenant, "ndjson")

    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["a", "b"]
    rejected = RejectedEvent.objects.get()
    assert (rejected.index, rejected.field) == ("2", "properties.title")
    assert "lone surrogate" in rejected.message
    assert rejected.payload["properties"]["title"] == "abc\ufffd"
    (record,) = rejected_records(tmp_path / "history.ndjson.rejected.ndjson")
    assert record["line"] == 2 and record["payload"]["properties"]["title"] == "abc\ufffd"


@pytest.mark.parametrize("file_format", ["ndjson", "intempt"])
def test_a_line_of_many_megabytes_is_refused_without_holding_it_in_memory(tmp_path, tenant, file_format):
    # A file whose "line" is the whole file (one JSON array, CR line ends) was read into
    # memory whole, decoded and written out again: 1.85 GB of RSS for a 324 MB line, so a
    # large file of that kind was killed for memory with nothing imported after it.
    path = tmp_path / "history.json"
    line = json.dumps({"track": [{"name": "x", "payload": [{"userId": "u", "data": "a" * 64 * 1024 * 1024}]}]})
    seed = json.dumps(json.loads(seed_body("intempt_example_1.json")))
    before = ndjson_event("a") if file_format == "ndjson" else seed
    with path.open("w") as file:
        file.write(f"{before}\n{line}\n{before}\n")
    line_start = line[:2048]
    del line

    tracemalloc.start()
    try:
        out, _ = run_import(path, tenant, file_format)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 32 * 1024 * 1024
    assert "3 lines: " in out and ", 1 line rejected" in out
    records = rejected_records(tmp_path / "history.json.rejected.ndjson")
    assert [record["line"] for record in records] == [2]
    assert records[0]["errors"][0]["message"].startswith("The line is over ")
    assert records[0]["raw"] == line_start[:1024]


def test_a_gzip_file_is_imported_as_its_lines(tmp_path, tenant):
    # It was read as bytes: every piece of the compressed data a line refused as not JSON,
    # nothing stored, and the command's exit status 0.
    path = tmp_path / "history.ndjson.gz"
    with gzip.open(path, "wt") as file:
        file.write("\n".join(ndjson_event(str(n)) for n in range(1500)) + "\n")

    out, _ = run_import(path, tenant, "ndjson")

    assert "1,500 lines: 1,500 events stored, 0 duplicates (already stored), 0 events rejected" in out
    assert Event.objects.count() == 1500


def test_a_corrupt_gzip_file_stops_the_import_with_a_message_not_a_traceback(tmp_path, tenant):
    path = tmp_path / "history.ndjson.gz"
    whole = gzip.compress(("\n".join(ndjson_event(str(n)) for n in range(3000)) + "\n").encode())
    path.write_bytes(whole[: len(whole) // 2])

    with pytest.raises(
        CommandError, match=r"history\.ndjson\.gz stopped: .*importing the file again stores nothing twice"
    ):
        run_import(path, tenant, "ndjson", "--batch-size", "10")

    assert Event.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_import_that_rejected_anything_exits_non_zero_after_importing_the_rest(tmp_path, tenant):
    # It exited 0 whatever it refused (an import of a file nothing of which could be
    # read, too), so a script running it went on as if the whole file were stored.
    path = tmp_path / "history.ndjson"
    path.write_text("\n".join([ndjson_event("a"), "{not json", ndjson_event("b")]) + "\n")
    db = settings.DATABASES["default"]
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    command = [sys.executable, "manage.py", "import_events", str(path), "--source-id", str(tenant.source.id),
               "--format", "ndjson", "--no-progress"]  # fmt: skip

    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1, result.stderr
    assert "3 lines: 2 events stored, 0 duplicates (already stored), 0 events rejected, 1 line" in result.stdout
    assert "1 line rejected: see " in result.stderr and "Traceback" not in result.stderr
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["a", "b"]

    path.write_text(ndjson_event("a") + "\n")
    again = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert again.returncode == 0, again.stderr

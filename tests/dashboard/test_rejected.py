"""Rejected events: inspect, fix the payload, replay it through the shared path."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, timedelta
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.test import Client
from django.utils import timezone

from ingestion.models import Event, RejectedEvent
from ingestion.services import source_ensure
from tests.dashboard.conftest import assert_source_link_opens_its_card, intempt_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def rejected(client, tenant) -> RejectedEvent:
    response = intempt_send(client, tenant, [{"eventId": "evt-fixme", "userId": "", "timestamp": 1_714_631_904_000}])
    assert response.status_code == 400
    return RejectedEvent.objects.get()


def fixed_payload(rejected: RejectedEvent, user_id: str = "fixed@example.com") -> str:
    payload = json.loads(json.dumps(rejected.payload))
    payload["payload"][0]["userId"] = user_id
    return json.dumps(payload)


def test_rejected_list_shows_reason(staff_client, tenant, rejected):
    body = staff_client.get(f"/dashboard/{tenant.project.id}/rejected/").content.decode()

    assert rejected.message in body and f"/rejected/{rejected.id}/" in body


def test_rejected_page_shows_raw_payload_and_reason(staff_client, tenant, rejected):
    body = staff_client.get(f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/").content.decode()

    assert "evt-fixme" in body and "userId" in body and rejected.message in body
    assert 'name="csrfmiddlewaretoken"' in body


def test_replay_of_fixed_payload_stores_event_and_marks_replayed(staff_client, tenant, rejected):
    response = staff_client.post(
        f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/", {"payload": fixed_payload(rejected)}
    )

    assert response.status_code == 302
    event = Event.objects.get(event_id="evt-fixme")
    assert event.user_id == "fixed@example.com" and event.source_id == tenant.source.id
    rejected.refresh_from_db()
    assert rejected.replayed_at is not None
    assert rejected.payload["payload"][0]["userId"] == "fixed@example.com"
    assert RejectedEvent.objects.count() == 1


def test_replay_of_still_invalid_payload_stores_nothing(staff_client, tenant, rejected):
    response = staff_client.post(
        f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/", {"payload": fixed_payload(rejected, user_id="")}
    )

    assert response.status_code == 400
    assert "Still refused" in response.content.decode()
    assert not Event.objects.exists()
    assert RejectedEvent.objects.count() == 1
    rejected.refresh_from_db()
    assert rejected.replayed_at is None


def test_replay_of_invalid_json_is_a_form_error(staff_client, tenant, rejected):
    response = staff_client.post(f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/", {"payload": "{nope"})

    assert response.status_code == 400
    assert "Not valid JSON" in response.content.decode()
    assert not Event.objects.exists()


def test_replay_of_value_postgresql_cannot_store_is_refused(staff_client, tenant, rejected):
    payload = fixed_payload(rejected, user_id="nul\u0000byte")

    response = staff_client.post(f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/", {"payload": payload})

    assert response.status_code == 400
    assert "Still refused" in response.content.decode() and "NUL" in response.content.decode()
    assert not Event.objects.exists()
    rejected.refresh_from_db()
    assert rejected.replayed_at is None


def test_replay_of_a_payload_holding_more_events_is_refused(staff_client, tenant, rejected):
    payload = json.loads(fixed_payload(rejected))
    payload["payload"].append({**payload["payload"][0], "eventId": "smuggled"})

    response = staff_client.post(
        f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/", {"payload": json.dumps(payload)}
    )

    assert response.status_code == 400
    assert "a replay stores exactly one" in response.content.decode()
    assert not Event.objects.exists()
    rejected.refresh_from_db()
    assert rejected.replayed_at is None


def test_replay_of_one_event_with_several_problems_shows_them(staff_client, tenant, rejected):
    payload = json.loads(fixed_payload(rejected, user_id=""))
    payload["payload"][0]["timestamp"] = "yesterday"

    response = staff_client.post(
        f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/", {"payload": json.dumps(payload)}
    )

    body = response.content.decode()
    assert response.status_code == 400
    assert "Still refused" in body and "timestamp must be" in body and "holds" not in body


def test_replay_of_a_payload_as_large_as_a_track_request_takes_is_not_refused_for_its_size(
    client, staff_client, tenant
):
    # The forms' body limit (DATA_UPLOAD_MAX_MEMORY_SIZE) must leave room for the largest
    # event a track request can carry: nearly 2 MiB of UTF-8, which the browser sends
    # percent-encoded (3 bytes a byte), well past Django's default of 2.5 MB.
    note = "\u00e9" * 1_040_000
    body = json.dumps(
        {"track": [{"name": "Big", "payload": [{"eventId": "evt-big", "userId": "", "data": {"note": note}}]}]},
        ensure_ascii=False,
    ).encode()
    assert len(body) < 2 * 1024 * 1024
    assert client.post(tenant.intempt_url, data=body, content_type="application/json").status_code == 400
    rejected = RejectedEvent.objects.get()
    page = staff_client.get(f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/").content.decode()
    shown = html.unescape(re.search(r'<textarea name="payload"[^>]*>(.*?)</textarea>', page, re.S).group(1))
    form = urlencode({"payload": shown.replace('"userId": ""', '"userId": "fixed@example.com"')})
    assert len(form) > 6_000_000
    url = f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/"

    response = staff_client.post(url, form, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 302
    assert Event.objects.get(event_id="evt-big").properties == {"note": note}


def test_replay_of_a_payload_larger_than_a_track_request_may_be_is_refused(staff_client, tenant, rejected):
    payload = json.loads(fixed_payload(rejected))
    payload["payload"][0]["data"] = {"note": "x" * (2 * 1024 * 1024)}

    response = staff_client.post(
        f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/", {"payload": json.dumps(payload)}
    )

    assert response.status_code == 400
    assert "The body is larger than 2097152 bytes" in response.content.decode()
    assert not Event.objects.exists()
    assert RejectedEvent.objects.get().replayed_at is None


def test_replay_twice_is_refused(staff_client, tenant, rejected):
    url = f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/"
    staff_client.post(url, {"payload": fixed_payload(rejected)})

    response = staff_client.post(url, {"payload": fixed_payload(rejected, user_id="other@example.com")})

    assert response.status_code == 400
    assert "already replayed" in response.content.decode()
    assert list(Event.objects.values_list("user_id", flat=True)) == ["fixed@example.com"]


def test_replay_requires_csrf_token(tenant, rejected, staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)

    response = client.post(
        f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/", {"payload": fixed_payload(rejected)}
    )  # a payload the replay would store, but no CSRF token

    assert response.status_code == 403
    assert not Event.objects.exists()
    rejected.refresh_from_db()
    assert rejected.replayed_at is None


def test_replayed_rows_are_hidden_unless_asked(staff_client, tenant, rejected):
    staff_client.post(f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/", {"payload": fixed_payload(rejected)})

    hidden = staff_client.get(f"/dashboard/{tenant.project.id}/rejected/").content.decode()
    shown = staff_client.get(f"/dashboard/{tenant.project.id}/rejected/?replayed=1").content.decode()

    assert f"/rejected/{rejected.id}/" not in hidden and f"/rejected/{rejected.id}/" in shown


def test_rejected_of_another_project_is_not_found(client, staff_client, tenant, other_tenant):
    intempt_send(client, other_tenant, [{"userId": ""}])
    other = RejectedEvent.objects.get(project=other_tenant.project)

    assert staff_client.get(f"/dashboard/{tenant.project.id}/rejected/{other.id}/").status_code == 404
    response = staff_client.post(f"/dashboard/{tenant.project.id}/rejected/{other.id}/", {"payload": "{}"})
    assert response.status_code == 404


def test_rejected_list_query_count_is_bounded(client, staff_client, tenant, django_assert_max_num_queries):
    intempt_send(client, tenant, [{"userId": ""}] * 10)

    with django_assert_max_num_queries(5):
        response = staff_client.get(f"/dashboard/{tenant.project.id}/rejected/")

    assert response.status_code == 200


def test_sources_inspect_link_lists_only_that_sources_rejections(client, staff_client, tenant):
    other_source = source_ensure(project=tenant.project, source_id=9101)
    intempt_send(client, tenant, [{"userId": "", "eventId": "evt-mine"}])
    mine = RejectedEvent.objects.get()
    theirs = RejectedEvent.objects.create(
        project=tenant.project, source=other_source, wire_format="intempt", received_at=mine.received_at,
        index=0, field="userId", message="userId is required", errors=[], payload={"name": "Theirs"},
    )  # fmt: skip
    sources_page = staff_client.get(f"/dashboard/{tenant.project.id}/sources/").content.decode()
    link = re.search(
        rf'href="(/dashboard/{tenant.project.id}/rejected/\?source={tenant.source.id}&amp;[^"]*)"', sources_page
    )
    assert link is not None

    body = staff_client.get(link.group(1).replace("&amp;", "&")).content.decode()

    assert f"/rejected/{mine.id}/" in body and f"/rejected/{theirs.id}/" not in body


def test_rejected_pages_of_one_source_keep_the_source(client, staff_client, tenant, monkeypatch):
    monkeypatch.setattr("dashboard.views.PAGE_SIZE", 1)
    intempt_send(client, tenant, [{"userId": ""}, {"userId": ""}])
    url = f"/dashboard/{tenant.project.id}/rejected/?source={tenant.source.id}"

    body = staff_client.get(url).content.decode()

    older = re.search(r'href="\?([^"]*before=[^"]*)"', body)
    assert older is not None and f"source={tenant.source.id}&amp;before=" in older.group(1)


def since_query(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def test_rejected_list_since_an_instant_leaves_older_ones_out_and_says_so(client, staff_client, tenant):
    intempt_send(client, tenant, [{"userId": "", "eventId": "evt-new"}, {"userId": "", "eventId": "evt-old"}])
    old = RejectedEvent.objects.get(payload__payload__0__eventId="evt-old")
    RejectedEvent.objects.filter(id=old.id).update(received_at=timezone.now() - timedelta(days=40))
    new = RejectedEvent.objects.exclude(id=old.id).get()
    since = timezone.now() - timedelta(days=30)

    response = staff_client.get(f"/dashboard/{tenant.project.id}/rejected/", {"since": since_query(since)})

    body = response.content.decode()
    assert f"/rejected/{new.id}/" in body and f"/rejected/{old.id}/" not in body
    assert f'Received since <span class="mono">{since.astimezone(UTC):%Y-%m-%d %H:%M}:00</span> UTC' in body


@pytest.mark.parametrize(
    ("link_text", "kept", "dropped"),
    [
        ("Older »", ["source", "since", "replayed"], []),
        ("Hide replayed", ["source", "since"], ["replayed"]),
        ("all sources", ["since", "replayed"], ["source"]),
        ("any time", ["source", "replayed"], ["since"]),
    ],
)
def test_rejected_list_links_keep_the_filters_they_do_not_change(
    client, staff_client, tenant, monkeypatch, link_text, kept, dropped
):
    monkeypatch.setattr("dashboard.views.PAGE_SIZE", 1)
    intempt_send(client, tenant, [{"userId": ""}, {"userId": ""}])
    query = {
        "source": str(tenant.source.id),
        "since": since_query(timezone.now() - timedelta(days=30)),
        "replayed": "1",
    }

    body = staff_client.get(f"/dashboard/{tenant.project.id}/rejected/", query).content.decode()

    href = re.search(rf'href="\?([^"]*)">{re.escape(link_text)}<', body)
    assert href is not None
    followed = QueryDict(href.group(1).replace("&amp;", "&"))
    assert {name: followed.get(name) for name in kept} == {name: query[name] for name in kept}
    assert not any(name in followed for name in dropped)


def rejected_empty_row(response) -> str:
    match = re.search(r'<td colspan="6" class="muted empty">([^<]*)</td>', response.content.decode())
    assert match is not None
    return " ".join(match.group(1).split())


def test_rejected_list_with_every_rejection_replayed_does_not_say_nothing_was_rejected(staff_client, tenant, rejected):
    staff_client.post(f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/", {"payload": fixed_payload(rejected)})

    response = staff_client.get(f"/dashboard/{tenant.project.id}/rejected/")

    assert rejected_empty_row(response) == "No open rejections: nothing to fix."


def test_rejected_list_of_a_source_and_window_without_rows_says_what_it_looked_for(staff_client, tenant, rejected):
    RejectedEvent.objects.filter(id=rejected.id).update(received_at=timezone.now() - timedelta(days=40))
    since = timezone.now() - timedelta(days=30)

    response = staff_client.get(
        f"/dashboard/{tenant.project.id}/rejected/", {"source": tenant.source.id, "since": since_query(since)}
    )

    shown = f"of source #{tenant.source.id} received since {since.astimezone(UTC):%Y-%m-%d %H:%M}:00 UTC"
    assert rejected_empty_row(response) == f"No open rejections {shown}."


def test_rejected_list_of_a_project_without_rejections_says_every_event_was_accepted(staff_client, tenant):
    response = staff_client.get(f"/dashboard/{tenant.project.id}/rejected/?replayed=1")

    assert rejected_empty_row(response) == "Nothing rejected. Every event sent so far was accepted."


def test_rejected_page_query_count_is_bounded(staff_client, tenant, rejected, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        response = staff_client.get(f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/")

    assert response.status_code == 200


def test_rejected_page_source_link_opens_that_sources_card(staff_client, tenant, rejected):
    source_ensure(project=tenant.project, source_id=9202, kind="web")
    assert_source_link_opens_its_card(
        staff_client, f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/", source_id=tenant.source.id
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("source=abc", "source must be a source id"),
        # More digits than int() takes (4,300): the same message, not a 500.
        ("source=" + "9" * 5000, "source must be a source id"),
        ("since=yesterday", "since must be a date and time"),
        # Valid as written, before the year 1 once in UTC: a 500.
        ("since=0001-01-01T00:00:00%2B00:01", "since must be a date and time"),
        ("since=9999-12-31T23:59:59-00:01", "since must be a date and time"),
    ],
    ids=["letters", "thousands of digits", "since", "since before the year 1", "since after 9999"],
)
def test_rejected_list_with_an_unreadable_filter_says_so_and_lists_nothing(
    staff_client, tenant, rejected, query, message
):
    response = staff_client.get(f"/dashboard/{tenant.project.id}/rejected/?{query}")

    body = response.content.decode()
    assert response.status_code == 200
    assert message in body
    assert f"/rejected/{rejected.id}/" not in body

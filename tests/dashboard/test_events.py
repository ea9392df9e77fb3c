"""The event explorer and the event page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.services import project_membership_grant
from ingestion.models import Event
from ingestion.services import organization_project_ensure, source_ensure
from tests.conftest import tenant_create
from tests.dashboard.conftest import (
    assert_source_link_opens_its_card,
    identity_resolve,
    intempt_send,
    invalid_fields,
    ms,
    profile_make,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(client, tenant):
    now = timezone.now()
    intempt_send(
        client,
        tenant,
        [
            {"userId": "ada@example.com", "accountId": "acme", "data": {"plan": "pro", "seats": 5}},
            {"userId": "bob@example.com", "timestamp": ms(now - timedelta(days=2)), "data": {"plan": "free"}},
        ],
        name="Purchase",
    )
    intempt_send(client, tenant, [{"userId": "ada@example.com"}], name="Signup")


def names(response) -> list[str]:
    return re.findall(r'class="event-name" href="[^"]*">([^<]*)<', response.content.decode())


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Signup", "Purchase", "Purchase"]),
        ("name=Signup", ["Signup"]),
        ("user=bob@example.com", ["Purchase"]),
        ("account=acme", ["Purchase"]),
        ("property=plan&value=pro", ["Purchase"]),
        ("property=seats&value=5", ["Purchase"]),
        ("property=seats", ["Purchase"]),
        ("name=Nope", []),
    ],
)
def test_explorer_filters(staff_client, tenant, sent, query, expected):
    response = staff_client.get(f"/dashboard/{tenant.project.id}/events/?{query}")

    assert response.status_code == 200
    assert names(response) == expected


def test_explorer_filters_by_time_range(staff_client, tenant, sent):
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    response = staff_client.get(f"/dashboard/{tenant.project.id}/events/?since={since}")

    assert names(response) == ["Signup", "Purchase"]


def test_explorer_filters_by_source(client, staff_client, tenant, sent):
    second = tenant_create(org=tenant.project.organization.name, project=tenant.project.name, source_id=9301)
    assert intempt_send(client, second, [{}], name="Elsewhere").status_code == 200

    response = staff_client.get(f"/dashboard/{tenant.project.id}/events/?source={tenant.source.id}")

    assert names(response) == ["Signup", "Purchase", "Purchase"]  # not the second source's event


def test_explorer_refuses_source_of_another_project(staff_client, tenant, other_tenant, sent):
    response = staff_client.get(f"/dashboard/{tenant.project.id}/events/?source={other_tenant.source.id}")

    assert response.status_code == 200
    assert names(response) == [] and "Select a valid choice" in response.content.decode()


def test_explorer_pages_with_a_cursor(client, staff_client, tenant, monkeypatch):
    monkeypatch.setattr("dashboard.views.PAGE_SIZE", 2)
    intempt_send(client, tenant, [{"timestamp": 1_700_000_000_000 + i * 1000} for i in range(5)], name="Tick")
    first = staff_client.get(f"/dashboard/{tenant.project.id}/events/?name=Tick")
    next_link = first.content.decode().split("before=")[1].split('"')[0].replace("&amp;", "&")

    second = staff_client.get(f"/dashboard/{tenant.project.id}/events/?name=Tick&before={next_link}")

    first_ids = [e.id for e in Event.objects.order_by("-timestamp")[:2]]
    second_ids = [e.id for e in Event.objects.order_by("-timestamp")[2:4]]
    for event_id in first_ids:
        assert f"/events/{event_id}/" in first.content.decode()
    for event_id in second_ids:
        assert f"/events/{event_id}/" in second.content.decode()
        assert f"/events/{event_id}/" not in first.content.decode()
    assert "« Newest" in second.content.decode() and "« Newest" not in first.content.decode()


MANY = 30  # rows on one page, well over any query bound below: a query per row would show


def test_explorer_query_count_is_bounded(client, staff_client, tenant, sent, django_assert_max_num_queries):
    intempt_send(client, tenant, [{"accountId": f"acct-{i}", "data": {"i": i}} for i in range(MANY)], name="Purchase")
    identity_resolve()  # each row links its profile

    with django_assert_max_num_queries(9):
        response = staff_client.get(f"/dashboard/{tenant.project.id}/events/?name=Purchase&user=ada@example.com")

    assert response.status_code == 200
    assert names(response) == ["Purchase"] * (MANY + 1)
    profile_cells = re.findall(
        r'<td class="hide-sm"><a href="/dashboard/\d+/profiles/\d+/">', response.content.decode()
    )
    assert len(profile_cells) == MANY + 1


def test_event_page_shows_every_field_and_links_profile(staff_client, tenant, sent):
    event = Event.objects.get(name="Purchase", user_id="ada@example.com")
    profile = profile_make(project=tenant.project, identifiers=["ada@example.com"])

    response = staff_client.get(f"/dashboard/{tenant.project.id}/events/{event.id}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert event.event_id in body and "acme" in body and "ada@example.com" in body
    assert "&quot;plan&quot;: &quot;pro&quot;" in body and "&quot;seats&quot;: 5" in body
    assert f'href="/dashboard/{tenant.project.id}/profiles/{profile.id}/"' in body


def test_event_of_another_project_is_not_found(client, staff_client, tenant, other_tenant):
    intempt_send(client, other_tenant, [{}])
    event = Event.objects.get(project=other_tenant.project)

    assert staff_client.get(f"/dashboard/{tenant.project.id}/events/{event.id}/").status_code == 404


@pytest.mark.parametrize(
    ("query", "expected_user"),
    [
        ("name=Signup+", " ann "),
        ("user=+ann+", " ann "),
        ("account=+acme+", " ann "),
        ("property=plan&value=+pro+", " ann "),
    ],
)
def test_explorer_matches_values_as_stored_spaces_included(client, staff_client, tenant, query, expected_user):
    # Spaces are part of a stored name or id: " ann " is another user than "ann", and the
    # overview's bar for "Signup " links to name=Signup+ (its events, not "Signup"'s).
    spaced = {"userId": " ann ", "accountId": " acme ", "data": {"plan": " pro "}}
    intempt_send(client, tenant, [spaced], name="Signup ")
    intempt_send(client, tenant, [{"userId": "ann", "accountId": "acme", "data": {"plan": "pro"}}], name="Signup")

    response = staff_client.get(f"/dashboard/{tenant.project.id}/events/?{query}")

    assert response.status_code == 200
    users = re.findall(r'<td class="truncate"[^>]*>([^<]*)</td>', response.content.decode())
    assert users == [expected_user]


def test_explorer_refuses_a_property_value_without_its_key(staff_client, tenant, sent):
    # A value alone used to be ignored: every event was listed as if it matched.
    response = staff_client.get(f"/dashboard/{tenant.project.id}/events/?value=pro")

    assert response.status_code == 200
    assert names(response) == []
    assert "Give the property key to match this value" in response.content.decode()


def test_explorer_filtered_on_a_profile_says_whose_events_they_are(staff_client, tenant, sent):
    profile = profile_make(project=tenant.project, identifiers=["ada@example.com"])

    response = staff_client.get(f"/dashboard/{tenant.project.id}/events/?profile={profile.id}")

    assert response.status_code == 200
    assert names(response) == ["Signup", "Purchase"]
    note = re.search(r'data-testid="profile-filter">(.*?)</p>', response.content.decode(), flags=re.DOTALL)
    assert note is not None
    assert f"#{profile.id}</a> (<bdi>ada@example.com</bdi>)" in note.group(1)
    assert 'href="?">Show every profile' in note.group(1)


def test_explorer_filtered_on_an_unknown_profile_says_there_is_none(staff_client, tenant, sent):
    response = staff_client.get(f"/dashboard/{tenant.project.id}/events/?profile=999999&name=Signup")

    assert response.status_code == 200
    assert names(response) == []
    body = response.content.decode()
    assert "There is no profile #999999 in this project" in body
    assert 'href="?name=Signup">Show every profile' in body


def empty_row(response) -> str:
    match = re.search(r'<td colspan="6" class="muted empty">([^<]*)</td>', response.content.decode())
    assert match is not None
    return match.group(1)


def test_explorer_of_a_project_without_events_says_none_arrived_yet(staff_client, tenant):
    # It said "No events match these filters." on a fresh install, with no filter set.
    response = staff_client.get(f"/dashboard/{tenant.project.id}/events/")

    assert response.status_code == 200
    assert empty_row(response).startswith("No events yet.")


def test_explorer_with_filters_matching_nothing_says_so(staff_client, tenant, sent):
    response = staff_client.get(f"/dashboard/{tenant.project.id}/events/?name=Nope")

    assert empty_row(response) == "No events match these filters."


def test_event_page_query_count_is_bounded(staff_user, staff_client, tenant, sent, django_assert_max_num_queries):
    # The page's one list is the project switcher: MANY projects in three organizations.
    for i in range(MANY):
        project = organization_project_ensure(org=f"org-{i % 3}", project=f"project-{i}")
        project_membership_grant(user=staff_user, project=project)
    event = Event.objects.get(name="Purchase", user_id="ada@example.com")
    profile = profile_make(
        project=tenant.project, identifiers=["ada@example.com", *(f"alias-{i}" for i in range(MANY))]
    )

    with django_assert_max_num_queries(5):
        response = staff_client.get(f"/dashboard/{tenant.project.id}/events/{event.id}/")

    body = response.content.decode()
    assert response.status_code == 200
    switcher = body.split('data-testid="project-switcher"')[1].split("</details>")[0]
    assert len(re.findall(r'<a href="/dashboard/\d+/"', switcher)) == MANY + 1
    assert f"Open profile #{profile.id}" in body


def test_event_page_source_link_opens_that_sources_card(staff_client, tenant, sent):
    # It opened the top of the sources page, whichever source the event came from.
    source_ensure(project=tenant.project, source_id=9201, kind="web")
    event = Event.objects.get(name="Signup")
    assert_source_link_opens_its_card(
        staff_client, f"/dashboard/{tenant.project.id}/events/{event.id}/", source_id=tenant.source.id
    )


def test_the_page_of_an_event_whose_source_was_deleted_opens_and_says_so(staff_client, tenant, sent):
    # Deleting a source keeps its events (they are the project's data): the explorer and
    # the profile timelines listed them, and their page answered 404, its join on the
    # source finding no row.
    event = Event.objects.get(name="Signup")
    source_id = tenant.source.id
    tenant.source.delete()

    response = staff_client.get(f"/dashboard/{tenant.project.id}/events/{event.id}/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "<h1>Signup</h1>" in body
    source = re.search(r"<dt>Source</dt><dd>(.*?)</dd>", body)
    assert source is not None
    assert "deleted source" in source.group(1) and f"#{source_id}" in source.group(1)
    assert "<a " not in source.group(1)  # its card is gone from the sources page


@pytest.mark.parametrize("page", ["events", "rejected", "warnings"])
def test_a_mangled_cursor_shows_the_first_page_without_a_newest_link(staff_client, tenant, sent, page):
    response = staff_client.get(f"/dashboard/{tenant.project.id}/{page}/?before=not-a-cursor")

    assert response.status_code == 200
    assert "« Newest" not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("since=yesterday", "Enter a valid date/time."),
        # Valid as written, past the calendar's ends once in UTC: was a 500 on SQLite.
        ("since=0001-01-01T00:00:00%2B00:01", "Enter a valid date/time."),
        ("until=9999-12-31T23:59:59-00:01", "Enter a valid date/time."),
        ("value=pro", "Give the property key to match this value."),
        ("profile=abc", "profile: Enter a whole number."),  # the hidden field's error was never shown
    ],
)
def test_explorer_with_a_filter_it_cannot_read_says_so_not_that_nothing_matches(
    staff_client, tenant, sent, query, error
):
    body = staff_client.get(f"/dashboard/{tenant.project.id}/events/?{query}").content.decode()

    assert error in body
    assert "Nothing listed: correct the filters above." in body
    assert "No events match these filters." not in body  # nothing was searched


def test_explorer_filtered_on_a_profile_isolates_each_identifiers_writing_direction(staff_client, tenant):
    # U+202E (right-to-left override) in an identifier reversed the rest of the sentence,
    # "Show every profile's events" included, into "stneve s'eliforp yreve wohS".
    profile = profile_make(project=tenant.project, identifiers=["\u202eresu-live"])

    body = staff_client.get(f"/dashboard/{tenant.project.id}/events/?profile={profile.id}").content.decode()

    assert "(<bdi>\u202eresu-live</bdi>), merged profiles included." in body


def test_filter_errors_are_tied_to_their_fields(staff_client, tenant):
    body = staff_client.get(f"/dashboard/{tenant.project.id}/events/?value=x&since=soon").content.decode()

    # Each field was marked invalid and described by an id no element had.
    assert invalid_fields(body) == {
        "since": "Enter a valid date/time.",
        "property": "Give the property key to match this value.",
    }
    # The error describes the field and is not part of its name: it was inside the label.
    assert '<label for="id_property">Property key</label>' in body
    assert (
        invalid_fields(staff_client.get(f"/dashboard/{tenant.project.id}/events/?value=x&property=k").content.decode())
        == {}
    )


def test_times_before_year_1000_keep_their_four_digit_year(client, staff_client, tenant):
    # strftime's %Y writes year 1 as "1" on Linux: the explorer showed "1-01-01".
    response = intempt_send(client, tenant, [{"timestamp": -62135596800000}, {"timestamp": -30628670400000}])
    assert response.status_code == 200, response.content

    body = staff_client.get(f"/dashboard/{tenant.project.id}/events/").content.decode()

    assert '<span class="stamp-date">0001-01-01</span> 00:00:00' in body
    assert '<span class="stamp-date">0999-06-01</span> 12:00:00' in body
    assert '<span class="stamp-date">1-01-01</span>' not in body


def test_event_page_shows_its_times_to_the_millisecond_as_the_read_api_writes_them(
    client, staff_client, tenant, read_client
):
    # Two events in one second: the page showed both as "2024-05-02 06:38:24", while the
    # explorer lists them in millisecond order and the read API and exports say .123/.456.
    response = intempt_send(client, tenant, [{"timestamp": 1714631904123}, {"timestamp": 1714631904456}])
    assert response.status_code == 200, response.content
    api = {e["id"]: e for e in read_client.get("/api/v1/events/").json()["results"]}

    for event_id, event in api.items():
        body = staff_client.get(f"/dashboard/{tenant.project.id}/events/{event_id}/").content.decode()

        assert f'<dd class="mono">{event["timestamp"]}</dd>' in body
        assert f'<dd class="mono">{event["received_at"]}</dd>' in body
    assert sorted(e["timestamp"] for e in api.values()) == ["2024-05-02T06:38:24.123Z", "2024-05-02T06:38:24.456Z"]

"""The project overview: counts, charts and the newest events."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.tasks import project_activity_refresh_task
from tests.dashboard.conftest import intempt_send, ms

pytestmark = pytest.mark.django_db


def stat(body: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">([^<]*)<', body)
    assert match, testid
    return match.group(1)


def test_overview_counts_last_24_hours_and_30_days(client, staff_client, tenant):
    now = timezone.now()
    intempt_send(client, tenant, [{"timestamp": ms(now - timedelta(minutes=5))}] * 1 + [{}], name="Signup")
    intempt_send(client, tenant, [{"timestamp": ms(now - timedelta(days=3))}], name="Purchase")
    intempt_send(client, tenant, [{"timestamp": ms(now - timedelta(days=45))}], name="Purchase")

    body = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()

    assert stat(body, "events-24h") == "2"
    assert stat(body, "events-30d") == "3"


def test_overview_bar_charts_link_to_filtered_explorer(client, staff_client, tenant):
    intempt_send(client, tenant, [{}, {}], name="Signup")
    intempt_send(client, tenant, [{}], name="Purchase")

    body = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()

    assert f"/dashboard/{tenant.project.id}/events/?name=Signup&amp;since=" in body
    assert f"/dashboard/{tenant.project.id}/events/?source={tenant.source.id}&amp;since=" in body
    assert "<title>Signup: 2</title>" in body and "<title>Purchase: 1</title>" in body


def test_a_deleted_sources_bar_names_it_and_links_nowhere_the_explorer_refuses(client, staff_client, tenant):
    # Deleting a source keeps its events, and the charts count them for 30 days. Its bar
    # linked the explorer filtered on it, which refused the filter ("Select a valid
    # choice": there is no such source to choose) and listed nothing.
    intempt_send(client, tenant, [{}, {}], name="Signup")
    source_id = tenant.source.id
    tenant.source.delete()

    body = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()

    sources = body.split('id="sources-24h"')[1].split('class="pane"')[0]
    assert f"<title>{source_id} (deleted source): 2</title>" in sources
    for link in re.findall(r'href="([^"]*)"', body):
        if "/events/?" in link:
            listed = staff_client.get(link.replace("&amp;", "&")).content.decode()
            assert 'class="field-error"' not in listed, link


@pytest.mark.parametrize(("pane", "days_back"), [("names-30d", 29), ("names-24h", 0)])
def test_a_bar_links_to_exactly_the_events_it_counts(client, staff_client, tenant, pane, days_back):
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    edge = midnight - timedelta(days=days_back) if days_back else timezone.now() - timedelta(hours=23)
    edge = edge.replace(minute=0, second=0, microsecond=0)
    before, inside, future = edge - timedelta(hours=1), edge + timedelta(hours=1), timezone.now() + timedelta(days=2)
    intempt_send(client, tenant, [{"timestamp": ms(moment)} for moment in (before, inside, future)], name="Edge")

    body = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()
    section = body.split(f'id="{pane}"')[1].split('class="pane"')[0]
    link = re.search(r'href="([^"]*name=Edge[^"]*)"', section)
    assert link, "the bar links to the explorer"
    listed = staff_client.get(link.group(1).replace("&amp;", "&")).content.decode()

    assert "<title>Edge: 1</title>" in section
    assert listed.count('class="event-name"') == 1


def test_overview_time_series_has_one_column_per_bucket(client, staff_client, tenant):
    intempt_send(client, tenant, [{}])

    body = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()

    assert body.count('<rect class="column"') == 24 + 30
    assert "— 1 event</title>" in body


def test_overview_shows_newest_events(client, staff_client, tenant):
    intempt_send(client, tenant, [{"userId": "grace@example.com"}], name="Checkout Started")

    body = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()

    assert "Checkout Started" in body and "grace@example.com" in body


def test_overview_query_count_is_bounded(client, staff_client, tenant, django_assert_max_num_queries):
    for index in range(5):
        intempt_send(client, tenant, [{}, {}], name=f"Event {index}")

    with django_assert_max_num_queries(12):
        response = staff_client.get(f"/dashboard/{tenant.project.id}/")

    assert response.status_code == 200


def test_live_fragment_returns_rows_of_one_source(client, staff_client, tenant, other_tenant):
    intempt_send(client, tenant, [{}], name="Tail Me")

    response = staff_client.get(f"/dashboard/{tenant.project.id}/live/?source={tenant.source.id}")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Tail Me" in body and "<html" not in body


def test_charts_come_from_the_cached_aggregate_until_it_is_refreshed(client, staff_client, tenant):
    intempt_send(client, tenant, [{}])
    staff_client.get(f"/dashboard/{tenant.project.id}/")
    intempt_send(client, tenant, [{}])

    cached = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()
    project_activity_refresh_task(tenant.project.id)
    refreshed = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()

    assert stat(cached, "events-24h") == "1"
    assert stat(refreshed, "events-24h") == "2"


def test_big_project_first_view_queues_the_count_instead_of_counting(client, staff_client, tenant, monkeypatch):
    monkeypatch.setattr("dashboard.selectors.ACTIVITY_INLINE_LIMIT", 3)
    intempt_send(client, tenant, [{}, {}, {}], name="Signup")

    counting = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()
    sources = staff_client.get(f"/dashboard/{tenant.project.id}/sources/").content.decode()
    project_activity_refresh_task(tenant.project.id)  # what the queued task does
    counted = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()

    assert 'data-testid="charts-counting"' in counting
    assert stat(counting, "events-24h") == "0"
    assert 'data-testid="charts-counting"' in sources
    assert 'data-testid="charts-counting"' not in counted
    assert stat(counted, "events-24h") == "3"


def test_small_project_first_view_counts_at_once(client, staff_client, tenant, monkeypatch):
    monkeypatch.setattr("dashboard.selectors.ACTIVITY_INLINE_LIMIT", 4)
    intempt_send(client, tenant, [{}, {}, {}], name="Signup")

    body = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()

    assert 'data-testid="charts-counting"' not in body
    assert stat(body, "events-24h") == "3"


@pytest.mark.parametrize(("events", "labels"), [(0, ["0"]), (1, ["0", "1"]), (3, ["0", "5"]), (20, ["0", "10", "20"])])
def test_time_series_y_axis_labels_are_whole_counts(client, staff_client, tenant, events, labels):
    # Counts are whole: an empty or tiny project's axis read 0 / 0.5 / 1 (or 0 / 2.5 / 5);
    # the middle gridline goes when it would not be a whole number, and an empty chart
    # has its 0 alone.
    if events:
        intempt_send(client, tenant, [{}] * events)

    body = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()

    hourly = body.split('aria-label="Events per hour')[1].split("</svg>")[0]
    assert re.findall(r'<text class="axis y"[^>]*>([^<]*)</text>', hourly) == labels
    assert ("No events in this period" in hourly) == (events == 0)


@pytest.mark.parametrize(("narrowed", "queries"), [(False, 5), (True, 4)])  # one source needs no names
def test_live_fragment_query_count_does_not_grow_with_rows(
    client, staff_client, tenant, narrowed, queries, django_assert_max_num_queries
):
    intempt_send(client, tenant, [{"userId": f"user{index}@example.com"} for index in range(15)])
    query = f"?source={tenant.source.id}" if narrowed else ""

    with django_assert_max_num_queries(queries):
        response = staff_client.get(f"/dashboard/{tenant.project.id}/live/{query}")

    assert response.status_code == 200
    assert response.content.decode().count('class="event-name"') == 15


def test_live_tail_with_a_source_of_thousands_of_digits_is_not_narrowed(client, staff_client, tenant):
    # int() refuses more than 4,300 digits: no such source, so the tail is the project's.
    intempt_send(client, tenant, [{"userId": "tail@example.com"}], name="Tailed")

    response = staff_client.get(f"/dashboard/{tenant.project.id}/live/?source={'9' * 5000}")

    assert response.status_code == 200
    assert response.content.decode().count('class="event-name"') == 1
    assert "Tailed" in response.content.decode() and "tail@example.com" in response.content.decode()


def test_overview_uses_aria_roles_as_defined(client, staff_client, tenant):
    intempt_send(client, tenant, [{}, {}], name="Signup")

    body = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()

    # A tablist holds tabs: the 24 h / 30 d links are links, which a screen reader was told
    # were a tab list without tabs.
    for tablist in re.findall(r'role="tablist".*?</div>', body, re.S):
        assert 'role="tab"' in tablist
    # An image is one picture whose insides are not read out: the bar charts hold links.
    for image in re.findall(r'<svg[^>]*role="img".*?</svg>', body, re.S):
        assert "<a " not in image
    assert re.search(r'<svg class="chart bars"[^>]*role="group" aria-label="Events by name, 24 hours"', body)


def test_overview_counts_in_chart_labels_have_thousands_separators(client, staff_client, tenant):
    now = timezone.now()
    intempt_send(client, tenant, [{"timestamp": ms(now - timedelta(minutes=1))}] * 1_000, name="Signup")

    body = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()

    assert "<title>Signup: 1,000</title>" in body  # was "Signup: 1000"
    assert 'aria-label="Events per day: 1,000 events"' in body


def test_time_series_counts_are_also_a_table_for_the_keyboard_and_screen_readers(client, staff_client, tenant):
    # Each column's count was only in its tooltip (a mouse hover).
    now = timezone.now()
    intempt_send(client, tenant, [{"timestamp": ms(now)}, {"timestamp": ms(now)}], name="Signup")
    intempt_send(client, tenant, [{"timestamp": ms(now - timedelta(days=3))}], name="Signup")

    body = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()

    tables = re.findall(r'<details class="chart-data">\s*<summary>([^<]*)</summary>(.*?)</details>', body, re.S)
    assert [summary for summary, _ in tables] == ["Events per hour, as a table", "Events per day, as a table"]
    hourly, daily = (
        dict(re.findall(r'<td class="mono">([^<]*)</td><td class="num">([^<]*)</td>', t)) for _, t in tables
    )
    assert len(hourly) == 24 and len(daily) == 30
    assert hourly[now.strftime("%Y-%m-%d %H:00")] == "2"
    assert daily[now.strftime("%Y-%m-%d")] == "2"
    assert daily[(now - timedelta(days=3)).strftime("%Y-%m-%d")] == "1"


def test_overview_totals_are_also_given_exactly(client, staff_client, tenant):
    now = timezone.now()
    for size in (1_000, 234):  # a request carries at most 1,000 events
        recent = [{"timestamp": ms(now - timedelta(minutes=1))}] * size
        assert intempt_send(client, tenant, recent, name="Signup").status_code == 200
    intempt_send(client, tenant, [{"timestamp": ms(now - timedelta(days=2))}] * 5, name="Signup")

    body = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()

    # The card showed "1.2k" and nowhere the figure it stood for.
    assert stat(body, "events-24h") == "1.2k"
    assert 'title="1,234 events" data-testid="events-24h"' in body
    assert stat(body, "events-24h-exact") == "1,234 events, peak 1,234/hour"
    assert 'title="1,239 events" data-testid="events-30d"' in body
    assert stat(body, "events-30d-exact") == "1,239 events, peak 1,234/day"

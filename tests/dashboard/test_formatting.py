"""The dashboard's number and time formatting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from dashboard.charts import compact, time_series_chart
from dashboard.templatetags.dashboard_tags import ago, number, stamp


@pytest.mark.parametrize(
    "value, text",
    [(0, "0"), (999, "999"), (1_000, "1k"), (12_345, "12.3k"), (999_949, "999.9k"), (999_960, "1M"),
     (1_250_000, "1.2M"), (999_960_000, "1B"), (2_000_000_000, "2B")],
)  # fmt: skip
def test_compact_numbers_carry_into_the_next_unit_instead_of_showing_1000k(value, text):
    assert compact(value) == text


def test_ago_says_how_far_ahead_a_future_time_is():
    assert ago(timezone.now() + timedelta(minutes=5, seconds=5)) == "in 5\xa0minutes"


def test_ago_says_just_now_within_a_minute_either_way_and_ago_for_the_past():
    now = timezone.now()
    assert ago(now + timedelta(seconds=30)) == ago(now - timedelta(seconds=30)) == "just now"
    assert ago(now - timedelta(hours=2, seconds=5)) == "2\xa0hours ago"


@pytest.mark.parametrize(
    "value, text", [(None, "0"), (0, "0"), (999, "999"), (1_000, "1,000"), (1_234_567, "1,234,567")]
)
def test_number_writes_thousands_separators(value, text):
    assert number(value) == text


def test_stamp_puts_the_date_in_its_own_element_and_says_dash_for_none():
    moment = datetime(2026, 11, 23, 14, 5, 9, tzinfo=UTC)

    assert stamp(moment) == '<span class="stamp-date">2026-11-23</span> 14:05:09'
    assert stamp(None) == "—"


@pytest.mark.parametrize(
    "peak, labels",
    [(0, ["0"]), (1, ["0", "1"]), (2, ["0", "1", "2"]), (4, ["0", "5"]), (7, ["0", "5", "10"]),
     (1_234, ["0", "1k", "2k"]), (4_100, ["0", "2.5k", "5k"])],
)  # fmt: skip
def test_time_series_y_axis_has_whole_counts_only(peak, labels):
    hours = [datetime(2026, 11, 23, hour, tzinfo=UTC) for hour in range(24)]
    chart = time_series_chart(
        [(hour, peak if hour.hour == 12 else 0) for hour in hours], time_format="%H", tick_every=4
    )

    assert [tick.label for tick in chart.y_ticks] == labels
    # Each gridline sits at its value: the top one is the top of the plot, 0 its bottom.
    assert chart.y_ticks[0].position == chart.plot_bottom
    assert chart.y_ticks[-1].position == (chart.plot_top if peak else chart.plot_bottom)

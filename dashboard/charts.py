"""Server-rendered SVG charts: geometry computed here, drawn by templates/dashboard/charts/.

No JavaScript and nothing fetched from elsewhere: a chart is plain SVG in the page, styled
by classes in static/dashboard/dashboard.css.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.template.defaultfilters import pluralize


def nice_ceiling(value: int) -> int:
    """The smallest 1/2/5 x 10^n that is >= value (at least 1), for a readable y axis."""
    if value <= 1:
        return 1
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude >= value:
                return factor * magnitude
        magnitude *= 10


def compact(value: int) -> str:
    """12345 -> '12.3k': the smallest unit whose rounded figure stays under 1,000, so
    999,949 is '999.9k' and 999,960 '1M' (never '1000k')."""
    if value < 1_000:
        return str(value)
    for threshold, suffix in ((1_000, "k"), (1_000_000, "M")):
        scaled = round(value / threshold, 1)
        if scaled < 1_000:
            return f"{scaled:g}{suffix}"
    return f"{round(value / 1_000_000_000, 1):g}B"


def _y_tick_values(peak: int, ceiling: int) -> list[int]:
    """The y axis's gridlines: 0, the middle and the top, whole numbers only, since counts
    are. The middle of a 0-1 or 0-5 axis (0.5, 2.5) is left out rather than labelled with a
    count that cannot happen or rounded to one that is not there; an all-zero chart has its
    0 alone (a 0-1 scale would be made up)."""
    if peak == 0:
        return [0]
    return [0, ceiling // 2, ceiling] if ceiling % 2 == 0 else [0, ceiling]


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    width: float
    height: float
    label: str  # tooltip: "2026-11-23 14:00 — 1,234 events"
    when: str  # the bucket in full, for the chart's table: "2026-11-23 14:00"
    count: int


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class TimeSeriesChart:
    width: int
    height: int
    plot_left: int
    plot_top: int
    plot_bottom: float
    plot_right: int
    columns: list[Column]
    line: str  # polyline points through the column tops
    area: str  # polygon points: the line closed down to the axis
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    total: int
    peak: int

    @property
    def plot_center_x(self) -> float:
        return (self.plot_left + self.plot_right) / 2

    @property
    def plot_center_y(self) -> float:
        return (self.plot_top + self.plot_bottom) / 2


def time_series_chart(
    series: Sequence[tuple[datetime, int]],
    *,
    time_format: str,
    tick_every: int,
    table_format: str = "%Y-%m-%d %H:%M",
    width: int = 720,
    height: int = 220,
) -> TimeSeriesChart:
    """Columns and a line for counts per bucket, oldest first; ``table_format`` writes a
    bucket in the table of the chart's counts."""
    left, right, top, bottom = 44, 8, 10, 26
    plot_width = width - left - right
    plot_height = height - top - bottom
    peak = max((count for _, count in series), default=0)
    ceiling = nice_ceiling(peak)
    slot = plot_width / max(len(series), 1)
    gap = min(2.0, slot * 0.2)
    columns = []
    points = []
    for index, (moment, count) in enumerate(series):
        column_height = plot_height * count / ceiling
        x = left + index * slot
        columns.append(
            Column(
                x=round(x + gap / 2, 2),
                y=round(top + plot_height - column_height, 2),
                width=round(slot - gap, 2),
                height=round(column_height, 2),
                label=f"{moment.strftime(time_format)} — {count:,} event{pluralize(count)}",
                when=moment.strftime(table_format),
                count=count,
            )
        )
        points.append(f"{x + slot / 2:.2f},{top + plot_height - column_height:.2f}")
    baseline = top + plot_height
    area = ""
    if points:
        first_x = points[0].split(",")[0]
        last_x = points[-1].split(",")[0]
        area = " ".join([f"{first_x},{baseline:.2f}", *points, f"{last_x},{baseline:.2f}"])
    y_ticks = [
        Tick(position=round(top + plot_height - plot_height * value / ceiling, 2), label=compact(value))
        for value in _y_tick_values(peak, ceiling)
    ]
    x_ticks = [
        Tick(position=round(left + index * slot + slot / 2, 2), label=moment.strftime(time_format))
        for index, (moment, _) in enumerate(series)
        if (len(series) - 1 - index) % tick_every == 0
    ]
    return TimeSeriesChart(
        width=width,
        height=height,
        plot_left=left,
        plot_top=top,
        plot_bottom=baseline,
        plot_right=width - right,
        columns=columns,
        line=" ".join(points),
        area=area,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        total=sum(count for _, count in series),
        peak=peak,
    )


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    value_text: str
    y: float
    width: float
    url: str | None  # None: a bar that opens nothing (a deleted source's)


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    label_width: int
    bar_height: int
    bars: list[Bar]


def bar_chart(
    items: Sequence[tuple[str, int, str | None]], *, width: int = 480, label_width: int = 150, bar_height: int = 22
) -> BarChart:
    """Horizontal bars for (label, value, url) items, largest first as given; a bar
    without a url is no link."""
    peak = max((value for _, value, _ in items), default=0) or 1
    value_room = 56
    room = width - label_width - value_room
    bars = [
        Bar(
            label=label,
            value=value,
            value_text=compact(value),
            y=index * (bar_height + 8),
            width=round(max(room * value / peak, 2 if value else 0), 2),
            url=url,
        )
        for index, (label, value, url) in enumerate(items)
    ]
    return BarChart(
        width=width,
        height=max(len(bars) * (bar_height + 8) - 8, bar_height),
        label_width=label_width,
        bar_height=bar_height,
        bars=bars,
    )


def sparkline(series: Sequence[tuple[datetime, int]], *, width: int = 120, height: int = 28) -> str:
    """Polyline points for a small per-day trend."""
    peak = max((count for _, count in series), default=0) or 1
    step = width / max(len(series) - 1, 1)
    return " ".join(
        f"{index * step:.1f},{height - 2 - (height - 4) * count / peak:.1f}" for index, (_, count) in enumerate(series)
    )

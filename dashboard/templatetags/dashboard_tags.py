"""Small template helpers for the dashboard pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince, timeuntil

from dashboard.charts import compact as compact_number
from ingestion.canonical import format_timestamp

register = template.Library()


@register.filter
def lookup(mapping: dict[Any, Any] | None, key: Any) -> Any:
    """``{{ mapping|lookup:key }}``: a dict value by a variable key, or None."""
    if not mapping or key is None:
        return None
    return mapping.get(key)


@register.filter
def utc(value: datetime | None) -> str:
    """An aware datetime in UTC as ``2026-11-23 14:05:09`` (pages say the zone once)."""
    if value is None:
        return "—"
    return f"{utc_date(value)} {utc_time(value)}"


@register.filter
def utc_time(value: datetime | None) -> str:
    """Only the time of day, ``14:05:09`` (lists put ``utc_date`` above it on a phone)."""
    if value is None:
        return "—"
    value = value.astimezone(UTC)
    return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"


@register.filter
def utc_date(value: datetime | None) -> str:
    if value is None:
        return ""
    # Not strftime: its %Y writes year 1 as "1" on Linux (timestamps go back to year 1).
    value = value.astimezone(UTC)
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


@register.filter
def instant(value: datetime | None) -> str:
    """The read API's exact form, ``2026-11-23T14:05:09.123Z``, for a page about one
    record: ``utc`` drops the milliseconds, so two events of one second looked alike
    there while the explorer orders them by milliseconds, and the page's time did not
    match the one an export or the read API gives for the same event."""
    if value is None:
        return "—"
    return format_timestamp(value)


@register.simple_tag
def stamp(value: datetime | None) -> str:
    """``2026-11-23 14:05:09`` in a list, its date in an element of its own that a phone
    puts above the time (``.stamp-date``): a list spans days, and the whole stamp in one
    line widened a phone's tables past the screen."""
    if value is None:
        return "—"
    return format_html('<span class="stamp-date">{}</span> {}', utc_date(value), utc_time(value))


@register.filter
def ago(value: datetime | None) -> str:
    """``just now`` within a minute, else ``5 minutes ago`` (``in 5 minutes`` for a time
    ahead: a producer's clock may run fast)."""
    if value is None:
        return "never"
    seconds = (timezone.now() - value).total_seconds()
    if abs(seconds) < 60:
        return "just now"
    return f"{timesince(value)} ago" if seconds > 0 else f"in {timeuntil(value)}"


@register.filter
def compact(value: int | None) -> str:
    return compact_number(int(value or 0))


@register.filter
def number(value: int | None) -> str:
    """A count with thousands separators, ``12,345`` (as the charts' tooltips write them)."""
    return f"{int(value or 0):,}"


@register.filter
def mask_key(identifier: str) -> str:
    """A credential shown by its public identifier only; the secret is never stored."""
    return f"{identifier}.••••••••"

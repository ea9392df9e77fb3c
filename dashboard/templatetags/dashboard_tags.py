"""Small template helpers for the dashboard pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import template

from dashboard.charts import compact as compact_number

register = template.Library()


@register.filter
def lookup(mapping: dict[Any, Any] | None, key: Any) -> Any:
    """``{{ mapping|lookup:key }}``: a dict value by a variable key, or None."""
    if not mapping or key is None:
        return None
    return mapping.get(key)


@register.filter
def utc(value: datetime | None) -> str:
    """An aware datetime as ``2026-11-23 14:05:09 UTC``, with milliseconds dropped."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@register.filter
def compact(value: int | None) -> str:
    return compact_number(int(value or 0))


@register.filter
def mask_key(identifier: str) -> str:
    """A credential shown by its public identifier only; the secret is never stored."""
    return f"{identifier}.••••••••"

"""Which identifier values count (contract: Identity, placeholders)."""

from __future__ import annotations

PLACEHOLDERS = frozenset(
    {"", "null", "undefined", "none", "nil", "anonymous", "guest", "0", "-1", "[object object]", "nan", "true", "false"}
)


def is_placeholder(value: str | None) -> bool:
    """True for values a buggy client sends instead of an identifier."""
    return value is None or value.strip().lower() in PLACEHOLDERS


def usable(value: str | None) -> str | None:
    return None if is_placeholder(value) else value

"""One module per wire format: parse, validate, map to the canonical event, shape answers.

``adapter_for(name)`` finds a format's adapter by its ``wire_format`` name: every module of
this package is imported and every ``WireFormatAdapter`` subclass with a ``wire_format`` is
registered under it, so a format module added later is found without editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from ingestion.formats.base import WireFormatAdapter

# File-format names that differ from the adapter's wire_format (``ndjson`` files hold
# events in the read API's shape, stored with wire_format ``import``).
_ALIASES = {"ndjson": "import"}


@cache
def _adapters() -> dict[str, WireFormatAdapter]:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    found: dict[str, WireFormatAdapter] = {}
    pending = list(WireFormatAdapter.__subclasses__())
    while pending:
        adapter_class = pending.pop()
        pending.extend(adapter_class.__subclasses__())
        name = adapter_class.__dict__.get("wire_format")
        if isinstance(name, str) and name not in found:
            found[name] = adapter_class()
    return found


def adapter_names() -> list[str]:
    """The format names a user gives (``import_events --format``): each adapter's
    ``wire_format``, or its alias where it has one (``ndjson``, not ``import``)."""
    aliased = {name: alias for alias, name in _ALIASES.items()}
    return sorted(aliased.get(name, name) for name in _adapters())


def adapter_for(name: str) -> WireFormatAdapter:
    """The adapter of the wire format ``name`` (or ``ndjson``); KeyError if there is none."""
    adapters = _adapters()
    key = _ALIASES.get(name, name)
    if key not in adapters:
        raise KeyError(f"no wire format {name!r}; known: {', '.join(adapter_names())}")
    return adapters[key]

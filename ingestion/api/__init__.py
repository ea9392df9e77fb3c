"""The read API of events and rejected events. Other apps build their read pages from what
this package exports here, not from its modules: the profiles API lists a profile's events
with ``EventListView`` and pages its lists as the event list does; the dashboard pages by
the same opaque cursor and filters ids as the API does."""

from ingestion.api.filters import IdFilter
from ingestion.api.pagination import (
    INVALID_CURSOR_MESSAGE,
    Cursor,
    cursor_decode,
    cursor_encode,
    keyset_beyond,
    page_parameters_schema,
    page_size_parse,
)
from ingestion.api.query import QueryParamsCheckedMixin
from ingestion.api.serializers import ContractTimestampField
from ingestion.api.views import EventListView

__all__ = [
    "INVALID_CURSOR_MESSAGE",
    "ContractTimestampField",
    "Cursor",
    "EventListView",
    "IdFilter",
    "QueryParamsCheckedMixin",
    "cursor_decode",
    "cursor_encode",
    "keyset_beyond",
    "page_parameters_schema",
    "page_size_parse",
]

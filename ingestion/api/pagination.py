"""A keyset cursor on (time, id) that stays stable while rows keep arriving.

DRF's ``CursorPagination`` keys on the first ordering field plus an offset, so rows that
share a timestamp, or rows inserted between two page fetches, can be skipped or shown
twice. Here a cursor is the exact (time, id) of the row a page ended on, and the next page
is "strictly after that pair in the sort order": a row inserted later, back-dated or not,
is either after the cursor (and will be seen) or before it (and was not due yet), never
both.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.db.models import Model, Q, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from ingestion.canonical import EPOCH, digits_parse

INVALID_CURSOR_MESSAGE = "Invalid cursor; use the next or previous link as given"


def page_parameters_schema(
    *, cursor_param: str, page_size_param: str, page_size: int, max_page_size: int
) -> list[dict[str, Any]]:
    """The OpenAPI query parameters of a cursor-paged list."""
    return [
        {
            "name": cursor_param,
            "required": False,
            "in": "query",
            "description": "Opaque position from a `next` or `previous` link.",
            "schema": {"type": "string"},
        },
        {
            "name": page_size_param,
            "required": False,
            "in": "query",
            "description": f"Rows per page (default {page_size}, at most {max_page_size}).",
            "schema": {"type": "integer", "minimum": 1, "maximum": max_page_size},
        },
    ]


def page_size_parse(request: Request, *, param: str, default: int, maximum: int) -> int:
    """``?<param>=`` as a page size: ``default`` when absent, a 400 naming it unless it is
    a whole number from 1 to ``maximum`` (every list of the read API answers the same)."""
    raw = request.query_params.get(param)
    if raw is None:
        return default
    size = digits_parse(raw, max_digits=len(str(maximum)) + 3)  # room for leading zeros, no more
    if size is None or not 1 <= size <= maximum:
        raise ValidationError({param: [f"an integer from 1 to {maximum}"]})
    return size


def ordering_descending(request: Request, *, param: str, time_field: str) -> bool:
    """``?<param>=``: ``-<time_field>`` (the default) for newest first, ``<time_field>``
    for oldest first; a 400 naming it for anything else. The event list and the exports
    read it alike."""
    raw = request.query_params.get(param, f"-{time_field}")
    if raw not in (time_field, f"-{time_field}"):
        raise ValidationError({param: [f"-{time_field} or {time_field}"]})
    return raw.startswith("-")


@dataclass(frozen=True)
class Cursor:
    """A position in the sort order: the (time, id) of a row, and which way to walk."""

    time: datetime
    id: int
    backwards: bool  # True: the page before this position (a ``previous`` link)


def cursor_encode(cursor: Cursor) -> str:
    micros = (cursor.time - EPOCH) // timedelta(microseconds=1)
    raw = orjson.dumps({"t": micros, "i": cursor.id, "b": int(cursor.backwards)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(token: str) -> Cursor:
    """The cursor in an opaque token; ValidationError (400) for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        micros, row_id, backwards = data["t"], data["i"], data["b"]
        if not all(type(value) is int for value in (micros, row_id, backwards)):
            raise TypeError
        cursor = Cursor(time=EPOCH + timedelta(microseconds=micros), id=row_id, backwards=bool(backwards))
        # Only a cursor as the links write it: base64 decoding skips characters outside
        # its alphabet, and "b": 7 or an extra key would otherwise pass as another cursor.
        if cursor_encode(cursor) != token.rstrip("="):
            raise ValueError
        return cursor
    except (binascii.Error, ValueError, TypeError, KeyError, OverflowError, orjson.JSONDecodeError) as exc:
        raise ValidationError({"cursor": [INVALID_CURSOR_MESSAGE]}) from exc


def keyset_beyond(cursor: Cursor, *, time_field: str, descending: bool) -> Q:
    """Rows strictly after ``cursor`` in (time, id) order, read in that direction. The
    dashboard and the export page with it too.

    The bound on time alone is implied by the OR, but PostgreSQL does not derive it, and
    it is the part the (…, time, id) indexes can start their scan at: without it a page
    deep into a partition reads, and throws away, every row before it."""
    op, bound = ("lt", "lte") if descending else ("gt", "gte")
    return Q(**{f"{time_field}__{bound}": cursor.time}) & (
        Q(**{f"{time_field}__{op}": cursor.time}) | Q(**{time_field: cursor.time, f"id__{op}": cursor.id})
    )


class KeysetCursorPagination(BasePagination):
    """Pages ordered by (``time_field``, id), newest first unless ``ordering=<time_field>``.

    Each page costs one indexed range query of ``page_size + 1`` rows, however deep.
    """

    time_field = "timestamp"
    page_size = 100
    max_page_size = 1000
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    ordering_query_param = "ordering"

    def paginate_queryset(
        self, queryset: QuerySet[Any, Any] | Sequence[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        if not isinstance(queryset, QuerySet):  # the cursor is a WHERE clause: a list cannot be paged
            raise TypeError(f"{type(self).__name__} pages a QuerySet, not a {type(queryset).__name__}")
        self.base_url = request.build_absolute_uri()
        self.page_size = self._page_size(request)
        self.descending = self._descending(request)
        token = request.query_params.get(self.cursor_query_param)
        self.cursor = cursor_decode(token) if token else None

        backwards = self.cursor is not None and self.cursor.backwards
        # The direction rows are read in: a ``previous`` page reads against the order
        # from its position, then is flipped back.
        read_descending = self.descending != backwards
        if self.cursor is not None:
            queryset = queryset.filter(self._beyond(self.cursor, descending=read_descending))
        order = (f"-{self.time_field}", "-id") if read_descending else (self.time_field, "id")
        rows: list[Model] = list(queryset.order_by(*order)[: self.page_size + 1])
        has_more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if backwards:
            rows.reverse()

        self.next_cursor: Cursor | None = None
        self.previous_cursor: Cursor | None = None
        first, last = (rows[0], rows[-1]) if rows else (None, None)
        if backwards:
            if has_more and first is not None:
                self.previous_cursor = self._position(first, backwards=True)
            if last is not None:
                self.next_cursor = self._position(last, backwards=False)
            elif self.cursor is not None:
                self.next_cursor = self._including(self.cursor, backwards=False)
        else:
            if has_more and last is not None:
                self.next_cursor = self._position(last, backwards=False)
            if self.cursor is not None:
                self.previous_cursor = (
                    self._position(first, backwards=True)
                    if first is not None
                    else self._including(self.cursor, backwards=True)
                )
        return rows

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_next_link(self) -> str | None:
        return self._link(self.next_cursor)

    def get_previous_link(self) -> str | None:
        return self._link(self.previous_cursor)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        paging = page_parameters_schema(
            cursor_param=self.cursor_query_param, page_size_param=self.page_size_query_param,
            page_size=self.page_size, max_page_size=self.max_page_size,
        )  # fmt: skip
        return [
            *paging,
            {
                "name": self.ordering_query_param,
                "required": False,
                "in": "query",
                "description": f"`-{self.time_field}` (newest first, the default) or `{self.time_field}`; "
                "ties broken by id in the same direction.",
                "schema": {"type": "string", "enum": [f"-{self.time_field}", self.time_field]},
            },
        ]

    # --- helpers ---------------------------------------------------------------------------

    def _beyond(self, cursor: Cursor, *, descending: bool) -> Q:
        return keyset_beyond(cursor, time_field=self.time_field, descending=descending)

    def _position(self, row: Model, *, backwards: bool) -> Cursor:
        return Cursor(time=getattr(row, self.time_field), id=row.pk, backwards=backwards)

    def _including(self, cursor: Cursor, *, backwards: bool) -> Cursor:
        """The position whose page, read ``backwards`` or not, starts at ``cursor``'s own
        row: the link back from an empty page (its rows erased, or its cursor reused with
        other filters). ``cursor`` names the row the page before it ended (or began) on,
        which a position excludes: the same position as a link skipped that row. Ids are
        whole numbers, so one id further back in the reading direction is that row
        included, and nothing more."""
        read_descending = self.descending != backwards
        return Cursor(cursor.time, cursor.id + 1 if read_descending else cursor.id - 1, backwards=backwards)

    def _link(self, cursor: Cursor | None) -> str | None:
        if cursor is None:
            return None
        return replace_query_param(self.base_url, self.cursor_query_param, cursor_encode(cursor))

    def _page_size(self, request: Request) -> int:
        return page_size_parse(
            request, param=self.page_size_query_param, default=self.page_size, maximum=self.max_page_size
        )

    def _descending(self, request: Request) -> bool:
        return ordering_descending(request, param=self.ordering_query_param, time_field=self.time_field)

"""Read API views for profiles and accounts of the read token's project."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.db.models import QuerySet
from django.http import Http404
from rest_framework import generics
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from ingestion.api import (
    INVALID_CURSOR_MESSAGE,
    EventListView,
    QueryParamsCheckedMixin,
    page_parameters_schema,
    page_size_parse,
)
from ingestion.authentication import read_principal
from ingestion.canonical import id_parse
from profiles import selectors
from profiles.api.filters import AccountFilterSet, ProfileFilterSet
from profiles.api.serializers import AccountSerializer, ProfileSerializer
from profiles.models import Account, Profile
from trackhub.replica import ReplicaReadsMixin


class ReadProjectMixin(ReplicaReadsMixin, QueryParamsCheckedMixin):
    """Read from the replica, if there is one (``trackhub.replica``)."""

    def _project_id(self) -> int:
        """The read token's project (HasReadScope let only a ReadPrincipal in)."""
        return read_principal(self.request).project.id


class NewestFirstCursorPagination(CursorPagination):
    # By id: unique and immutable, so pages never skip or repeat a row (last_seen changes
    # as events arrive).
    ordering = ("-id",)
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    invalid_cursor_message = INVALID_CURSOR_MESSAGE

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        # As the event list answers: a malformed cursor or page size is the client's
        # mistake, 400 naming the parameter (DRF's own CursorPagination says 404 and
        # quietly ignores a bad page size).
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from exc

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        # DRF decodes leniently: base64 skips characters outside its alphabet and unknown
        # keys are ignored, so "AAAA", "!" or "x=1" read as the first page, a 200 that
        # answered another question than the (broken) link asked. A cursor is valid only
        # as these lists write it, as on the event list.
        token = request.query_params.get(self.cursor_query_param)
        if cursor is not None and token != self._token(cursor):
            raise NotFound(self.invalid_cursor_message)
        # The position is the id the page ended on (the order is by id). DRF hands any
        # text on to the query, where a forged one ("abc", a NUL, 5,000 digits) was a 500.
        if cursor is not None and cursor.position is not None and id_parse(str(cursor.position)) is None:
            raise NotFound(self.invalid_cursor_message)
        return cursor

    def _token(self, cursor: Cursor) -> str:
        """The ``cursor`` parameter DRF's own links carry for ``cursor``."""
        link = self.encode_cursor(cursor)
        return parse_qs(urlsplit(link).query, keep_blank_values=True)[self.cursor_query_param][0]

    def get_page_size(self, request: Request) -> int:
        return page_size_parse(
            request, param=self.page_size_query_param, default=self.page_size, maximum=self.max_page_size
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        # DRF's lists only ``results`` as required, but ``next`` and ``previous`` are always
        # there (null at either end), as on the event list.
        # DRF's examples are not ours (an /accounts/ URL on every list, a stray quote, its
        # own cursor form): the links are opaque, as on the event list, which has none.
        page = super().get_paginated_response_schema(schema)
        for link in ("next", "previous"):
            page["properties"][link].pop("example", None)
        return {**page, "required": ["next", "previous", "results"]}

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return page_parameters_schema(
            cursor_param=self.cursor_query_param, page_size_param=self.page_size_query_param,
            page_size=self.page_size, max_page_size=self.max_page_size,
        )  # fmt: skip


class ProfileListView(ReadProjectMixin, generics.ListAPIView):
    """Live profiles, newest first; ``?identifier=X`` finds the one owning X."""

    serializer_class = ProfileSerializer
    filterset_class = ProfileFilterSet
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self) -> QuerySet[Profile]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no token
            return Profile.objects.none()
        return selectors.profiles_live(project_id=self._project_id())

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if args and kwargs.get("many"):
            # Identifiers and accounts for the whole page in two queries.
            args = (selectors.profile_details(profiles=args[0]), *args[1:])
        return super().get_serializer(*args, **kwargs)


class ProfileDetailView(ReadProjectMixin, generics.GenericAPIView):
    """One profile; a merged-away id answers with its survivor."""

    serializer_class = ProfileSerializer

    def get(self, request: Request, profile_id: int) -> Response:
        detail = selectors.profile_detail(project_id=self._project_id(), profile_id=profile_id)
        if detail is None:
            raise Http404
        return Response(self.get_serializer(detail).data)


class ProfileEventListView(ReadProjectMixin, EventListView):
    """The profile's events (every identifier merged into it), in the events API's shape,
    order, filters and pages."""

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no token
            return super().get_queryset()
        found = selectors.profile_events(project_id=self._project_id(), profile_id=self.kwargs["profile_id"])
        if found is None:
            raise Http404
        return found.events


class AccountListView(ReadProjectMixin, generics.ListAPIView):
    """Live accounts, newest first; ``?identifier=X`` finds the one owning X."""

    serializer_class = AccountSerializer
    filterset_class = AccountFilterSet
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self) -> QuerySet[Account]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no token
            return Account.objects.none()
        return selectors.accounts_live(project_id=self._project_id())

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if args and kwargs.get("many"):
            args = (selectors.account_details(accounts=args[0]), *args[1:])
        return super().get_serializer(*args, **kwargs)


class AccountDetailView(ReadProjectMixin, generics.GenericAPIView):
    """One account; a merged-away id answers with its survivor."""

    serializer_class = AccountSerializer

    def get(self, request: Request, account_id: int) -> Response:
        detail = selectors.account_detail(project_id=self._project_id(), account_id=account_id)
        if detail is None:
            raise Http404
        return Response(self.get_serializer(detail).data)

"""Read API views for profiles and accounts of the read token's project."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from rest_framework import generics
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from ingestion.api.views import EventListView
from profiles import selectors
from profiles.api.filters import AccountFilterSet, ProfileFilterSet
from profiles.api.serializers import AccountSerializer, ProfileSerializer
from profiles.models import Account, Profile


class LastSeenCursorPagination(CursorPagination):
    ordering = ("-last_seen", "-id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class ProfileListView(generics.ListAPIView):
    """Live profiles, most recently seen first; ``?identifier=X`` finds the one owning X."""

    serializer_class = ProfileSerializer
    filterset_class = ProfileFilterSet
    pagination_class = LastSeenCursorPagination

    def get_queryset(self) -> QuerySet[Profile]:
        return selectors.profiles_live(project_id=self.request.auth.project.id)

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if args and kwargs.get("many"):
            # Identifiers and accounts for the whole page in two queries.
            args = (selectors.profile_details(profiles=args[0]), *args[1:])
        return super().get_serializer(*args, **kwargs)


class ProfileDetailView(generics.GenericAPIView):
    """One profile; a merged-away id answers with its survivor."""

    serializer_class = ProfileSerializer

    def get(self, request: Request, profile_id: int) -> Response:
        detail = selectors.profile_detail(project_id=request.auth.project.id, profile_id=profile_id)
        if detail is None:
            raise Http404
        return Response(self.get_serializer(detail).data)


class ProfileEventListView(EventListView):
    """The profile's events (every identifier merged into it), in the events API's shape,
    order, filters and pages."""

    def get_queryset(self) -> QuerySet:
        events = selectors.profile_events(project_id=self.request.auth.project.id, profile_id=self.kwargs["profile_id"])
        if events is None:
            raise Http404
        return events


class AccountListView(generics.ListAPIView):
    """Live accounts, most recently seen first; ``?identifier=X`` finds the one owning X."""

    serializer_class = AccountSerializer
    filterset_class = AccountFilterSet
    pagination_class = LastSeenCursorPagination

    def get_queryset(self) -> QuerySet[Account]:
        return selectors.accounts_live(project_id=self.request.auth.project.id)

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if args and kwargs.get("many"):
            args = (selectors.account_details(accounts=args[0]), *args[1:])
        return super().get_serializer(*args, **kwargs)


class AccountDetailView(generics.GenericAPIView):
    """One account; a merged-away id answers with its survivor."""

    serializer_class = AccountSerializer

    def get(self, request: Request, account_id: int) -> Response:
        detail = selectors.account_detail(project_id=request.auth.project.id, account_id=account_id)
        if detail is None:
            raise Http404
        return Response(self.get_serializer(detail).data)

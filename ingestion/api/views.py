"""Read API views: list events and rejected events of the token's project."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import generics
from rest_framework.pagination import CursorPagination

from ingestion.api.filters import EventFilterSet, RejectedEventFilterSet
from ingestion.api.serializers import EventSerializer, RejectedEventSerializer
from ingestion.models import Event, RejectedEvent
from profiles.selectors import profile_ids_for_identifiers


class NewestFirstCursorPagination(CursorPagination):
    ordering = ("-timestamp", "-id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class EventListView(generics.ListAPIView):
    """Events of the token's project, newest first (timestamp, then id, descending)."""

    serializer_class = EventSerializer
    filterset_class = EventFilterSet
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self) -> QuerySet[Event]:
        return Event.objects.filter(project_id=self.request.auth.project.id)

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if args and kwargs.get("many"):
            page = list(args[0])
            kwargs["context"] = {
                **self.get_serializer_context(),
                "profiles_by_identifier": profile_ids_for_identifiers(
                    project_id=self.request.auth.project.id,
                    identifiers={event.identity_key for event in page if event.identity_key},
                ),
            }
            args = (page, *args[1:])
        return super().get_serializer(*args, **kwargs)


class RejectedEventPagination(NewestFirstCursorPagination):
    ordering = ("-received_at", "-id")


class RejectedEventListView(generics.ListAPIView):
    """Events refused at the event level, newest first, with their raw payload."""

    serializer_class = RejectedEventSerializer
    filterset_class = RejectedEventFilterSet
    pagination_class = RejectedEventPagination

    def get_queryset(self) -> QuerySet[RejectedEvent]:
        return RejectedEvent.objects.filter(project_id=self.request.auth.project.id)

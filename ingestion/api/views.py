"""Read API views: list and export events, list rejected events, of the token's project."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

from ingestion.api import schema as _schema  # noqa: F401  (registers the OpenAPI extensions)
from ingestion.api.export import csv_stream, ndjson_stream
from ingestion.api.filters import EventFilterSet, RejectedEventFilterSet
from ingestion.api.pagination import KeysetCursorPagination, ordering_descending
from ingestion.api.query import QueryParamsCheckedMixin
from ingestion.api.serializers import EventSerializer, RejectedEventSerializer
from ingestion.authentication import read_principal
from ingestion.models import Event, RejectedEvent
from profiles.selectors import profile_ids_for_identifiers
from trackhub.replica import ReplicaReadsMixin


class ProjectScopedMixin(ReplicaReadsMixin, QueryParamsCheckedMixin):
    """Rows of the read token's project only (read from the replica, if there is one)."""

    model: type[Event] | type[RejectedEvent]

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no token
            return self.model.objects.none()
        return self.model.objects.filter(project_id=read_principal(self.request).project.id)


class EventPagination(KeysetCursorPagination):
    time_field = "timestamp"


class RejectedEventPagination(KeysetCursorPagination):
    time_field = "received_at"


class EventListView(ProjectScopedMixin, generics.ListAPIView):
    """Events of the token's project, newest first (timestamp, then id, descending).

    Pages are keyset cursors on (timestamp, id): follow `next` to walk back in time; rows
    that arrive meanwhile (back-dated or not) are never skipped or repeated.
    """

    serializer_class = EventSerializer
    filterset_class = EventFilterSet
    pagination_class = EventPagination

    model = Event

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if args and kwargs.get("many"):
            page = list(args[0])
            kwargs["context"] = {
                **self.get_serializer_context(),
                "profiles_by_identifier": profile_ids_for_identifiers(
                    project_id=read_principal(self.request).project.id,
                    identifiers={event.identity_key for event in page if event.identity_key},
                ),
            }
            args = (page, *args[1:])
        return super().get_serializer(*args, **kwargs)


class RejectedEventListView(ProjectScopedMixin, generics.ListAPIView):
    """Events refused at the event level, newest first (received_at, then id), with their
    raw payload and reason."""

    serializer_class = RejectedEventSerializer
    filterset_class = RejectedEventFilterSet
    pagination_class = RejectedEventPagination

    model = RejectedEvent


class _JSONErrorsOnly(BaseContentNegotiation):
    """Exports answer errors (401, 400) as JSON whatever the client's Accept header says;
    the success body is a streaming response that bypasses DRF's renderers."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class _EventExportView(ProjectScopedMixin, generics.GenericAPIView):
    filterset_class = EventFilterSet
    serializer_class = EventSerializer
    pagination_class = None
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _JSONErrorsOnly
    # The list's filters and ``ordering``; ``cursor`` and ``page_size`` would be ignored.
    extra_query_params = (EventPagination.ordering_query_param,)
    content_type = ""
    filename = ""
    snapshot_reads = False  # streamed after the view returns

    model = Event

    def stream(self, queryset: QuerySet[Event], *, project_id: int, descending: bool) -> Any:
        raise NotImplementedError

    def get(self, request: Request, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        queryset = self.filter_queryset(self.get_queryset())
        queryset = queryset.using(queryset.db)  # streamed after the view returns: keep its database
        # The list's own ``ordering`` (and its 400): an export is the list, unpaged.
        descending = ordering_descending(
            request, param=EventPagination.ordering_query_param, time_field=EventPagination.time_field
        )
        stream = self.stream(queryset, project_id=read_principal(request).project.id, descending=descending)
        response = StreamingHttpResponse(stream, content_type=self.content_type)
        response["Content-Disposition"] = f'attachment; filename="{self.filename}"'
        return response


_EXPORT_ORDERING = OpenApiParameter(
    EventPagination.ordering_query_param,
    OpenApiTypes.STR,
    enum=["-timestamp", "timestamp"],
    description="`-timestamp` (newest first, the default) or `timestamp`; ties broken by id in the same direction.",
)


@extend_schema_view(
    get=extend_schema(
        filters=True,
        parameters=[_EXPORT_ORDERING],
        operation_id="events_export_ndjson",
        summary="Export events as NDJSON",
        description="Every event matching the filters, newest first (oldest first with `ordering=timestamp`), "
        "one JSON object per line in the same shape as "
        "`GET /api/v1/events/` results. Streamed in constant memory, so any number of events can be exported; "
        "`python manage.py import_events FILE --format ndjson` reads it back.",
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR, description="One event per line."),
        },
    )
)
class EventExportNdjsonView(_EventExportView):
    content_type = "application/x-ndjson"
    filename = "events.ndjson"

    def stream(self, queryset: QuerySet[Event], *, project_id: int, descending: bool) -> Any:
        return ndjson_stream(queryset, project_id=project_id, descending=descending)


@extend_schema_view(
    get=extend_schema(
        filters=True,
        parameters=[_EXPORT_ORDERING],
        operation_id="events_export_csv",
        summary="Export events as CSV",
        description="Every event matching the filters, newest first (oldest first with `ordering=timestamp`). "
        "A header row, then one row per event with the "
        "columns id, name, namespace, event_id, timestamp, received_at, user_id, profile_id, anonymous_id, account_id, "
        "session_id, page_id, properties, context, source_id, wire_format, profile; objects are JSON-encoded and null "
        "is an empty cell. Streamed in constant memory.",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="RFC 4180 CSV with a header row."),
        },
    )
)
class EventExportCsvView(_EventExportView):
    content_type = "text/csv; charset=utf-8"
    filename = "events.csv"

    def stream(self, queryset: QuerySet[Event], *, project_id: int, descending: bool) -> Any:
        return csv_stream(queryset, project_id=project_id, descending=descending)

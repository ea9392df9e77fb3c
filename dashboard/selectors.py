"""Reads behind the dashboard pages.

Every query is scoped to one project and shaped for the Event indexes:
(project, -timestamp, -id), (project, name, -timestamp), (project, source, -timestamp) and
(project, identity_key, -timestamp). Chart aggregates always cover a bounded time range
and group by a truncated timestamp, so their cost grows with the range's events, never
with the whole table; they are cached briefly (charts of the last 24 h / 30 days do not
need second-by-second freshness, and a busy project must not recount a million rows on
every page view).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncDay, TruncHour

from ingestion.models import AccessToken, ApiKey, Event, Project, RejectedEvent, Source

AGGREGATE_CACHE_SECONDS = 60
Bucket = Literal["hour", "day"]


# --- access ---------------------------------------------------------------------------------


def projects_visible(*, user: AbstractBaseUser | AnonymousUser) -> list[Project]:
    """The projects ``user`` may see in the dashboard, by organization then project name.

    Superusers see all; other staff the projects they are members of; anyone else none.
    """
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return []
    projects = Project.objects.select_related("organization").order_by("organization__name", "name", "id")
    if not user.is_superuser:
        projects = projects.filter(memberships__user=user)
    return list(projects)


# --- charts ---------------------------------------------------------------------------------


def _bucket_floor(moment: datetime, bucket: Bucket) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if bucket == "day" else moment


def event_volume_series(*, project_id: int, now: datetime, buckets: int, bucket: Bucket) -> list[tuple[datetime, int]]:
    """Event counts per hour or day for the last ``buckets`` buckets up to ``now``,
    oldest first, empty buckets included (one grouped query, cached)."""
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    last = _bucket_floor(now, bucket)
    first = last - step * (buckets - 1)
    key = f"dashboard:volume:{project_id}:{bucket}:{buckets}:{last.isoformat()}"
    counts: dict[datetime, int] | None = cache.get(key)
    if counts is None:
        trunc = TruncHour("timestamp", tzinfo=UTC) if bucket == "hour" else TruncDay("timestamp", tzinfo=UTC)
        rows = (
            Event.objects.filter(project_id=project_id, timestamp__gte=first, timestamp__lt=last + step)
            .annotate(bucket=trunc)
            .values("bucket")
            .annotate(n=Count("*"))
            .values_list("bucket", "n")
        )
        counts = {moment.astimezone(UTC): n for moment, n in rows}
        cache.set(key, counts, AGGREGATE_CACHE_SECONDS)
    return [(first + step * i, counts.get(first + step * i, 0)) for i in range(buckets)]


def event_counts_by(
    *, project_id: int, field: Literal["name", "source_id"], since: datetime, until: datetime, limit: int = 10
) -> list[tuple[str | int, int]]:
    """The ``limit`` most frequent values of ``field`` in [since, until), largest first
    (one grouped query, answered from the matching (project, field, -timestamp) index)."""
    key = f"dashboard:by:{project_id}:{field}:{since.isoformat()}:{until.isoformat()}:{limit}"
    result: list[tuple[str | int, int]] | None = cache.get(key)
    if result is None:
        rows = (
            Event.objects.filter(project_id=project_id, timestamp__gte=since, timestamp__lt=until)
            .values(field)
            .annotate(n=Count("*"))
            .order_by("-n", field)
            .values_list(field, "n")[:limit]
        )
        result = list(rows)
        cache.set(key, result, AGGREGATE_CACHE_SECONDS)
    return result


def event_total(*, project_id: int, since: datetime, until: datetime) -> int:
    key = f"dashboard:total:{project_id}:{since.isoformat()}:{until.isoformat()}"
    total: int | None = cache.get(key)
    if total is None:
        total = Event.objects.filter(project_id=project_id, timestamp__gte=since, timestamp__lt=until).count()
        cache.set(key, total, AGGREGATE_CACHE_SECONDS)
    return total


def event_names(*, project_id: int, since: datetime, until: datetime, limit: int = 200) -> list[str]:
    """Event names seen in the range, most frequent first (for the explorer's suggestions)."""
    return [
        str(name)
        for name, _ in event_counts_by(project_id=project_id, field="name", since=since, until=until, limit=limit)
    ]


# --- events ---------------------------------------------------------------------------------


def events_recent(*, project_id: int, source_id: int | None = None, limit: int = 20) -> list[Event]:
    events = Event.objects.filter(project_id=project_id)
    if source_id is not None:
        events = events.filter(source_id=source_id)
    return list(events.order_by("-timestamp", "-id")[:limit])


def events_by_keys(*, project_id: int, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Event]:
    """Events by their dedupe key (name, event_id), in one query on that unique index."""
    if not keys:
        return {}
    condition = Q()
    for name, event_id in set(keys):
        condition |= Q(name=name, event_id=event_id)
    rows = Event.objects.filter(condition, project_id=project_id).only("id", "name", "event_id", "timestamp")
    return {(event.name, event.event_id): event for event in rows}


def events_for_project(*, project_id: int) -> QuerySet[Event]:
    """The project's events newest first; the explorer filters and pages this."""
    return Event.objects.filter(project_id=project_id).order_by("-timestamp", "-id")


@dataclass(frozen=True)
class Cursor:
    """A keyset position: rows strictly older than (timestamp, id)."""

    timestamp: datetime
    id: int

    def encode(self) -> str:
        return f"{self.timestamp.astimezone(UTC).isoformat()}~{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        if not text or "~" not in text:
            return None
        moment, _, row_id = text.rpartition("~")
        try:
            parsed = datetime.fromisoformat(moment)
            return cls(timestamp=parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC), id=int(row_id))
        except ValueError:
            return None


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    next_cursor: str | None


def keyset_page(*, rows: QuerySet, cursor: Cursor | None, size: int, time_field: str = "timestamp") -> KeysetPage:
    """One page of ``rows`` (ordered by -time_field, -id) after ``cursor``.

    Keyset paging reads ``size + 1`` rows from the index whatever the page number, where
    OFFSET paging (and the COUNT(*) a numbered paginator needs) reads the whole table.
    """
    if cursor is not None:
        rows = rows.filter(
            Q(**{f"{time_field}__lt": cursor.timestamp}) | Q(**{time_field: cursor.timestamp, "id__lt": cursor.id})
        )
    page = list(rows[: size + 1])
    next_cursor = None
    if len(page) > size:
        page = page[:size]
        last = page[-1]
        next_cursor = Cursor(timestamp=getattr(last, time_field), id=last.id).encode()
    return KeysetPage(rows=page, next_cursor=next_cursor)


def event_get(*, project_id: int, event_id: int) -> Event | None:
    return Event.objects.filter(project_id=project_id, id=event_id).select_related("source").first()


# --- sources --------------------------------------------------------------------------------


def sources_with_stats(*, project_id: int, since: datetime) -> list[Source]:
    """The project's sources with ``last_received_at`` (of its newest event),
    ``rejected_count`` (not yet replayed, since ``since``) and its keys and tokens, in
    four queries whatever the number of sources."""
    newest = Event.objects.filter(project_id=OuterRef("project_id"), source_id=OuterRef("id")).order_by("-timestamp")
    rejected = (
        RejectedEvent.objects.filter(source_id=OuterRef("id"), received_at__gte=since, replayed_at__isnull=True)
        .order_by()
        .values("source_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return list(
        Source.objects.filter(project_id=project_id)
        .annotate(
            last_received_at=Subquery(newest.values("received_at")[:1]),
            last_timestamp=Subquery(newest.values("timestamp")[:1]),
            rejected_count=Coalesce(Subquery(rejected, output_field=IntegerField()), 0),
        )
        .prefetch_related(
            Prefetch("api_keys", queryset=ApiKey.objects.order_by("-created_at")),
            Prefetch("access_tokens", queryset=AccessToken.objects.order_by("-created_at")),
        )
        .order_by("name", "id")
    )


def source_daily_counts(
    *, project_id: int, source_ids: Sequence[int], now: datetime, days: int
) -> dict[int, list[tuple[datetime, int]]]:
    """Events per day of each source over the last ``days`` days, oldest first (one query)."""
    step = timedelta(days=1)
    last = _bucket_floor(now, "day")
    first = last - step * (days - 1)
    key = f"dashboard:source-days:{project_id}:{days}:{last.isoformat()}"
    counts: dict[tuple[int, datetime], int] | None = cache.get(key)
    if counts is None:
        rows = (
            Event.objects.filter(project_id=project_id, timestamp__gte=first, timestamp__lt=last + step)
            .annotate(day=TruncDay("timestamp", tzinfo=UTC))
            .values("source_id", "day")
            .annotate(n=Count("*"))
            .values_list("source_id", "day", "n")
        )
        counts = {(source_id, day.astimezone(UTC)): n for source_id, day, n in rows}
        cache.set(key, counts, AGGREGATE_CACHE_SECONDS)
    return {
        source_id: [(first + step * i, counts.get((source_id, first + step * i), 0)) for i in range(days)]
        for source_id in source_ids
    }


def source_get(*, project_id: int, source_id: int) -> Source | None:
    return Source.objects.filter(project_id=project_id, id=source_id).first()


def sources_for_project(*, project_id: int) -> QuerySet[Source]:
    return Source.objects.filter(project_id=project_id).order_by("name", "id")


# --- rejected events ------------------------------------------------------------------------


def rejected_events_for_project(*, project_id: int, include_replayed: bool) -> QuerySet[RejectedEvent]:
    rows = RejectedEvent.objects.filter(project_id=project_id)
    if not include_replayed:
        rows = rows.filter(replayed_at__isnull=True)
    return rows.order_by("-received_at", "-id")


def rejected_event_get(*, project_id: int, rejected_id: int) -> RejectedEvent | None:
    return RejectedEvent.objects.filter(project_id=project_id, id=rejected_id).select_related("source").first()

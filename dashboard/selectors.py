"""Reads behind the dashboard pages: who may see which project, the charts' aggregate and
the keyset pager. Events, sources and rejected events are read through
``ingestion.selectors``, profiles through ``profiles.selectors``.

Lists are keyset-paged (never OFFSET or COUNT(*)). Every chart comes from one aggregate
(``project_activity``): counts per UTC hour, source and name over a bounded 30-day range,
computed in one grouped query and cached (``services.project_activity_refresh``) with
stale-while-revalidate, so a page view never recounts a million events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError

from dashboard.models import ProjectMembership
from ingestion.api import Cursor, cursor_decode, cursor_encode, keyset_beyond
from ingestion.models import Project
from ingestion.selectors import events_since_at_least

# --- access ---------------------------------------------------------------------------------


def projects_visible_condition(*, user: User | AnonymousUser, field: str = "pk") -> Q:
    """Who may see which project, as a condition on ``field`` (the path from the rows
    filtered to their project's id): the dashboard's pages and the admin's every list,
    choice and filter apply this one rule.

    Superusers see all (no condition); other staff the projects they are members of (one
    subquery, however many projects there are); anyone else none.
    """
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return Q(**{f"{field}__in": []})
    if user.is_superuser:
        return Q()
    return Q(**{f"{field}__in": ProjectMembership.objects.filter(user=user).values("project_id")})


def projects_all_visible(*, user: User | AnonymousUser) -> bool:
    """Whether ``user`` sees every project (an active staff superuser), so that
    ``projects_visible_condition`` is no condition at all."""
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.is_superuser)


def project_ids_visible(*, user: User | AnonymousUser) -> list[int] | None:
    """The ids of the projects ``user`` may see, in one query; None for every project."""
    if projects_all_visible(user=user):
        return None
    return list(Project.objects.filter(projects_visible_condition(user=user)).values_list("id", flat=True))


def organization_holds_hidden_projects(*, organization_id: int, user: User | AnonymousUser) -> bool:
    """Whether the organization holds a project ``user`` may not see (in one query)."""
    if projects_all_visible(user=user):
        return False
    hidden = Project.objects.filter(organization_id=organization_id).exclude(projects_visible_condition(user=user))
    return hidden.exists()


def projects_visible(*, user: User | AnonymousUser) -> list[Project]:
    """The projects ``user`` may see in the dashboard (``projects_visible_condition``), by
    organization then project name."""
    projects = Project.objects.filter(projects_visible_condition(user=user)).select_related("organization")
    return list(projects.order_by("organization__name", "name", "id"))


# --- charts ---------------------------------------------------------------------------------

ACTIVITY_DAYS = 30
# Charts may be this old before a refresh is queued; a stale copy is served meanwhile.
ACTIVITY_FRESH = timedelta(seconds=60)
# A copy is kept this long; only a view after a day without any computes inside the request.
ACTIVITY_KEEP_SECONDS = 24 * 60 * 60


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _floor_day(moment: datetime) -> datetime:
    return _floor_hour(moment).replace(hour=0)


@dataclass(frozen=True)
class ProjectActivity:
    """A project's event counts for the last 30 days (UTC), from which every chart of the
    overview and the sources page is drawn. Only the totals the pages show are kept, so
    the cached copy stays small whatever the number of events."""

    project_id: int
    computed_at: datetime
    last_hour: datetime  # the current hour: its bucket is still filling
    per_hour: dict[datetime, int]
    per_day_and_source: dict[tuple[datetime, int], int]
    names_24h: dict[str, int]
    names_30d: dict[str, int]
    sources_24h: dict[int, int]
    sources_30d: dict[int, int]
    # True for a big project's very first view: nothing is counted yet, a worker is on it.
    pending: bool = False

    @classmethod
    def counting(cls, *, project_id: int, now: datetime) -> ProjectActivity:
        """Empty charts, marked pending, for the view that queued the first count."""
        empty: dict[Any, int] = {}
        return cls(project_id, now, _floor_hour(now), empty, empty, empty, empty, empty, empty, pending=True)

    @classmethod
    def from_hourly_counts(
        cls, *, project_id: int, now: datetime, counts: Iterable[tuple[datetime, int, str, int]]
    ) -> ProjectActivity:
        """The totals the pages show, from (hour, source id, name, count) rows over
        ``activity_hours(now=now)``."""
        last_hour = _floor_hour(now)
        day_start = last_hour - timedelta(hours=23)  # = window's
        per_hour: dict[datetime, int] = defaultdict(int)
        per_day_and_source: dict[tuple[datetime, int], int] = defaultdict(int)
        names_24h: dict[str, int] = defaultdict(int)
        names_30d: dict[str, int] = defaultdict(int)
        sources_24h: dict[int, int] = defaultdict(int)
        sources_30d: dict[int, int] = defaultdict(int)
        for hour, source_id, name, n in counts:
            hour = hour.astimezone(UTC)
            per_hour[hour] += n
            per_day_and_source[(hour.replace(hour=0), source_id)] += n
            names_30d[name] += n
            sources_30d[source_id] += n
            if hour >= day_start:
                names_24h[name] += n
                sources_24h[source_id] += n
        return cls(
            project_id=project_id,
            computed_at=now,
            last_hour=last_hour,
            per_hour=dict(per_hour),
            per_day_and_source=dict(per_day_and_source),
            names_24h=dict(names_24h),
            names_30d=dict(names_30d),
            sources_24h=dict(sources_24h),
            sources_30d=dict(sources_30d),
        )

    def hourly(self, *, hours: int) -> list[tuple[datetime, int]]:
        first = self.last_hour - timedelta(hours=hours - 1)
        return [(first + timedelta(hours=i), self.per_hour.get(first + timedelta(hours=i), 0)) for i in range(hours)]

    def daily(self, *, days: int, source_id: int | None = None) -> list[tuple[datetime, int]]:
        totals: dict[datetime, int] = defaultdict(int)
        for (day, source), n in self.per_day_and_source.items():
            if source_id is None or source == source_id:
                totals[day] += n
        first = _floor_day(self.last_hour) - timedelta(days=days - 1)
        return [(first + timedelta(days=i), totals.get(first + timedelta(days=i), 0)) for i in range(days)]

    def window(self, *, last_24h: bool) -> tuple[datetime, datetime]:
        """The [since, until) of event timestamps that ``top`` counted, for links to them."""
        since = self.last_hour - timedelta(hours=23) if last_24h else _activity_start(self.last_hour)
        return since, self.last_hour + timedelta(hours=1)

    def top(self, *, field: Literal["name", "source_id"], last_24h: bool, limit: int) -> list[tuple[str | int, int]]:
        """The ``limit`` most frequent names or sources, largest first."""
        if field == "name":
            totals: dict[Any, int] = self.names_24h if last_24h else self.names_30d
        else:
            totals = self.sources_24h if last_24h else self.sources_30d
        return sorted(totals.items(), key=lambda item: (-item[1], str(item[0])))[:limit]


def _activity_start(now: datetime) -> datetime:
    """The first hour the charts count: midnight UTC, ACTIVITY_DAYS - 1 days ago."""
    return _floor_day(now) - timedelta(days=ACTIVITY_DAYS - 1)


def activity_hours(*, now: datetime) -> tuple[datetime, datetime]:
    """The [since, until) of event timestamps the charts count: from midnight UTC,
    ACTIVITY_DAYS - 1 days ago, to the end of the current hour."""
    return _activity_start(now), _floor_hour(now) + timedelta(hours=1)


def activity_cache_key(*, project_id: int) -> str:
    return f"dashboard:activity:v3:{project_id}"


def project_activity(*, project_id: int, now: datetime) -> ProjectActivity:
    """The project's activity, from the cache when there is a copy.

    Stale-while-revalidate: a copy older than ACTIVITY_FRESH is still served (the page
    says when it was counted) and one refresh is queued for a worker, so a project with
    millions of events is never counted inside a request.
    """
    # Imported here: the services import this module (ProjectActivity, its cache key).
    from dashboard import services

    activity: ProjectActivity | None = cache.get(activity_cache_key(project_id=project_id))
    if activity is None:
        # No copy yet. A small project is counted here; a big one would hold the page for
        # seconds (about 1 s per million events), so its first view queues the count and
        # says so, and the charts appear on a reload a few seconds later.
        if events_since_at_least(project_id=project_id, since=_activity_start(now), count=ACTIVITY_INLINE_LIMIT):
            services.project_activity_refresh_queue(project_id=project_id)
            return ProjectActivity.counting(project_id=project_id, now=now)
        return services.project_activity_refresh(project_id=project_id, now=now)
    if now - activity.computed_at > ACTIVITY_FRESH:
        services.project_activity_refresh_queue(project_id=project_id)
    return activity


# Events in the 30-day window up to which a first view counts them itself (a few tens of
# milliseconds); past it the count is left to a worker.
ACTIVITY_INLINE_LIMIT = 50_000


# --- paging ---------------------------------------------------------------------------------


def cursor_from_query(*, token: str | None) -> Cursor | None:
    """The read API's opaque (time, id) cursor from a ``?before=`` value; None if absent
    or not a cursor (a mangled link just shows the first page)."""
    if not token:
        return None
    try:
        return cursor_decode(token)
    except ValidationError:
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
        rows = rows.filter(keyset_beyond(cursor, time_field=time_field, descending=True))
    page = list(rows[: size + 1])
    next_cursor = None
    if len(page) > size:
        page = page[:size]
        last = page[-1]
        next_cursor = cursor_encode(Cursor(time=getattr(last, time_field), id=last.id, backwards=False))
    return KeysetPage(rows=page, next_cursor=next_cursor)


# --- rejected events ------------------------------------------------------------------------


# A source's card counts its open rejections over this window, and its "inspect" link
# lists the same window.
REJECTED_WINDOW = timedelta(days=30)


def rejected_window_start(*, now: datetime) -> datetime:
    """The first instant a source's card counts rejections from: 30 days ago to the
    minute, since the card's link carries it to the minute and must list exactly those."""
    return (now - REJECTED_WINDOW).replace(second=0, microsecond=0)

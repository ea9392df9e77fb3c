"""The staff dashboard's pages. Each view checks access, calls selectors (a rejected
event's replay, one service), renders.

Every page but ``home`` lives under /dashboard/<project_id>/ and is reachable only by a
staff user allowed to see that project (``selectors.projects_visible``); others get the
login page (anonymous), 403 (not staff) or 404 (a project they may not see).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from itertools import groupby
from typing import Any, Literal
from urllib.parse import urlencode

import orjson
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import defaults
from django.views.decorators.http import require_http_methods, require_safe

from dashboard import charts, selectors
from dashboard.filters import EventExplorerFilterSet
from dashboard.forms import RejectedFilterForm
from ingestion import selectors as ingestion_selectors
from ingestion.canonical import id_parse
from ingestion.formats.base import RequestProblem
from ingestion.models import Event, Project
from ingestion.services import ReplayRefused, rejected_event_replay
from profiles import selectors as profile_selectors
from profiles.selectors import profile_ids_for_identifiers
from trackhub.db import snapshot_page

PAGE_SIZE = 50
LIVE_SIZE = 15
SEARCH_LIMIT = 50  # profiles listed for a search or the recently seen
RECENT_ACCOUNTS_LIMIT = 10  # accounts listed beside the recently seen profiles
MEMBERS_LIMIT = 50  # the most recently seen members an account page lists
# What a profile or account page lists of each: an identifier sent for many people
# ("unknown", a test address) joins them into one profile with tens of thousands of
# identifiers, merged profiles and accounts, and the page rendered every one (6.6 MB).
IDENTIFIERS_LIMIT = 100  # the first, in order, with the count of all
ACCOUNTS_LIMIT = 50  # a profile's accounts, by id, with the count of all
MERGES_LIMIT = 50  # the newest merges, with the count of all
ROW_IDENTIFIERS_LIMIT = 4  # identifiers read for a profile's row in a list, with the count of all
EVENT_NAMES_LIMIT = 200  # the explorer's name suggestions, alphabetically

ProjectView = Callable[..., HttpResponse]


def _staff_projects(request: HttpRequest) -> list[Project]:
    if not request.user.is_authenticated:
        raise _LoginRequired
    if not request.user.is_staff:
        raise PermissionDenied("The dashboard is for staff.")
    return selectors.projects_visible(user=request.user)


class _LoginRequired(Exception):
    pass


def project_page(view: ProjectView) -> ProjectView:
    """Resolve ``project_id`` to a project the user may see and pass it on."""

    @wraps(view)
    def wrapper(request: HttpRequest, project_id: int, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            projects = _staff_projects(request)
        except _LoginRequired:
            return redirect_to_login(request.get_full_path())
        project = _project_among(projects, project_id)
        if project is None:
            raise Http404("No such project")
        request.dashboard_projects = projects  # type: ignore[attr-defined]
        return view(request, project, *args, **kwargs)

    return wrapper


def _project_among(projects: list[Project], project_id: int | None) -> Project | None:
    return next((project for project in projects if project.id == project_id), None)


def _render(request: HttpRequest, project: Project, template: str, tab: str, context: dict[str, Any]) -> HttpResponse:
    projects: list[Project] = request.dashboard_projects  # type: ignore[attr-defined]
    organizations = [
        (organization, list(members)) for organization, members in groupby(projects, key=lambda p: p.organization)
    ]
    return render(
        request,
        template,
        {"project": project, "organizations": organizations, "tab": tab, **context},
    )


def _project_of_missing_page(request: HttpRequest) -> Project | None:
    """The project a missing page's address is under (``/dashboard/<id>/…``), if the user
    may see it; None otherwise, so that a 404 never names a project the user may not see
    (nor tells them it exists)."""
    prefix = reverse("dashboard:home")
    if not request.path.startswith(prefix):
        return None
    project_id = id_parse(request.path[len(prefix) :].partition("/")[0])
    if project_id is None:
        return None
    # Set when a project's view raised the 404 (a missing event): no second query.
    projects: list[Project] | None = getattr(request, "dashboard_projects", None)
    if projects is None:
        try:
            projects = _staff_projects(request)
        except (_LoginRequired, PermissionDenied):
            return None
        request.dashboard_projects = projects  # type: ignore[attr-defined]
    return _project_among(projects, project_id)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 404 page (``handler404``). Inside a project the user may see, it keeps that
    project's top bar, switcher and tabs: a missing event or profile left the user on a
    page with no way back to where they were but the browser's back button."""
    project = _project_of_missing_page(request)
    if project is None:
        return defaults.page_not_found(request, exception)
    response = _render(request, project, "404.html", "", {})
    response.status_code = 404
    return response


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The first project the user may see, or a page saying there is none."""
    try:
        projects = _staff_projects(request)
    except _LoginRequired:
        return redirect_to_login(request.get_full_path())
    if projects:
        return redirect("dashboard:overview", project_id=projects[0].id)
    return render(request, "dashboard/no_projects.html", status=200)


def _profile_links(project: Project, events: list[Event]) -> dict[str, int]:
    keys = {event.identity_key for event in events if event.identity_key}
    return profile_ids_for_identifiers(project_id=project.id, identifiers=keys) if keys else {}


@require_safe
@project_page
def overview(request: HttpRequest, project: Project) -> HttpResponse:
    activity = selectors.project_activity(project_id=project.id, now=timezone.now())
    events_url = reverse("dashboard:events", args=[project.id])
    source_names = {
        source.id: source.name or str(source.id)
        for source in ingestion_selectors.sources_for_project(project_id=project.id)
    }

    def breakdown(field: Literal["name", "source_id"], last_24h: bool) -> charts.BarChart:
        # The link lists exactly the events the bar counts.
        since, until = (_query_time(moment) for moment in activity.window(last_24h=last_24h))
        query = "name" if field == "name" else "source"
        items: list[tuple[str, int, str | None]] = []
        for value, count in activity.top(field=field, last_24h=last_24h, limit=8):
            url: str | None = f"{events_url}?{urlencode({query: value, 'since': since, 'until': until})}"
            label = str(value)
            if field == "source_id":
                label = source_names.get(int(value), f"{value} (deleted source)")
                # A deleted source's events stay, and are counted, but the explorer's source
                # filter offers only the sources there are: it refused the link's filter
                # and listed nothing. Such a bar links nowhere.
                if int(value) not in source_names:
                    url = None
            items.append((label, count, url))
        return charts.bar_chart(items)

    return _render(
        request,
        project,
        "dashboard/overview.html",
        "overview",
        {
            "hourly": charts.time_series_chart(
                activity.hourly(hours=24), time_format="%H:00", tick_every=4, table_format="%Y-%m-%d %H:00"
            ),
            "daily": charts.time_series_chart(
                activity.daily(days=selectors.ACTIVITY_DAYS), time_format="%b %d", tick_every=5, table_format="%Y-%m-%d"
            ),
            "names_24h": breakdown("name", last_24h=True),
            "names_30d": breakdown("name", last_24h=False),
            "name_count_30d": len(activity.names_30d),
            "sources_24h": breakdown("source_id", last_24h=True),
            "sources_30d": breakdown("source_id", last_24h=False),
            "computed_at": activity.computed_at,
            "counting": activity.pending,
            "recent_events": ingestion_selectors.events_recent(project_id=project.id, limit=LIVE_SIZE),
            "source_names": source_names,
            "live_url": reverse("dashboard:live-events", args=[project.id]),
        },
    )


def _query_time(moment: datetime) -> str:
    """A UTC instant for a link's query, to the minute (what a datetime-local field holds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _source_from_query(request: HttpRequest) -> int | None:
    """The ``?source=`` id, or None when absent or not an id."""
    return id_parse(request.GET.get("source") or "")


@require_safe
@project_page
def live_events(request: HttpRequest, project: Project) -> HttpResponse:
    """The newest events as table rows (polled by the live tail); ``?source=`` narrows."""
    source_filter = _source_from_query(request)
    recent = ingestion_selectors.events_recent(project_id=project.id, source_id=source_filter, limit=LIVE_SIZE)
    source_names = {}
    if source_filter is None:
        source_names = {
            s.id: s.name or str(s.id) for s in ingestion_selectors.sources_for_project(project_id=project.id)
        }
    return render(
        request,
        "dashboard/_live_rows.html",
        {
            "project": project,
            "recent_events": recent,
            "show_source": source_filter is None,
            "source_names": source_names,
        },
    )


@require_safe
@project_page
def sources(request: HttpRequest, project: Project) -> HttpResponse:
    now = timezone.now()
    days = 14
    rejected_since = selectors.rejected_window_start(now=now)
    rows = ingestion_selectors.sources_with_stats(project_id=project.id, since=rejected_since)
    rejected_url = reverse("dashboard:rejected", args=[project.id])
    activity = selectors.project_activity(project_id=project.id, now=now)
    daily = {source.id: activity.daily(days=days, source_id=source.id) for source in rows}
    cards = [
        {
            "source": source,
            "daily": daily[source.id],
            "sparkline": charts.sparkline(daily[source.id]),
            "today": daily[source.id][-1][1],
            # Prefetched: counting them costs no query.
            "credential_count": len(source.api_keys.all()) + len(source.access_tokens.all()),
            "active_count": sum(c.is_active for c in [*source.api_keys.all(), *source.access_tokens.all()]),
            "week": sum(count for _, count in daily[source.id][-7:]),
            "live_url": reverse("dashboard:live-events", args=[project.id]) + f"?source={source.id}",
            # The rejections the card counts: this source's open ones since the same instant.
            "rejected_url": f"{rejected_url}?{urlencode({'source': source.id, 'since': _query_time(rejected_since)})}",
        }
        for source in rows
    ]
    return _render(
        request, project, "dashboard/sources.html", "sources",
        {"cards": cards, "days": days, "counting": activity.pending},
    )  # fmt: skip


@require_safe
@project_page
def events(request: HttpRequest, project: Project) -> HttpResponse:
    filterset = EventExplorerFilterSet(
        request.GET or None, queryset=ingestion_selectors.events_for_project(project_id=project.id), project=project
    )
    page = selectors.KeysetPage(rows=[], next_cursor=None)
    cursor = None
    invalid = filterset.is_bound and not filterset.is_valid()
    if invalid:
        rows = None
    else:
        rows = filterset.qs if filterset.is_bound else ingestion_selectors.events_for_project(project_id=project.id)
        cursor = selectors.cursor_from_query(token=request.GET.get("before"))
        page = selectors.keyset_page(rows=rows, cursor=cursor, size=PAGE_SIZE)
    query = request.GET.copy()
    query.pop("before", None)
    without_profile = query.copy()
    without_profile.pop("profile", None)
    return _render(
        request,
        project,
        "dashboard/events.html",
        "events",
        {
            "filter": filterset,
            "profile_shown": filterset.profile_shown,
            "query_without_profile": without_profile.urlencode(),
            "page": page,
            "profile_links": _profile_links(project, page.rows),
            "query": query.urlencode(),
            "is_first_page": cursor is None,  # a mangled ?before= shows the first page
            # An empty list without any filter means no event arrived yet, not "no match";
            # with a filter it cannot read, nothing was searched.
            "filtered": any(request.GET.get(name) for name in filterset.filters),
            "invalid": invalid,
            "event_names": ingestion_selectors.event_names(project_ids=[project.id], limit=EVENT_NAMES_LIMIT),
        },
    )


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


@require_safe
@project_page
def event_detail(request: HttpRequest, project: Project, event_id: int) -> HttpResponse:
    event = ingestion_selectors.event_get(project_id=project.id, pk=event_id)
    if event is None:
        raise Http404("No such event")
    fields = [
        ("Name", event.name),
        ("Namespace", event.namespace),
        ("Event id", event.event_id),
        ("Timestamp", event.timestamp),
        ("Received at", event.received_at),
        ("Wire format", event.wire_format),
        ("User id", event.user_id),
        ("Profile id (producer's)", event.profile_id),
        ("Anonymous id", event.anonymous_id),
        ("Account id", event.account_id),
        ("Session id", event.session_id),
        ("Page id", event.page_id),
        ("Identity key", event.identity_key),
    ]
    profile_id = _profile_links(project, [event]).get(event.identity_key or "")
    return _render(
        request,
        project,
        "dashboard/event_detail.html",
        "events",
        {
            "event": event,
            "fields": fields,
            "profile_id": profile_id,
            "properties_json": _pretty(event.properties),
            "context_json": _pretty(event.context),
        },
    )


@require_safe
@project_page
def rejected_events(request: HttpRequest, project: Project) -> HttpResponse:
    include_replayed = request.GET.get("replayed") == "1"
    # ``?source=`` and ``?since=`` narrow to what a source's card counts (its "inspect" link).
    filters = RejectedFilterForm(request.GET)
    valid = filters.is_valid()
    source_id: int | None = filters.cleaned_data.get("source")
    since: datetime | None = filters.cleaned_data.get("since")
    filter_errors = [message for messages in filters.errors.values() for message in messages]
    now = timezone.now()
    cursor = selectors.cursor_from_query(token=request.GET.get("before"))
    page = selectors.KeysetPage(rows=[], next_cursor=None)
    if valid:
        rows = ingestion_selectors.rejected_events_for_project(
            project_id=project.id, include_replayed=include_replayed, source_id=source_id, since=since
        )
        page = selectors.keyset_page(
            rows=rows.select_related("source"), cursor=cursor, size=PAGE_SIZE, time_field="received_at"
        )
    # The pager keeps every filter; each link that drops one (the replayed toggle, "all
    # sources", "any time") keeps the others.
    source_query: dict[str, Any] = {} if source_id is None else {"source": source_id}
    since_query: dict[str, Any] = {} if since is None else {"since": request.GET["since"]}
    replayed_query: dict[str, Any] = {"replayed": 1} if include_replayed else {}
    return _render(
        request,
        project,
        "dashboard/rejected.html",
        "rejected",
        {
            "page": page,
            "include_replayed": include_replayed,
            "source_id": source_id,
            "since": since,
            "filter_errors": filter_errors,
            # Whole days back to ``since`` ("the last 30 days" on a card's link), None ahead.
            "since_days": None if since is None or since > now else (now - since).days,
            "query": urlencode({**source_query, **since_query, **replayed_query}),
            "toggle_query": urlencode({**source_query, **since_query, **({} if include_replayed else {"replayed": 1})}),
            "all_sources_query": urlencode({**since_query, **replayed_query}),
            "any_time_query": urlencode({**source_query, **replayed_query}),
            "is_first_page": cursor is None,  # a mangled ?before= shows the first page
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
@project_page
def rejected_event_detail(request: HttpRequest, project: Project, rejected_id: int) -> HttpResponse:
    rejected = ingestion_selectors.rejected_event_get(project_id=project.id, pk=rejected_id)
    if rejected is None:
        raise Http404("No such rejected event")
    payload_text = _pretty(rejected.payload)
    problems: list[dict[str, Any]] = []
    status = 200
    if request.method == "POST":
        payload_text = request.POST.get("payload", "")
        try:
            payload = orjson.loads(payload_text)
        except orjson.JSONDecodeError as exc:
            problems = [{"field": "payload", "message": f"Not valid JSON: {exc}"}]
        else:
            try:
                result = rejected_event_replay(
                    rejected_event_id=rejected.id, payload=payload, replayed_at=timezone.now()
                )
            except (ReplayRefused, RequestProblem) as exc:
                problems = [{"field": getattr(exc, "field", "") or "payload", "message": str(exc)}]
            except DataError:
                # A value PostgreSQL cannot store (a NUL character, say): nothing was written.
                problems = [{"field": "payload", "message": "A value in the payload cannot be stored"}]
            else:
                if result.replayed:
                    stored = "stored" if result.outcome.stored else "already stored (duplicate)"
                    messages.success(request, f"Replayed: the event was accepted and {stored}.")
                    return redirect("dashboard:rejected-detail", project_id=project.id, rejected_id=rejected.id)
                problems = [problem.as_dict() for problem in result.outcome.rejected]
        status = 400
    response = _render(
        request,
        project,
        "dashboard/rejected_detail.html",
        "rejected",
        {"rejected": rejected, "payload_text": payload_text, "problems": problems},
    )
    response.status_code = status
    return response


# --- profiles, accounts, warnings ---------------------------------------------------------


@require_safe
@project_page
@snapshot_page
def profiles(request: HttpRequest, project: Project) -> HttpResponse:
    """Search profiles and accounts by any identifier (exact, then prefix); without a
    query, the most recently seen profiles and accounts."""
    # Identifiers match as stored, spaces included (as in the explorer and the read API):
    # " ann" is another person than "ann". Only a query of nothing but spaces is no search.
    query = request.GET.get("q", "")
    if not query.strip():
        query = ""
    if query:
        found = profile_selectors.profiles_search(
            project_id=project.id, identifier=query, limit=1, identifiers_limit=ROW_IDENTIFIERS_LIMIT
        )
        seen = {profile.id for profile in found}
        # One more than is shown, to tell the page that the list is cut short.
        prefixed = profile_selectors.profiles_search_prefix(
            project_id=project.id, query=query, limit=SEARCH_LIMIT + 1, identifiers_limit=ROW_IDENTIFIERS_LIMIT
        )
        more = len(prefixed) > SEARCH_LIMIT
        found += [profile for profile in prefixed[:SEARCH_LIMIT] if profile.id not in seen]
        accounts = profile_selectors.accounts_search(project_id=project.id, identifier=query, limit=1, member_ids=False)
    else:
        found = profile_selectors.profiles_search(
            project_id=project.id, limit=SEARCH_LIMIT, identifiers_limit=ROW_IDENTIFIERS_LIMIT
        )
        accounts = profile_selectors.accounts_search(
            project_id=project.id, limit=RECENT_ACCOUNTS_LIMIT, member_ids=False
        )
        more = False
    return _render(
        request,
        project,
        "dashboard/profiles.html",
        "profiles",
        {"query": query, "profiles": found, "accounts": accounts, "more": more, "limit": SEARCH_LIMIT},
    )


@require_safe
@project_page
@snapshot_page
def profile_detail(request: HttpRequest, project: Project, profile_id: int) -> HttpResponse:
    # The first identifiers only: the timeline below reads them all for its query.
    detail = profile_selectors.profile_detail(
        project_id=project.id, profile_id=profile_id, identifiers_limit=IDENTIFIERS_LIMIT
    )
    if detail is None:
        raise Http404("No such profile")
    if detail.id != profile_id:
        # A merged-away id: show its survivor under its own address.
        return redirect("dashboard:profile-detail", project_id=project.id, profile_id=detail.id)
    timeline = profile_selectors.profile_events(project_id=project.id, profile_id=detail.id)
    assert timeline is not None  # the profile exists
    cursor = selectors.cursor_from_query(token=request.GET.get("before"))
    page = selectors.keyset_page(rows=timeline.events, cursor=cursor, size=PAGE_SIZE)
    return _render(
        request,
        project,
        "dashboard/profile_detail.html",
        "profiles",
        {
            "profile": detail,
            "attributes": sorted(detail.attributes.items()),
            "accounts": profile_selectors.profile_accounts(
                project_id=project.id, profile=detail, member_ids=False, limit=ACCOUNTS_LIMIT
            ),
            "merges": profile_selectors.profile_merges(project_id=project.id, profile_id=detail.id, limit=MERGES_LIMIT),
            "merge_count": profile_selectors.profile_merges_count(project_id=project.id, profile_id=detail.id),
            "page": page,
            "is_first_page": cursor is None,  # a mangled ?before= shows the first page
        },
    )


@require_safe
@project_page
@snapshot_page
def account_detail(request: HttpRequest, project: Project, account_id: int) -> HttpResponse:
    detail = profile_selectors.account_detail(project_id=project.id, account_id=account_id, member_ids=False)
    if detail is None:
        raise Http404("No such account")
    if detail.id != account_id:
        return redirect("dashboard:account-detail", project_id=project.id, account_id=detail.id)
    # A big account has thousands of members: the page lists the most recently seen.
    members = profile_selectors.account_members(
        account_id=detail.id, limit=MEMBERS_LIMIT, identifiers_limit=ROW_IDENTIFIERS_LIMIT
    )
    return _render(
        request,
        project,
        "dashboard/account_detail.html",
        "profiles",
        {
            "account": detail,
            "attributes": sorted(detail.attributes.items()),
            "members": members,
            "identifiers": detail.identifiers[:IDENTIFIERS_LIMIT],
            "merge_count": profile_selectors.account_merges_count(project_id=project.id, account_id=detail.id),
        },
    )


@require_safe
@project_page
def warnings(request: HttpRequest, project: Project) -> HttpResponse:
    """Identifiers identity resolution refused, each linked to the stored event it came on."""
    cursor = selectors.cursor_from_query(token=request.GET.get("before"))
    page = selectors.keyset_page(
        rows=profile_selectors.ingestion_warnings_for_project(project_id=project.id),
        cursor=cursor,
        size=PAGE_SIZE,
        time_field="created_at",
    )
    events = ingestion_selectors.events_by_keys(
        project_id=project.id, keys=[(w.event_name, w.event_id) for w in page.rows]
    )
    return _render(
        request,
        project,
        "dashboard/warnings.html",
        "warnings",
        {
            "warnings": [(warning, events.get((warning.event_name, warning.event_id))) for warning in page.rows],
            "page": page,
            "is_first_page": cursor is None,  # a mangled ?before= shows the first page
        },
    )

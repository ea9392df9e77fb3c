"""Writes of the dashboard domain: who may see which project, and the charts' cached
aggregate."""

from __future__ import annotations

import contextlib
from datetime import datetime

from django.contrib.auth.models import User
from django.core.cache import cache
from django.utils import timezone

from dashboard.models import ProjectMembership
from dashboard.selectors import (
    ACTIVITY_FRESH,
    ACTIVITY_KEEP_SECONDS,
    ProjectActivity,
    activity_cache_key,
    activity_hours,
)
from ingestion.models import Project
from ingestion.selectors import events_count_hourly


def project_membership_grant(*, user: User, project: Project) -> ProjectMembership:
    membership, _ = ProjectMembership.objects.get_or_create(user=user, project=project)
    return membership


def project_activity_refresh(*, project_id: int, now: datetime | None = None) -> ProjectActivity:
    """Recount the project's chart aggregate and store it in the cache for the pages to
    read (idempotent: last one wins). One grouped pass over its last 30 days of events,
    bounded by the (project, -timestamp) index."""
    now = now or timezone.now()
    since, until = activity_hours(now=now)
    counts = events_count_hourly(project_id=project_id, since=since, until=until)
    activity = ProjectActivity.from_hourly_counts(project_id=project_id, now=now, counts=counts)
    cache.set(activity_cache_key(project_id=project_id), activity, ACTIVITY_KEEP_SECONDS)
    return activity


def project_activity_refresh_queue(*, project_id: int) -> None:
    """Queue one recount for a worker (``cache.add`` makes it one per minute however many
    views ask). A broker outage must not break the page: what there is is still shown."""
    if cache.add(f"{activity_cache_key(project_id=project_id)}:refreshing", 1, int(ACTIVITY_FRESH.total_seconds())):
        # Imported here: the task module imports this one.
        from dashboard.tasks import project_activity_refresh_task

        with contextlib.suppress(Exception):
            project_activity_refresh_task.delay(project_id)

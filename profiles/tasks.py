"""Thin Celery tasks: take ids, call one service; they retry transient database errors only."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from profiles import services
from trackhub.db import TRANSIENT_DATABASE_ERRORS


@shared_task(
    acks_late=True,
    autoretry_for=TRANSIENT_DATABASE_ERRORS,
    retry_backoff=True,
    max_retries=10,
    time_limit=120,
    soft_time_limit=100,
)
def identity_work_drain_task(project_id: int) -> int:
    """Queued by ``services.identity_work_kick``; drains within DRAIN_SECONDS (< the limits)."""
    return services.identity_work_drain(project_id=project_id)


@shared_task(
    name="profiles.tasks.identity_sweep",
    acks_late=True,
    autoretry_for=TRANSIENT_DATABASE_ERRORS,
    retry_backoff=True,
    max_retries=3,
    time_limit=300,
    soft_time_limit=280,
)
def identity_sweep(older_than_seconds: float = 30.0) -> int:
    """Periodic (CELERY_BEAT_SCHEDULE): do identity work the broker never delivered, and
    prune batches done a week ago."""
    return services.identity_work_upkeep(older_than=timedelta(seconds=older_than_seconds))

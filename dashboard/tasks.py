"""Thin Celery tasks: take ids, call one function."""

from __future__ import annotations

from celery import shared_task

from dashboard import services


@shared_task(acks_late=True, ignore_result=True, time_limit=120, soft_time_limit=100)
def project_activity_refresh_task(project_id: int) -> None:
    """Recount a project's chart aggregate into the cache (idempotent: last one wins)."""
    services.project_activity_refresh(project_id=project_id)

"""Thin Celery tasks of the ingestion domain: take ids (or nothing), call one service; they
retry transient database errors only."""

from __future__ import annotations

from celery import shared_task

from ingestion import services
from trackhub.db import TRANSIENT_DATABASE_ERRORS


@shared_task(acks_late=True, autoretry_for=TRANSIENT_DATABASE_ERRORS, retry_backoff=True, max_retries=5, time_limit=600)
def event_partitions_maintain_task() -> dict[str, object]:
    """Periodic (beat): create the coming months' partitions and apply retention."""
    return services.event_partitions_maintain()


@shared_task(
    acks_late=True, autoretry_for=TRANSIENT_DATABASE_ERRORS, retry_backoff=True, max_retries=5, time_limit=3600
)
def project_data_purge_task(project_id: int) -> bool:
    """Queued by ``services.project_delete``: delete a deleted project's events."""
    return services.project_data_purge(project_id=project_id)


@shared_task(
    acks_late=True, autoretry_for=TRANSIENT_DATABASE_ERRORS, retry_backoff=True, max_retries=5, time_limit=3600
)
def deleted_projects_purge_task() -> int:
    """Periodic (beat): finish the purge of deleted projects whose task was lost."""
    return services.deleted_projects_purge()

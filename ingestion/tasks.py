"""Thin Celery tasks of the ingestion domain: take ids (or nothing), call one service; they
retry transient database errors only."""

from __future__ import annotations

from celery import shared_task

from ingestion import services
from trackhub.db import TRANSIENT_DATABASE_ERRORS


# Each task sets its soft limit with its hard one: without it the worker's default soft
# limit (CELERY_TASK_SOFT_TIME_LIMIT, 100 s) would stop the task long before its own hard
# limit (a purge of a large project would then never finish).
@shared_task(
    acks_late=True, autoretry_for=TRANSIENT_DATABASE_ERRORS, retry_backoff=True, max_retries=5, time_limit=600,
    soft_time_limit=570,
)  # fmt: skip
def event_partitions_maintain_task() -> dict[str, object]:
    """Periodic (beat): create the coming months' partitions and apply retention."""
    return services.event_partitions_maintain()


@shared_task(
    acks_late=True, autoretry_for=TRANSIENT_DATABASE_ERRORS, retry_backoff=True, max_retries=5, time_limit=3600,
    soft_time_limit=3540,
)  # fmt: skip
def project_data_purge_task(project_id: int) -> bool:
    """Queued by ``services.project_delete``: delete a deleted project's events."""
    return services.project_data_purge(project_id=project_id)


@shared_task(
    acks_late=True, autoretry_for=TRANSIENT_DATABASE_ERRORS, retry_backoff=True, max_retries=5, time_limit=3600,
    soft_time_limit=3540,
)  # fmt: skip
def deleted_projects_purge_task() -> int:
    """Periodic (beat): finish the purge of deleted projects whose task was lost."""
    return services.deleted_projects_purge()

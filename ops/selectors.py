"""Reads for the operations endpoints."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Min
from django.utils import timezone

from profiles.models import IdentityWork


@dataclass(frozen=True)
class IdentityQueueState:
    pending: int
    lag_seconds: float


def identity_queue_state() -> IdentityQueueState:
    """Uses the partial index on pending rows: cheap however large the table grows."""
    row = IdentityWork.objects.filter(processed_at__isnull=True).aggregate(oldest=Min("created_at"), n=Count("id"))
    oldest = row["oldest"]
    lag = (timezone.now() - oldest).total_seconds() if oldest is not None else 0.0
    return IdentityQueueState(pending=row["n"], lag_seconds=max(lag, 0.0))

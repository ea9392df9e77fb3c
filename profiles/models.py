"""Identity resolution's state: the work still to do (an outbox written with the events).

Profiles, identities, accounts and merges are added by the identity-resolution work.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class IdentityWork(models.Model):
    """One ingest request's identity facts, written in the same transaction as its events.

    The Celery task is only a nudge: if the broker is down or loses the message, the
    periodic sweep finds rows with ``processed_at`` null and does them.
    """

    project_id = models.BigIntegerField()
    facts = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"], name="identitywork_pending", condition=models.Q(processed_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"identity work {self.pk} ({len(self.facts)} events)"

"""Identity resolution's state: profiles, accounts, their identifiers, merges, warnings,
and the work still to do (an outbox written with the events).

Invariants kept by ``profiles.services`` (all writes happen under the project's identity
lock, see there):
- an Identity / AccountIdentity always points at a live (not merged-away) row;
- a merged-away Profile / Account points straight at its live survivor (``merged_into``
  is one hop: a later merge of the survivor re-points everything that pointed at it);
- memberships only join live profiles and live accounts.
Events are never rewritten: they carry ``identity_key`` and are looked up through
Identity at read time.
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
            ),
            # A project's drain reads its pending batches oldest first (``identity_work_drain``).
            models.Index(
                fields=["project_id", "id"],
                name="identitywork_project_pending",
                condition=models.Q(processed_at__isnull=True),
            ),
            # For pruning done batches (``identity_work_prune``).
            models.Index(
                fields=["processed_at"], name="identitywork_processed", condition=models.Q(processed_at__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"identity work {self.pk} ({len(self.facts)} events)"


class IdentityOwner(models.Model):
    """What profiles and accounts share: a connected component of identifiers in one
    project, its merged attributes and the time span of its events. Each subclass adds
    its own ``merged_into`` (the live survivor, set once it is merged away)."""

    id = models.BigAutoField(primary_key=True)
    # No index of its own: each subclass's (project, -last_seen) one leads with it.
    project = models.ForeignKey("ingestion.Project", on_delete=models.CASCADE, related_name="+", db_index=False)
    attributes = models.JSONField(default=dict, blank=True)
    attribute_stamps = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.model_name} {self.pk}"


class Profile(IdentityOwner):
    """One person in one project: a connected component of user identifiers.

    ``attributes`` is the merged ``userAttributes``; ``attribute_stamps`` keeps, per key,
    ``[timestamp in microseconds, event_id]`` of the event that set it, so the contract's rule (latest
    timestamp wins, ties to the greater event id as a string) gives the same result in any
    order.
    """

    merged_into = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="merged_profiles"
    )

    class Meta:
        indexes = [
            models.Index(fields=["project", "-last_seen"], name="profile_project_last_seen"),
        ]


class Identity(models.Model):
    """A user identifier value in a project's one namespace, owned by one live profile."""

    # No index of its own: the unique (project, value) one leads with the project.
    project = models.ForeignKey("ingestion.Project", on_delete=models.CASCADE, related_name="+", db_index=False)
    value = models.TextField()
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="identities")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [models.UniqueConstraint(fields=["project", "value"], name="identity_value_unique_in_project")]

    def __str__(self) -> str:
        return self.value


class Account(IdentityOwner):
    """One account (company, group) in one project: a connected component of account ids."""

    merged_into = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="merged_accounts"
    )

    class Meta:
        indexes = [
            models.Index(fields=["project", "-last_seen"], name="account_project_last_seen"),
        ]


class AccountIdentity(models.Model):
    """An account identifier value in a project, owned by one live account."""

    # No index of its own: the unique (project, value) one leads with the project.
    project = models.ForeignKey("ingestion.Project", on_delete=models.CASCADE, related_name="+", db_index=False)
    value = models.TextField()
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="identities")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "account identities"
        constraints = [
            models.UniqueConstraint(fields=["project", "value"], name="account_identity_value_unique_in_project")
        ]

    def __str__(self) -> str:
        return self.value


class AccountMembership(models.Model):
    """A profile belongs to every account named on its events."""

    # No index of its own: the unique (account, profile) one leads with the account.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "profile"], name="account_membership_unique")]

    def __str__(self) -> str:
        return f"{self.profile_id} in {self.account_id}"


class ProfileMerge(models.Model):
    """History: ``merged`` was merged into ``survivor`` by the event (name, event_id)."""

    project = models.ForeignKey("ingestion.Project", on_delete=models.CASCADE, related_name="+")
    # No index of its own: the Meta's (survivor, -merged_at) one leads with it.
    survivor = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="merges_received", db_index=False)
    merged = models.OneToOneField(Profile, on_delete=models.CASCADE, related_name="merge")
    event_name = models.TextField()
    event_id = models.TextField()
    merged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["survivor", "-merged_at"], name="profilemerge_survivor")]

    def __str__(self) -> str:
        return f"profile {self.merged_id} -> {self.survivor_id}"


class AccountMerge(models.Model):
    """History: ``merged`` was merged into ``survivor`` by the event (name, event_id)."""

    project = models.ForeignKey("ingestion.Project", on_delete=models.CASCADE, related_name="+")
    # No index of its own: the Meta's (survivor, -merged_at) one leads with it.
    survivor = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="merges_received", db_index=False)
    merged = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="merge")
    event_name = models.TextField()
    event_id = models.TextField()
    merged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["survivor", "-merged_at"], name="accountmerge_survivor")]

    def __str__(self) -> str:
        return f"account {self.merged_id} -> {self.survivor_id}"


class IngestionWarning(models.Model):
    """An identifier identity resolution refused (a placeholder): the event was stored, but
    this value neither created nor joined a profile or account."""

    # No index of its own: both of the Meta's lead with it.
    project = models.ForeignKey("ingestion.Project", on_delete=models.CASCADE, related_name="+", db_index=False)
    event_name = models.TextField()
    event_id = models.TextField()
    field = models.CharField(max_length=64)
    value = models.TextField()
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Reprocessing a batch (redelivery, sweep) must not repeat its warnings.
            models.UniqueConstraint(
                fields=["project", "event_name", "event_id", "field"], name="ingestion_warning_once_per_field"
            )
        ]
        indexes = [models.Index(fields=["project", "-created_at"], name="ingestion_warning_project_time")]

    def __str__(self) -> str:
        return f"{self.event_name}/{self.event_id} {self.field}={self.value!r}: {self.reason}"

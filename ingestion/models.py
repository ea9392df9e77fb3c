"""Tenants, credentials, events and rejected events.

Organization > Project > Source. Credentials belong to a source (writing) or a project
(reading) and only ever act inside it. Events are stored in one canonical form whatever
wire format they arrived in.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class Organization(models.Model):
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Project(models.Model):
    # No index of its own: the unique (organization, name) one leads with it.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects", db_index=False)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="project_name_unique_in_org")]

    def __str__(self) -> str:
        return f"{self.organization.name}/{self.name}"


class Source(models.Model):
    class Kind(models.TextChoices):
        WEB = "web"
        BACKEND = "backend"
        INTEGRATION = "integration"

    # The producer-facing 64-bit id (Intempt's ``sourceId``), unique across the install.
    id = models.BigIntegerField(primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.BACKEND)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name or 'source'} ({self.id})"


class Credential(models.Model):
    """What API keys and access tokens share: ``identifier.secret``, the secret hashed.

    Secrets are 256-bit random strings, so one round of SHA-256 is enough (no password
    stretching needed); the identifier is the indexed lookup key and the hash is compared
    in constant time (see ``ingestion.credentials``).
    """

    identifier = models.CharField(max_length=64, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list, blank=True)
    label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.identifier}.…"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return False  # only access tokens expire

    @property
    def is_active(self) -> bool:
        return not self.is_revoked and not self.is_expired


class ApiKey(Credential):
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="api_keys")

    class Meta:
        verbose_name = "API key"


class AccessToken(Credential):
    """A bearer token: a track token has a source, a read token only a project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="access_tokens")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, null=True, blank=True, related_name="access_tokens")
    expires_at = models.DateTimeField(null=True, blank=True)

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class Website(models.Model):
    """A Databuddy ``website_id``: client-side tracking into one source."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="websites")
    name = models.CharField(max_length=200, blank=True)
    allowed_origins = models.JSONField(default=list, blank=True, help_text="Empty means any origin (*).")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return str(self.id)


class WireFormat(models.TextChoices):
    INTEMPT = "intempt"
    THRIVESTACK = "thrivestack"
    DATABUDDY = "databuddy"
    USERPILOT = "userpilot"
    IMPORT = "import"


class Event(models.Model):
    """One accepted event in canonical form.

    Foreign keys carry no database constraint: the write path inserts thousands of rows a
    second and the ids come from an authenticated credential, so a per-row FK check buys
    nothing. Every unique key leads with the project so the table can be partitioned by
    time and distributed by project.
    """

    id = models.BigAutoField(primary_key=True)
    project = models.ForeignKey(Project, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    source = models.ForeignKey(Source, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    wire_format = models.CharField(max_length=16, choices=WireFormat.choices)
    name = models.TextField()
    namespace = models.TextField(null=True, blank=True)
    # The producer's id, or one TrackHub derived (see ``ingestion.canonical``).
    event_id = models.TextField()
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField()
    user_id = models.TextField(null=True, blank=True)
    profile_id = models.TextField(null=True, blank=True)  # the producer's, not TrackHub's
    anonymous_id = models.TextField(null=True, blank=True)
    account_id = models.TextField(null=True, blank=True)
    session_id = models.TextField(null=True, blank=True)
    page_id = models.TextField(null=True, blank=True)
    # The identifier whose profile this event belongs to; null when the event names
    # nobody (or only placeholders). Profiles are looked up through it at read time, so a
    # merge moves identities, never event rows.
    identity_key = models.TextField(null=True, blank=True)
    properties = models.JSONField(default=dict)
    context = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name", "event_id"], name="event_dedupe_key")]
        indexes = [
            models.Index(fields=["project", "-timestamp", "-id"], name="event_project_time"),
            models.Index(fields=["project", "name", "-timestamp"], name="event_project_name_time"),
            models.Index(fields=["project", "source", "-timestamp"], name="event_project_source_time"),
            # With the time, so a filtered first page reads its rows in order and stops.
            # Partial: these identifiers are often absent, and every index an event enters
            # costs the write path database CPU; they are only ever searched by value.
            models.Index(
                fields=["project", "identity_key", "-timestamp"],
                name="event_project_identity",
                condition=models.Q(identity_key__isnull=False),
            ),
            models.Index(
                fields=["project", "user_id", "-timestamp"],
                name="event_project_user",
                condition=models.Q(user_id__isnull=False),
            ),
            models.Index(
                fields=["project", "account_id", "-timestamp"],
                name="event_project_account",
                condition=models.Q(account_id__isnull=False),
            ),
            models.Index(
                fields=["project", "session_id", "-timestamp"],
                name="event_project_session",
                condition=models.Q(session_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.event_id})"


class EventKey(models.Model):
    """The dedupe ledger: one row per (project, name, event id) ever stored, kept forever.

    On PostgreSQL the events table is partitioned by timestamp, and a unique key there
    would have to include the timestamp, so the same event sent again with another
    timestamp would not be caught. This small unpartitioned table carries the exact key
    instead; the event write inserts here first and stores only the events whose key was
    new, in the same transaction: a small request with ON CONFLICT DO NOTHING, a bulk one
    by COPY, falling back to ON CONFLICT when a key is already here
    (``ingestion.services.event_writes``, above ``PG_LEDGER_INSERT``). Retention drops events, never
    keys, so deduplication stays permanent. SQLite keeps the unique key on the events
    table itself and writes here only the keys of events it deletes (a person's erasure).
    """

    pk = models.CompositePrimaryKey("project_id", "name", "event_id")
    project_id = models.BigIntegerField()
    name = models.TextField()
    event_id = models.TextField()

    def __str__(self) -> str:
        return f"{self.name} ({self.event_id})"


class RejectedEvent(models.Model):
    """An event-level problem: the event was refused, its raw payload kept for replay.

    ``payload`` is the smallest body fragment of the wire format that carries just this
    event (for Intempt ``{"name": ..., "payload": [item]}``), so replay can send it back
    through the same adapter.
    """

    # No indexes of their own: the Meta's (project, ...) and (source, ...) ones lead with them.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+", db_index=False)
    wire_format = models.CharField(max_length=16, choices=WireFormat.choices)
    received_at = models.DateTimeField(default=timezone.now)
    index = models.CharField(max_length=64)
    field = models.CharField(max_length=200)
    message = models.TextField()
    errors = models.JSONField(default=list)
    payload = models.JSONField(null=True)
    replayed_at = models.DateTimeField(null=True, blank=True)
    # ``rejected_event_key``: set when the event identifies itself (its own id or
    # timestamp), so the same refused event retried is one row; else null, a row per sending.
    key = models.CharField(max_length=64, null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "key"], name="rejected_once_per_key", condition=models.Q(key__isnull=False)
            )
        ]
        indexes = [
            models.Index(fields=["project", "-received_at", "-id"], name="rejected_project_time"),
            models.Index(fields=["source", "-received_at"], name="rejected_source_time"),
        ]

    def __str__(self) -> str:
        return f"{self.index} {self.field}: {self.message}"


class DeletedProject(models.Model):
    """A project that was deleted (``services.project_delete``), kept until its events are gone.

    Its tenant rows, profiles and rejected events go with it at once; its events, dedupe
    keys and identity outbox, which carry no foreign key and may be millions of rows, are
    deleted afterwards by ``services.project_data_purge``, then once more after
    ``PROJECT_PURGE_STRAGGLER_SECONDS`` for a write that passed its credential check just
    before the deletion committed. ``purged_at`` is set by that last pass; until then the
    hourly purge task also retries it, so a purge whose task was lost (broker down) still
    happens. Project ids are never reused, so a purge can only touch the deleted project's rows.
    """

    project_id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=300, help_text="organization/project, as it was")
    deleted_at = models.DateTimeField(default=timezone.now)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["deleted_at"], name="deleted_project_unpurged", condition=models.Q(purged_at=None))
        ]

    def __str__(self) -> str:
        return f"{self.name} (deleted)"

"""Writes of the profiles domain. Ingestion calls only the public functions here."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction

from profiles.identifiers import usable
from profiles.models import IdentityWork

if TYPE_CHECKING:
    from ingestion.canonical import CanonicalEvent


def event_identity_key(*, user_id: str | None, profile_id: str | None, anonymous_id: str | None) -> str | None:
    """The identifier an event's profile is looked up by: its first usable user identifier.

    All of an event's user identifiers end up in one profile when they are linked, so any
    of them would do; a fixed order keeps it deterministic.
    """
    return usable(user_id) or usable(profile_id) or usable(anonymous_id)


def _event_facts(event: CanonicalEvent) -> dict[str, Any] | None:
    """The identity-relevant part of one event, or None if it names nobody at all."""
    context = event.context
    facts: dict[str, Any] = {
        "name": event.name,
        "event_id": event.event_id,
        "ts": int(event.timestamp.timestamp() * 1000),
    }
    for key, value in (
        ("user_id", event.user_id),
        ("profile_id", event.profile_id),
        ("anonymous_id", event.anonymous_id),
        ("another_user_id", context.get("anotherUserId")),
        ("account_id", event.account_id),
        ("another_account_id", context.get("anotherAccountId")),
    ):
        if isinstance(value, str) and value != "":
            facts[key] = value
    for key, context_key in (("user_attributes", "userAttributes"), ("account_attributes", "accountAttributes")):
        if isinstance(context.get(context_key), dict):
            facts[key] = context[context_key]
    return facts if len(facts) > 3 else None


def identity_work_record(*, project_id: int, events: Sequence[CanonicalEvent]) -> None:
    """Record the identity work for newly stored events, inside the caller's transaction,
    and queue one task for it once that transaction commits."""
    facts = [f for f in (_event_facts(event) for event in events) if f is not None]
    if not facts:
        return
    work = IdentityWork.objects.create(project_id=project_id, facts=facts)

    def enqueue() -> None:
        from profiles.tasks import identity_work_process_task

        # The broker being down must not fail the request: the sweep will pick the row up.
        with contextlib.suppress(Exception):
            identity_work_process_task.delay(work.id)

    transaction.on_commit(enqueue)


def identity_work_process(*, work_id: int) -> None:
    """Resolve one recorded batch of identity facts. Idempotent.

    Filled in by the identity-resolution work; for now it marks the batch done.
    """
    from django.utils import timezone

    IdentityWork.objects.filter(id=work_id, processed_at__isnull=True).update(processed_at=timezone.now())

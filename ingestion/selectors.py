"""Reads of the ingestion domain."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db.models import QuerySet
from django.utils import timezone

from ingestion.credentials import credential_split, secret_matches
from ingestion.models import AccessToken, ApiKey, Event, Project, Source, Website


def api_key_verify(*, presented: str) -> ApiKey | None:
    """The live API key for ``identifier.secret``, with its source and project; else None."""
    parts = credential_split(presented)
    if parts is None:
        return None
    key = (
        ApiKey.objects.select_related("source__project__organization")
        .filter(identifier=parts.identifier, revoked_at__isnull=True)
        .first()
    )
    if key is None or not secret_matches(parts.secret, key.secret_hash):
        return None
    return key


def access_token_verify(*, presented: str) -> AccessToken | None:
    """The live (not revoked, not expired) access token for ``presented``; else None."""
    parts = credential_split(presented)
    if parts is None:
        return None
    token = (
        AccessToken.objects.select_related("project__organization", "source")
        .filter(identifier=parts.identifier, revoked_at__isnull=True)
        .first()
    )
    if token is None or not secret_matches(parts.secret, token.secret_hash):
        return None
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return None
    return token


def website_get(*, website_id: str) -> Website | None:
    try:
        parsed = uuid.UUID(website_id)
    except (ValueError, AttributeError, TypeError):
        return None
    return Website.objects.select_related("source__project").filter(id=parsed).first()


def source_get(*, source_id: int) -> Source | None:
    return Source.objects.select_related("project__organization").filter(id=source_id).first()


def project_get_by_names(*, org: str, project: str) -> Project | None:
    return Project.objects.select_related("organization").filter(organization__name=org, name=project).first()


def website_ids_in_project(*, project_id: int, website_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``website_ids`` are websites of ``project_id`` (one query)."""
    return set(
        Website.objects.filter(id__in=list(website_ids), source__project_id=project_id).values_list("id", flat=True)
    )


def events_for_identity_keys(*, project_id: int, identity_keys: Iterable[str]) -> QuerySet[Event]:
    """Events of the project whose ``identity_key`` is one of ``identity_keys`` (a profile's
    events: the profiles app passes the identifiers of one profile)."""
    return Event.objects.filter(project_id=project_id, identity_key__in=list(identity_keys))

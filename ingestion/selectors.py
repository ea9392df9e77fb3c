"""Reads of the ingestion domain."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet
from django.utils import timezone

from ingestion.credentials import credential_split, secret_matches
from ingestion.models import AccessToken, ApiKey, Event, Organization, Project, Source, Website
from trackhub.db import prepared_cursor


def _columns(model: type[Model], alias: str) -> tuple[list[str], str]:
    attnames = [field.attname for field in model._meta.concrete_fields]
    return attnames, ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


# The track hot path resolves an API key on every request. Compiling the equivalent
# select_related queryset costs more CPU than the query itself, so the SQL is built once
# from the models' fields (it follows them when fields are added) and the instances are
# made with ``from_db``, linked as select_related would link them.
_API_KEY_PARTS = [
    (model, *_columns(model, alias))
    for model, alias in ((ApiKey, "k"), (Source, "s"), (Project, "p"), (Organization, "o"))
]
_API_KEY_SQL = (
    f"SELECT {', '.join(part[2] for part in _API_KEY_PARTS)} "
    "FROM ingestion_apikey k JOIN ingestion_source s ON s.id = k.source_id "
    "JOIN ingestion_project p ON p.id = s.project_id JOIN ingestion_organization o ON o.id = p.organization_id "
    "WHERE k.identifier = %s AND k.revoked_at IS NULL LIMIT 1"
)
_API_KEY_ATTNAMES: dict[type[Model], list[str]] = {model: attnames for model, attnames, _ in _API_KEY_PARTS}


_converters: dict[str, list[list[tuple[Any, Any]]]] = {}


def _row_convert(row: tuple[Any, ...]) -> list[list[Any]]:
    """The row split per model, each value turned into what the ORM would give (JSON
    decoded, SQLite datetimes parsed); the converters are looked up once per backend."""
    if connection.vendor not in _converters:
        _converters[connection.vendor] = [
            [
                (field.get_col(model._meta.db_table), converters)
                for field in model._meta.concrete_fields
                for converters in [
                    connection.ops.get_db_converters(field.get_col(model._meta.db_table))
                    + field.get_db_converters(connection)
                ]
            ]
            for model, _, _ in _API_KEY_PARTS
        ]
    parts = []
    values = iter(row)
    for fields in _converters[connection.vendor]:
        part = []
        for (column, converters), value in zip(fields, values, strict=False):
            for converter in converters:
                value = converter(value, column, connection)
            part.append(value)
        parts.append(part)
    return parts


def api_key_verify(*, presented: str) -> ApiKey | None:
    """The live API key for ``identifier.secret``, with its source, project and organization
    (one indexed query); else None."""
    parts = credential_split(presented)
    if parts is None:
        return None
    with prepared_cursor() as cursor:
        cursor.execute(_API_KEY_SQL, [parts.identifier])
        row = cursor.fetchone()
    if row is None:
        return None
    key_values, source_values, project_values, organization_values = _row_convert(row)
    key = ApiKey.from_db(connection.alias, _API_KEY_ATTNAMES[ApiKey], key_values)
    source = Source.from_db(connection.alias, _API_KEY_ATTNAMES[Source], source_values)
    project = Project.from_db(connection.alias, _API_KEY_ATTNAMES[Project], project_values)
    organization = Organization.from_db(connection.alias, _API_KEY_ATTNAMES[Organization], organization_values)
    project.organization = organization
    source.project = project
    key.source = source
    if not secret_matches(parts.secret, key.secret_hash):
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

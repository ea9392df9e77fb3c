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
from trackhub.db import request_first_fetchone


def _columns(model: type[Model], alias: str) -> str:
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


class _JoinedLookup:
    """One credential row with its tenant rows, fetched by one indexed query and built into
    model instances as ``select_related`` would build them.

    The track path resolves a credential on every request, and compiling the equivalent
    queryset costs more CPU than the query itself; so the SQL is built once from the
    models' fields (it follows them when fields are added), runs as a prepared statement
    (``prepared_cursor``), and its values go through the fields' own converters.
    """

    def __init__(self, parts: list[tuple[type[Model], str]], joins: str, where: str) -> None:
        self.parts = parts
        self.sql = f"SELECT {', '.join(_columns(model, alias) for model, alias in parts)} {joins} WHERE {where} LIMIT 1"
        self._attnames = [[field.attname for field in model._meta.concrete_fields] for model, _ in parts]
        self._converters: dict[str, list[list[tuple[Any, Any]]]] = {}

    def fetch(self, *params: Any) -> list[Any] | None:
        """One instance per part (None for a LEFT JOINed row that is absent), or None."""
        # The track path's first query: it also serves as the request's connection check.
        row = request_first_fetchone(self.sql, list(params))
        if row is None:
            return None
        instances: list[Any] = []
        values = iter(row)
        for (model, _), attnames, fields in zip(self.parts, self._attnames, self._field_converters(), strict=True):
            converted = []
            for (column, converters), value in zip(fields, values, strict=False):
                for converter in converters:
                    value = converter(value, column, connection)
                converted.append(value)
            instances.append(None if converted[0] is None else model.from_db(connection.alias, attnames, converted))
        return instances

    def _field_converters(self) -> list[list[tuple[Any, Any]]]:
        """Per part, each column with its converters (JSON decoding, SQLite datetimes...),
        looked up once per database backend."""
        if connection.vendor not in self._converters:
            self._converters[connection.vendor] = [
                [
                    (column, connection.ops.get_db_converters(column) + field.get_db_converters(connection))
                    for field in model._meta.concrete_fields
                    for column in [field.get_col(model._meta.db_table)]
                ]
                for model, _ in self.parts
            ]
        return self._converters[connection.vendor]


_TENANT_JOINS = (
    "JOIN ingestion_project p ON p.id = s.project_id JOIN ingestion_organization o ON o.id = p.organization_id"
)
_API_KEY_LOOKUP = _JoinedLookup(
    [(ApiKey, "k"), (Source, "s"), (Project, "p"), (Organization, "o")],
    f"FROM ingestion_apikey k JOIN ingestion_source s ON s.id = k.source_id {_TENANT_JOINS}",
    "k.identifier = %s AND k.revoked_at IS NULL",
)
_ACCESS_TOKEN_LOOKUP = _JoinedLookup(
    [(AccessToken, "t"), (Project, "p"), (Organization, "o"), (Source, "s")],
    "FROM ingestion_accesstoken t JOIN ingestion_project p ON p.id = t.project_id "
    "JOIN ingestion_organization o ON o.id = p.organization_id LEFT JOIN ingestion_source s ON s.id = t.source_id",
    "t.identifier = %s AND t.revoked_at IS NULL",
)


def api_key_verify(*, presented: str) -> ApiKey | None:
    """The live API key for ``identifier.secret``, with its source, project and organization
    (one indexed query); else None."""
    parts = credential_split(presented)
    if parts is None:
        return None
    found = _API_KEY_LOOKUP.fetch(parts.identifier)
    if found is None:
        return None
    key, source, project, organization = found
    if not secret_matches(parts.secret, key.secret_hash):
        return None
    project.organization = organization
    source.project = project
    key.source = source
    return key


def access_token_verify(*, presented: str) -> AccessToken | None:
    """The live (not revoked, not expired) access token for ``presented``, with its project,
    organization and source if it has one (one indexed query); else None."""
    parts = credential_split(presented)
    if parts is None:
        return None
    found = _ACCESS_TOKEN_LOOKUP.fetch(parts.identifier)
    if found is None:
        return None
    token, project, organization, source = found
    if not secret_matches(parts.secret, token.secret_hash):
        return None
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return None
    project.organization = organization
    token.project = project
    if source is not None:
        source.project = project
    token.source = source
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

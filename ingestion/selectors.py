"""Reads of the ingestion domain."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple, TypeAlias

from django.db import connection
from django.db.models import (
    Count,
    F,
    Func,
    IntegerField,
    Model,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    TextField,
)
from django.db.models.functions import Coalesce, TruncHour
from django.utils import timezone

from ingestion.canonical import MAX_ID
from ingestion.credentials import API_KEY_PREFIX, CredentialCheck, credential_split, secret_matches
from ingestion.models import AccessToken, ApiKey, Event, Organization, Project, RejectedEvent, Source, Website
from trackhub.db import request_first_fetchone

_Credential: TypeAlias = ApiKey | AccessToken | Website


def _columns(model: type[Model], alias: str, *, exclude: tuple[str, ...] = ()) -> list[str]:
    return [f'{alias}."{field.column}"' for field in model._meta.concrete_fields if field.name not in exclude]


class _JoinedLookup:
    """One credential row with its tenant rows, fetched by one indexed query and built into
    model instances as ``select_related`` would build them, then assembled (``assemble``
    links them and returns the credential).

    The track path resolves a credential on every request, and compiling the equivalent
    queryset costs more CPU than the query itself; so the SQL is built once from the
    models' fields (it follows them when fields are added), runs as a prepared statement
    (``prepared_cursor``), and its values go through the fields' own converters.

    On PostgreSQL the query also returns the rows' fingerprint (an md5 of every column
    but ``last_used_at``), which lets a write check that a copy this process cached is
    still exactly what the database holds (``check_sql``, ``CredentialCheck``).
    """

    def __init__(
        self,
        parts: list[tuple[type[Model], str]],
        joins: str,
        where: str,
        assemble: Callable[[list[Any]], _Credential],
        *,
        live: str,
    ) -> None:
        self.parts = parts
        self.assemble = assemble
        credential_alias = parts[0][1]
        selected = ", ".join(", ".join(_columns(model, alias)) for model, alias in parts)
        # ``last_used_at`` is left out: ``credential_mark_used`` writes it once a minute per
        # process, and every process's cached copy would go stale with it.
        fingerprinted = ", ".join(
            ", ".join(_columns(model, alias, exclude=("last_used_at",))) for model, alias in parts
        )
        fingerprint = f"md5(row({fingerprinted})::text)"
        self._sql = {
            "postgresql": f"SELECT {selected}, {fingerprint} {joins} WHERE {where} AND {live} LIMIT 1",
            "other": f"SELECT {selected} {joins} WHERE {where} AND {live} LIMIT 1",
        }
        # A boolean SQL expression: the cached credential (``%(credential_id)s``) is
        # unrevoked and its rows are unchanged since they were read (``%(fingerprint)s``).
        self.check_sql = (
            f"EXISTS (SELECT 1 {joins} WHERE {credential_alias}.id = %(credential_id)s AND {live} "
            f"AND {fingerprint} = %(fingerprint)s)"
        )
        self._attnames = [[field.attname for field in model._meta.concrete_fields] for model, _ in parts]
        self._converters: dict[str, list[list[tuple[Any, Any]]]] = {}
        # This process's copies of what it read: str(key) -> (credential, fingerprint).
        self._cached: dict[str, tuple[_Credential, str]] = {}

    def verify(self, key: Any, *, cached: bool, valid: Callable[[Any], bool]) -> VerifiedCredential | None:
        """The live row for ``key`` (its unique lookup value), assembled, if ``valid``
        admits it (the secret matches, it has not expired); else None.

        ``cached=True`` may answer from this process's copy, without a query; the answer
        then carries the ``CredentialCheck`` its write must pass. A copy only ever admits:
        one that ``valid`` refuses is judged again on a fresh read.
        """
        cache_key = str(key)
        if cached and connection.vendor == "postgresql":
            hit = self._cached.get(cache_key)
            if hit is not None and valid(hit[0]):
                credential, fingerprint = hit
                return VerifiedCredential(
                    credential, CredentialCheck(self.check_sql, credential_id=credential.pk, fingerprint=fingerprint)
                )
        found = self._fetch(key)
        if found is None:
            self._cached.pop(cache_key, None)
            return None
        credential, read_fingerprint = found
        if read_fingerprint is not None:  # PostgreSQL
            if len(self._cached) >= _CACHED_CREDENTIALS_MAX:
                self._cached.clear()
            self._cached[cache_key] = (credential, read_fingerprint)
        if not valid(credential):
            return None
        return VerifiedCredential(credential, None)

    def forget(self, key: str) -> None:
        self._cached.pop(key, None)

    def forget_all(self) -> None:
        self._cached.clear()

    def _fetch(self, key: Any) -> tuple[_Credential, str | None] | None:
        # The track path's first query: it also serves as the request's connection check.
        vendor = connection.vendor
        row = request_first_fetchone(self._sql.get(vendor, self._sql["other"]), [key])
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
        return self.assemble(instances), next(values, None)

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


# Enough for every credential of a large install; past it the copies start over.
_CACHED_CREDENTIALS_MAX = 10_000


class VerifiedCredential(NamedTuple):
    credential: Any  # ApiKey | AccessToken | Website
    check: CredentialCheck | None  # None: read from the database for this request


def _credential_valid(credential: ApiKey | AccessToken, secret: str) -> bool:
    """The secret matches and the credential has not expired (tokens may)."""
    expires_at = getattr(credential, "expires_at", None)
    return secret_matches(secret, credential.secret_hash) and (expires_at is None or expires_at > timezone.now())


def _of_source_assemble(instances: list[Any]) -> ApiKey | Website:
    """An API key or a website, with its source, project and organization."""
    credential, source, project, organization = instances
    project.organization = organization
    source.project = project
    credential.source = source
    return credential


def _access_token_assemble(instances: list[Any]) -> AccessToken:
    token, project, organization, source = instances
    project.organization = organization
    token.project = project
    if source is not None:
        source.project = project
    token.source = source
    return token


_TENANT_JOINS = (
    "JOIN ingestion_project p ON p.id = s.project_id JOIN ingestion_organization o ON o.id = p.organization_id"
)
_API_KEY_LOOKUP = _JoinedLookup(
    [(ApiKey, "k"), (Source, "s"), (Project, "p"), (Organization, "o")],
    f"FROM ingestion_apikey k JOIN ingestion_source s ON s.id = k.source_id {_TENANT_JOINS}",
    "k.identifier = %s",
    _of_source_assemble,
    live="k.revoked_at IS NULL",
)
_ACCESS_TOKEN_LOOKUP = _JoinedLookup(
    [(AccessToken, "t"), (Project, "p"), (Organization, "o"), (Source, "s")],
    "FROM ingestion_accesstoken t JOIN ingestion_project p ON p.id = t.project_id "
    "JOIN ingestion_organization o ON o.id = p.organization_id LEFT JOIN ingestion_source s ON s.id = t.source_id",
    "t.identifier = %s",
    _access_token_assemble,
    # A track token whose source is of another project (the admin could save one before it
    # refused to) would write into one project's events under another's source: refused.
    live="t.revoked_at IS NULL AND (t.source_id IS NULL OR s.project_id = t.project_id)",
)
_WEBSITE_LOOKUP = _JoinedLookup(
    [(Website, "w"), (Source, "s"), (Project, "p"), (Organization, "o")],
    f"FROM ingestion_website w JOIN ingestion_source s ON s.id = w.source_id {_TENANT_JOINS}",
    "w.id = %s",
    _of_source_assemble,
    live="true",
)


def api_key_verify(*, presented: str) -> ApiKey | None:
    """The live API key for ``identifier.secret``, with its source, project and organization
    (one indexed query); else None."""
    verified = track_api_key_verify(presented=presented, cached=False)
    return verified.credential if verified else None


def access_token_verify(*, presented: str) -> AccessToken | None:
    """The live (not revoked, not expired) access token for ``presented``, with its project,
    organization and source if it has one (one indexed query); else None."""
    verified = track_access_token_verify(presented=presented, cached=False)
    return verified.credential if verified else None


def credential_source_id_get(*, presented: str) -> int | None:
    """The source of the API key or track token that ``presented`` names by its
    identifier, whatever its state (revoked, expired, sent with a wrong secret); else
    None. A refused request is counted under it: the contract counts refusals per source,
    and a producer still sending a revoked key is what its operators want to see."""
    parts = credential_split(presented)
    if parts is None:
        return None
    model = ApiKey if parts.identifier.startswith(API_KEY_PREFIX) else AccessToken
    return model.objects.filter(identifier=parts.identifier).values_list("source_id", flat=True).first()


def website_get(*, website_id: str) -> Website | None:
    """The website with that id, with its source, project and organization; else None."""
    verified = track_website_get(website_id=website_id, cached=False)
    return verified.credential if verified else None


# The track path's credentials: from this process's copy when it has one. Nothing is
# cached for reading: only a write can carry the check that keeps a copy honest, so
# only the track endpoints use these (see ``CredentialCheck``).


def track_api_key_verify(*, presented: str, cached: bool = True) -> VerifiedCredential | None:
    return _secret_verify(_API_KEY_LOOKUP, presented=presented, cached=cached)


def track_access_token_verify(*, presented: str, cached: bool = True) -> VerifiedCredential | None:
    return _secret_verify(_ACCESS_TOKEN_LOOKUP, presented=presented, cached=cached)


def _secret_verify(lookup: _JoinedLookup, *, presented: str, cached: bool) -> VerifiedCredential | None:
    """``identifier.secret`` through ``lookup``: the secret must match, the expiry not pass."""
    parts = credential_split(presented)
    if parts is None:
        return None
    return lookup.verify(
        parts.identifier, cached=cached, valid=lambda credential: _credential_valid(credential, parts.secret)
    )


def track_website_get(*, website_id: str, cached: bool = True) -> VerifiedCredential | None:
    """A Databuddy website by its public id (no secret: browsers send it)."""
    try:
        parsed = uuid.UUID(website_id)
    except (ValueError, AttributeError, TypeError):
        return None
    # The hex form: what PostgreSQL's uuid input and SQLite's char(32) column both take.
    return _WEBSITE_LOOKUP.verify(parsed.hex, cached=cached, valid=lambda website: True)


def track_credential_forget(*, credential: object) -> None:
    """Drop this process's copy of ``credential`` (it was found changed, or must be
    judged afresh): the next request reads it from the database."""
    if isinstance(credential, ApiKey):
        _API_KEY_LOOKUP.forget(credential.identifier)
    elif isinstance(credential, AccessToken):
        _ACCESS_TOKEN_LOOKUP.forget(credential.identifier)
    elif isinstance(credential, Website):
        _WEBSITE_LOOKUP.forget(credential.id.hex)


def track_credentials_forget_all() -> None:
    """Drop every cached copy (tests start from a clean process state)."""
    for lookup in (_API_KEY_LOOKUP, _ACCESS_TOKEN_LOOKUP, _WEBSITE_LOOKUP):
        lookup.forget_all()


def source_get(*, source_id: int) -> Source | None:
    if not 0 < source_id <= MAX_ID:  # not an id at all: the database driver would refuse it
        return None
    return Source.objects.select_related("project__organization").filter(id=source_id).first()


def project_get_by_names(*, org: str, project: str) -> Project | None:
    return Project.objects.select_related("organization").filter(organization__name=org, name=project).first()


def project_exists(*, project_id: int) -> bool:
    return Project.objects.filter(id=project_id).exists()


def projects_contents_count(*, project_ids: Sequence[int]) -> dict[str, int]:
    """What deleting these projects takes with them, by kind (for the admin's confirmation
    page): one COUNT per kind, each on an index that leads with the project."""
    return {
        "sources": Source.objects.filter(project_id__in=project_ids).count(),
        "API keys": ApiKey.objects.filter(source__project_id__in=project_ids).count(),
        "access tokens": AccessToken.objects.filter(project_id__in=project_ids).count(),
        "events": Event.objects.filter(project_id__in=project_ids).count(),
        "rejected events": RejectedEvent.objects.filter(project_id__in=project_ids).count(),
    }


def sources_contents_count(*, source_ids: Sequence[int]) -> dict[type[Model], int]:
    """What deleting these sources takes with them, by model (for the admin's confirmation
    page): one COUNT per model, each on an index that leads with the source. Their events
    stay (they are the project's data)."""
    return {
        model: model.objects.filter(source_id__in=source_ids).count()
        for model in (ApiKey, AccessToken, Website, RejectedEvent)
    }


def website_ids_in_project(*, project_id: int, website_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``website_ids`` are websites of ``project_id`` (one query)."""
    return set(
        Website.objects.filter(id__in=list(website_ids), source__project_id=project_id).values_list("id", flat=True)
    )


# --- sources ----------------------------------------------------------------------------------


def sources_for_project(*, project_id: int) -> QuerySet[Source]:
    """The project's sources by name."""
    return Source.objects.filter(project_id=project_id).order_by("name", "id")


def sources_with_stats(*, project_id: int, since: datetime) -> list[Source]:
    """The project's sources with ``last_received_at`` (of its newest event),
    ``rejected_count`` (not yet replayed, since ``since``) and its keys and tokens, in
    four queries whatever the number of sources."""
    newest = Event.objects.filter(project_id=OuterRef("project_id"), source_id=OuterRef("id")).order_by("-timestamp")
    rejected = (
        RejectedEvent.objects.filter(source_id=OuterRef("id"), received_at__gte=since, replayed_at__isnull=True)
        .order_by()
        .values("source_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return list(
        Source.objects.filter(project_id=project_id)
        .annotate(
            last_received_at=Subquery(newest.values("received_at")[:1]),
            last_timestamp=Subquery(newest.values("timestamp")[:1]),
            rejected_count=Coalesce(Subquery(rejected, output_field=IntegerField()), 0),
        )
        .prefetch_related(
            Prefetch("api_keys", queryset=ApiKey.objects.order_by("-created_at")),
            Prefetch("access_tokens", queryset=AccessToken.objects.order_by("-created_at")),
        )
        .order_by("name", "id")
    )


# --- events -----------------------------------------------------------------------------------


def events_for_project(*, project_id: int) -> QuerySet[Event]:
    """The project's events newest first, for the caller to filter and page by
    (timestamp, id)."""
    return Event.objects.filter(project_id=project_id).order_by("-timestamp", "-id")


def events_recent(*, project_id: int, source_id: int | None = None, limit: int = 20) -> list[Event]:
    """The project's (or one of its sources') ``limit`` newest events."""
    events = Event.objects.filter(project_id=project_id)
    if source_id is not None:
        events = events.filter(source_id=source_id)
    return list(events.order_by("-timestamp", "-id")[:limit])


def event_get(*, project_id: int, pk: int) -> Event | None:
    """The project's event with TrackHub's id ``pk`` (not the producer's ``event_id``),
    with ``source_name``: its source's name ("" when it has none), None when the source
    was deleted.

    Not ``select_related("source")``: an event outlives its source (deleting a source
    keeps its events, which carry no foreign key constraint), and that join found no row
    for such an event, so its page answered 404 while the explorer listed it."""
    source_name = Source.objects.filter(pk=OuterRef("source_id")).values("name")[:1]
    return Event.objects.filter(project_id=project_id, id=pk).annotate(source_name=Subquery(source_name)).first()


def events_since_at_least(*, project_id: int, since: datetime, count: int) -> bool:
    """Whether the project has ``count`` events since ``since``: reads at most that many
    index entries, however many there are."""
    return Event.objects.filter(project_id=project_id, timestamp__gte=since)[:count].count() >= count


def events_count_hourly(*, project_id: int, since: datetime, until: datetime) -> list[tuple[datetime, int, str, int]]:
    """The project's events with a timestamp in [since, until), counted per UTC hour,
    source and name: (hour, source id, name, count), in no order. One grouped pass bounded
    by the (project, -timestamp) index."""
    rows = (
        Event.objects.filter(project_id=project_id, timestamp__gte=since, timestamp__lt=until)
        .annotate(hour=TruncHour("timestamp", tzinfo=UTC))
        .values("hour", "source_id", "name")
        .annotate(n=Count("*"))
        .values_list("hour", "source_id", "name", "n")
        .order_by()
    )
    return list(rows)


# One index probe per distinct (project, name) on the (project, name, -timestamp) index,
# however many events each has (a DISTINCT over the events table reads all of them):
# started at each of the given projects and kept inside it, so a walk never reads through
# another project's entries.
_EVENT_NAMES_OF_PROJECTS_SKIP_SCAN = """
WITH RECURSIVE pairs(project_id, name) AS (
    SELECT listed.id, first.name FROM unnest(%s::bigint[]) AS listed(id), LATERAL (
        SELECT e.name FROM ingestion_event e WHERE e.project_id = listed.id ORDER BY e.name LIMIT 1
    ) first
    UNION ALL
    SELECT pairs.project_id, following.name FROM pairs, LATERAL (
        SELECT e.name FROM ingestion_event e
        WHERE e.project_id = pairs.project_id AND e.name > pairs.name
        ORDER BY e.name LIMIT 1
    ) following
)
SELECT DISTINCT name FROM (SELECT name FROM pairs LIMIT %s) limited ORDER BY name
"""


def event_names(*, project_ids: Sequence[int] | None = None, limit: int = 1000) -> list[str]:
    """The distinct event names of every project (or of ``project_ids``), alphabetically,
    from at most ``limit`` (project, name) pairs: the admin's name filter and, for one
    project, the dashboard explorer's suggestions (its first ``limit`` names)."""
    if connection.vendor == "postgresql":
        if project_ids is None:
            project_ids = list(Project.objects.order_by("id").values_list("id", flat=True))
        with connection.cursor() as cursor:
            cursor.execute(_EVENT_NAMES_OF_PROJECTS_SKIP_SCAN, [list(project_ids), limit])
            return [row[0] for row in cursor.fetchall()]
    events = Event.objects.all() if project_ids is None else Event.objects.filter(project_id__in=project_ids)
    return list(events.order_by("name").values_list("name", flat=True).distinct()[:limit])


def events_for_identity_keys(
    *, events: QuerySet[Event], identity_keys: Iterable[str] | QuerySet[Any, str]
) -> QuerySet[Event]:
    """Those of ``events`` whose ``identity_key`` is one of ``identity_keys`` (a profile's
    events: ``profiles.selectors.profile_events`` passes the identifiers of one profile),
    given as values or as a query of one column, which becomes a subquery."""
    keys = identity_keys if isinstance(identity_keys, QuerySet) else list(identity_keys)
    return events.filter(identity_key__in=keys)


# Keys looked up per query, each an ORed condition of its WHERE clause.
_KEYS_PER_QUERY = 500


def events_with_keys(
    *, project_id: int, keys: Iterable[tuple[str, str] | tuple[str, str, datetime]]
) -> Iterator[QuerySet[Event]]:
    """The project's events whose dedupe key (name, event id) is among ``keys``, as one
    query per chunk of keys. A key may also carry the event's timestamp, which leads its
    lookup to its partition and through the primary key's (project, timestamp) prefix;
    without it every partition's (project, name) index is probed."""
    wanted = sorted(set(keys))
    for start in range(0, len(wanted), _KEYS_PER_QUERY):
        matches = Q()
        for name, event_id, *timestamp in wanted[start : start + _KEYS_PER_QUERY]:
            key_matches = Q(name=name, event_id=event_id)
            if timestamp:
                key_matches &= Q(timestamp=timestamp[0])
            matches |= key_matches
        yield Event.objects.filter(matches, project_id=project_id)


def events_by_keys(
    *, project_id: int, keys: Iterable[tuple[str, str] | tuple[str, str, datetime]]
) -> dict[tuple[str, str], Event]:
    """The project's events whose dedupe key is among ``keys`` (``events_with_keys``), by
    that key; only their id, name, event id and timestamp are loaded."""
    found: dict[tuple[str, str], Event] = {}
    for events in events_with_keys(project_id=project_id, keys=keys):
        rows = events.only("id", "name", "event_id", "timestamp")
        found.update(((event.name, event.event_id), event) for event in rows)
    return found


# --- rejected events --------------------------------------------------------------------------


def rejected_events_for_project(
    *, project_id: int, include_replayed: bool, source_id: int | None = None, since: datetime | None = None
) -> QuerySet[RejectedEvent]:
    """The project's rejected events (or one source's, or those received since
    ``since``) newest first, for the caller to page by (received_at, id); the replayed
    ones only with ``include_replayed``."""
    rows = RejectedEvent.objects.filter(project_id=project_id)
    if source_id is not None:
        rows = rows.filter(source_id=source_id)
    if since is not None:
        rows = rows.filter(received_at__gte=since)
    if not include_replayed:
        rows = rows.filter(replayed_at__isnull=True)
    return rows.order_by("-received_at", "-id")


def rejected_event_get(*, project_id: int, pk: int) -> RejectedEvent | None:
    """The project's rejected event ``pk``, with its source."""
    return RejectedEvent.objects.filter(project_id=project_id, id=pk).select_related("source").first()


class _PropertyFunc(Func):
    """An expression over the top-level key ``key`` of an event's ``properties``, read as an
    object key on both databases (Django's key transforms read a key like "123" as an
    array index). Subclasses give the SQL per database."""

    output_field = TextField()

    def __init__(self, key: str) -> None:
        super().__init__(F("properties"))
        self.key = key

    def _column(self, compiler: Any) -> tuple[str, tuple[Any, ...]]:
        column, params = compiler.compile(self.source_expressions[0])
        return column, tuple(params)

    def _sqlite_path(self) -> str:
        return "$." + json.dumps(self.key)


class _PropertyScalarText(_PropertyFunc):
    """``properties[key]`` as text when it is a string (its own text), a number or a
    boolean (its JSON text); NULL for objects, arrays, null and a missing key.

    Not Django's ``KeyTextTransform``: besides the array-index reading, on SQLite it
    compares through ``JSON_EXTRACT(value)``, which fails on a value that is not itself JSON.
    """

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, tuple[Any, ...]]:
        column, params = self._column(compiler)
        sql = (
            f"CASE WHEN jsonb_typeof({column} -> %s::text) IN ('string', 'number', 'boolean') "
            f"THEN {column} ->> %s::text END"
        )
        return sql, (*params, self.key, *params, self.key)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, tuple[Any, ...]]:
        column, params = self._column(compiler)
        path = self._sqlite_path()
        sql = (
            f"CASE json_type({column}, %s) WHEN 'text' THEN json_extract({column}, %s) "
            f"WHEN 'integer' THEN {column} -> %s WHEN 'real' THEN {column} -> %s "
            "WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END"
        )
        return sql, (*params, path, *params, path, *params, path, *params, path)


class _PropertyType(_PropertyFunc):
    """The JSON type of ``properties[key]`` (``null`` for a JSON null); NULL when the key is
    missing."""

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, tuple[Any, ...]]:
        column, params = self._column(compiler)
        return f"jsonb_typeof({column} -> %s::text)", (*params, self.key)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, tuple[Any, ...]]:
        column, params = self._column(compiler)
        return f"json_type({column}, %s)", (*params, self._sqlite_path())


# A JSON number written with an exponent (``1.5e-07``). Three digits at most: a double's
# reach (1e-324..1e308), and ``1e999999999`` is not written out a billion digits long.
_JSON_NUMBER_WITH_EXPONENT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?[eE][+-]?[0-9]{1,3}")


def _number_stored_text(value: str) -> str | None:
    """How PostgreSQL writes the number that ``value`` writes with an exponent, when that
    is another text: jsonb keeps a number as ``numeric``, whose text has no exponent
    (``0.00000015``), while the read API's answers write a number under 0.0001 as Python
    does (``1.5e-07``). None when ``value`` is no such number."""
    if not _JSON_NUMBER_WITH_EXPONENT.fullmatch(value):
        return None
    plain = format(Decimal(value), "f")
    return plain if plain != value else None


def events_with_property(*, queryset: QuerySet[Event], key: str, value: str | None = None) -> QuerySet[Event]:
    """The events whose top-level property ``key`` is the string ``value``, or a number or
    boolean whose JSON text is ``value``; without a value, those that have the property at
    all (whatever its value, null included). The read API's and the dashboard's filter.

    A number is matched by the text the answers show for it too: ``value=1.5e-07`` finds
    the ``1.5e-07`` an event's properties show (stored as ``0.00000015``); a string
    ``"1.5e-07"`` still matches only that text."""
    if value is None:
        return queryset.annotate(_property_type=_PropertyType(key)).filter(_property_type__isnull=False)
    queryset = queryset.annotate(_property_text=_PropertyScalarText(key))
    stored = _number_stored_text(value)
    if stored is None:
        return queryset.filter(_property_text=value)
    queryset = queryset.annotate(_property_type=_PropertyType(key))
    return queryset.filter(Q(_property_text=value) | Q(_property_text=stored, _property_type="number"))

"""DRF authentication for the contract's credentials, shared by every endpoint.

Each class returns ``(None, principal)``: there is no Django user behind a producer or a
read token, only what the credential may touch. A credential that is present but wrong
raises :class:`CredentialRejected`; an absent one returns None so another class may try.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from ingestion import selectors, services
from ingestion.models import AccessToken, ApiKey, Project, Source, Website

TRACK_EVENTS_SCOPE = "track:events"
TRACK_TOKEN_SCOPES = frozenset({"track_api", "telemetry_apis"})
READ_SCOPE = "read"


class CredentialRejected(exceptions.AuthenticationFailed):
    """``kind`` is ``invalid_credentials``, ``missing_scope``, ``website_not_found`` or
    ``origin_not_allowed``; each format maps it to a status (``credential_statuses``)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True)
class TrackPrincipal:
    """Who may write: exactly one source."""

    source: Source
    credential: ApiKey | AccessToken | Website
    website: Website | None = None  # Databuddy: the ``?website_id=`` (its origins answer CORS)

    @property
    def project(self) -> Project:
        return self.source.project


@dataclass(frozen=True)
class ReadPrincipal:
    """Who may read: exactly one project."""

    project: Project
    token: AccessToken


def _authorization(request: Request, keyword: str) -> str | None:
    """The credential after ``keyword`` in the Authorization header, if that is the scheme."""
    header = get_authorization_header(request).decode("latin-1").strip()
    scheme, _, value = header.partition(" ")
    if scheme.lower() != keyword.lower():
        return None
    return value.strip()


def _api_key_principal(presented: str) -> TrackPrincipal:
    key = selectors.api_key_verify(presented=presented)
    if key is None:
        raise CredentialRejected("invalid_credentials", "Invalid API key")
    if TRACK_EVENTS_SCOPE not in key.scopes:
        raise CredentialRejected("missing_scope", f"API key missing {TRACK_EVENTS_SCOPE} scope")
    services.credential_mark_used(credential=key)
    return TrackPrincipal(source=key.source, credential=key)


class QueryApiKeyAuthentication(BaseAuthentication):
    """Intempt: ``?apiKey=identifier.secret``, valid only for the source in the path."""

    def authenticate(self, request: Request) -> tuple[None, TrackPrincipal] | None:
        presented = request.query_params.get("apiKey")
        if not presented:
            return None
        principal = _api_key_principal(presented)
        path = request.parser_context.get("kwargs", {}) if request.parser_context else {}
        source = principal.source
        if (
            str(source.id) != str(path.get("source_id"))
            or source.project.name != path.get("project_name")
            or source.project.organization.name != path.get("org_name")
        ):
            raise CredentialRejected("invalid_credentials", "API key is not valid for this source")
        return None, principal


class HeaderApiKeyAuthentication(BaseAuthentication):
    """``Authorization: <keyword> identifier.secret``: Bearer (Databuddy), Token (Userpilot)."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[None, TrackPrincipal] | None:
        presented = _authorization(request, self.keyword)
        if not presented:
            return None
        return None, _api_key_principal(presented)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class TokenApiKeyAuthentication(HeaderApiKeyAuthentication):
    keyword = "Token"


class TrackTokenAuthentication(BaseAuthentication):
    """ThriveStack: ``Authorization: Bearer <token>`` with ``track_api`` or ``telemetry_apis``."""

    def authenticate(self, request: Request) -> tuple[None, TrackPrincipal] | None:
        presented = _authorization(request, "Bearer")
        if not presented:
            return None
        token = selectors.access_token_verify(presented=presented)
        if token is None or token.source is None:
            raise CredentialRejected("invalid_credentials", "Access token missing or invalid")
        if not TRACK_TOKEN_SCOPES.intersection(token.scopes):
            raise CredentialRejected("missing_scope", "Access token missing track_api or telemetry_apis scope")
        services.credential_mark_used(credential=token)
        # The token's source row is already loaded with its project.
        source = token.source
        source.project = token.project
        return None, TrackPrincipal(source=source, credential=token)

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


def website_allowed_origin(website: Website, origin: str | None) -> str | None:
    """The ``Access-Control-Allow-Origin`` value for ``origin``: ``*`` when the website
    allows any origin (no list, or ``*`` in it), ``origin`` when listed, else None."""
    allowed = [entry.strip().rstrip("/").lower() for entry in website.allowed_origins or []]
    if not allowed or "*" in allowed:
        return "*"
    if origin and origin.strip().rstrip("/").lower() in allowed:
        return origin
    return None


class WebsiteAuthentication(BaseAuthentication):
    """Databuddy client-side: ``?website_id=<uuid>``.

    The website id is public (it sits in the page), so a browser's ``Origin`` must be one
    the website allows; requests without ``Origin`` (servers, curl) are not browsers.
    """

    def authenticate(self, request: Request) -> tuple[None, TrackPrincipal] | None:
        website_id = request.query_params.get("website_id")
        if not website_id:
            return None
        website = selectors.website_get(website_id=website_id)
        if website is None:
            raise CredentialRejected("website_not_found", "Website not found")
        origin = request.headers.get("Origin")
        if origin and website_allowed_origin(website, origin) is None:
            raise CredentialRejected("origin_not_allowed", "Origin not allowed for this website")
        return None, TrackPrincipal(source=website.source, credential=website, website=website)


class DatabuddyAuthentication(BaseAuthentication):
    """Databuddy: ``Authorization: Bearer <api key>`` or ``?website_id=``. With both, the key
    decides (its source receives the events) and the website must be of the key's project."""

    def authenticate(self, request: Request) -> tuple[None, TrackPrincipal] | None:
        presented = _authorization(request, "Bearer")
        if not presented:
            return WebsiteAuthentication().authenticate(request)
        principal = _api_key_principal(presented)
        website_id = request.query_params.get("website_id")
        if not website_id:
            return None, principal
        website = selectors.website_get(website_id=website_id)
        if website is None or website.source.project_id != principal.source.project_id:
            raise CredentialRejected("website_not_found", "Website not found")
        return None, TrackPrincipal(source=principal.source, credential=principal.credential, website=website)

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class ReadTokenAuthentication(BaseAuthentication):
    """Read API: ``Authorization: Bearer <token>`` with the ``read`` scope."""

    def authenticate(self, request: Request) -> tuple[None, ReadPrincipal] | None:
        presented = _authorization(request, "Bearer")
        if not presented:
            return None
        token = selectors.access_token_verify(presented=presented)
        if token is None or READ_SCOPE not in token.scopes:
            raise exceptions.AuthenticationFailed("Invalid or expired read token")
        services.credential_mark_used(credential=token)
        return None, ReadPrincipal(project=token.project, token=token)

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


def track_principal(request: Request) -> TrackPrincipal:
    """The writer behind a request that passed :class:`HasTrackCredential`."""
    principal = request.auth
    if not isinstance(principal, TrackPrincipal):
        raise exceptions.NotAuthenticated()
    return principal


def read_principal(request: Request) -> ReadPrincipal:
    """The reader behind a request that passed :class:`HasReadScope`."""
    principal = request.auth
    if not isinstance(principal, ReadPrincipal):
        raise exceptions.NotAuthenticated()
    return principal


class HasTrackCredential(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, TrackPrincipal)


class HasReadScope(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ReadPrincipal)

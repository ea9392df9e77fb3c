"""DRF authentication for the contract's credentials, shared by every endpoint.

Each class returns ``(None, principal)``: there is no Django user behind a producer or a
read token, only what the credential may touch. A credential that is present but wrong
raises :class:`CredentialRejected`; an absent one returns None so another class may try.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rest_framework import exceptions, permissions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from ingestion import selectors, services
from ingestion.credentials import READ_SCOPE, TRACK_EVENTS_SCOPE, TRACK_TOKEN_SCOPES, CredentialCheck
from ingestion.models import AccessToken, ApiKey, Project, Source, Website
from ingestion.selectors import VerifiedCredential


class CredentialRejected(exceptions.AuthenticationFailed):
    """``kind`` is ``invalid_credentials``, ``missing_scope``, ``website_not_found`` or
    ``origin_not_allowed``; each format maps it to a status (``credential_statuses``).
    ``source_id``: the source of a credential that exists but may not write this request
    (a website refusing the browser's origin, a token without its scopes, a key revoked,
    expired or sent with a wrong secret), under which the refusal is counted in the
    metrics, as the contract counts refused requests per source."""

    def __init__(self, kind: str, detail: str, *, source_id: int | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.source_id = source_id


@dataclass(frozen=True)
class TrackPrincipal:
    """Who may write: exactly one source."""

    source: Source
    credential: ApiKey | AccessToken | Website
    website: Website | None = None  # Databuddy: the ``?website_id=`` (its origins answer CORS)
    # Set when the credential came from this process's cache: the write must pass it.
    check: CredentialCheck | None = None

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
    # Split on any whitespace, not only the one space RFC 9110 asks for: a tab after the
    # scheme is read as DRF's own token authentication reads it (the scheme's case is
    # ignored too, as the RFC says).
    scheme, *rest = get_authorization_header(request).decode("latin-1").split(None, 1) or [""]
    if scheme.lower() != keyword.lower():
        return None
    return rest[0].strip() if rest else ""


def _track_principal(
    presented: str,
    *,
    verify: Callable[..., VerifiedCredential | None],
    admit: Callable[[VerifiedCredential], TrackPrincipal],
    invalid: str,
    invalid_kind: str = "invalid_credentials",
) -> TrackPrincipal:
    """The principal for ``presented``, verified by ``verify`` (a ``selectors.track_*_verify``)
    and judged by ``admit``, which raises CredentialRejected if it may not write here;
    ``invalid`` (of kind ``invalid_kind``) is the refusal of an unknown, wrong, revoked or
    expired credential.

    ``verify`` answers from this process's copy of the credential when it has one (no
    query); the write then checks the copy is still current (``CredentialCheck``). A copy
    only ever admits: a refusal is always decided on a fresh read, since the copy may
    predate a scope added or a source moved.
    """
    verified = verify(presented=presented, cached=True)
    if verified is not None and verified.check is not None:
        try:
            return admit(verified)
        except CredentialRejected:
            verified = verify(presented=presented, cached=False)
    if verified is None:
        # One more query, on refusals only: which source the refusal is counted under.
        raise CredentialRejected(
            invalid_kind, invalid, source_id=selectors.credential_source_id_get(presented=presented)
        )
    return admit(verified)


def _api_key_admit(verified: VerifiedCredential) -> TrackPrincipal:
    key = verified.credential
    if TRACK_EVENTS_SCOPE not in key.scopes:
        raise CredentialRejected(
            "missing_scope", f"API key missing {TRACK_EVENTS_SCOPE} scope", source_id=key.source_id
        )
    services.credential_mark_used(credential=key)
    return TrackPrincipal(source=key.source, credential=key, check=verified.check)


def _api_key_principal(
    presented: str, admit: Callable[[VerifiedCredential], TrackPrincipal] = _api_key_admit
) -> TrackPrincipal:
    return _track_principal(presented, verify=selectors.track_api_key_verify, admit=admit, invalid="Invalid API key")


def _intempt_principal(presented: str, request: Request) -> TrackPrincipal:
    """The principal for an Intempt API key, which must be of exactly the source in the
    path; on a path without a source (``/v1/{org}/projects/{project}/track``, Intempt's
    SDK without ``source_id``) the key's own source, in the path's org and project."""
    path = request.parser_context.get("kwargs", {}) if request.parser_context else {}

    def admit(verified: VerifiedCredential) -> TrackPrincipal:
        principal = _api_key_admit(verified)
        source = principal.source
        if (
            ("source_id" in path and str(source.id) != str(path["source_id"]))
            or source.project.name != path.get("project_name")
            or source.project.organization.name != path.get("org_name")
        ):
            raise CredentialRejected("invalid_credentials", "API key is not valid for this source")
        return principal

    return _api_key_principal(presented, admit)


class QueryApiKeyAuthentication(BaseAuthentication):
    """Intempt: ``?apiKey=identifier.secret``, valid only for the source in the path."""

    def authenticate(self, request: Request) -> tuple[None, TrackPrincipal] | None:
        presented = request.query_params.get("apiKey")
        if not presented:
            return None
        return None, _intempt_principal(presented, request)


def basic_api_key(header_value: str) -> str | None:
    """``identifier.secret`` from the credentials of ``Authorization: Basic``:
    base64 of ``identifier:secret``. None if they are not base64 of such a pair."""
    try:
        decoded = base64.b64decode(header_value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    identifier, colon, secret = decoded.partition(":")
    if not colon or not identifier or not secret:
        return None
    return f"{identifier}.{secret}"


class BasicApiKeyAuthentication(BaseAuthentication):
    """Intempt's SDKs: ``Authorization: Basic base64(identifier:secret)``, the same API key
    as ``?apiKey=`` (``pip install intempt`` sends only this header, never the query
    parameter). Valid only for the source in the path; ``?apiKey=``, when also sent, decides."""

    def authenticate(self, request: Request) -> tuple[None, TrackPrincipal] | None:
        encoded = _authorization(request, "Basic")
        if not encoded:
            return None
        presented = basic_api_key(encoded)
        if presented is None:
            raise CredentialRejected("invalid_credentials", "Invalid API key")
        return None, _intempt_principal(presented, request)

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="api"'


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
        principal = _track_principal(
            presented, verify=selectors.track_access_token_verify, admit=_track_token_admit,
            invalid="Access token missing or invalid",
        )  # fmt: skip
        return None, principal

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


def _track_token_admit(verified: VerifiedCredential) -> TrackPrincipal:
    token = verified.credential
    if token.source is None:  # a read token
        raise CredentialRejected("invalid_credentials", "Access token missing or invalid")
    if not TRACK_TOKEN_SCOPES.intersection(token.scopes):
        raise CredentialRejected(
            "missing_scope", "Access token missing track_api or telemetry_apis scope", source_id=token.source_id
        )
    services.credential_mark_used(credential=token)
    return TrackPrincipal(source=token.source, credential=token, check=verified.check)


def website_allowed_origin(website: Website, origin: str | None) -> str | None:
    """The ``Access-Control-Allow-Origin`` value for ``origin``: ``*`` when the website
    allows any origin (no list, or ``*`` in it), ``origin`` when listed, else None.

    Compared as browsers send them: in any case, without a final slash or the scheme's
    default port (``https://shop.example:443`` allows ``https://shop.example``); an entry
    ``https://*.example.com`` allows every subdomain of example.com (not example.com
    itself), on that scheme and port.
    """
    allowed = [_origin_normalized(entry) for entry in website.allowed_origins or []]
    if not allowed or "*" in allowed:
        return "*"
    if not origin:
        return None
    sent = _origin_normalized(origin)
    return origin if any(_origin_matches(entry, sent) for entry in allowed) else None


def _origin_matches(entry: str, origin: str) -> bool:
    """Whether the normalized ``origin`` is the normalized ``entry``, or one of its
    subdomains when ``entry`` is ``scheme://*.host[:port]``."""
    if origin == entry:
        return True
    scheme, wildcard, host = entry.partition("://*.")
    if not wildcard:
        return False
    sent_scheme, _, sent_host = origin.partition("://")
    return sent_scheme == scheme and sent_host.endswith(f".{host}") and "/" not in sent_host


_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _origin_normalized(origin: str) -> str:
    """``origin`` lower-cased, without a final slash or its scheme's default port."""
    value = origin.strip().rstrip("/").lower()
    default_port = _DEFAULT_PORTS.get(value.partition("://")[0])
    if default_port and value.endswith(default_port):
        value = value[: -len(default_port)]
    return value


class WebsiteAuthentication(BaseAuthentication):
    """Databuddy client-side: ``?website_id=<uuid>``.

    The website id is public (it sits in the page), so a browser's ``Origin`` must be one
    the website allows; requests without ``Origin`` (servers, curl) are not browsers.
    """

    def authenticate(self, request: Request) -> tuple[None, TrackPrincipal] | None:
        website_id = request.query_params.get("website_id")
        if not website_id:
            return None
        origin = request.headers.get("Origin")

        def admit(verified: VerifiedCredential) -> TrackPrincipal:
            website = verified.credential
            if origin and website_allowed_origin(website, origin) is None:
                raise CredentialRejected(
                    "origin_not_allowed", "Origin not allowed for this website", source_id=website.source_id
                )
            return TrackPrincipal(source=website.source, credential=website, website=website, check=verified.check)

        principal = _track_principal(
            website_id,
            verify=lambda presented, cached: selectors.track_website_get(website_id=presented, cached=cached),
            admit=admit, invalid="Website not found", invalid_kind="website_not_found",
        )  # fmt: skip
        return None, principal


class DatabuddyAuthentication(BaseAuthentication):
    """Databuddy: ``Authorization: Bearer <api key>`` or ``?website_id=``. With both, the key
    decides (its source receives the events) and the website must be of the key's project."""

    def authenticate(self, request: Request) -> tuple[None, TrackPrincipal] | None:
        presented = _authorization(request, "Bearer")
        if not presented:
            return WebsiteAuthentication().authenticate(request)
        website_id = request.query_params.get("website_id")

        def admit(verified: VerifiedCredential) -> TrackPrincipal:
            principal = _api_key_admit(verified)
            if not website_id:
                return principal
            website = selectors.website_get(website_id=website_id)
            if website is None or website.source.project_id != principal.source.project_id:
                raise CredentialRejected("website_not_found", "Website not found", source_id=principal.source.id)
            return dataclasses.replace(principal, website=website)

        return None, _api_key_principal(presented, admit)

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class ReadTokenAuthentication(BaseAuthentication):
    """Read API: ``Authorization: Bearer <token>`` with the ``read`` scope."""

    def authenticate(self, request: Request) -> tuple[None, ReadPrincipal] | None:
        presented = _authorization(request, "Bearer")
        if not presented:
            return None
        token = selectors.access_token_verify(presented=presented)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or expired read token")
        if READ_SCOPE not in token.scopes:
            # Still the contract's 401; the message tells the operator what to change.
            raise exceptions.AuthenticationFailed(
                f"This token lacks the {READ_SCOPE!r} scope: create one with --scope {READ_SCOPE}"
            )
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

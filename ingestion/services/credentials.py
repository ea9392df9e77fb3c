"""API keys and bearer tokens: creating and revoking them, and noting when they were used
(verifying a presented one is ``ingestion.selectors``')."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.utils import timezone

from ingestion.credentials import (
    ACCESS_TOKEN_PREFIX,
    API_KEY_PREFIX,
    READ_SCOPE,
    TRACK_EVENTS_SCOPE,
    TRACK_TOKEN_SCOPES,
    credential_generate,
)
from ingestion.models import AccessToken, ApiKey, Project, Source

# last_used_at is a hint for staff, not an audit log: write it at most this often, so
# the hot path does not update the credential row on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def credential_scopes_check(*, scopes: object, allowed: frozenset[str], what: str) -> None:
    """ValueError if ``scopes`` is not a list of strings or holds one that ``what`` can
    never use (a typo would make a credential that is refused on every request)."""
    if not isinstance(scopes, list | tuple) or not all(isinstance(scope, str) for scope in scopes):
        raise ValueError("scopes must be a list of strings")
    unknown = sorted(set(scopes) - allowed)
    if unknown:
        raise ValueError(f"{what} scopes are {', '.join(sorted(allowed))}; not {', '.join(unknown)}")


def api_key_check(*, scopes: object) -> None:
    """ValueError unless these are an API key's scopes: it has one possible scope, and a
    key without it could never be used (revoke a key to stop it)."""
    credential_scopes_check(scopes=scopes, allowed=frozenset({TRACK_EVENTS_SCOPE}), what="API key")
    if not scopes:
        raise ValueError(f"an API key needs the scope {TRACK_EVENTS_SCOPE}")


def credential_label_check(*, label: str) -> None:
    """ValueError for a label the database could not store (the admin's form refuses it
    itself; the commands pass it through)."""
    max_length = ApiKey._meta.get_field("label").max_length
    if max_length is not None and len(label) > max_length:
        raise ValueError(f"a label is at most {max_length} characters, not {len(label)}")


def credential_secret_issue(*, credential: ApiKey | AccessToken) -> str:
    """Give a credential not yet saved its identifier and the hash of a new secret; return
    ``identifier.secret``, which is shown only this once (the commands, the admin)."""
    parts, hashed = credential_generate(API_KEY_PREFIX if isinstance(credential, ApiKey) else ACCESS_TOKEN_PREFIX)
    credential.identifier, credential.secret_hash = parts.identifier, hashed
    return f"{parts.identifier}.{parts.secret}"


def api_key_create(
    *, source: Source, scopes: Sequence[str] = (TRACK_EVENTS_SCOPE,), label: str = ""
) -> tuple[ApiKey, str]:
    """A new API key and its ``identifier.secret``, which is shown only this once."""
    api_key_check(scopes=scopes)
    credential_label_check(label=label)
    key = ApiKey(source=source, scopes=list(scopes), label=label)
    presented = credential_secret_issue(credential=key)
    key.save()
    return key, presented


def access_token_check(*, project: Project, source: Source | None, scopes: object) -> None:
    """ValueError unless this is a token that can work: its source (if any) is of its
    project (a credential only ever writes into its own source and reads its own project),
    and its scopes are those of its kind."""
    if source is not None and source.project_id != project.id:
        raise ValueError("the source belongs to another project than the token's")
    if source is not None:
        credential_scopes_check(scopes=scopes, allowed=TRACK_TOKEN_SCOPES, what="A source's token")
    else:
        credential_scopes_check(scopes=scopes, allowed=frozenset({READ_SCOPE}), what="A project's token")


def access_token_create(
    *,
    project: Project,
    source: Source | None = None,
    scopes: Sequence[str] = (),
    expires_in: timedelta | None = None,
    label: str = "",
) -> tuple[AccessToken, str]:
    """A new bearer token (a track token when ``source`` is given, else a read token)."""
    access_token_check(project=project, source=source, scopes=scopes)
    credential_label_check(label=label)
    token = AccessToken(
        project=project,
        source=source,
        scopes=list(scopes),
        expires_at=timezone.now() + expires_in if expires_in else None,
        label=label,
    )
    presented = credential_secret_issue(credential=token)
    token.save()
    return token, presented


def credential_revoke(*, presented_or_identifier: str) -> tuple[ApiKey | AccessToken, bool] | None:
    """Revoke the key or token named by its full string or its identifier: the credential
    and whether this call revoked it (False: it already was), or None if there is none."""
    identifier = presented_or_identifier.strip().partition(".")[0]
    for model in (ApiKey, AccessToken):
        credential = model.objects.filter(identifier=identifier).first()
        if credential is not None:
            # Conditional, so two concurrent revocations agree on which one did it and the
            # first revocation time stays.
            revoked = model.objects.filter(pk=credential.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
            credential.refresh_from_db(fields=["revoked_at"])
            return credential, bool(revoked)
    return None


def credential_mark_used(*, credential: ApiKey | AccessToken) -> None:
    now = timezone.now()
    if credential.last_used_at is not None and now - credential.last_used_at < LAST_USED_RESOLUTION:
        return
    # A conditional UPDATE: concurrent requests race harmlessly to the same value.
    type(credential).objects.filter(pk=credential.pk).update(last_used_at=now)
    credential.last_used_at = now

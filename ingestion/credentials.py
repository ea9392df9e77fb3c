"""Credential strings: ``identifier.secret``, the secret stored as a SHA-256 hex digest.

Modelled on healthchecks' API keys: look the row up by its public identifier (a unique
index), then compare the secret's hash with ``hmac.compare_digest`` so the comparison
takes the same time whatever the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import NamedTuple

# What each kind of credential may be granted (the contract's scopes).
TRACK_EVENTS_SCOPE = "track:events"  # API keys: Intempt, Databuddy, Userpilot
TRACK_TOKEN_SCOPES = frozenset({"track_api", "telemetry_apis"})  # a source's bearer token: ThriveStack
READ_SCOPE = "read"  # a project's bearer token: the read API


API_KEY_PREFIX = "key_"
ACCESS_TOKEN_PREFIX = "tok_"


class CredentialParts(NamedTuple):
    identifier: str
    secret: str


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(secret_hash(secret), stored_hash)


def credential_generate(prefix: str) -> tuple[CredentialParts, str]:
    """A fresh ``(identifier, secret)`` and the hash to store."""
    parts = CredentialParts(prefix + secrets.token_hex(8), secrets.token_urlsafe(32))
    return parts, secret_hash(parts.secret)


def credential_split(presented: str) -> CredentialParts | None:
    """``identifier.secret`` split at the first dot; None if it is not of that form."""
    identifier, dot, secret = presented.strip().partition(".")
    # A NUL is in no identifier, and looking one up would make PostgreSQL refuse the
    # query (a 400 for the body) instead of the 401 an unknown credential gets; Intempt's
    # key comes in the query string, where %00 is easy to send.
    if not dot or not identifier or not secret or len(identifier) > 64 or "\x00" in identifier:
        return None
    return CredentialParts(identifier, secret)


class CredentialCheck(NamedTuple):
    """What a write must verify, in its own statement, when its credential came from this
    process's cache rather than from the database: ``sql`` is a boolean SQL expression
    (parameters ``%(credential_id)s`` and ``%(fingerprint)s``), true while the credential
    is unrevoked and its rows (tenant and scopes included) are unchanged since they were
    read. So a revocation stops every process's next write at once, with no message to
    deliver to them.
    """

    sql: str
    credential_id: int | uuid.UUID  # a website's id is a UUID
    fingerprint: str

    @property
    def params(self) -> dict[str, object]:
        return {"credential_id": self.credential_id, "fingerprint": self.fingerprint}


class CredentialChanged(Exception):
    """The cached credential failed its ``CredentialCheck``: nothing was written; read the
    credential afresh (it may now be refused) and try once more."""

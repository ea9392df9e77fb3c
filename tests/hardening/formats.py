"""The four track endpoints as a client sees them, for tests that run across formats.

Every format and read path is always exercised: one whose URL stops resolving fails the
tests that use it (a 404 where they expect an answer) instead of silently dropping out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import wire
from tests.conftest import Tenant

FIXED_TS_MS = wire.FIXED_TS_MS


def _intempt_error(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("errors"), list)
        and all(isinstance(item, dict) and isinstance(item.get("message"), str) for item in body["errors"])
    )


def _thrivestack_error(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and body.get("success") is False
        and isinstance(body.get("response_id"), str)
        and isinstance(body.get("message"), str)
    )


def _databuddy_error(body: Any) -> bool:
    return isinstance(body, dict) and body.get("status") == "error" and isinstance(body.get("message"), str)


def _userpilot_error(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("errors"), list)
        and all(isinstance(item, dict) and "message" in item for item in body["errors"])
    )


@dataclass(frozen=True)
class TrackFormat:
    name: str
    path: Callable[[Tenant], str]
    headers: Callable[[Tenant], dict[str, str]]  # HTTP header name -> value
    build: Callable[[list[dict[str, Any]]], Any]
    is_error: Callable[[Any], bool]
    batch: bool = True  # accepts more than one event per request
    deduplicates: bool = True  # False: no event id or timestamp, every request is new (contract)
    success_status: int = 200

    def url(self, tenant: Tenant) -> str:
        return self.path(tenant)

    def body(self, events: list[dict[str, Any]]) -> bytes:
        return json.dumps(self.build(events)).encode()

    def client_headers(self, tenant: Tenant) -> dict[str, str]:
        """For Django's test client: ``HTTP_<NAME>`` keys."""
        return {f"HTTP_{key.upper().replace('-', '_')}": value for key, value in self.headers(tenant).items()}


ALL_FORMATS = [
    TrackFormat("intempt", lambda t: t.intempt_url, lambda t: {}, wire.intempt, _intempt_error),
    TrackFormat(
        "thrivestack",
        lambda t: "/api/track",
        lambda t: {"Authorization": f"Bearer {t.bearer_token}"},
        wire.thrivestack,
        _thrivestack_error,
    ),
    TrackFormat(
        "databuddy",
        lambda t: "/track",
        lambda t: {"Authorization": f"Bearer {t.api_key}"},
        wire.databuddy,
        _databuddy_error,
    ),
    TrackFormat(
        "userpilot",
        lambda t: "/v1/track",
        lambda t: {"Authorization": f"Token {t.api_key}"},
        wire.userpilot,
        _userpilot_error,
        deduplicates=False,
        success_status=202,
    ),
]


def present_formats() -> list[TrackFormat]:
    """Every format of the contract, wired or not: a routing regression must fail tests,
    not shrink what they cover. (The name is kept for the modules that import it.)"""
    return list(ALL_FORMATS)


def event_specs(n: int, *, prefix: str = "evt", user: str = "user-1") -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{i}", "user": user, "props": {"i": i}} for i in range(n)]


def post(client: Any, fmt: TrackFormat, tenant: Tenant, body: bytes | str, **extra: Any) -> Any:
    content_type = extra.pop("content_type", "application/json")
    return client.post(fmt.url(tenant), data=body, content_type=content_type, **fmt.client_headers(tenant), **extra)


def response_json(response: Any) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


# Read API list endpoints of the contract; all of them are tried, wired or not.
READ_LIST_PATHS = [
    "/api/v1/events/",
    "/api/v1/rejected-events/",
    "/api/v1/profiles/",
    "/api/v1/accounts/",
    "/api/v1/events/export.ndjson",
    "/api/v1/events/export.csv",
]

READ_PATHS = list(READ_LIST_PATHS)

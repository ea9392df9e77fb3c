"""The four track endpoints as a client sees them, for tests that run across formats.

A format is exercised only once its endpoint is wired (``present``), so these tests
grow with the formats that land on main.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import Resolver404, resolve

from bench import wire
from ingestion.views import TrackView
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

    @property
    def present(self) -> bool:
        sample = "/org/projects/p/sources/1/track" if self.name == "intempt" else self.path(_FakeTenant())
        try:
            match = resolve(sample.split("?")[0])
        except Resolver404:
            return False
        view_class = getattr(match.func, "view_class", None)
        return view_class is not None and issubclass(view_class, TrackView)


class _FakeTenant:
    api_key = bearer_token = website_id = "x"

    @property
    def intempt_url(self) -> str:
        return "/org/projects/p/sources/1/track?apiKey=x"


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
    return [fmt for fmt in ALL_FORMATS if fmt.present]


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


# Read API list endpoints of the contract; only those wired on this branch are tried.
READ_LIST_PATHS = [
    "/api/v1/events/",
    "/api/v1/rejected-events/",
    "/api/v1/profiles/",
    "/api/v1/accounts/",
    "/api/v1/events/export.ndjson",
    "/api/v1/events/export.csv",
]


def wired(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


READ_PATHS = [path for path in READ_LIST_PATHS if wired(path)]

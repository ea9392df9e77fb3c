"""How to talk to each of the ThriveStack, Databuddy and Userpilot endpoints in a test.

The shared rules (limits, gzip, event- versus request-level errors, credentials) are
tested once, parametrized over these specs, in ``test_track_formats.py``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.conftest import Tenant


@dataclass(frozen=True)
class FormatSpec:
    name: str
    path: str
    success_status: int
    authorization: Callable[[Tenant], str]
    event: Callable[[int], dict[str, Any]]  # a valid event, distinct per number
    invalid_event: dict[str, Any]  # an event with exactly one event-level problem
    invalid_field: str
    scope_failure_status: int = 401

    def post(self, client: Any, tenant: Tenant, body: Any, *, authorization: str | None = None, **extra: Any) -> Any:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"HTTP_AUTHORIZATION": self.authorization(tenant) if authorization is None else authorization}
        if not headers["HTTP_AUTHORIZATION"]:
            headers = {}
        return client.post(self.path, data=data, content_type="application/json", **headers, **extra)

    def post_gzip(self, client: Any, tenant: Tenant, raw: bytes) -> Any:
        return self.post(client, tenant, gzip.compress(raw), HTTP_CONTENT_ENCODING="gzip")

    def problems(self, response: Any) -> list[dict[str, Any]]:
        """The ``{"index", "field", "message"}`` items of a 400 or of ``rejected``."""
        body = response.json()
        items = body.get("errors") or body.get("rejected") or []
        return [{key: item[key] for key in ("index", "field", "message") if key in item} for item in items]


THRIVESTACK = FormatSpec(
    name="thrivestack",
    path="/api/track",
    success_status=200,
    authorization=lambda tenant: f"Bearer {tenant.bearer_token}",
    event=lambda n: {
        "event_name": "signed_up",
        "user_id": f"user-{n}",
        "timestamp": "2023-11-20T22:28:55.111Z",
        "properties": {"n": n},
    },
    invalid_event={"event_name": "signed_up", "user_id": "", "timestamp": "2023-11-20T22:28:55.111Z"},
    invalid_field="user_id",
)

DATABUDDY = FormatSpec(
    name="databuddy",
    path="/track",
    success_status=200,
    authorization=lambda tenant: f"Bearer {tenant.api_key}",
    event=lambda n: {"name": "button_clicked", "anonymousId": f"anon-{n}", "timestamp": 1714631904000 + n},
    invalid_event={"name": "x" * 257},
    invalid_field="name",
    scope_failure_status=403,
)

USERPILOT = FormatSpec(
    name="userpilot",
    path="/v1/track",
    success_status=202,
    authorization=lambda tenant: f"Token {tenant.api_key}",
    event=lambda n: {"user_id": f"user-{n}", "event_name": "schedule_appointment", "metadata": {"n": n}},
    invalid_event={"user_id": "user-1"},
    invalid_field="event_name",
)

FORMATS = [THRIVESTACK, DATABUDDY, USERPILOT]


def error_message(spec: FormatSpec, response: Any) -> str:
    """The human-readable text of an error answer, whatever the format's shape."""
    body = response.json()
    if spec is USERPILOT:
        return " ".join(f"{item['message']} {item['details']}" for item in body["errors"])
    extra = " ".join(item["message"] for item in body.get("errors", []))
    return f"{body['message']} {extra}"


def assert_error_shape(spec: FormatSpec, response: Any) -> None:
    body = response.json()
    if spec is THRIVESTACK:
        assert body["success"] is False
        assert isinstance(body["message"], str) and body["message"]
        assert body["response_id"]
    elif spec is DATABUDDY:
        assert body["status"] == "error"
        assert isinstance(body["message"], str) and body["message"]
    else:
        assert body["errors"]
        for item in body["errors"]:
            assert {"details", "error", "error_code", "message"} <= set(item)

"""Request bodies per wire format: the one place that knows how each format is sent.

Every event carries a unique id (or unique content, for formats that derive the id), so
nothing the benchmark sends is a duplicate and every acknowledged event must be stored.
A format is benchmarked when its URL (``url_name``) exists in ``ingestion.urls``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

NOW_MS = int(datetime.now(UTC).timestamp() * 1000)


@dataclass(frozen=True)
class Credentials:
    org: str
    project: str
    source_id: int
    api_key: str
    bearer_token: str
    website_id: str


@dataclass(frozen=True)
class WireFormatLoad:
    wire_format: str
    url_name: str
    path: Callable[[Credentials], str]
    headers: Callable[[Credentials], dict[str, str]]
    # (events of the request, tag unique to the request) -> the JSON document
    document: Callable[[int, str], Any]
    success_status: int = 200

    def body(self, count: int, tag: str) -> bytes:
        return orjson.dumps(self.document(count, tag))


def _props(tag: str, n: int) -> dict[str, Any]:
    return {"plan": "pro", "amount": 19.99, "currency": "EUR", "items": n % 5 + 1, "path": f"/checkout/{tag}/{n}"}


def _intempt(count: int, tag: str) -> Any:
    payload = [
        {
            "eventId": f"{tag}-{n}",
            "userId": f"user-{n % 1000}@example.com",
            "profileId": f"profile-{n % 1000}",
            "timestamp": NOW_MS - n,
            "sessionId": f"session-{tag}",
            "pageId": "checkout",
            "data": _props(tag, n),
        }
        for n in range(count)
    ]
    return {"track": [{"name": "bench_purchase", "payload": payload}]}


def _thrivestack(count: int, tag: str) -> Any:
    ts = datetime.fromtimestamp(NOW_MS / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [
        {
            "event_name": "bench_purchase",
            "properties": _props(tag, n),
            "user_id": f"user-{n % 1000}",
            "timestamp": ts,
            "context": {"group_id": f"account-{n % 50}", "device_id": f"device-{tag}"},
        }
        for n in range(count)
    ]


def _databuddy(count: int, tag: str) -> Any:
    return [
        {
            "name": "bench_purchase",
            "anonymousId": f"anon-{n % 1000}",
            "sessionId": f"session-{tag}",
            "timestamp": NOW_MS - n,
            "properties": _props(tag, n),
        }
        for n in range(count)
    ]


def _userpilot(count: int, tag: str) -> Any:
    return [
        {"user_id": f"user-{n % 1000}", "event_name": "bench_purchase", "metadata": _props(tag, n)}
        for n in range(count)
    ]


LOADS = [
    WireFormatLoad(
        wire_format="intempt",
        url_name="track-intempt",
        path=lambda c: f"/{c.org}/projects/{c.project}/sources/{c.source_id}/track?apiKey={c.api_key}",
        headers=lambda c: {},
        document=_intempt,
    ),
    WireFormatLoad(
        wire_format="thrivestack",
        url_name="track-thrivestack",
        path=lambda c: "/api/track",
        headers=lambda c: {"Authorization": f"Bearer {c.bearer_token}"},
        document=_thrivestack,
    ),
    WireFormatLoad(
        wire_format="databuddy",
        url_name="track-databuddy",
        path=lambda c: "/track",
        headers=lambda c: {"Authorization": f"Bearer {c.api_key}"},
        document=_databuddy,
    ),
    WireFormatLoad(
        wire_format="userpilot",
        url_name="track-userpilot",
        path=lambda c: "/v1/track",
        headers=lambda c: {"Authorization": f"Token {c.api_key}"},
        document=_userpilot,
        success_status=202,
    ),
]


def loads_available(url_names: set[str]) -> list[WireFormatLoad]:
    """The formats whose track URL this TrackHub has."""
    return [load for load in LOADS if load.url_name in url_names]


def copy_rows(count: int, tag: str, *, project_id: int, source_id: int) -> list[tuple[Any, ...]]:
    """The rows TrackHub stores for an Intempt request of ``count`` events, for the COPY
    ceiling: same columns (``COPY_COLUMNS`` order), same sizes, the JSON columns as dicts."""
    received = datetime.now(UTC)
    rows = []
    for item in _intempt(count, tag)["track"][0]["payload"]:
        rows.append(
            (
                project_id, source_id, "intempt", "bench_purchase", None, item["eventId"],
                datetime.fromtimestamp(item["timestamp"] / 1000, UTC), received, item["userId"],
                item["profileId"], None, None, item["sessionId"], item["pageId"], item["userId"],
                item["data"], {},
            )
        )  # fmt: skip
    return rows


COPY_COLUMNS = (
    "project_id, source_id, wire_format, name, namespace, event_id, timestamp, received_at, user_id, profile_id, "
    "anonymous_id, account_id, session_id, page_id, identity_key, properties, context"
)
# Their types, for a binary COPY (``psycopg.Copy.set_types``).
COPY_TYPES = (
    "int8", "int8", "varchar", "text", "text", "text", "timestamptz", "timestamptz", "text", "text", "text",
    "text", "text", "text", "text", "jsonb", "jsonb",
)  # fmt: skip

"""Request bodies of the four wire formats, for load runs and cross-format tests.

Each event spec is ``{"id": str, "user": str, "props": dict}``; the id is also put in the
properties as ``marker`` so a stored event can be found whatever the format calls ids.
"""

from __future__ import annotations

from typing import Any

FIXED_TS_MS = 1714631904000
FIXED_TS_ISO = "2024-05-02T06:38:24.000Z"
EVENT_NAME = "hardening_event"


def _props(event: dict[str, Any]) -> dict[str, Any]:
    return {**event["props"], "marker": event["id"]}


def intempt(events: list[dict[str, Any]]) -> Any:
    payload = [{"eventId": e["id"], "userId": e["user"], "timestamp": FIXED_TS_MS, "data": _props(e)} for e in events]
    return {"track": [{"name": EVENT_NAME, "payload": payload}]}


def thrivestack(events: list[dict[str, Any]]) -> Any:
    return [
        {
            "event_name": EVENT_NAME,
            "user_id": e["user"],
            "timestamp": FIXED_TS_ISO,
            "properties": _props(e),
            "context": {"group_id": "acct-1"},
        }
        for e in events
    ]


def databuddy(events: list[dict[str, Any]]) -> Any:
    return [
        {
            "name": EVENT_NAME,
            "eventId": e["id"],
            "anonymousId": e["user"],
            "timestamp": FIXED_TS_MS,
            "properties": _props(e),
        }
        for e in events
    ]


def userpilot(events: list[dict[str, Any]]) -> Any:
    bodies = [{"user_id": e["user"], "event_name": EVENT_NAME, "metadata": _props(e)} for e in events]
    return bodies[0] if len(bodies) == 1 else bodies


BUILDERS = {"intempt": intempt, "thrivestack": thrivestack, "databuddy": databuddy, "userpilot": userpilot}
# Formats without event ids or timestamps: a resent request is a new event (contract), so
# a load run must not count a retry of theirs as a duplicate.
NOT_DEDUPLICATED = {"userpilot"}
SUCCESS_STATUS = {"intempt": 200, "thrivestack": 200, "databuddy": 200, "userpilot": 202}


def path_and_headers(wire_format: str, creds: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The endpoint and auth headers for ``provision --json`` credentials."""
    if wire_format == "intempt":
        path = (
            f"/{creds['org']}/projects/{creds['project']}/sources/{creds['source_id']}/track?apiKey={creds['api_key']}"
        )
        return path, {}
    if wire_format == "thrivestack":
        return "/api/track", {"Authorization": f"Bearer {creds['bearer_token']}"}
    if wire_format == "databuddy":
        return "/track", {"Authorization": f"Bearer {creds['api_key']}"}
    return "/v1/track", {"Authorization": f"Token {creds['api_key']}"}

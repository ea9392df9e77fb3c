"""Helpers for identity tests: post Intempt bodies and drain the identity outbox."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from profiles.services import identity_work_sweep


def intempt_post(client: Any, tenant: Any, *items: dict[str, Any], name: str = "Purchase") -> None:
    """POST one Intempt request with ``items`` as the payload of one event group."""
    body = json.dumps({"track": [{"name": name, "payload": list(items)}]})
    response = client.post(tenant.intempt_url, data=body, content_type="application/json")
    assert response.status_code == 200, response.content


def identity_drain() -> int:
    """Run the sweep over everything pending, as the periodic task does."""
    return identity_work_sweep(older_than=timedelta(0))

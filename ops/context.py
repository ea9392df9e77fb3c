"""The current request's id, readable by log filters anywhere in the call stack."""

from __future__ import annotations

import contextvars
import uuid

from django.http import HttpRequest

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trackhub_request_id", default=None)


def request_uuid(request: HttpRequest) -> str:
    """The request's id (``RequestIdMiddleware``'s: the client's ``X-Request-ID`` or a new
    one) where it is a UUID, else a new UUID: for answers whose id is documented as one
    (ThriveStack's ``response_id``)."""
    try:
        return str(uuid.UUID(getattr(request, "request_id", "")))
    except ValueError:
        return str(uuid.uuid4())

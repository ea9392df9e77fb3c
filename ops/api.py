"""The read API's answer when its database cannot be reached: 503 with ``Retry-After``
(as the track endpoints answer, contract: errors), never a 500."""

from __future__ import annotations

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus: a lost or refused database connection (the primary, or the
    replica of ``DATABASE_REPLICA_URL``, restarting or down) is a 503 the client may retry."""
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc)
        return Response(
            {"detail": "The database is unavailable; retry later."},
            status=503,
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    return drf_exception_handler(exc, context)

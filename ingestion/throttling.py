"""Per-credential rate limit (``TRACKHUB_RATE_LIMIT`` requests per minute), kept in Redis.

A fixed one-minute window per credential: one pipelined INCR + EXPIRE round trip per
request, shared by every process. If Redis cannot be reached the request is let
through (fail open) and a warning is logged at most once per ``_WARN_EVERY`` seconds:
ingestion must not stop because the rate-limit store is down. Without REDIS_URL (the
embedded setup: one process) the counters live in that process.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from ingestion.authentication import ReadPrincipal, TrackPrincipal
from trackhub.redis import redis_client

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
_WARN_EVERY = 30.0
_KEY_PREFIX = "trackhub:ratelimit"


class _Store:
    """The window counter: Redis when configured, else a dict in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local: dict[str, int] = {}
        self._last_warning = 0.0

    def hit(self, key: str, window: int) -> int | None:
        """The count for ``key`` in this window after this hit; None if the store is down."""
        client = redis_client()
        if client is None:
            with self._lock:
                if len(self._local) > 100_000:  # old windows: keep memory bounded
                    self._local.clear()
                self._local[key] = self._local.get(key, 0) + 1
                return self._local[key]
        try:
            pipe = client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, window * 2)
            count, _ = pipe.execute()
            return int(count)
        except redis.RedisError as exc:
            now = time.monotonic()
            if now - self._last_warning > _WARN_EVERY:
                self._last_warning = now
                logger.warning("rate limit store unavailable, letting requests through: %s", exc)
            return None


_store = _Store()


def credential_key(auth: Any) -> str | None:
    """What is limited: the credential (key, token or website), never a client address."""
    if isinstance(auth, TrackPrincipal):
        credential = auth.credential
        return f"{type(credential).__name__.lower()}:{getattr(credential, 'identifier', None) or credential.pk}"
    if isinstance(auth, ReadPrincipal):
        return f"accesstoken:{auth.token.identifier}"
    return None


class CredentialRateThrottle(BaseThrottle):
    """DRF throttle for the track endpoints and the read API; runs after authentication."""

    def allow_request(self, request: Request, view: Any) -> bool:
        limit = settings.TRACKHUB_RATE_LIMIT
        self._wait: float | None = None
        if limit <= 0:
            return True
        credential = credential_key(request.auth)
        if credential is None:
            return True  # unauthenticated requests are refused by permissions anyway
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        count = _store.hit(f"{_KEY_PREFIX}:{credential}:{window}", WINDOW_SECONDS)
        if count is None or count <= limit:
            return True
        self._wait = (window + 1) * WINDOW_SECONDS - now
        return False

    def wait(self) -> float | None:
        return max(1.0, self._wait) if self._wait is not None else None

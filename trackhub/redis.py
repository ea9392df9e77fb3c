"""The one Redis client of a process (rate limits, the identity work flag), or None
when ``REDIS_URL`` is not set (the embedded setup)."""

from __future__ import annotations

import threading

import redis
from django.conf import settings

_lock = threading.Lock()
_client: redis.Redis | None = None
_client_url = ""


def redis_client() -> redis.Redis | None:
    """A pooled client with short timeouts: a slow or dead Redis must not hold a request
    up, and every caller treats ``redis.RedisError`` as "Redis is unavailable"."""
    global _client, _client_url
    url = settings.REDIS_URL
    if not url:
        return None
    if _client is None or _client_url != url:
        with _lock:
            if _client is None or _client_url != url:
                _client = redis.Redis.from_url(
                    url, socket_connect_timeout=0.25, socket_timeout=0.25, health_check_interval=30
                )
                _client_url = url
    return _client

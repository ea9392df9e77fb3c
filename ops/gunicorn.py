"""A gunicorn logger whose access and error logs never show a query-string API key, and
the worker's heartbeat for answers that stream for longer than GUNICORN_TIMEOUT."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gunicorn.glogging import Logger

from ops.logging import ApiKeyScrubFilter, scrub


class _ErrorLogScrubFilter(ApiKeyScrubFilter):
    """``ApiKeyScrubFilter`` (the message with its arguments), and a traceback's text too:
    gunicorn's formatter writes it as it is, where ours (``JsonFormatter``) scrubs it."""

    def filter(self, record: logging.LogRecord) -> bool:
        super().filter(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        return True


class ScrubbingLogger(Logger):
    """Every access-log atom (request line, query, referer, ...) goes through ``scrub``;
    so does every error-log record, whatever its level.

    The error log was scrubbed only for ``error()`` and ``exception()``, and there only the
    message, not its arguments. gunicorn reports a malformed request line with
    ``warning()``, quoting the line: an Intempt URL with a space in it (an organization
    named "Acme Corp", typed unencoded) put the producer's API key in the log in full on
    every request. And an error escaping the app is ``exception("... %s", req.uri)``.
    A filter on the logger sees each record with its arguments, at any level.
    """

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        # One filter, however many loggers a process builds (gunicorn's logger is global).
        if not any(isinstance(existing, _ErrorLogScrubFilter) for existing in self.error_log.filters):
            self.error_log.addFilter(_ErrorLogScrubFilter())

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: scrub(value) if isinstance(value, str) else value for key, value in atoms.items()}


_heartbeat: Callable[[], None] | None = None


def worker_heartbeat_register(*, notify: Callable[[], None]) -> None:
    """Keep the gunicorn worker's ``notify`` for ``worker_heartbeat`` (gunicorn.conf.py's
    ``post_worker_init``)."""
    global _heartbeat
    _heartbeat = notify


def worker_heartbeat() -> None:
    """Tell gunicorn's master that this worker is alive and making progress.

    A sync worker tells it only between requests, so the master killed any worker one
    request kept busy for GUNICORN_TIMEOUT (30 s): an export of a few hundred thousand
    events was cut off there, mid-stream. The export calls this for every chunk it sends:
    a stream that moves is never killed, one that stops (a client no longer reading) still
    is. Outside gunicorn it does nothing.
    """
    if _heartbeat is not None:
        _heartbeat()

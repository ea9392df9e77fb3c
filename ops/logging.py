"""Structured JSON log lines and the filters every handler carries (see LOGGING in settings).

``ApiKeyScrubFilter`` removes credentials that arrive in URLs (Intempt's ``?apiKey=``, and
anything shaped like a TrackHub key or token) from any log record, whatever logger
produced it: Django's request and server loggers print the request line with its query
string.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from ops.context import request_id_var

SCRUBBED = "[scrubbed]"
# apiKey=..., api_key=... and the same inside JSON-ish text ("apiKey": "...").
_SECRET_IN_QUERY = re.compile(r"(?i)((?:api_?key)=)[^&\s\"'#]+")

_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "request_id"}


# A TrackHub credential wherever it is, by its shape (``credentials.credential_generate``:
# ``key_`` or ``tok_``, 16 hex digits, a dot, the secret): the parameter name above misses
# one sent as ``ap%69Key=`` (Django decodes the name, so the key is accepted), or in a
# mangled query (``apiKey%3D...``), or anywhere else a message quotes it. The identifier
# is kept (it says which credential it was); the dot may come percent-encoded too.
_CREDENTIAL = re.compile(r"((?:key|tok)_[0-9a-f]{16})(?:\.|%2[eE])[A-Za-z0-9_-]+")


def scrub(text: str) -> str:
    """``text`` with every ``apiKey=<value>`` query value replaced by ``[scrubbed]``, and
    the secret of every TrackHub credential in it too."""
    lowered = text.lower()
    if "pi" in lowered:  # cheap pre-check: no "api" in it, no such parameter
        text = _SECRET_IN_QUERY.sub(rf"\1{SCRUBBED}", text)
    if "key_" in lowered or "tok_" in lowered:  # likewise for a credential's shape
        text = _CREDENTIAL.sub(rf"\1.{SCRUBBED}", text)
    return text


class ApiKeyScrubFilter(logging.Filter):
    """Rewrite the record's message so no query-string API key reaches any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the formatter to report
            return True
        scrubbed = scrub(message)
        if scrubbed != message:
            record.msg = scrubbed
            record.args = None
        # Django's request loggers attach the request; its repr carries the full URL.
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, str):
            record.request = scrub(repr(request))
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs a response's status after the middleware has returned: the id is then
        # found on the request the record carries.
        record.request_id = request_id_var.get() or getattr(getattr(record, "request", None), "request_id", None)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                line[key] = value if isinstance(value, str | int | float | bool | None) else repr(value)
        if record.exc_info:
            line["exc"] = scrub(self.formatException(record.exc_info))
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """``TRACKHUB_LOG_FORMAT=text``: one line per record, its message's line breaks written
    as ``\\n``. A message quotes what clients sent (a path holding ``%0A``, decoded, a
    header): taken as it came, it could start a line of its own that reads as another
    record. A traceback, appended after the message, keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return super().formatMessage(record).replace("\r", "\\r").replace("\n", "\\n")

"""The current request's id, readable by log filters anywhere in the call stack."""

from __future__ import annotations

import contextvars

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trackhub_request_id", default=None)

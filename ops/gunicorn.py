"""A gunicorn logger whose access log never shows a query-string API key."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from ops.logging import scrub


class ScrubbingLogger(Logger):
    """Every access-log atom (request line, query, referer, ...) goes through ``scrub``;
    error-log lines too (gunicorn prints the request line on a bad request)."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: scrub(value) if isinstance(value, str) else value for key, value in atoms.items()}

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        super().error(scrub(str(msg)), *args, **kwargs)

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        super().exception(scrub(str(msg)), *args, **kwargs)

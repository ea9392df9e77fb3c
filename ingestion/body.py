"""Reading a track request's body within the contract's limits, before parsing it."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from django.http import HttpRequest

from ingestion.canonical import ascii_digits
from ingestion.formats.base import RequestProblem

_CHUNK = 64 * 1024


def body_read(request: HttpRequest, *, limit: int) -> bytes:
    """The request body, gunzipped if ``Content-Encoding: gzip``, at most ``limit`` bytes.

    Reading stops as soon as the limit is passed, so an oversized body (or a gzip bomb)
    costs at most ``limit`` bytes of memory and is refused before anything parses it.
    """
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip"):
        raise RequestProblem(f"Unsupported Content-Encoding {encoding!r}; use gzip or none", status=415)
    gzipped = encoding in ("gzip", "x-gzip")
    declared = request.META.get("CONTENT_LENGTH") or ""
    if not gzipped and ascii_digits(declared) and int(declared) > limit:
        raise _too_large(limit)

    stream: Any = request
    if not declared and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        # Without Content-Length Django reads nothing (its stream is limited to length 0);
        # the WSGI server has already undone the chunking, so read its input to the end.
        stream = request.META["wsgi.input"]

    raw = bytearray()
    decompressor = zlib.decompressobj(wbits=31) if gzipped else None
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        if decompressor is None:
            raw += chunk
        else:
            try:
                raw += decompressor.decompress(chunk, limit + 1 - len(raw))
            except zlib.error as exc:
                raise RequestProblem("The body is not valid gzip") from exc
        if len(raw) > limit:
            raise _too_large(limit)
    if decompressor is not None:
        if not decompressor.eof and raw:
            raise RequestProblem("The gzip body is truncated")
        if decompressor.unconsumed_tail:
            raise _too_large(limit)
    return bytes(raw)


def _too_large(limit: int) -> RequestProblem:
    return RequestProblem(f"The body is larger than {limit} bytes (after decompression)", kind="too_large")


def json_decode(body: bytes) -> Any:
    """Parse JSON strictly (UTF-8, no NaN or Infinity); RequestProblem if it is not JSON."""
    if not body.strip():
        raise RequestProblem("The body is empty; send JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestProblem(f"The body is not valid JSON: {exc}") from exc


NUL = "\x00"


def nul_field(value: Any, path: str = "") -> str | None:
    """The path of the first string (value or key) in ``value`` holding a NUL character,
    which PostgreSQL text and jsonb cannot store; None if there is none.

    Callers run it only when the raw body contains ``\\u0000``, so clean traffic pays
    nothing for it.
    """
    if isinstance(value, str):
        return path or "value" if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if NUL in key:
                return child.replace(NUL, "\\u0000")
            found = nul_field(item, child)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = nul_field(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def nul_replaced(value: Any) -> Any:
    """``value`` with each NUL character replaced by U+FFFD, so a refused event can be kept."""
    if isinstance(value, str):
        return value.replace(NUL, "\ufffd")
    if isinstance(value, dict):
        return {nul_replaced(key): nul_replaced(item) for key, item in value.items()}
    if isinstance(value, list):
        return [nul_replaced(item) for item in value]
    return value

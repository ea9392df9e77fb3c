"""Reading a track request's body within the contract's limits, before parsing it."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from django.http import HttpRequest

from ingestion.canonical import ascii_digits, digits_parse, json_with_lone_surrogates_decode
from ingestion.formats.base import RequestProblem

_CHUNK = 64 * 1024


def gzip_read_limit(limit: int) -> int:
    """The most compressed bytes a gzip body within ``limit`` decompressed bytes can take.

    An encoder adds a few bytes per deflate block (5 for a stored one, which holds up to
    64 KiB) and 18 per gzip member (a client gzipping in parts), so this is generous for
    any real body, even of random bytes. A stream past it is padding that inflates to
    (almost) nothing, empty blocks or empty members, which would otherwise hold a web
    worker for as long as the client kept sending: it is refused as too large.
    """
    return limit + limit // 1000 + _CHUNK


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
    read_limit = gzip_read_limit(limit) if gzipped else limit
    if ascii_digits(declared):
        # A length of more digits than any limit has is too large without int(), which
        # refuses more than 4,300 digits.
        length = digits_parse(declared.lstrip("0") or "0", max_digits=len(str(read_limit)))
        if length is None or length > read_limit:
            raise body_too_large(limit)

    stream: Any = request
    if not declared and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        # Without Content-Length Django reads nothing (its stream is limited to length 0);
        # the WSGI server has already undone the chunking, so read its input to the end.
        stream = request.META["wsgi.input"]

    raw = bytearray()
    gunzip = _Gunzip() if gzipped else None
    compressed = 0
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        if gunzip is None:
            raw += chunk
        else:
            compressed += len(chunk)
            if compressed > read_limit:
                raise body_too_large(limit)
            # One byte over the limit at most: enough to know it is too large.
            raw += gunzip.feed(chunk, max_length=limit + 1 - len(raw))
        if len(raw) > limit:
            raise body_too_large(limit)
    # Bytes were sent but the gzip stream never ended (cut short, or too short to hold
    # even its header): truncated, not the empty body it may have decoded to so far.
    if gunzip is not None and not gunzip.complete and compressed:
        raise RequestProblem("The gzip body is truncated")
    return bytes(raw)


class _Gunzip:
    """Gzip decoding as ``gunzip`` does it: a stream may hold several gzip members one after
    another (concatenated .gz files, a client gzipping in parts), each decoded in turn;
    anything else after a member is an error, never silently dropped."""

    def __init__(self) -> None:
        self._member = zlib.decompressobj(wbits=31)

    @property
    def complete(self) -> bool:
        return self._member.eof

    def feed(self, data: bytes, *, max_length: int) -> bytes:
        """What ``data`` decodes to, at most ``max_length`` bytes."""
        out = bytearray()
        while data:
            if self._member.eof:  # the next member starts here
                self._member = zlib.decompressobj(wbits=31)
            try:
                out += self._member.decompress(data, max_length - len(out))
            except zlib.error as exc:
                raise RequestProblem("The body is not valid gzip") from exc
            if len(out) >= max_length:
                return bytes(out)
            data = self._member.unused_data if self._member.eof else b""
        return bytes(out)


def body_too_large(limit: int) -> RequestProblem:
    """The refusal of a body over ``limit`` bytes (a request's, or a replayed payload's)."""
    return RequestProblem(f"The body is larger than {limit} bytes (after decompression)", kind="too_large")


_UTF8_BOM = b"\xef\xbb\xbf"


def json_decode(body: bytes) -> Any:
    """Parse JSON strictly (UTF-8, no NaN or Infinity); RequestProblem if it is not JSON.

    A leading UTF-8 byte order mark is dropped (RFC 8259 lets a parser ignore it): the
    vendors' own servers do (a fetch-style ``.json()`` decodes UTF-8 without it, and so do
    Node's body parsers), and Windows tools write one, so a producer moved here must not
    start failing on it.
    """
    if body.startswith(_UTF8_BOM):
        body = body[len(_UTF8_BOM) :]
    if not body.strip():
        raise RequestProblem("The body is empty; send JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "surrogate" in str(exc):
            text = _utf8_or_none(body)
            if text is not None:
                try:
                    return json_with_lone_surrogates_decode(text)
                except (ValueError, RecursionError):
                    # Another fault beside the surrogate (or nesting past Python's
                    # recursion limit): orjson's message, naming the first, is the answer.
                    pass
        raise RequestProblem(f"The body is not valid JSON: {exc}") from exc


def _utf8_or_none(body: bytes) -> str | None:
    try:
        return body.decode()
    except UnicodeDecodeError:  # surrogates as raw bytes (CESU-8) are no UTF-8: not JSON
        return None

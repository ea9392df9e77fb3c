"""Bulk import of a history file through the same validation and dedupe as HTTP.

Each line goes through ``services.wire_document_ingest`` with the format's adapter, as
a track request would: for a wire format a line is one request body; for ``ndjson`` a
line is one event and lines are sent in batches. Nothing a line contains stops the
import: a line that is not JSON, has the wrong shape or is over a limit is rejected as a
whole; an event with a problem is rejected alone. Rejected lines and events are written
to ``rejected_out`` with their reasons (event-level ones are also kept in the
rejected-events store, as over HTTP). A rejected ``ndjson`` event's index is its line
number; a wire-format event's is its place in its line's body, as over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Protocol

import orjson
from django.conf import settings
from django.db import DataError
from django.utils import timezone

from ingestion.body import json_decode
from ingestion.canonical import import_position, kept_json_size, kept_payload
from ingestion.formats.base import RequestProblem, WireFormatAdapter
from ingestion.formats.ndjson import FileLines
from ingestion.models import Source
from ingestion.services import wire_document_ingest


@dataclass
class ImportSummary:
    lines: int = 0  # non-blank lines read
    events_stored: int = 0  # new events written
    events_duplicate: int = 0  # valid events already stored (by name and event id)
    events_rejected: int = 0  # events refused for an event-level problem
    lines_rejected: int = 0  # lines refused as a whole (not JSON, wrong shape, over a limit)

    @property
    def events_done(self) -> int:
        return self.events_stored + self.events_duplicate + self.events_rejected


class LineReader(Protocol):
    """What the import reads: a binary file, stdin, or a gzip file's decompressed lines."""

    def readline(self, size: int = -1, /) -> bytes: ...


ProgressCallback = Callable[[int, ImportSummary], None]  # (bytes read so far, counts so far)


def events_file_import(
    *,
    stream: LineReader,
    source: Source,
    adapter: WireFormatAdapter,
    one_event_per_line: bool,
    rejected_out: IO[bytes],
    batch_lines: int = 500,
    progress: ProgressCallback | None = None,
) -> ImportSummary:
    """Import every line of ``stream`` into ``source``; see the module docstring."""
    summary = ImportSummary()
    batch: list[tuple[int, Any]] = []
    bytes_read = 0
    batch_lines = max(1, min(batch_lines, settings.TRACKHUB_MAX_EVENTS_PER_REQUEST))

    def reject_line(line_no: int, message: str, field: str, raw: bytes) -> None:
        summary.lines_rejected += 1
        record = {
            "line": line_no,
            "errors": [{"field": field, "message": message}],
            "raw": raw.decode(errors="replace"),
        }
        rejected_out.write(orjson.dumps(record) + b"\n")

    def flush() -> None:
        try:
            _ingest(adapter=adapter, source=source, document=FileLines(list(batch)), summary=summary,
                    rejected_out=rejected_out, line_no=None)  # fmt: skip
        except RequestProblem:
            # One line holds a value that cannot be stored, and the batch's transaction was
            # rolled back: send the lines one by one so only that line is refused.
            for line_no, item in batch:
                try:
                    _ingest(adapter=adapter, source=source, document=FileLines([(line_no, item)]), summary=summary,
                            rejected_out=rejected_out, line_no=None)  # fmt: skip
                except RequestProblem as problem:
                    reject_line(line_no, problem.message, problem.field, orjson.dumps(item))
        batch.clear()

    for line_no, (raw, size, whole) in enumerate(_file_lines(stream, one_event_per_line=one_event_per_line), start=1):
        bytes_read += size
        line = raw.strip()
        if not line and whole:
            continue
        summary.lines += 1
        try:
            if not whole:
                # Only its start is at hand: the rejected file keeps a little of it, enough
                # to tell what the line was (the whole of it would be megabytes of noise).
                line = line[:LONG_LINE_KEPT_BYTES]
                raise _line_too_long(one_event_per_line=one_event_per_line)
            document = _line_decode(line, one_event_per_line=one_event_per_line)
        except RequestProblem as problem:
            reject_line(line_no, problem.message, problem.field, line)
        else:
            if one_event_per_line:
                batch.append((line_no, document))
                if len(batch) >= batch_lines:
                    flush()
            else:
                try:
                    # A line's events without id or timestamp get ids from their place in the
                    # file, so a second run of the same file stores nothing new.
                    token = import_position.set(f"line:{line_no}")
                    try:
                        _ingest(adapter=adapter, source=source, document=document, summary=summary,
                                rejected_out=rejected_out, line_no=line_no)  # fmt: skip
                    finally:
                        import_position.reset(token)
                except RequestProblem as problem:
                    reject_line(line_no, problem.message, problem.field, line)
        if progress is not None:
            progress(bytes_read, summary)
    if batch:
        flush()
    if progress is not None:
        progress(bytes_read, summary)
    return summary


# An event in the read API's shape, as the NDJSON export writes it, is longer than the
# request that brought it: the database's JSON text puts a space after every ',' and ':'
# (1.5 times a compact array of digits) and, on SQLite, writes a non-ASCII character as
# \u escapes (12 bytes for 4 of UTF-8); and the read API adds fields of its own (ids, the
# time received, the source, the format, the nulls of fields not sent: under 1 KiB).
EXPORTED_LINE_FACTOR = 3
EXPORTED_FIELDS_BYTES = 4 * 1024


# Bytes read past the longest line that can be imported before a line counts as over it:
# room for the whitespace around a line, which does not count against the limit.
LINE_SLACK_BYTES = 64 * 1024
# Of a line longer than that, what the rejected file keeps as its ``raw``.
LONG_LINE_KEPT_BYTES = 1024


def _line_longest(*, one_event_per_line: bool) -> int:
    """The longest line that may hold an importable body (a wire format) or event (ndjson)."""
    limit = settings.TRACKHUB_MAX_BODY_BYTES
    return EXPORTED_LINE_FACTOR * limit + EXPORTED_FIELDS_BYTES if one_event_per_line else limit


def _line_too_long(*, one_event_per_line: bool) -> RequestProblem:
    limit = settings.TRACKHUB_MAX_BODY_BYTES
    if not one_event_per_line:
        return RequestProblem(f"The line is over the {limit} byte limit")
    longest = _line_longest(one_event_per_line=True)
    return RequestProblem(f"The line is over {longest} bytes: no event within the {limit} byte limit is so long")


def _file_lines(stream: LineReader, *, one_event_per_line: bool) -> Iterator[tuple[bytes, int, bool]]:
    """Each line of ``stream`` as (its bytes, its length, whether they are all of it).

    A line is read whole only up to the longest that can be imported (plus
    LINE_SLACK_BYTES); the rest of a longer one is read in pieces of that size and let go,
    and only its start is kept (LONG_LINE_KEPT_BYTES of it go to the rejected file). A file whose one "line" is the
    whole file (a JSON array, a file with CR line ends) was read into memory whole,
    decoded and written out again: 1.85 GB of memory for a 324 MB line, so such a file
    of a few gigabytes was killed for memory, with nothing after that line imported.
    """
    cap = _line_longest(one_event_per_line=one_event_per_line) + LINE_SLACK_BYTES
    while raw := stream.readline(cap):
        size = len(raw)
        whole = size < cap or raw.endswith(b"\n")
        while not whole and (rest := stream.readline(cap)):
            size += len(rest)
            if rest.endswith(b"\n"):
                break
        yield raw, size, whole


def _line_decode(line: bytes, *, one_event_per_line: bool) -> Any:
    """A line's JSON, held to the request size limit. A wire-format line is a request body,
    measured as sent. An ``ndjson`` line over the limit is one event as the export writes
    it, measured again as compact JSON once decoded, with EXPORTED_FIELDS_BYTES for the read
    API's own fields: an event that came in a request is restored from its export, however
    the export spelled it."""
    limit = settings.TRACKHUB_MAX_BODY_BYTES
    if len(line) <= limit:
        return json_decode(line)
    if len(line) > _line_longest(one_event_per_line=one_event_per_line):
        raise _line_too_long(one_event_per_line=one_event_per_line)
    document = json_decode(line)
    # Written again only for a line over the limit: the export's spelling may be why.
    size = kept_json_size(document)  # a lone surrogate's event would be kept at this size
    if size is not None and size > limit + EXPORTED_FIELDS_BYTES:
        raise RequestProblem(f"The event is over the {limit} byte limit: {size} bytes as compact JSON")
    return document


def _ingest(
    *,
    adapter: WireFormatAdapter,
    source: Source,
    document: Any,
    summary: ImportSummary,
    rejected_out: IO[bytes],
    line_no: int | None,
) -> None:
    """``line_no``: the line a wire-format body came on; None for ``FileLines``, whose
    events are indexed by their own line."""
    try:
        outcome = wire_document_ingest(adapter=adapter, source=source, document=document, received_at=timezone.now())
    except DataError as exc:
        # A value PostgreSQL cannot store (a NUL character, say): the HTTP path answers 400.
        raise RequestProblem("a value cannot be stored") from exc
    summary.events_stored += outcome.stored
    summary.events_duplicate += outcome.duplicates
    if not outcome.rejected:
        return
    payloads = {event.index: kept_payload(event.replay_payload) for event in adapter.split(document)}
    problems_by_index: dict[str | int, list[dict[str, str | int]]] = {}
    for problem in outcome.rejected:
        problems_by_index.setdefault(problem.index, []).append(problem.as_dict())
    summary.events_rejected += outcome.rejected_events
    for index, errors in problems_by_index.items():
        record = {
            "line": int(index) if line_no is None else line_no,
            "index": index,
            "errors": errors,
            "payload": payloads.get(index),
        }
        rejected_out.write(orjson.dumps(record) + b"\n")

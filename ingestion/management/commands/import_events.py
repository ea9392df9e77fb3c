import contextlib
import gzip
import os
import sys
import time
import zlib
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import pluralize

from ingestion.formats import adapter_for, adapter_names
from ingestion.imports import ImportSummary, events_file_import
from ingestion.selectors import source_get

PROGRESS_EVERY_SECONDS = 0.25
GZIP_MAGIC = b"\x1f\x8b"
BAR_WIDTH = 24


class Progress:
    """One line on stderr, redrawn in place: bar, events done, rate, time left."""

    def __init__(self, *, total_bytes: int, out: Any) -> None:
        self.total_bytes = total_bytes  # 0 when unknown (stdin): no bar, no time left
        self.out = out
        self.started = time.monotonic()
        self.drawn_at = 0.0

    def __call__(self, bytes_read: int, summary: ImportSummary, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.drawn_at < PROGRESS_EVERY_SECONDS:
            return
        self.drawn_at = now
        elapsed = max(now - self.started, 1e-6)
        done = summary.events_done
        counts = f"{done:,} event{pluralize(done)}  {done / elapsed:,.0f} events/s"
        if final:
            line = f"{counts}  {_duration(elapsed)} elapsed"
        elif self.total_bytes:
            fraction = min(bytes_read / self.total_bytes, 1.0)
            left = elapsed * (1 - fraction) / fraction if fraction > 0 else 0.0
            filled = int(fraction * BAR_WIDTH)
            line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction:6.1%}  {counts}  {_duration(left)} left"
        else:
            line = counts
        # Pad so a shorter line fully covers the one it redraws.
        self.out.write(f"\r{line:<100}" + ("\n" if final else ""))
        self.out.flush()


def _gzip_compressed(file: IO[bytes]) -> bool:
    """Whether ``file`` starts as gzip data does, without consuming what it reads."""
    peek = getattr(file, "peek", None)  # a buffered file or stdin; not every stream has it
    return peek is not None and bytes(peek(len(GZIP_MAGIC))[: len(GZIP_MAGIC)]) == GZIP_MAGIC


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Command(BaseCommand):
    help = (
        "Import a history file into a source through the same validation and dedupe as the track endpoints. "
        "Wire formats: one request body per line. ndjson: one event per line in the read API's shape (as "
        "GET /api/v1/events/export.ndjson writes it). Running it twice stores nothing new."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The file to import ('-' for stdin); a gzip file is read decompressed.")
        parser.add_argument("--source-id", type=int, required=True)
        parser.add_argument("--format", required=True, choices=adapter_names(), dest="file_format")
        parser.add_argument(
            "--rejected-file",
            help="Where rejected lines and events go with their reasons (default FILE.rejected.ndjson).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help=f"ndjson lines per transaction (1 to {settings.TRACKHUB_MAX_EVENTS_PER_REQUEST}).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar on stderr.")

    def handle(self, *args: Any, **options: Any) -> None:
        # A batch is one request's worth of events: the same limit as over HTTP.
        most = settings.TRACKHUB_MAX_EVENTS_PER_REQUEST
        if not 1 <= options["batch_size"] <= most:
            raise CommandError(f"--batch-size must be from 1 to {most}, got {options['batch_size']}")
        source = source_get(source_id=options["source_id"])
        if source is None:
            raise CommandError(f"no source {options['source_id']}")
        try:
            adapter = adapter_for(options["file_format"])
        except KeyError as exc:
            raise CommandError(str(exc.args[0])) from exc

        path = options["file"]
        rejected_path = Path(
            options["rejected_file"] or ("import.rejected.ndjson" if path == "-" else f"{path}.rejected.ndjson")
        )
        try:
            file = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        if path != "-" and rejected_path.resolve() == Path(path).resolve():
            # Opening it for writing would empty the file before a line of it was read.
            raise CommandError(f"--rejected-file {rejected_path} is the file being imported; name another file")
        try:
            rejected_out = rejected_path.open("wb")
        except OSError as exc:
            file.close()
            raise CommandError(f"cannot write the rejected lines to {rejected_path}: {exc.strerror}") from exc
        total_bytes = 0 if path == "-" else os.fstat(file.fileno()).st_size
        stream: IO[bytes] | gzip.GzipFile = file
        if _gzip_compressed(file):
            # A compressed file (history kept as .ndjson.gz) is read as its lines: read as
            # bytes, every piece of it was refused as not JSON and nothing was stored. Its
            # size says nothing of the lines', so the progress has no bar (as for stdin).
            stream = gzip.GzipFile(fileobj=file, mode="rb")
            total_bytes = 0
        # The raw stream: Django's OutputWrapper would style the bar as an error and end lines.
        progress = None if options["no_progress"] else Progress(total_bytes=total_bytes, out=self.stderr._out)

        with file, rejected_out:
            try:
                summary = events_file_import(
                    stream=stream,
                    source=source,
                    adapter=adapter,
                    one_event_per_line=options["file_format"] == "ndjson",
                    rejected_out=rejected_out,
                    batch_lines=options["batch_size"],
                    progress=progress,
                )
            except (OSError, EOFError, zlib.error) as exc:
                # The file cannot be read on (a gzip file cut short or corrupt, a read
                # error): what came before is stored, and dedupe makes a second run safe.
                raise CommandError(
                    f"the import of {path} stopped: {exc}; the lines before it were imported, and importing "
                    "the file again stores nothing twice"
                ) from exc
            if progress is not None:
                progress(total_bytes, summary, final=True)
        rejected_any = summary.lines_rejected or summary.events_rejected
        if not rejected_any and rejected_path.is_file():
            # Only a file: ``--rejected-file /dev/null`` deleted the device itself.
            with contextlib.suppress(OSError):  # not ours to remove (/proc/..., a read-only dir)
                rejected_path.unlink()
        self.stdout.write(
            f"{summary.lines:,} line{pluralize(summary.lines)}: "
            f"{summary.events_stored:,} event{pluralize(summary.events_stored)} stored, "
            f"{summary.events_duplicate:,} duplicate{pluralize(summary.events_duplicate)} (already stored), "
            f"{summary.events_rejected:,} event{pluralize(summary.events_rejected)} rejected, "
            f"{summary.lines_rejected:,} line{pluralize(summary.lines_rejected)} rejected"
        )
        if rejected_any:
            self.stdout.write(f"rejected lines and events with their reasons: {rejected_path}")
            # Once the whole file is read: a script running the import learns that not
            # all of it is stored (it exited 0, also when nothing could be read at all).
            refused = []
            if summary.lines_rejected:
                refused.append(f"{summary.lines_rejected:,} line{pluralize(summary.lines_rejected)}")
            if summary.events_rejected:
                refused.append(f"{summary.events_rejected:,} event{pluralize(summary.events_rejected)}")
            raise CommandError(f"{' and '.join(refused)} rejected: see {rejected_path}", returncode=1)

"""What each part of the events schema costs PostgreSQL: TrackHub's own writes, without
the web tier, with the dedupe ledger or one index at a time taken away (a minute or two).

    python -m bench.schema [--seconds 5] [--rounds 2] [--connections 2] [--only NAME ...]

The batched target (0.6 of a plain COPY) is decided here, not in Python: this prints the
events/s and the database CPU per event that plain psycopg reaches writing 100-event
batches (a commit each) into

- the one-index scratch table of ``bench.ingest``'s ceiling (binary COPY, as TrackHub's
  own), then the same in COPY's text format;
- the real, partitioned events table through TrackHub's own write (the ledger COPY and
  the events COPY, as ``bench.ingest``'s "own writes"), then with the ledger's ON
  CONFLICT statement instead (what a retried request pays), then without the ledger (no
  exact dedupe), then without each secondary index in turn, then without any, then
  without the ledger and any secondary index;

each as a ratio to the scratch COPY of the same round. Variants run interleaved, ``--rounds``
times, on a scratch database (``trackhub_schema``, dropped and recreated) whose tables are
emptied before each variant. Not a target: it says what a schema change would buy.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import psycopg

from bench.ingest import CopyCeiling, copy_ceiling
from bench.stack import django_on_scratch_database, scratch_database_name

DATABASE = scratch_database_name("schema")
SOURCE_ID = 535353


@dataclass(frozen=True)
class Variant:
    label: str
    target: str  # copy_ceiling's: scratch, scratch-text, events, events-ledger-insert, events-without-ledger
    without: tuple[str, ...] = ()  # secondary indexes of ingestion_event dropped for it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per variant and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=2, help="parallel writers (default 2)")
    parser.add_argument("--only", nargs="*", default=None, help="drop only these indexes (default: each in turn)")
    args = parser.parse_args()

    url = django_on_scratch_database("schema")
    from django.core.management import call_command

    from ingestion.selectors import source_get
    from ingestion.services import source_provision

    call_command("migrate", verbosity=0)
    source_provision(org="bench-schema", project="p", source_id=SOURCE_ID)
    source = source_get(source_id=SOURCE_ID)
    assert source is not None

    definitions = _secondary_indexes(url)
    dropped_alone = args.only if args.only is not None else sorted(definitions)
    variants = [
        Variant("scratch table, one index (the ceiling)", "scratch"),
        Variant("the same in COPY's text format", "scratch-text"),
        Variant("ledger + events table (TrackHub)", "events"),
        Variant("ledger by ON CONFLICT (a retry's) + events", "events-ledger-insert"),
        Variant("events table, no ledger (no dedupe)", "events-without-ledger"),
        *(Variant(f"ledger + events, without {name}", "events", (name,)) for name in dropped_alone),
        Variant("ledger + events, no secondary index", "events", tuple(definitions)),
        Variant("events table alone: no ledger, no secondary index", "events-without-ledger", tuple(definitions)),
    ]
    width = max(len(variant.label) for variant in variants)
    print(f"{args.connections} writers, 100-event batches, a commit each, {args.seconds:g} s per variant and round")
    for round_number in range(1, args.rounds + 1):
        print(f"round {round_number}: {'variant':{width}} {'events/s':>9} {'db µs/ev':>9} {'/COPY':>6}", flush=True)
        ceiling: CopyCeiling | None = None
        for variant in variants:
            _tables_reset(url, definitions=definitions, without=variant.without)
            figures = copy_ceiling(
                url, connections=args.connections, duration=args.seconds, project_id=source.project_id,
                source_id=source.id, target=variant.target,
            )  # fmt: skip
            ceiling = ceiling or figures
            print(
                f"         {variant.label:{width}} {figures.events_per_s:9,.0f} "
                f"{1e6 / figures.events_per_database_core_s:9.1f} {figures.events_per_s / ceiling.events_per_s:6.2f}",
                flush=True,
            )
    _tables_reset(url, definitions=definitions, without=())


def _secondary_indexes(url: str) -> dict[str, str]:
    """The events table's indexes besides its primary key: name -> CREATE INDEX statement
    (for the partitioned table, so that it reaches every partition)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ingestion_event' "
            "AND indexname <> 'ingestion_event_pkey'"
        ).fetchall()
    return {name: definition.replace(" ON ONLY ", " ON ") for name, definition in rows}


def _tables_reset(url: str, *, definitions: dict[str, str], without: tuple[str, ...]) -> None:
    """Empty the tables and give the events table every secondary index but ``without``
    (rebuilt on empty tables, so at no cost); a checkpoint so no variant pays for the
    last one's dirty pages."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE ingestion_event, ingestion_eventkey")
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        for name, definition in definitions.items():
            conn.execute(f"DROP INDEX IF EXISTS {name}")
            if name not in without:
                conn.execute(definition)
        conn.execute("CHECKPOINT")


if __name__ == "__main__":
    main()

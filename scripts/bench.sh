#!/usr/bin/env bash
# Runs one of the benchmarks in bench/ from the project's virtualenv (made if missing):
#   ./scripts/bench.sh ingest                      # ingest ratios, ~2 minutes
#   ./scripts/bench.sh scale --events 10000000     # read API and export at 10 M events
#   ./scripts/bench.sh identity                    # merges and identity throughput, ~1 minute
#   ./scripts/bench.sh compare REV_A REV_B         # two git revisions, interleaved rounds
#   ./scripts/bench.sh inprocess [--website]       # CPU per request in one process, seconds
#   ./scripts/bench.sh schema                      # what the dedupe ledger and each index cost the database
# Needs PostgreSQL and Redis as for the tests (see README); all traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ]; then
  echo "usage: $0 ingest|scale|identity|soak|compare|inprocess|schema [options]" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet -e .
exec .venv/bin/python -m "bench.$1" "${@:2}"

#!/usr/bin/env bash
# Runs the whole test suite against the real services: PostgreSQL on 127.0.0.1:5432 and
# Redis on 127.0.0.1:6379 (override with DATABASE_URL / CELERY_BROKER_URL).
set -euo pipefail
cd "$(dirname "$0")/.."

# The browser tests drive Debian's chromium (never a downloaded one) and the PgBouncer
# tests Debian's pgbouncer; install whichever is missing if we can.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null || missing+=(pgbouncer)
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = "0" ]; then
  apt-get update && apt-get install -y "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e ".[dev]"

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy .
exec .venv/bin/pytest "$@"

"""The benchmarks' smoke tests leave no scratch database behind."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from bench.stack import DEFAULT_ADMIN_URL, scratch_database_name

# The scratch databases of the benchmarks these tests run.
BENCHMARKS = ("scale_smoke", "inprocess", "schema", "identity")


@pytest.fixture(autouse=True)
def scratch_databases_dropped() -> Iterator[None]:
    """A benchmark keeps its scratch database for a look afterwards (the next run recreates
    it); a test has nothing to look at, and dozens of them would pile up on the server."""
    yield
    with psycopg.connect(DEFAULT_ADMIN_URL, autocommit=True) as conn:
        for benchmark in BENCHMARKS:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch_database_name(benchmark)}" WITH (FORCE)')

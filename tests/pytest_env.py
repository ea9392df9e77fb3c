"""Loaded with ``-p`` before Django settings: point the suite at the real services.

Defaults match this project's CI machine; override any of them in the environment.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trackhub")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key")
# The benchmarks' scratch databases (bench.stack.scratch_database_name) are named after the
# suite's test database, so suites of two checkouts on one server never drop each other's.
os.environ.setdefault(
    "BENCH_SCRATCH_PREFIX",
    os.environ.get("TRACKHUB_TEST_DB_NAME") or "test_" + os.environ["DATABASE_URL"].rsplit("/", 1)[1].split("?")[0],
)

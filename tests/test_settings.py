"""Settings read the environment in one place and fail loudly on a missing secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def settings_value(env: dict[str, str], expression: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "REDIS_"))}
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'trackhub.settings'; django.setup(); "
        f"from django.conf import settings; print(({expression},))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_embedded_default_is_sqlite_and_in_process_tasks():
    result = settings_value({}, "settings.DATABASES['default']['ENGINE'], settings.CELERY_TASK_ALWAYS_EAGER")

    assert result.stdout.strip() == "('django.db.backends.sqlite3', True)"


def test_production_without_secret_key_fails_loudly():
    result = settings_value({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x"}, "1")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize(("raw", "expected"), [("yes", "True"), ("0", "False"), ("TRUE", "True")])
def test_debug_flag_parsing(raw, expected):
    assert settings_value({"DJANGO_DEBUG": raw}, "settings.DEBUG").stdout.strip() == f"({expected},)"


def test_bad_debug_value_is_refused():
    assert "DJANGO_DEBUG" in settings_value({"DJANGO_DEBUG": "maybe"}, "1").stderr


def test_ssl_redirect_turns_on_hsts_and_secure_cookies():
    result = settings_value(
        {"DJANGO_SECURE_SSL_REDIRECT": "1"},
        "settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS > 0, settings.SESSION_COOKIE_SECURE",
    )

    assert result.stdout.strip() == "(True, True, True)"


def test_redis_url_defaults_to_the_broker():
    result = settings_value(
        {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/3", "DJANGO_SECRET_KEY": "x"}, "settings.REDIS_URL"
    )

    assert result.stdout.strip() == "('redis://127.0.0.1:6379/3',)"


@pytest.mark.parametrize(("raw", "expected"), [(None, "5"), ("0", "None"), ("20", "20")])
def test_prepare_threshold_from_the_environment(raw, expected):
    env = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "DJANGO_SECRET_KEY": "s"}
    if raw is not None:
        env["DATABASE_PREPARE_THRESHOLD"] = raw

    result = settings_value(env, "settings.DATABASES['default']['OPTIONS']['prepare_threshold']")

    assert result.stdout.strip() == f"({expected},)", result.stderr


def test_identity_drain_delay_must_be_a_number():
    result = settings_value({"TRACKHUB_IDENTITY_DRAIN_DELAY_SECONDS": "soon"}, "1")

    assert result.returncode != 0
    assert "TRACKHUB_IDENTITY_DRAIN_DELAY_SECONDS must be a number" in result.stderr


@pytest.mark.parametrize(("raw", "expected"), [(None, "3"), ("12", "12")])
def test_partitions_ahead_from_the_environment(raw, expected):
    env = {} if raw is None else {"TRACKHUB_EVENT_PARTITIONS_AHEAD": raw}

    result = settings_value(env, "settings.TRACKHUB_EVENT_PARTITIONS_AHEAD")

    assert result.stdout.strip() == f"({expected},)", result.stderr


def test_partitions_ahead_must_be_at_least_one_month():
    result = settings_value({"TRACKHUB_EVENT_PARTITIONS_AHEAD": "0"}, "1")

    assert result.returncode != 0
    assert "TRACKHUB_EVENT_PARTITIONS_AHEAD must be at least 1" in result.stderr


def test_identity_queue_routes_the_identity_tasks_only():
    result = settings_value({"TRACKHUB_IDENTITY_QUEUE": "identity"}, "settings.CELERY_TASK_ROUTES")

    assert result.stdout.strip() == "({'profiles.tasks.*': {'queue': 'identity'}},)", result.stderr


def test_a_replica_without_a_primary_fails_loudly():
    result = settings_value({"DATABASE_REPLICA_URL": "postgres://postgres@127.0.0.1:5433/x"}, "1")

    assert result.returncode != 0
    assert "DATABASE_REPLICA_URL needs DATABASE_URL" in result.stderr


def test_a_replica_is_a_second_database_the_router_reads_and_tests_mirror():
    env = {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x",
        "DATABASE_REPLICA_URL": "postgres://postgres@10.0.0.2:5432/x",
        "DJANGO_SECRET_KEY": "s",
    }

    result = settings_value(
        env,
        "settings.DATABASES['replica']['HOST'], settings.DATABASES['replica']['TEST']['MIRROR'], "
        "settings.DATABASE_ROUTERS",
    )

    assert result.stdout.strip() == "('10.0.0.2', 'default', ['trackhub.replica.ReplicaRouter'])"

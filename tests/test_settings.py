"""Settings read the environment in one place and fail loudly on a missing secret."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.database import empty_database

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


def setting(env: dict[str, str], expression: str) -> str:
    """What ``expression`` evaluates to (as a one-element tuple) with the settings of ``env``."""
    result = settings_value(env, expression)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def refusal(env: dict[str, str]) -> str:
    """The error output of loading settings that ``env`` makes invalid."""
    result = settings_value(env, "1")
    assert result.returncode != 0, result.stdout
    return result.stderr


PRODUCTION = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "DJANGO_SECRET_KEY": "s"}


def test_embedded_default_is_sqlite_and_in_process_tasks():
    result = setting({}, "settings.DATABASES['default']['ENGINE'], settings.CELERY_TASK_ALWAYS_EAGER")

    assert result == "('django.db.backends.sqlite3', True)"


def _settings_in_a_copy(base_dir: Path) -> str:
    """Load a copy of the settings whose BASE_DIR is ``base_dir`` (where the embedded setup
    keeps its generated key), under the usual umask 022; its SECRET_KEY."""
    (base_dir / "trackhub").mkdir()
    (base_dir / "trackhub" / "__init__.py").write_text("")
    shutil.copy(ROOT / "trackhub" / "settings.py", base_dir / "trackhub" / "settings.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "REDIS_"))}
    result = subprocess.run(
        [sys.executable, "-c", "import trackhub.settings as s; print(s.SECRET_KEY)"],
        env={**env, "PYTHONPATH": ""}, cwd=base_dir, capture_output=True, text=True, timeout=60,
        preexec_fn=lambda: os.umask(0o022),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_generated_secret_key_is_readable_by_its_owner_only(tmp_path):
    key = _settings_in_a_copy(tmp_path)

    path = tmp_path / ".trackhub-secret"
    assert path.read_text() == key and len(key) > 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_secret_key_file_readable_by_others_is_made_the_owners_only(tmp_path):
    path = tmp_path / ".trackhub-secret"
    path.write_text("an-earlier-generated-key")
    path.chmod(0o644)

    key = _settings_in_a_copy(tmp_path)

    assert key == "an-earlier-generated-key"  # the same key: signed-in sessions stay valid
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_production_without_secret_key_fails_loudly():
    assert "DJANGO_SECRET_KEY" in refusal({"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x"})


@pytest.mark.parametrize(("raw", "expected"), [("yes", "True"), ("0", "False"), ("TRUE", "True")])
def test_debug_flag_parsing(raw, expected):
    assert setting({"DJANGO_DEBUG": raw}, "settings.DEBUG") == f"({expected},)"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REDIS_URL", "127.0.0.1:6379"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("CELERY_BROKER_URL", "127.0.0.1:6379/0"),
    ],
)
def test_a_redis_or_broker_url_without_its_scheme_is_refused_at_start(variable, value):
    # Accepted, a REDIS_URL without a scheme made every track and read request a 500, and
    # such a broker URL an AMQP host name retried forever.
    message = refusal({**PRODUCTION, variable: value})

    assert f"{variable} must" in message
    assert "redis://127.0.0.1:6379/0" in message


def test_bad_debug_value_is_refused():
    assert "DJANGO_DEBUG" in refusal({"DJANGO_DEBUG": "maybe"})


def test_ssl_redirect_spares_the_probes_and_metrics(client, settings, db):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/dashboard/").status_code == 301


def test_ssl_redirect_turns_on_hsts_and_secure_cookies():
    result = setting(
        {"DJANGO_SECURE_SSL_REDIRECT": "1"},
        "settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS > 0, settings.SESSION_COOKIE_SECURE",
    )

    assert result == "(True, True, True)"


@pytest.mark.parametrize("raw", ["", "  "])
def test_allowed_hosts_set_but_empty_is_the_default_not_nothing(raw):
    # An empty list would answer every request 400 with no word at start.
    assert setting({"DJANGO_ALLOWED_HOSTS": raw}, "settings.ALLOWED_HOSTS") == "(['localhost', '127.0.0.1', '[::1]'],)"


def test_redis_url_defaults_to_the_broker():
    result = setting({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/3", "DJANGO_SECRET_KEY": "x"}, "settings.REDIS_URL")

    assert result == "('redis://127.0.0.1:6379/3',)"


@pytest.mark.parametrize(
    ("broker_url", "transport"),
    [
        ("redis://127.0.0.1:6379/3", "trackhub.broker:Transport"),
        # Naming a transport would skip the TLS defaults kombu gives rediss://.
        ("rediss://127.0.0.1:6379/3", "rediss"),
        ("amqp://guest@127.0.0.1//", "amqp"),
    ],
)
def test_a_redis_broker_gets_trackhubs_transport_and_any_other_kombus_own(broker_url, transport):
    expression = "__import__('trackhub.celery').celery.app.connection_for_write().transport_cls"
    env = {"CELERY_BROKER_URL": broker_url, "REDIS_URL": "redis://127.0.0.1:6379/3", "DJANGO_SECRET_KEY": "x"}
    result = setting(env, expression)

    assert result == f"('{transport}',)"


@pytest.mark.parametrize("program", ["manage.py", "celery worker"])
def test_a_broker_other_than_redis_without_redis_url_stops_each_program_with_one_line(program):
    # Workers and web processes would each keep the dashboard's counts and the rate-limit
    # counters to themselves: a large project's charts never filled in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "REDIS_"))}
    env |= {**PRODUCTION, "CELERY_BROKER_URL": "amqp://guest@127.0.0.1//"}
    command = [sys.executable, "manage.py", "check"] if program == "manage.py" else [
        sys.executable, "-m", "celery", "-A", "trackhub", "worker"]  # fmt: skip

    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert "TrackHub cannot start: REDIS_URL must be set when CELERY_BROKER_URL is not a Redis URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_a_broker_redis_url_may_be_left_unset():
    # Tasks run in the web process: what it counts it reads itself.
    result = setting({**PRODUCTION, "CELERY_BROKER_URL": ""}, "settings.REDIS_URL, settings.CELERY_TASK_ALWAYS_EAGER")

    assert result == "('', True)"


def test_a_worker_that_lost_the_broker_never_gives_up_reconnecting():
    # Celery's default, 100 attempts (about 43 minutes), and the worker exits.
    expression = "__import__('trackhub.celery').celery.app.conf.broker_connection_max_retries"

    assert setting({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/3", "DJANGO_SECRET_KEY": "x"}, expression) == "(None,)"


@pytest.mark.parametrize(
    ("variable", "raw", "expression", "expected"),
    [
        ("DATABASE_PREPARE_THRESHOLD", None, "settings.DATABASES['default']['OPTIONS']['prepare_threshold']", "5"),
        ("DATABASE_PREPARE_THRESHOLD", "0", "settings.DATABASES['default']['OPTIONS']['prepare_threshold']", "None"),
        ("DATABASE_PREPARE_THRESHOLD", "20", "settings.DATABASES['default']['OPTIONS']['prepare_threshold']", "20"),
        ("TRACKHUB_EVENT_PARTITIONS_AHEAD", None, "settings.TRACKHUB_EVENT_PARTITIONS_AHEAD", "3"),
        ("TRACKHUB_EVENT_PARTITIONS_AHEAD", "12", "settings.TRACKHUB_EVENT_PARTITIONS_AHEAD", "12"),
        ("TRACKHUB_EVENT_PARTITIONS_AHEAD", "120", "settings.TRACKHUB_EVENT_PARTITIONS_AHEAD", "120"),
        ("TRACKHUB_EVENT_RETENTION_DAYS", "36500", "settings.TRACKHUB_EVENT_RETENTION_DAYS", "36500"),
    ],
)
def test_numbers_from_the_environment(variable, raw, expression, expected):
    env = PRODUCTION if raw is None else {**PRODUCTION, variable: raw}

    assert setting(env, expression) == f"({expected},)"


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("TRACKHUB_IDENTITY_DRAIN_DELAY_SECONDS", "soon", "TRACKHUB_IDENTITY_DRAIN_DELAY_SECONDS must be a number"),
        ("TRACKHUB_EVENT_PARTITIONS_AHEAD", "0", "TRACKHUB_EVENT_PARTITIONS_AHEAD must be at least 1"),
        ("TRACKHUB_IDENTITY_DRAIN_DELAY_SECONDS", "nan", "must be a finite number of at least 0"),
        ("TRACKHUB_IDENTITY_DRAIN_DELAY_SECONDS", "inf", "must be a finite number of at least 0"),
        ("TRACKHUB_IDENTITY_DRAIN_DELAY_SECONDS", "-1", "must be a finite number of at least 0"),
        ("TRACKHUB_RATE_LIMIT", "-5", "TRACKHUB_RATE_LIMIT must be at least 0"),
        ("TRACKHUB_EVENT_RETENTION_DAYS", "-3", "TRACKHUB_EVENT_RETENTION_DAYS must be at least 0"),
        # Past these the hourly upkeep's dates leave the calendar (OverflowError every hour).
        ("TRACKHUB_EVENT_RETENTION_DAYS", "999999", "TRACKHUB_EVENT_RETENTION_DAYS must be at most 36500"),
        ("TRACKHUB_EVENT_RETENTION_DAYS", "999999999999", "TRACKHUB_EVENT_RETENTION_DAYS must be at most 36500"),
        ("TRACKHUB_EVENT_PARTITIONS_AHEAD", "100000", "TRACKHUB_EVENT_PARTITIONS_AHEAD must be at most 120"),
        ("DATABASE_CONN_MAX_AGE", "-1", "DATABASE_CONN_MAX_AGE must be at least 0"),
        ("TRACKHUB_METRICS_ALLOW", "10.0.0.0/8,notacidr", "'notacidr' is not an address or CIDR network"),
        ("TRACKHUB_LOG_LEVEL", "LOUD", "TRACKHUB_LOG_LEVEL must be DEBUG, INFO"),
        ("TRACKHUB_LOG_FORMAT", "yaml", "TRACKHUB_LOG_FORMAT must be json or text, not 'yaml'"),
        ("DATABASE_URL", "nonsense", "DATABASE_URL is not a database URL"),
    ],
)
def test_bad_values_are_refused_with_a_message_naming_the_variable(variable, raw, message):
    assert message in refusal({"DJANGO_SECRET_KEY": "s", variable: raw})


def test_identity_queue_routes_the_identity_tasks_only():
    result = setting({"TRACKHUB_IDENTITY_QUEUE": "identity"}, "settings.CELERY_TASK_ROUTES")

    assert result == "({'profiles.tasks.*': {'queue': 'identity'}},)"


def test_a_replica_without_a_primary_fails_loudly():
    assert "DATABASE_REPLICA_URL needs DATABASE_URL" in refusal(
        {"DATABASE_REPLICA_URL": "postgres://postgres@127.0.0.1:5433/x"}
    )


def test_a_replica_is_a_second_database_the_router_reads_and_tests_mirror():
    env = {**PRODUCTION, "DATABASE_REPLICA_URL": "postgres://postgres@10.0.0.2:5432/x"}

    result = setting(
        env,
        "settings.DATABASES['replica']['HOST'], settings.DATABASES['replica']['TEST']['MIRROR'], "
        "settings.DATABASE_ROUTERS",
    )

    assert result == "('10.0.0.2', 'default', ['trackhub.replica.ReplicaRouter'])"


def test_manage_py_without_a_production_secret_stops_with_the_message_not_a_traceback():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "REDIS_"))}
    env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/x"

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 1
    assert "TrackHub cannot start: DJANGO_SECRET_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr


def test_gunicorn_without_a_production_secret_stops_once_with_the_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "REDIS_"))}
    env |= {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    env["GUNICORN_BIND"] = "127.0.0.1:0"
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "trackhub.wsgi:application"]

    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert result.stderr.count("DJANGO_SECRET_KEY must be set") == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr  # not one per worker it would have forked


@pytest.mark.parametrize("program", ["worker", "beat"])
def test_celery_without_a_production_secret_stops_with_the_message_not_a_traceback(program, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "REDIS_"))}
    # A broker on a closed port: were the settings accepted, nothing would be reached.
    env |= {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}
    command = [sys.executable, "-m", "celery", "-A", "trackhub", program, "--schedule", str(tmp_path / "schedule")]
    if program == "worker":
        command = command[:-2]

    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert "TrackHub cannot start: DJANGO_SECRET_KEY must be set" in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("urls", "message"),
    [
        # The two URLs swapped: the web started, every Celery worker died in kombu.
        ({"CELERY_BROKER_URL": "postgres://postgres@127.0.0.1:5432/x"}, "CELERY_BROKER_URL names no message broker"),
        # A database TrackHub's SQL does not run on: a traceback about its missing driver.
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL must be a PostgreSQL URL"),
    ],
    ids=["broker url of a database", "mysql database url"],
)
@pytest.mark.parametrize("program", ["manage.py", "celery worker"])
def test_a_url_of_the_wrong_kind_stops_each_program_with_one_line(urls, message, program):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "REDIS_"))}
    env |= {**PRODUCTION, **urls}
    command = [sys.executable, "manage.py", "check"] if program == "manage.py" else [
        sys.executable, "-m", "celery", "-A", "trackhub", "worker"]  # fmt: skip

    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert f"TrackHub cannot start: {message}" in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr


def test_manage_py_against_an_unreachable_database_stops_with_one_line_not_a_traceback():
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "REDIS_"))}
    env |= {"DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/x", "DJANGO_SECRET_KEY": "s"}

    result = subprocess.run(
        [sys.executable, "manage.py", "migrate"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 1
    assert "TrackHub cannot connect to the database of DATABASE_URL: connection failed" in result.stderr
    assert str(port) in result.stderr
    assert "Traceback" not in result.stderr, result.stderr[-3000:]


@pytest.fixture
def never_migrated_database_url(request, tmp_path, db):
    """An empty PostgreSQL database beside the test database, or a new SQLite file."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    with empty_database("never_migrated") as url:
        yield url


@pytest.mark.parametrize("never_migrated_database_url", ["postgresql", "sqlite"], indirect=True)
def test_manage_py_on_a_database_never_migrated_says_to_migrate_not_a_traceback(never_migrated_database_url):
    url = never_migrated_database_url
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "REDIS_"))}
    env |= {"DATABASE_URL": url, "DJANGO_SECRET_KEY": "s"}
    command = [sys.executable, "manage.py", "provision", "--org", "a", "--project", "b", "--source-id", "1"]

    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert "TrackHub's database (DATABASE_URL) is not migrated" in result.stderr, result.stderr[-3000:]
    assert "Run: python manage.py migrate" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("variable", "value"), [("GUNICORN_WORKERS", "four"), ("GUNICORN_TIMEOUT", "-1")])
def test_gunicorn_with_a_bad_number_in_its_environment_stops_with_one_line(variable, value, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "REDIS_"))}
    env |= {variable: value, "GUNICORN_BIND": "127.0.0.1:0", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "trackhub.wsgi:application"]

    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert f"TrackHub cannot start: {variable} must be an integer of at least" in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr


def test_staff_passwords_are_hashed_with_pbkdf2_in_production():
    # The tests hash with MD5 for speed (tests/conftest.py); the product must not.
    hasher = setting(PRODUCTION, "settings.PASSWORD_HASHERS[0]")

    assert hasher == "('django.contrib.auth.hashers.PBKDF2PasswordHasher',)"

"""TrackHub settings.

Every value that varies between deployments is read from the environment here, and only
here (see the configuration table in README.md). With nothing set, TrackHub runs on an
embedded default: SQLite in a local file and Celery tasks executed in-process.
"""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
import warnings
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue
from kombu.transport import TRANSPORT_ALIASES

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/true/yes or 0/false/no, not {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {raw!r}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {raw!r}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from exc
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        floor = "" if minimum is None else f" of at least {minimum:g}"
        raise ImproperlyConfigured(f"{name} must be a finite number{floor}, not {raw!r}")
    return value


# TrackHub's SQL is PostgreSQL's (the embedded default: SQLite); no other database runs it.
_DATABASE_ENGINES = ("django.db.backends.postgresql", "django.db.backends.sqlite3")


def database_url_parse(name: str, url: str, *, conn_max_age: int | None) -> dj_database_url.DBConfig:
    try:
        config = dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=True)
    except (ValueError, dj_database_url.UnknownSchemeError) as exc:
        raise ImproperlyConfigured(f"{name} is not a database URL (postgres://user@host:5432/name): {exc}") from exc
    if config.get("ENGINE") not in _DATABASE_ENGINES:
        # A MySQL URL, say, failed later with a 60-line traceback about its missing driver.
        raise ImproperlyConfigured(f"{name} must be a PostgreSQL URL (postgres://user@host:5432/name) or sqlite:///")
    return config


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():  # set but empty is unset, as for the other variables
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
DATABASE_URL = os.environ.get("DATABASE_URL", "")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
if CELERY_BROKER_URL and "://" not in CELERY_BROKER_URL:
    # kombu would read a bare ``127.0.0.1:6379/0`` as the name of an AMQP host and retry
    # it forever, and the rate limits would fall back to per-process counters. The value
    # is not echoed: it may hold a password.
    raise ImproperlyConfigured("CELERY_BROKER_URL must be a URL with its scheme, like redis://127.0.0.1:6379/0")
if CELERY_BROKER_URL and CELERY_BROKER_URL.partition("://")[0].partition("+")[0].lower() not in TRANSPORT_ALIASES:
    # A database URL put here (the two swapped) let the web start, then stopped every
    # Celery worker with kombu's 70-line "No such transport" traceback.
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL names no message broker kombu knows (redis://127.0.0.1:6379/0, amqp://...)"
    )
# The embedded default: no servers at all. Anything else is a deployment and must be
# configured explicitly.
EMBEDDED = not DATABASE_URL and not CELERY_BROKER_URL


def _secret_key() -> str:
    key = os.environ.get("DJANGO_SECRET_KEY", "")
    if key:
        return key
    if EMBEDDED or DEBUG:
        # Keep a generated key in a local file so sessions survive restarts; readable by its
        # owner only (the process's umask left it readable by every user of the machine,
        # and the key signs cookies and the session hashes). O_EXCL: a file or link already
        # there is never written through.
        path = BASE_DIR / ".trackhub-secret"
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            _owner_only(path)
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(50))
        return path.read_text().strip()
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set when DATABASE_URL or CELERY_BROKER_URL is set and DJANGO_DEBUG is off."
    )


def _owner_only(path: Path) -> None:
    """Take group and other permissions off ``path`` (one an earlier version made 0644)."""
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError:
        pass  # not ours to change (another user's checkout): it is still read as it is


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "trackhub.admin_site.TrackHubAdminConfig",  # django.contrib.admin, its site refusing NUL lookups
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "ingestion",
    "profiles",
    "dashboard",
]

MIDDLEWARE = [
    "ops.middleware.RequestIdMiddleware",
    # No cache keeps, and the page policy confines, every HTML answer: error pages too.
    "ops.pages.PageHeadersMiddleware",
    "ops.middleware.ProbeMiddleware",
    "ops.middleware.JsonNotFoundMiddleware",
    "ops.middleware.PrivateApiMiddleware",
    # With SECURE_SSL_REDIRECT, a plain-HTTP POST gets a JSON 403, not a 301 that drops its body.
    "ops.middleware.MachineHttpsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the dashboard's CSS and JS, the admin's, the API docs') from every
    # web process, with or without DEBUG and without a separate file server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's session, auth and messages middleware, skipped for the track endpoints and
    # the read API, which use none of them (ops.browser).
    "ops.browser.BrowserSessionMiddleware",
    "ops.middleware.PageSlashCommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "ops.browser.BrowserAuthenticationMiddleware",
    "ops.browser.BrowserMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "trackhub.urls"
WSGI_APPLICATION = "trackhub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": database_url_parse(
        "DATABASE_URL",
        DATABASE_URL or f"sqlite:///{BASE_DIR / 'trackhub.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60 if DATABASE_URL else 0, minimum=0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves concurrent requests too (runserver is threaded): a write
    # transaction takes SQLite's lock when it begins and waits up to 20 s for it, instead
    # of failing "database is locked" when a deferred one tries to upgrade; WAL lets reads
    # go on beside the one writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;",
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The track path's few statements run on server-side-binding cursors
    # (``trackhub.db.prepared_cursor``), which psycopg prepares after this many runs on a
    # connection: PostgreSQL then skips parsing and planning them. Set 0 behind a pooler
    # that cannot keep prepared statements (PgBouncer before 1.21 in transaction mode).
    threshold = env_int("DATABASE_PREPARE_THRESHOLD", 5, minimum=0)
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = threshold if threshold > 0 else None
    # Django reads ``QuerySet.iterator()`` (every form's choices: the admin's related-row
    # selects) through a server-side cursor, declared in one transaction and fetched in
    # the next; behind PgBouncer in transaction mode the fetch can reach another server
    # connection ("cursor ... does not exist", a 500). TrackHub's own large reads go in
    # keyset chunks, so nothing loses by reading those few rows at once.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
# A streaming replica for the read API's queries (``trackhub.replica``).
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    if not DATABASE_URL:
        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs DATABASE_URL: a replica of which database?")
    DATABASES["replica"] = database_url_parse(
        "DATABASE_REPLICA_URL", DATABASE_REPLICA_URL, conn_max_age=DATABASES["default"]["CONN_MAX_AGE"]
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["trackhub.replica.ReplicaRouter"]
if os.environ.get("TRACKHUB_TEST_DB_NAME"):
    # Lets several checkouts run their suites side by side on one PostgreSQL.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["TRACKHUB_TEST_DB_NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery ---------------------------------------------------------------------------
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
# Tasks run in-process without a broker, but Celery still opens its producer pool: a
# host named here keeps kombu from warning "No hostname was supplied" on every run.
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://localhost/"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker or beat that lost the broker keeps trying to reconnect, 30 s apart at most, for
# as long as it is down. Celery's default gives up after 100 attempts (about 43 minutes)
# and the worker exits, leaving identity work in the outbox until someone starts it again.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Publishing must not hang a request when the broker is down: the work is recorded in the
# database (an outbox) and the periodic sweep picks it up later.
# One immediate retry, no back-off: kombu's default first interval (2 s) held every request
# for 2 s while the broker was down (tests/hardening/test_faults.py). A worker or beat that
# lost the broker does not reconnect by these but by CELERY_BROKER_CONNECTION_MAX_RETRIES.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.2,
    "socket_connect_timeout": 1,
}
CELERY_TASK_PUBLISH_RETRY = False
if CELERY_BROKER_URL.startswith("redis://"):
    # kombu's Redis transport, except that a worker holding unacknowledged messages keeps
    # running when the broker goes away (it exited: trackhub/broker.py). Not for rediss://:
    # naming a transport skips the TLS defaults kombu gives that scheme.
    CELERY_BROKER_TRANSPORT = "trackhub.broker:Transport"
# Identity work (the drains and the sweep) on a queue of its own, so dedicated workers
# (``celery -A trackhub worker -Q identity``) serve it and nothing else delays it; unset,
# every task goes to Celery's default queue (``celery``). Both queues are declared, so a
# worker started without ``-Q`` still consumes both.
TRACKHUB_IDENTITY_QUEUE = os.environ.get("TRACKHUB_IDENTITY_QUEUE", "")
if TRACKHUB_IDENTITY_QUEUE:
    CELERY_TASK_QUEUES = (Queue("celery"), Queue(TRACKHUB_IDENTITY_QUEUE))
    CELERY_TASK_ROUTES = {"profiles.tasks.*": {"queue": TRACKHUB_IDENTITY_QUEUE}}
CELERY_BEAT_SCHEDULE = {
    "identity-sweep": {"task": "profiles.tasks.identity_sweep", "schedule": timedelta(seconds=30)},
    "event-partitions": {"task": "ingestion.tasks.event_partitions_maintain_task", "schedule": timedelta(hours=1)},
    "deleted-projects": {"task": "ingestion.tasks.deleted_projects_purge_task", "schedule": timedelta(hours=1)},
}

# --- Redis (rate limits, cache) ---------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    # redis-py refuses it only when first used: every track and read request was a 500.
    raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix:// (redis://127.0.0.1:6379/0)")
if not REDIS_URL and not CELERY_TASK_ALWAYS_EAGER:
    # Tasks then run in worker processes, which share nothing with the web processes but
    # this store: without it the dashboard's counts a worker makes stayed in that worker
    # (a large project's charts said "counting" for good) and each process kept its own
    # rate-limit counters (the limit times the number of processes). Without a broker
    # (tasks in-process) the counts are made where they are read.
    raise ImproperlyConfigured(
        "REDIS_URL must be set when CELERY_BROKER_URL is not a Redis URL: the rate limits and the"
        " dashboard's counts are shared between processes through it (redis://127.0.0.1:6379/0)"
    )
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- TrackHub -------------------------------------------------------------------------
TRACKHUB_RATE_LIMIT = env_int("TRACKHUB_RATE_LIMIT", 60000, minimum=0)  # requests/minute/credential; 0: off
TRACKHUB_MAX_EVENTS_PER_REQUEST = 1000
TRACKHUB_MAX_BODY_BYTES = 2 * 1024 * 1024
# Events whose timestamp is older than this many days are dropped with their monthly
# partition (PostgreSQL); 0 keeps them forever. Dedupe keys are kept regardless. At most
# 100 years: the upkeep computes now minus this, and a few thousand years is before year 1
# (an OverflowError every hour, after a start that looked fine).
TRACKHUB_EVENT_RETENTION_DAYS = env_int("TRACKHUB_EVENT_RETENTION_DAYS", 0, minimum=0, maximum=36500)
# Months of partitions the beat task keeps created ahead of now: 1 to 120 (10 years).
# Each is a table with its indexes, all made in one hourly run; far beyond that the
# months leave the calendar (year 10000).
TRACKHUB_EVENT_PARTITIONS_AHEAD = env_int("TRACKHUB_EVENT_PARTITIONS_AHEAD", 3, minimum=1, maximum=120)
# How long a queued identity drain waits before it starts, so that the work of every
# request arriving meanwhile is resolved in one transaction (see profiles.services).
TRACKHUB_IDENTITY_DRAIN_DELAY_SECONDS = env_float("TRACKHUB_IDENTITY_DRAIN_DELAY_SECONDS", 0.25, minimum=0)
TRACKHUB_METRICS_ALLOW = env_list("TRACKHUB_METRICS_ALLOW", [])  # CIDR networks besides loopback
for _network in TRACKHUB_METRICS_ALLOW:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(f"TRACKHUB_METRICS_ALLOW: {_network!r} is not an address or CIDR network") from _exc
# prometheus_client reads it itself, and /metrics (ops.metrics) sums its files when set;
# gunicorn.conf.py sets it (see docs/hardening.md).
PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
# The track views read their body raw (``ingestion.body``), which this setting does not
# limit: they enforce the contract's 2 MiB while reading, in the format's own error shape.
# It limits the forms of the sign-in page, the dashboard and the admin, whose body Django
# reads whole into memory, before any sign-in (the CSRF check reads it on every POST).
# Unlimited (None, as it was), one anonymous POST of 100 MB raised a gunicorn worker from
# 90 to 297 MB. The largest form TrackHub serves is a rejected event's replay: one event
# of a body of at most 2 MiB, pretty-printed and percent-encoded (up to 3 bytes a byte);
# 8 times the track limit leaves it room. Over it: 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * TRACKHUB_MAX_BODY_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10000

TRACKHUB_LOG_LEVEL = os.environ.get("TRACKHUB_LOG_LEVEL", "INFO").strip().upper()
if TRACKHUB_LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"TRACKHUB_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {TRACKHUB_LOG_LEVEL!r}"
    )

# --- Auth, i18n, static ---------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = LOGIN_URL  # back to the sign-in page, not the admin's "logged out"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
# ``collectstatic`` into STATIC_ROOT is the production step (the quick start runs it) and
# WhiteNoise serves what it finds there; it also finds the apps' files itself, so a
# deployment that skipped the step still has a styled dashboard and working API docs.
WHITENOISE_USE_FINDERS = True
# ... so a missing STATIC_ROOT (no collectstatic yet) is not worth WhiteNoise's warning.
warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")

# --- Security: TLS is the proxy's job ---------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
if SECURE_SSL_REDIRECT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Probes and Prometheus, which talk to the web process over plain HTTP, are answered
    # before SecurityMiddleware (``ops.middleware.ProbeMiddleware``): no redirect.
else:
    # Plain HTTP by choice (TLS ends at the proxy, or none at all): silence exactly the
    # deploy checks that only make sense over HTTPS, and no others (docs/hardening.md).
    # W010 (not W012): the session middleware is ops.browser's subclass, which Django checks as the app.
    SILENCED_SYSTEM_CHECKS = ["security.W004", "security.W008", "security.W010", "security.W016"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- REST framework ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["ingestion.authentication.ReadTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["ingestion.authentication.HasReadScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["ingestion.throttling.CredentialRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "ops.api.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TrackHub API",
    "DESCRIPTION": "Track endpoints in four vendor wire formats, and the read API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The schema and docs are public: no credential is asked for, and a bad one is ignored.
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "PREPROCESSING_HOOKS": ["ingestion.api.schema.track_intempt_v1_hidden"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ingestion.api.schema.track_paths_tidy",
        "ingestion.api.schema.api_description",
        "ingestion.api.schema.read_api_errors",
        "ingestion.api.schema.read_api_nonempty_parameters",
        "ingestion.api.schema.read_api_parameters_without_nul",
    ],
    "SCHEMA_PATH_PREFIX": r"/api/v1/",
}

# JSON lines with the request id; every handler scrubs ``?apiKey=`` (docs/hardening.md).
LOG_FORMAT = os.environ.get("TRACKHUB_LOG_FORMAT", "json").strip().lower()
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"TRACKHUB_LOG_FORMAT must be json or text, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "scrub_api_key": {"()": "ops.logging.ApiKeyScrubFilter"},
        "request_id": {"()": "ops.logging.RequestIdFilter"},
    },
    "formatters": {
        "json": {"()": "ops.logging.JsonFormatter"},
        "text": {
            "()": "ops.logging.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "scrub_api_key"],
        }
    },
    "root": {"handlers": ["console"], "level": TRACKHUB_LOG_LEVEL},
    # Django's own loggers propagate to root only through these (they carry handlers otherwise).
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Without a broker each identity task runs inside the request or command that
        # queued it: a "Task ... succeeded" line for each said nothing (a failure is
        # still an ERROR). A worker's own log keeps them.
        **({"celery.app.trace": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {}),
    },
}

"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py trackhub.wsgi:application``.

- Access log without secrets: ``ops.gunicorn.ScrubbingLogger`` replaces ``?apiKey=``.
- A streamed export that takes longer than GUNICORN_TIMEOUT is not killed while it moves
  (``post_worker_init``, ``ops.gunicorn.worker_heartbeat``).
- Prometheus multiprocess mode: every worker writes its counters under
  PROMETHEUS_MULTIPROC_DIR (a fresh temporary directory unless set), and a dead worker's
  live gauges are dropped. See docs/hardening.md.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker


def _env_int(name: str, default: int, *, minimum: int) -> int:
    """An integer from the environment, or gunicorn stops with one line naming the
    variable (a bare ``int()`` failed with a traceback out of gunicorn's config loader)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise SystemExit(f"TrackHub cannot start: {name} must be an integer of at least {minimum}, not {raw!r}")
    return value


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = _env_int("GUNICORN_WORKERS", 4, minimum=1)
timeout = _env_int("GUNICORN_TIMEOUT", 30, minimum=0)  # 0: no timeout (gunicorn's meaning)
graceful_timeout = 20
# Recycle workers now and then: bounds any slow leak in a long-running process.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 20000, minimum=0)  # 0: never
max_requests_jitter = 2000
# gunicorn's most: an Intempt URL names its organization and project, up to 200
# characters each, which percent-encoded can pass the default 4,094 bytes (a request
# refused with an HTML 400 before TrackHub sees it).
limit_request_line = 8190
# gunicorn 27's control socket (for ``gunicornc``, which TrackHub does not use) is one path
# per user by default: a second gunicorn on the machine (another site, a benchmark, the
# live tests) takes it over and deletes it on exit.
control_socket_disable = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
logger_class = "ops.gunicorn.ScrubbingLogger"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s'

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="trackhub-prometheus-")
_created_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]


def on_starting(server: Arbiter) -> None:
    _settings_check()
    # Counters from an earlier run would otherwise be added to this one's.
    os.makedirs(_created_metrics_dir, exist_ok=True)
    for name in os.listdir(_created_metrics_dir):
        if name.endswith(".db"):
            os.remove(os.path.join(_created_metrics_dir, name))


def _settings_check() -> None:
    """Read the settings once in the master: a bad environment (no DJANGO_SECRET_KEY in
    production, say) then stops gunicorn with its one clear message, not a traceback from
    every worker it forks."""
    from trackhub.runtime import settings_load_or_exit

    try:
        settings_load_or_exit()
    except SystemExit:
        on_exit(None)
        raise


def post_worker_init(worker: Worker) -> None:
    # Streamed exports tell the master they are alive (ops.gunicorn.worker_heartbeat).
    from ops.gunicorn import worker_heartbeat_register

    worker_heartbeat_register(notify=worker.notify)


def child_exit(server: Arbiter, worker: Worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Arbiter | None) -> None:
    if os.path.basename(_created_metrics_dir).startswith("trackhub-prometheus-"):
        shutil.rmtree(_created_metrics_dir, ignore_errors=True)

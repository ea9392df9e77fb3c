"""Process tuning: web processes and Celery workers tune the garbage collector once loaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from celery.signals import worker_process_init, worker_ready

import trackhub.celery
from trackhub.runtime import YOUNG_GENERATION_THRESHOLD

ROOT = Path(__file__).resolve().parent.parent


def test_celery_workers_and_their_pool_children_tune_the_collector():
    for signal in (worker_ready, worker_process_init):
        assert trackhub.celery._gc_tune in [receiver() for _, receiver in signal.receivers]


def test_loading_the_wsgi_application_freezes_what_is_alive_and_raises_the_young_threshold():
    # In its own process: as gunicorn's worker imports it.
    script = "import gc, trackhub.wsgi; print(gc.get_threshold()[0], gc.get_freeze_count())"
    env = {"DJANGO_SECRET_KEY": "x", "PATH": "/usr/bin:/bin"}
    output = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)

    assert output.returncode == 0, output.stderr
    threshold, frozen = map(int, output.stdout.split())
    assert threshold == YOUNG_GENERATION_THRESHOLD
    assert frozen > 10_000  # Django, the apps, the URLconf and its views

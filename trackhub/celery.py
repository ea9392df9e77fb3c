"""The Celery app. Tasks live in each domain app's ``tasks.py``."""

import os
from typing import Any

from celery import Celery
from celery.loaders.app import AppLoader
from celery.signals import beat_init, worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackhub.settings")


class SettingsCheckingLoader(AppLoader):
    """Celery's loader, reading Django's settings through ``settings_load_or_exit``: a bad
    environment (no ``DJANGO_SECRET_KEY`` in production, say) stops ``celery worker`` and
    ``beat`` with its one clear message, as it stops ``manage.py`` and gunicorn, instead of
    a 90-line traceback from inside Celery's command-line parsing (the first place that
    reads the configuration)."""

    def config_from_object(self, obj: Any, silent: bool = False) -> Any:
        from trackhub.runtime import settings_load_or_exit

        settings_load_or_exit()
        return super().config_from_object(obj, silent)


app = Celery("trackhub", loader="trackhub.celery:SettingsCheckingLoader")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Once Django is set up: in the worker itself (the solo and threads pools run tasks in it)
# and in each child of the prefork pool.
@worker_ready.connect
@worker_process_init.connect
def _gc_tune(**kwargs: Any) -> None:
    from trackhub.runtime import gc_tune

    gc_tune()


@beat_init.connect
def _partitions_maintain_at_start(**kwargs: Any) -> None:
    """Queue the partition task when beat starts: its schedule's first run is an hour
    later, and a beat restarted more often than that (no persistent schedule file) would
    never run it, leaving new months' events in the default partition."""
    from ingestion.tasks import event_partitions_maintain_task

    event_partitions_maintain_task.delay()

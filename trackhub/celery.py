"""The Celery app. Tasks live in each domain app's ``tasks.py``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackhub.settings")

app = Celery("trackhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

"""``celery beat`` queues the partition task as it starts, with a real beat and worker."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.db import connection

from ingestion.partitions import event_partitions
from tests.profiles.processes import beat_running, celery, wait_for, worker_running

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BROKER = settings.CELERY_BROKER_URL


def _month_ahead(months: int) -> str:
    now = datetime.now(UTC)
    year, month = divmod(now.year * 12 + now.month - 1 + months, 12)
    return f"ingestion_event_p{year:04d}{month + 1:02d}"


def test_beat_maintains_the_partitions_as_it_starts_not_an_hour_later(tmp_path):
    far = _month_ahead(6)  # beyond what the migration and the default setting create
    before = set(event_partitions())
    assert far not in before
    celery("purge", "-f", broker_url=BROKER)
    try:
        with (
            beat_running(broker_url=BROKER, schedule=tmp_path / "beat-schedule"),
            worker_running(broker_url=BROKER, TRACKHUB_EVENT_PARTITIONS_AHEAD="6"),
        ):
            wait_for(lambda: far in event_partitions(), timeout=60, what=f"{far} to be created")
    finally:
        with connection.cursor() as cursor:  # leave the test database's partitions as they were
            for name in set(event_partitions()) - before:
                cursor.execute(f'DROP TABLE "{name}"')

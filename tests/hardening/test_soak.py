"""The soak run, short: every acknowledged event stored once, identity work drained,
server memory flat. ``python -m bench.soak --minutes 10`` is the long version."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from bench.soak import soak

pytestmark = [pytest.mark.soak, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_short_soak_stores_every_acknowledged_event_once_and_drains_identity_work():
    db = django_settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"

    summary = soak(seconds=20, rate=15, batch=10, clients=3, workers=2, database_url=url)

    assert summary["acknowledged_events"] > 0, summary
    assert summary["missing"] == 0, summary
    assert summary["duplicated"] == 0, summary
    assert summary["identity_pending_after_drain"] == 0, summary
    assert summary["memory_flat"], summary
    assert summary["ok"], summary

"""The same batch sent twice at the same moment is stored once."""

from __future__ import annotations

import pytest
from django.test import Client

from ingestion.models import Event
from profiles.models import IdentityWork
from tests.database import at_once
from tests.hardening.formats import event_specs, present_formats

FORMATS = present_formats()
COPIES = 4


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", [f for f in FORMATS if f.deduplicates], ids=lambda f: f.name)
def test_the_same_batch_sent_concurrently_is_stored_once(tenant, fmt):
    n = 50 if fmt.batch else 1
    body = fmt.body(event_specs(n, prefix="concurrent"))

    def send() -> int:
        response = Client().post(
            fmt.url(tenant), data=body, content_type="application/json", **fmt.client_headers(tenant)
        )
        return response.status_code

    statuses = at_once(send, copies=COPIES)

    assert statuses == [fmt.success_status] * COPIES
    assert Event.objects.filter(project=tenant.project).count() == n
    # Identity work is recorded for the new events only: once, not once per copy.
    recorded = sum(len(work.facts) for work in IdentityWork.objects.filter(project_id=tenant.project.id))
    assert recorded == n

"""Provisioning the same source from several processes at once (deploy scripts run in
parallel) leaves it one website."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from ingestion.models import Source, Website
from ingestion.services import source_provision

COPIES = 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_provisions_of_a_source_without_a_website_make_it_one():
    # A source made in the admin has no website yet; its organization and project exist,
    # so nothing else makes the provisions wait for each other.
    source_provision(org="o", project="p", source_id=4242)
    Website.objects.all().delete()
    barrier = threading.Barrier(COPIES)
    website_ids: list[str] = []

    def provision() -> None:
        try:
            barrier.wait()
            website_ids.append(source_provision(org="o", project="p", source_id=4242).website_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=provision) for _ in range(COPIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(website_ids) == COPIES
    assert len(set(website_ids)) == 1
    assert Source.objects.count() == Website.objects.count() == 1

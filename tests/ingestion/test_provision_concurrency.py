"""Provisioning the same source from several processes at once (deploy scripts run in
parallel) leaves it one website."""

from __future__ import annotations

import pytest

from ingestion.models import Source, Website
from ingestion.services import source_provision
from tests.database import at_once

COPIES = 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_provisions_of_a_source_without_a_website_make_it_one():
    # A source made in the admin has no website yet; its organization and project exist,
    # so nothing else makes the provisions wait for each other.
    source_provision(org="o", project="p", source_id=4242)
    Website.objects.all().delete()
    website_ids = at_once(lambda: source_provision(org="o", project="p", source_id=4242).website_id, copies=COPIES)

    assert len(website_ids) == COPIES
    assert len(set(website_ids)) == 1
    assert Source.objects.count() == Website.objects.count() == 1

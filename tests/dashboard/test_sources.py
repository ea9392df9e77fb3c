"""The sources page: kind, masked keys, last event, per-day counts, rejected count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ingestion.models import AccessToken
from ingestion.services import source_ensure
from tests.dashboard.conftest import intempt_send

pytestmark = pytest.mark.django_db


def test_keys_are_masked_never_shown(staff_client, tenant):
    body = staff_client.get(f"/dashboard/{tenant.project.id}/sources/").content.decode()

    identifier, _, secret = tenant.api_key.partition(".")
    assert f"{identifier}.••••••••" in body
    assert secret not in body


def test_keys_and_tokens_are_counted(staff_client, tenant):
    body = staff_client.get(f"/dashboard/{tenant.project.id}/sources/").content.decode()

    # provision gives the source one API key and one track (bearer) token
    assert "Keys and tokens (2, 2 active)" in body


def test_an_expired_token_is_shown_expired_not_active(staff_client, tenant):
    AccessToken.objects.filter(source=tenant.source).update(expires_at=timezone.now() - timedelta(seconds=1))

    body = staff_client.get(f"/dashboard/{tenant.project.id}/sources/").content.decode()

    assert "Keys and tokens (2, 1 active)" in body
    assert '<span class="badge bad">expired</span>' in body


def test_rejected_count_counts_open_rejections_of_the_source(client, staff_client, tenant):
    intempt_send(client, tenant, [{"userId": ""}, {}])

    body = staff_client.get(f"/dashboard/{tenant.project.id}/sources/").content.decode()

    assert 'data-testid="rejected-count">1<' in body


def test_source_without_events_says_never(staff_client, tenant):
    body = staff_client.get(f"/dashboard/{tenant.project.id}/sources/").content.decode()

    assert "never" in body and "Backend" in body


def test_sources_query_count_does_not_grow_with_sources(client, staff_client, tenant, django_assert_max_num_queries):
    for source_id in range(9001, 9006):
        source_ensure(project=tenant.project, source_id=source_id)
    intempt_send(client, tenant, [{}])

    with django_assert_max_num_queries(10):
        response = staff_client.get(f"/dashboard/{tenant.project.id}/sources/")

    assert response.status_code == 200
    assert response.content.decode().count('class="card source"') == 6

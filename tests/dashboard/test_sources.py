"""The sources page: kind, masked keys, last event, per-day counts, rejected count."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from ingestion.models import AccessToken, RejectedEvent
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


def card(body: str, source_id: int) -> str:
    return body.split(f'data-testid="source-{source_id}"')[1].split("</article>")[0]


def listed_rejections(body: str) -> set[int]:
    table = body.split('data-testid="rejected-results"')[1].split("</table>")[0]
    return {int(found) for found in re.findall(r"/rejected/(\d+)/", table)}


def test_rejected_count_equals_the_rejections_its_inspect_link_lists(client, staff_client, tenant):
    # The card counts open rejections of the last 30 days; its link used to list every
    # open rejection of the source, however old, so the two numbers disagreed.
    other_source = source_ensure(project=tenant.project, source_id=9102)
    intempt_send(client, tenant, [{"userId": ""}] * 6)
    now = timezone.now()
    rows = list(RejectedEvent.objects.order_by("id"))
    ages = [timedelta(hours=1), timedelta(days=30) - timedelta(minutes=2), timedelta(days=30, minutes=2),
            timedelta(days=45), timedelta(days=2), timedelta(days=40)]  # fmt: skip
    for row, age in zip(rows, ages, strict=True):
        RejectedEvent.objects.filter(id=row.id).update(received_at=now - age)
    RejectedEvent.objects.filter(id__in=[rows[4].id, rows[5].id]).update(replayed_at=now)  # replayed: not open
    RejectedEvent.objects.create(
        project=tenant.project, source=other_source, wire_format="intempt", received_at=now,
        index=0, field="userId", message="userId is required", errors=[], payload={"name": "Theirs"},
    )  # fmt: skip
    source_card = card(staff_client.get(f"/dashboard/{tenant.project.id}/sources/").content.decode(), tenant.source.id)
    count = int(re.search(r'data-testid="rejected-count">(\d+)<', source_card).group(1))
    link = re.search(r'<a href="([^"]*/rejected/[^"]*)">inspect</a>', source_card).group(1).replace("&amp;", "&")

    listed = staff_client.get(link)

    assert listed.status_code == 200
    assert count == 2
    assert listed_rejections(listed.content.decode()) == {rows[0].id, rows[1].id}
    assert "last 30 days" in listed.content.decode()

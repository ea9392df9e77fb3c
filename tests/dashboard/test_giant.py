"""Pages of a giant profile or account. An identifier producers send for many people
("unknown", a test address, a shared device id) joins them into one profile with tens of
thousands of identifiers and merged profiles, in thousands of accounts. Its pages list a
bounded number of each, with the count of all."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from profiles.models import Account, AccountIdentity, AccountMembership, Profile, ProfileMerge
from tests.dashboard.conftest import profile_make

pytestmark = pytest.mark.django_db

IDENTIFIERS, MERGED, ACCOUNTS = 600, 300, 200


@pytest.fixture
def giant(tenant: Any) -> Profile:
    """A profile owning 600 identifiers, into which 300 profiles were merged, a member of
    200 accounts, each account with 30 identifiers (written as identity resolution leaves
    them: resolving them through events would take the test minutes)."""
    project, now = tenant.project, timezone.now()
    giant = profile_make(project=project, identifiers=[f"shared-{n:04}" for n in range(IDENTIFIERS)])
    merged = Profile.objects.bulk_create(
        [Profile(project=project, first_seen=now, last_seen=now, merged_into=giant) for _ in range(MERGED)]
    )
    ProfileMerge.objects.bulk_create(
        [
            ProfileMerge(project=project, survivor=giant, merged_id=profile.id, event_name="Login", event_id=f"m{n}")
            for n, profile in enumerate(merged)
        ]
    )
    accounts = Account.objects.bulk_create(
        [Account(project=project, first_seen=now, last_seen=now) for _ in range(ACCOUNTS)]
    )
    AccountIdentity.objects.bulk_create(
        [
            AccountIdentity(project=project, account=account, value=f"org-{n}-{k}")
            for n, account in enumerate(accounts)
            for k in range(30)
        ]
    )
    AccountMembership.objects.bulk_create([AccountMembership(account=account, profile=giant) for account in accounts])
    return giant


def test_the_page_of_a_giant_profile_lists_a_bounded_part_of_it_with_the_counts(staff_client, tenant, giant):
    response = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/{giant.id}/")

    body = response.content.decode()
    assert response.status_code == 200
    identifiers = body.split('data-testid="profile-identifiers"')[1].split("</div>")[0]
    assert identifiers.count('class="chip"') == 100
    assert "the first 100 of 600" in body
    assert body.count(" merged in</span>") == 50
    assert "the newest 50 of 300" in body and ">300</span>" in body  # the stat counts every merge
    assert body.count('class="account-row"') == 50
    assert "the first 50 of 200" in body
    # Each account row shows a few of its identifiers and how many more it has.
    assert body.count('class="chip"') == 100 + 50 * 4 and "+26" in body
    assert len(body) < 200_000


def test_the_page_of_an_account_with_many_identifiers_lists_a_bounded_part(staff_client, tenant, giant):
    account = Account.objects.filter(project=tenant.project).first()
    assert account is not None
    AccountIdentity.objects.bulk_create(
        [AccountIdentity(project=tenant.project, account=account, value=f"acme-{n:04}") for n in range(500)]
    )

    body = staff_client.get(f"/dashboard/{tenant.project.id}/accounts/{account.id}/").content.decode()

    identifiers = body.split('data-testid="account-identifiers"')[1].split("</div>")[0]
    assert identifiers.count('class="chip"') == 100
    assert "the first 100 of 530" in body


def test_the_explorer_filtered_on_a_giant_profile_names_a_few_of_its_identifiers(staff_client, tenant, giant):
    body = staff_client.get(f"/dashboard/{tenant.project.id}/events/", {"profile": giant.id}).content.decode()

    notice = body.split('data-testid="profile-filter"')[1].split("</p>")[0]
    assert notice.count("<bdi>") == 10
    assert "and 590 more" in notice


def _identity_rows_read(client: Any, url: str) -> tuple[str, int]:
    """The page at ``url`` and how many identity rows its queries of identifiers returned
    (each such query run again, in the same test transaction)."""
    with CaptureQueriesContext(connection) as captured:
        body = client.get(url).content.decode()
    reads = [q["sql"] for q in captured.captured_queries if q["sql"].startswith('SELECT "profiles_identity"."value"')]
    rows = 0
    with connection.cursor() as cursor:
        for sql in reads:
            cursor.execute(sql)
            rows += len(cursor.fetchall())
    return body, rows


@pytest.mark.parametrize("query", ["", "?q=shared-0007", "?q=shared-000"])
def test_profile_lists_read_a_few_identifiers_of_a_giant_profile_not_all(staff_client, tenant, giant, query):
    profile_make(project=tenant.project, identifiers=["ann", "ann@example.com"])

    body, rows = _identity_rows_read(staff_client, f"/dashboard/{tenant.project.id}/profiles/{query}")

    assert f"/profiles/{giant.id}/" in body and "+596" in body
    assert rows <= 2 * (4 + 2)  # 4 of the giant's (the exact match and the prefix search), Ann's 2


def test_an_account_page_reads_a_few_identifiers_of_a_giant_member_not_all(staff_client, tenant, giant):
    account = Account.objects.filter(project=tenant.project).first()
    assert account is not None

    body, rows = _identity_rows_read(staff_client, f"/dashboard/{tenant.project.id}/accounts/{account.id}/")

    assert f"/profiles/{giant.id}/" in body
    assert rows <= 4

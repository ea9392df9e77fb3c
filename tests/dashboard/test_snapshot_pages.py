"""The dashboard's profile pages read one snapshot (``trackhub.db.snapshot_page``): a
merge committed while a page is read does not show half-applied. Committed for real
(``transaction=True``): inside a test's transaction the snapshot is only a savepoint."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from profiles.models import Account
from tests.profiles.conftest import (
    assert_read_in_one_snapshot,
    merge_committed_before_the_first_query_on,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_profile_page_read_while_it_is_merged_away_shows_its_identifiers(superuser_client, tenant, ann_and_bob):
    _, bob = ann_and_bob

    with merge_committed_before_the_first_query_on(
        "profiles_identity", tenant=tenant, link={"userId": "ann", "anotherUserId": "bob", "eventId": "e3"}
    ):
        response = superuser_client.get(f"/dashboard/{tenant.project.id}/profiles/{bob.id}/")

    assert response.status_code == 200
    assert response.context["profile"].identifiers == ["bob"]


@pytest.mark.parametrize("page", ["profiles/", "profiles/?q=an", "profiles/{ann}/", "accounts/{account}/"])
def test_the_snapshot_pages_answer_in_their_read_only_transaction(superuser_client, tenant, ann_and_bob, page):
    ann, _ = ann_and_bob
    account = Account.objects.get()

    with CaptureQueriesContext(connection) as captured:
        response = superuser_client.get(
            f"/dashboard/{tenant.project.id}/" + page.format(ann=ann.id, account=account.id)
        )

    assert response.status_code == 200
    assert b'<span class="chip">ann</span>' in response.content
    # The session, user and project are read before; the page's own rows all in the snapshot.
    assert_read_in_one_snapshot(captured.captured_queries, tables=('"profiles_', '"ingestion_event"'))

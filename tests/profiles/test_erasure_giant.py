"""Erasing a giant person: a shared identifier ("unknown", a test address, a shared device
id) that producers send for many people joins them into one profile with tens of
thousands of identifiers and merged profiles. Its erasure must cost statements in
proportion to the data, not to identifiers times rejected events, nor a statement per
hundred merged profiles."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ingestion.models import RejectedEvent
from profiles.models import Profile, ProfileMerge
from profiles.services import profile_erase
from tests.profiles.conftest import giant_profile_make

pytestmark = pytest.mark.django_db


def _rejected_make(tenant: Any, user_id: str) -> None:
    payload = {"name": "Purchase", "payload": [{"userId": user_id, "data": {"note": "x", "tags": [user_id]}}]}
    RejectedEvent.objects.create(
        project=tenant.project, source=tenant.source, wire_format="intempt", index="track[0].payload[0]",
        field="data", message="refused", payload=payload,
    )  # fmt: skip


def _identifiers_read(sql: str) -> int:
    """Rows the statement ``sql`` reads from its list of identifiers (``unnest``), as
    EXPLAIN ANALYZE counts them (rolled back)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
        transaction.set_rollback(True)
    plan = json.loads(plan) if isinstance(plan, str) else plan
    total = 0
    nodes = [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        # unnest in FROM is a Function Scan; in a select list, a ProjectSet.
        if node.get("Function Name") == "unnest" or node.get("Node Type") == "ProjectSet":
            total += node["Actual Rows"] * node["Actual Loops"]
        nodes.extend(node.get("Plans", []))
    return total


def test_erasing_a_giant_person_reads_their_identifiers_once_not_once_per_rejected_event(tenant):
    giant = giant_profile_make(tenant, prefix="shared", identifiers=2_000, merged=0)
    _rejected_make(tenant, "shared-7")
    for n in range(40):  # other people's refused events: they stay
        _rejected_make(tenant, f"someone-{n}")

    with CaptureQueriesContext(connection) as captured:
        erased = profile_erase(project_id=tenant.project.id, profile_id=giant.id)

    assert erased is not None and erased.rejected_events == 1
    assert RejectedEvent.objects.filter(project=tenant.project).count() == 40
    [statement] = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("DELETE FROM ingestion_rejected")]
    # The statement again over the 40 kept rows: a search of every payload for each
    # identifier read the 2,000 identifiers once per payload (80,000 rows).
    assert _identifiers_read(statement) <= 2 * 2_000


def test_erasing_a_person_with_many_merged_profiles_takes_as_many_statements_as_with_one(tenant):
    few = giant_profile_make(tenant, prefix="few", identifiers=3, merged=1)
    many = giant_profile_make(tenant, prefix="many", identifiers=3, merged=1_000)

    with CaptureQueriesContext(connection) as one_merged:
        profile_erase(project_id=tenant.project.id, profile_id=few.id)
    with CaptureQueriesContext(connection) as thousand_merged:
        erased = profile_erase(project_id=tenant.project.id, profile_id=many.id)

    assert erased is not None and erased.profiles == 1_001
    assert not Profile.objects.filter(project=tenant.project).exists()
    assert not ProfileMerge.objects.filter(project=tenant.project).exists()
    assert len(thousand_merged.captured_queries) == len(one_merged.captured_queries)

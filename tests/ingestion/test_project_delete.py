"""Deleting a project or an organization takes everything it holds, and nothing else
(``ingestion.services.project_delete``, the admin's delete pages, the purge task)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone

from ingestion.models import (
    AccessToken,
    ApiKey,
    DeletedProject,
    Event,
    EventKey,
    Organization,
    Project,
    RejectedEvent,
    Source,
)
from ingestion.services import (
    PROJECT_PURGE_STRAGGLER_SECONDS,
    deleted_projects_purge,
    project_data_purge,
    project_delete,
)
from profiles.models import (
    Account,
    AccountIdentity,
    AccountMembership,
    Identity,
    IdentityWork,
    Profile,
    ProfileMerge,
)
from profiles.services import identity_work_drain, identity_work_record
from tests.conftest import Tenant, tenant_create
from tests.profiles.conftest import identity_drain, intempt_post
from tests.profiles.processes import celery, wait_for, worker_running

pytestmark = pytest.mark.django_db

AFTER_THE_STRAGGLER_WINDOW = timedelta(seconds=PROJECT_PURGE_STRAGGLER_SECONDS + 1)


@pytest.fixture
def superuser_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-root-123"))
    return client


def data_fill(client, tenant: Tenant) -> None:
    """Events with users, a merge and an account, one rejected event, all resolved."""
    intempt_post(client, tenant, {"eventId": "1", "userId": "ada", "accountId": "acme"})
    intempt_post(client, tenant, {"eventId": "2", "userId": "bob"})
    identity_drain()
    intempt_post(client, tenant, {"eventId": "3", "userId": "ada", "anotherUserId": "bob"})
    identity_drain()
    body = json.dumps({"track": [{"name": "Bad", "payload": [{"eventId": "4"}]}]})  # no user: rejected
    client.post(tenant.intempt_url, data=body, content_type="application/json")


def rows_of(project_id: int) -> dict[str, int]:
    """Rows of every kind the project holds."""
    return {
        "sources": Source.objects.filter(project_id=project_id).count(),
        "api keys": ApiKey.objects.filter(source__project_id=project_id).count(),
        "access tokens": AccessToken.objects.filter(project_id=project_id).count(),
        "events": Event.objects.filter(project_id=project_id).count(),
        "event keys": EventKey.objects.filter(project_id=project_id).count(),
        "rejected events": RejectedEvent.objects.filter(project_id=project_id).count(),
        "profiles": Profile.objects.filter(project_id=project_id).count(),
        "identities": Identity.objects.filter(project_id=project_id).count(),
        "profile merges": ProfileMerge.objects.filter(project_id=project_id).count(),
        "accounts": Account.objects.filter(project_id=project_id).count(),
        "account identities": AccountIdentity.objects.filter(project_id=project_id).count(),
        "memberships": AccountMembership.objects.filter(account__project_id=project_id).count(),
        "identity work": IdentityWork.objects.filter(project_id=project_id).count(),
    }


def nothing_left(project_id: int) -> bool:
    return not any(rows_of(project_id).values())


@pytest.fixture
def filled(client, tenant, other_tenant) -> Tenant:
    data_fill(client, tenant)
    data_fill(client, other_tenant)
    on_postgresql = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    # Every kind is there to be deleted (the ledger is PostgreSQL's).
    assert all(count for kind, count in rows_of(tenant.project.id).items() if on_postgresql or kind != "event keys")
    return tenant


def test_the_admin_confirmation_counts_what_goes_with_the_project(superuser_client, filled):
    page = superuser_client.get(f"/admin/ingestion/project/{filled.project.id}/delete/").content.decode()

    assert "Cannot delete" not in page
    assert "<li>Events: 3</li>" in page
    assert "<li>Profiles: 2</li>" in page  # ada's and bob's, merged into one
    assert "<li>Rejected events: 1</li>" in page


def test_deleting_a_project_in_the_admin_deletes_all_it_holds_and_nothing_else(superuser_client, filled, other_tenant):
    before = rows_of(other_tenant.project.id)

    response = superuser_client.post(f"/admin/ingestion/project/{filled.project.id}/delete/", {"post": "yes"})
    project_data_purge(project_id=filled.project.id)

    assert response.status_code == 302
    assert not Project.objects.filter(id=filled.project.id).exists()
    assert nothing_left(filled.project.id)
    assert rows_of(other_tenant.project.id) == before
    assert DeletedProject.objects.get().name == "demo-organization/demo-project"


def test_a_deleted_projects_events_go_in_the_purge_after_the_deletion(filled):
    project_delete(project_id=filled.project.id)

    assert Event.objects.filter(project_id=filled.project.id).count() == 3
    assert not Profile.objects.filter(project_id=filled.project.id).exists()
    project_data_purge(project_id=filled.project.id)
    assert not Event.objects.filter(project_id=filled.project.id).exists()


def test_a_deleted_projects_credentials_are_refused(client, filled):
    project_delete(project_id=filled.project.id)
    rejected_before = RejectedEvent.objects.count()
    body = json.dumps({"track": [{"name": "After", "payload": [{"eventId": "after", "userId": "ada"}]}]})

    response = client.post(filled.intempt_url, data=body, content_type="application/json")
    read = client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Bearer {filled.read_token}")

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Invalid API key"}]}
    assert not Event.objects.filter(event_id="after").exists()
    assert RejectedEvent.objects.count() == rejected_before
    assert read.status_code == 401


def test_deleting_an_organization_in_the_admin_deletes_its_projects(superuser_client, client, filled):
    second = tenant_create(org=filled.project.organization.name, project="second-project")
    data_fill(client, second)
    organization = filled.project.organization

    page = superuser_client.get(f"/admin/ingestion/organization/{organization.id}/delete/").content.decode()
    response = superuser_client.post(f"/admin/ingestion/organization/{organization.id}/delete/", {"post": "yes"})
    deleted_projects_purge(now=timezone.now() + AFTER_THE_STRAGGLER_WINDOW)

    assert "<li>Projects: 2</li>" in page and "<li>Events: 6</li>" in page
    assert response.status_code == 302
    assert not Organization.objects.filter(id=organization.id).exists()
    assert nothing_left(filled.project.id) and nothing_left(second.project.id)


def test_deleting_projects_by_the_bulk_action(superuser_client, filled, other_tenant):
    ids = [filled.project.id, other_tenant.project.id]

    response = superuser_client.post(
        "/admin/ingestion/project/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )
    deleted_projects_purge(now=timezone.now() + AFTER_THE_STRAGGLER_WINDOW)

    assert response.status_code == 302
    assert not Project.objects.filter(id__in=ids).exists()
    assert all(nothing_left(project_id) for project_id in ids)


def test_identity_work_of_a_deleted_project_is_dropped_not_applied(client, tenant):
    # A write whose credential check passed just before the deletion committed records
    # its work after the profiles were deleted; a profile of no project fails its FK.
    intempt_post(client, tenant, {"eventId": "1", "userId": "ada"})
    late = list(IdentityWork.objects.filter(project_id=tenant.project.id).values_list("facts", flat=True))
    project_delete(project_id=tenant.project.id)
    IdentityWork.objects.create(project_id=tenant.project.id, facts=late[0])

    done = identity_work_drain(project_id=tenant.project.id)

    assert done == 0
    assert not IdentityWork.objects.filter(project_id=tenant.project.id).exists()
    assert not Profile.objects.exists()


def test_the_purge_is_marked_done_only_after_the_straggler_window(filled):
    project_id = filled.project.id
    project_delete(project_id=project_id)
    deleted_at = DeletedProject.objects.get().deleted_at

    first = project_data_purge(project_id=project_id, now=deleted_at + timedelta(seconds=1))
    # A late write's event and its identity work, committed after the first purge.
    late = Event.objects.create(
        project_id=project_id, source_id=filled.source.id, wire_format="intempt", name="Late", event_id="late",
        timestamp=deleted_at, received_at=deleted_at, properties={}, context={},
    )  # fmt: skip
    identity_work_record(project_id=project_id, events=[])
    second = project_data_purge(project_id=project_id, now=deleted_at + AFTER_THE_STRAGGLER_WINDOW)

    assert (first, second) == (False, True)
    assert not Event.objects.filter(id=late.id).exists()
    assert DeletedProject.objects.get().purged_at == deleted_at + AFTER_THE_STRAGGLER_WINDOW


def test_the_hourly_purge_finishes_a_deletion_whose_task_was_lost(filled):
    project_delete(project_id=filled.project.id)  # the on-commit task never runs here

    done = deleted_projects_purge(now=timezone.now() + AFTER_THE_STRAGGLER_WINDOW)

    assert done == 1
    assert nothing_left(filled.project.id)
    assert deleted_projects_purge() == 0  # marked purged: not done again


def test_the_purge_deletes_each_kind_in_one_statement_never_loading_rows(filled, django_assert_max_num_queries):
    # Django's cascade would SELECT the rows first (millions of events): a fast delete is
    # one DELETE per table.
    project_delete(project_id=filled.project.id)

    with django_assert_max_num_queries(20) as captured:
        project_data_purge(project_id=filled.project.id)

    selects = [query["sql"] for query in captured.captured_queries if query["sql"].startswith("SELECT")]
    assert all("ingestion_event" not in sql and "profiles_profile" not in sql for sql in selects), selects


def test_deleting_a_project_that_is_gone_is_a_no_op(filled):
    assert project_delete(project_id=filled.project.id) is True
    assert project_delete(project_id=filled.project.id) is False


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_purges_the_events_of_a_project_deleted_in_the_admin(superuser_client, client, tenant):
    data_fill(client, tenant)
    broker = settings.CELERY_BROKER_URL
    celery("purge", "-f", broker_url=broker)

    with worker_running(broker_url=broker):
        response = superuser_client.post(f"/admin/ingestion/project/{tenant.project.id}/delete/", {"post": "yes"})
        wait_for(lambda: not Event.objects.exists(), what="the worker to purge the deleted project's events")

    assert response.status_code == 302
    assert nothing_left(tenant.project.id)

"""Staff allowed to manage users and groups cannot step out of their project memberships:
privileges, superusers and other staff users are a superuser's to change (``dashboard.admin``)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from dashboard.models import ProjectMembership
from dashboard.services import project_membership_grant
from tests.dashboard.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def user_manager() -> User:
    """Staff, not a superuser, with every permission on users and groups."""
    manager = User.objects.create_user("manager", password="pw-manager-123", is_staff=True)
    manager.user_permissions.set(Permission.objects.filter(content_type__app_label="auth"))
    return manager


@pytest.fixture
def manager_client(user_manager: User) -> Client:
    return client_for(user_manager)


def user_form(user: User, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "username": user.username, "is_active": "on", "is_staff": "on",
        "date_joined_0": "2024-01-01", "date_joined_1": "00:00:00", "initial-date_joined_0": "2024-01-01",
        "initial-date_joined_1": "00:00:00",
    }  # fmt: skip
    form.update(changes)
    return form


def test_a_user_manager_cannot_make_themselves_superuser(manager_client, user_manager):
    response = manager_client.post(
        f"/admin/auth/user/{user_manager.pk}/change/",
        user_form(user_manager, is_superuser="on", user_permissions=[p.pk for p in Permission.objects.all()]),
    )

    assert response.status_code == 302, response.content.decode()[-3000:]
    user_manager.refresh_from_db()
    assert not user_manager.is_superuser
    assert user_manager.user_permissions.count() == Permission.objects.filter(content_type__app_label="auth").count()


def test_a_user_manager_cannot_change_a_superusers_password(manager_client):
    root = User.objects.create_superuser("root", password="root-password-123")

    page = manager_client.get(f"/admin/auth/user/{root.pk}/password/")
    change = manager_client.post(
        f"/admin/auth/user/{root.pk}/password/", {"password1": "taken-over-123", "password2": "taken-over-123"}
    )

    assert page.status_code == change.status_code == 403
    root.refresh_from_db()
    assert root.check_password("root-password-123")


def test_a_user_manager_cannot_give_a_group_permissions(manager_client):
    group = Group.objects.create(name="editors")

    response = manager_client.post(
        f"/admin/auth/group/{group.pk}/change/",
        {"name": "editors", "permissions": [p.pk for p in Permission.objects.all()]},
    )

    assert response.status_code == 302
    assert group.permissions.count() == 0


def test_a_superuser_still_makes_a_user_superuser(user_manager):
    client = client_for(User.objects.create_superuser("root", password="root-password-123"))

    response = client.post(f"/admin/auth/user/{user_manager.pk}/change/", user_form(user_manager, is_superuser="on"))

    assert response.status_code == 302
    user_manager.refresh_from_db()
    assert user_manager.is_superuser


def test_a_user_manager_cannot_take_over_another_staff_user(manager_client):
    # A member of a project the manager is not in: their password would open it to them.
    member = User.objects.create_user("member", password="member-password-123", is_staff=True)

    page = manager_client.get(f"/admin/auth/user/{member.pk}/password/")
    change = manager_client.post(
        f"/admin/auth/user/{member.pk}/password/", {"password1": "taken-over-123", "password2": "taken-over-123"}
    )
    delete = manager_client.post(f"/admin/auth/user/{member.pk}/delete/", {"post": "yes"})

    assert page.status_code == change.status_code == delete.status_code == 403
    member.refresh_from_db()
    assert member.check_password("member-password-123")


def test_a_user_manager_still_changes_a_non_staff_users_password(manager_client):
    user = User.objects.create_user("plain", password="plain-password-123")

    response = manager_client.post(
        f"/admin/auth/user/{user.pk}/password/", {"password1": "new-password-456", "password2": "new-password-456"}
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("new-password-456")


def test_deleting_a_user_never_reaches_memberships_of_projects_the_manager_cannot_see(tenant, other_tenant):
    manager = User.objects.create_user("member-manager", password="pw-manager-123", is_staff=True)
    manager.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["auth", "dashboard"]))
    project_membership_grant(user=manager, project=tenant.project)
    former = User.objects.create_user("former")  # staff once: memberships outlive the flag
    for project in (tenant.project, other_tenant.project):
        project_membership_grant(user=former, project=project)
    client = client_for(manager)

    page = client.get(f"/admin/auth/user/{former.pk}/delete/")
    deletion = client.post(f"/admin/auth/user/{former.pk}/delete/", {"post": "yes"})

    assert page.status_code == 200 and other_tenant.project.name not in page.content.decode()
    assert "project membership" in page.content.decode()  # what Django says it may not delete
    assert deletion.status_code == 403
    assert ProjectMembership.objects.filter(user=former).count() == 2


def test_deleting_a_user_whose_memberships_the_manager_sees_still_works(tenant):
    manager = User.objects.create_user("member-manager", password="pw-manager-123", is_staff=True)
    manager.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["auth", "dashboard"]))
    project_membership_grant(user=manager, project=tenant.project)
    former = User.objects.create_user("former")
    project_membership_grant(user=former, project=tenant.project)

    deletion = client_for(manager).post(f"/admin/auth/user/{former.pk}/delete/", {"post": "yes"})

    assert deletion.status_code == 302
    assert not User.objects.filter(pk=former.pk).exists()

"""Who gets into the dashboard, and which projects they see."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.test import Client

from dashboard.forms import NOT_STAFF_MESSAGE
from dashboard.models import ProjectMembership
from dashboard.services import project_membership_grant
from tests.conftest import tenant_create
from tests.dashboard.conftest import client_for, invalid_fields

pytestmark = pytest.mark.django_db


def test_site_root_leads_to_dashboard(client):
    response = client.get("/")

    assert response.status_code == 302 and response["Location"] == "/dashboard/"


def test_anonymous_user_is_sent_to_login(client, tenant):
    response = client.get(f"/dashboard/{tenant.project.id}/events/")

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/dashboard/{tenant.project.id}/events/"


def test_login_page_renders_with_csrf_token(client):
    response = client.get("/accounts/login/?next=/dashboard/")

    assert response.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in response.content and b'name="password"' in response.content


def test_staff_login_lands_in_first_visible_project(tenant, staff_user):
    client = Client()

    response = client.post(
        "/accounts/login/", {"username": "sam", "password": "correct-horse-battery", "next": "/dashboard/"}, follow=True
    )

    assert response.redirect_chain[-1] == (f"/dashboard/{tenant.project.id}/", 302)
    assert response.status_code == 200
    assert tenant.project.name in response.content.decode()


def test_an_oversized_sign_in_form_is_refused_without_being_read(tenant, staff_user):
    # Django reads a form's body whole into memory, before anyone is signed in; unlimited,
    # one anonymous POST of 100 MB took 200 MB of a web process.
    client = Client()
    body = urlencode({"username": "sam", "password": "correct-horse-battery", "padding": "x" * 17 * 1024 * 1024})

    response = client.post("/accounts/login/", body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_non_staff_user_is_refused(client, tenant):
    user = User.objects.create_user("visitor", password="x-password-123")
    project_membership_grant(user=user, project=tenant.project)
    client.force_login(user)

    assert client.get("/dashboard/").status_code == 403
    assert client.get(f"/dashboard/{tenant.project.id}/").status_code == 403


def test_a_non_staff_user_cannot_sign_in_and_is_told_why(tenant):
    User.objects.create_user("visitor", password="x-password-123")
    client = Client()

    response = client.post(
        "/accounts/login/", {"username": "visitor", "password": "x-password-123", "next": "/dashboard/"}
    )

    assert response.status_code == 200  # the form again, not a redirect to a 403
    body = response.content.decode()
    assert "This account is not staff: the dashboard is for staff." in body
    assert "didn&#x27;t match" not in body and "didn't match" not in body
    assert "_auth_user_id" not in client.session


def test_a_wrong_password_gets_the_generic_message_and_not_the_staff_one(tenant):
    User.objects.create_user("visitor", password="x-password-123")
    client = Client()

    response = client.post("/accounts/login/", {"username": "visitor", "password": "wrong", "next": "/dashboard/"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "not allowed in" in body
    assert "not staff" not in body  # a wrong password says nothing about the account
    assert "_auth_user_id" not in client.session


def test_staff_cannot_open_project_without_membership(staff_client, other_tenant):
    response = staff_client.get(f"/dashboard/{other_tenant.project.id}/events/")

    assert response.status_code == 404


def test_switcher_lists_only_member_projects(staff_client, tenant, other_tenant):
    body = staff_client.get(f"/dashboard/{tenant.project.id}/").content.decode()

    assert f'href="/dashboard/{tenant.project.id}/"' in body
    assert f'href="/dashboard/{other_tenant.project.id}/"' not in body


def test_superuser_sees_every_project_grouped_by_organization(superuser_client, tenant, other_tenant):
    body = superuser_client.get(f"/dashboard/{other_tenant.project.id}/").content.decode()

    assert f'href="/dashboard/{tenant.project.id}/"' in body and f'href="/dashboard/{other_tenant.project.id}/"' in body
    assert "demo-organization" in body and "other-org" in body


def test_staff_starts_in_first_project_by_organization_then_name(db):
    later = tenant_create(org="b-org", project="alpha")
    first = tenant_create(org="a-org", project="zeta")
    user = User.objects.create_user("kim", password="pw-123-456-789", is_staff=True)
    project_membership_grant(user=user, project=later.project)
    project_membership_grant(user=user, project=first.project)
    client = Client()
    client.force_login(user)

    response = client.get("/dashboard/")

    assert response.status_code == 302 and response["Location"] == f"/dashboard/{first.project.id}/"


def test_staff_without_projects_gets_explanation(db):
    client = Client()
    client.force_login(User.objects.create_user("new", password="pw-123-456-789", is_staff=True))

    response = client.get("/dashboard/")

    assert response.status_code == 200 and b"No projects yet" in response.content


def test_memberships_are_managed_in_the_admin(superuser_client, tenant):
    response = superuser_client.get("/admin/dashboard/projectmembership/add/")
    # The project select is an autocomplete: its options are what this URL answers.
    choices = superuser_client.get(
        "/admin/autocomplete/",
        {"app_label": "dashboard", "model_name": "projectmembership", "field_name": "project", "term": "demo"},
    )

    assert response.status_code == 200
    assert '<select name="project" required id="id_project" class="admin-autocomplete"' in response.content.decode()
    assert choices.status_code == 200
    assert {"id": str(tenant.project.pk), "text": "demo-organization/demo-project"} in choices.json()["results"]


@pytest.mark.parametrize("query", ["project=abc", "user=abc", "project=abc&user=x%20y"])
def test_an_add_form_with_a_relation_that_is_no_id_starts_it_empty(superuser_client, tenant, query):
    response = superuser_client.get(f"/admin/dashboard/projectmembership/add/?{query}")

    assert response.status_code == 200
    assert 'name="project"' in response.content.decode()


def test_the_membership_form_offers_staff_users_only(superuser_client, tenant):
    staff = User.objects.create_user("sam", is_staff=True)
    customer = User.objects.create_user("carla")

    form = superuser_client.get("/admin/dashboard/projectmembership/add/").content.decode()
    refused = superuser_client.post(
        "/admin/dashboard/projectmembership/add/", {"user": customer.pk, "project": tenant.project.pk}
    )

    assert f'<option value="{staff.pk}">sam</option>' in form
    assert "carla" not in form
    assert refused.status_code == 200  # the form again, with its error
    assert not ProjectMembership.objects.filter(user=customer).exists()


def test_an_add_form_keeps_a_relation_given_by_id(superuser_client, tenant):
    response = superuser_client.get(f"/admin/dashboard/projectmembership/add/?project={tenant.project.pk}")

    assert response.status_code == 200
    assert f'<option value="{tenant.project.pk}" selected>' in response.content.decode()


def test_a_member_lists_only_the_memberships_of_their_projects(member_client, tenant, other_tenant):
    own = ProjectMembership.objects.get(project=tenant.project)
    other = project_membership_grant(user=User.objects.create_user("olga", is_staff=True), project=other_tenant.project)

    body = member_client.get("/admin/dashboard/projectmembership/").content.decode()

    assert f"/admin/dashboard/projectmembership/{own.pk}/change/" in body
    assert f"/admin/dashboard/projectmembership/{other.pk}/change/" not in body and "olga" not in body


def test_a_members_project_autocomplete_offers_only_their_projects(member_client, tenant, other_tenant):
    response = member_client.get(
        "/admin/autocomplete/",
        {"app_label": "dashboard", "model_name": "projectmembership", "field_name": "project", "term": ""},
    )

    assert response.status_code == 200
    assert [result["id"] for result in response.json()["results"]] == [str(tenant.project.id)]


def test_a_member_cannot_make_themselves_a_member_of_another_project(member_client, other_tenant):
    member = User.objects.get(username="member")

    response = member_client.post(
        "/admin/dashboard/projectmembership/add/",
        {"user": member.pk, "project": other_tenant.project.id, "created_at_0": "2024-01-01", "created_at_1": "00:00"},
    )

    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not ProjectMembership.objects.filter(user=member, project=other_tenant.project).exists()


def test_signing_out_returns_to_the_sign_in_page(staff_client):
    response = staff_client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert staff_client.get("/dashboard/").status_code == 302


def test_there_are_no_password_reset_pages_that_would_promise_an_email(client, db):
    assert client.get("/accounts/password_reset/").status_code == 404


def assert_dashboard_page(body: str) -> None:
    """A page in the dashboard's look, readable on a phone: Django's bare error pages had
    neither the stylesheet nor a viewport, and no way back."""
    assert '<meta name="viewport"' in body
    assert 'href="/static/dashboard/dashboard.css"' in body
    assert '<header class="topbar">' in body


@pytest.mark.parametrize("path", ["/dashboard/999999/", "/dashboard/999999/events/1/", "/no-such-page/"])
def test_a_missing_page_is_the_dashboards_404_with_a_way_back(staff_client, tenant, path):
    response = staff_client.get(path)

    assert response.status_code == 404
    body = response.content.decode()
    assert_dashboard_page(body)
    assert "<h1>Page not found</h1>" in body
    assert 'href="/dashboard/">Go to the dashboard</a>' in body


def test_a_non_staff_user_gets_the_dashboards_403_saying_why_with_a_way_out(client, tenant):
    client.force_login(User.objects.create_user("visitor", password="x-password-123"))

    response = client.get(f"/dashboard/{tenant.project.id}/events/")

    assert response.status_code == 403
    body = response.content.decode()
    assert_dashboard_page(body)
    assert "signed in as visitor, which is not a staff account" in body
    assert '<form method="post" action="/accounts/logout/">' in body


def test_a_form_sent_without_its_csrf_token_gets_the_dashboards_page_saying_what_to_do(tenant, staff_user):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/accounts/login/", {"username": "sam", "password": "correct-horse-battery"})

    assert response.status_code == 403
    body = response.content.decode()
    assert_dashboard_page(body)  # was Django's bare technical page
    assert "<h1>This form has expired</h1>" in body
    assert "Reload the page and send the form again." in body


def test_sign_in_errors_are_tied_to_the_fields_they_are_about(tenant):
    User.objects.create_user("visitor", password="x-password-123")
    wrong = "Your username and password didn't match, or the account is not allowed in. Try again."

    refused = Client().post("/accounts/login/", {"username": "visitor", "password": "wrong"}).content.decode()
    not_staff = (
        Client().post("/accounts/login/", {"username": "visitor", "password": "x-password-123"}).content.decode()
    )

    # The message was a paragraph above the form, which a screen reader in a field never heard.
    assert invalid_fields(refused) == {"username": wrong, "password": wrong}
    assert invalid_fields(not_staff) == {"username": NOT_STAFF_MESSAGE}  # the password was right
    assert invalid_fields(Client().get("/accounts/login/").content.decode()) == {}


@pytest.mark.parametrize(
    "path", ["events/999999/", "profiles/999999/", "accounts/999999/", "rejected/999999/", "no-such-page/"]
)
def test_a_missing_page_inside_a_project_keeps_the_projects_tabs_and_switcher(staff_client, tenant, path):
    project = tenant.project

    response = staff_client.get(f"/dashboard/{project.id}/{path}")

    # It was the bare 404: no tabs, no switcher, and a way back only to the first project.
    assert response.status_code == 404
    body = response.content.decode()
    assert "<h1>Page not found</h1>" in body
    assert '<nav class="tabs" aria-label="Sections">' in body
    assert 'data-testid="project-switcher"' in body and f"<strong>{project.name}</strong>" in body
    assert f"""href="/dashboard/{project.id}/">Go to the project's overview</a>""" in body
    assert 'src="/static/dashboard/dashboard.js"' in body  # the switcher's script
    assert "no-store" in response["Cache-Control"] and "script-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["events/1/", "no-such-page/"])
def test_a_missing_page_under_a_project_the_user_may_not_see_names_nothing(staff_client, tenant, other_tenant, path):
    response = staff_client.get(f"/dashboard/{other_tenant.project.id}/{path}")

    assert response.status_code == 404
    body = response.content.decode()
    assert "<h1>Page not found</h1>" in body
    assert "other-project" not in body and "other-org" not in body
    assert 'class="tabs"' not in body and "project-switcher" not in body


def test_a_missing_page_under_a_project_is_plain_for_anyone_but_staff(client, tenant):
    # Signed out, then signed in without staff status: neither may see the project.
    visitor = User.objects.create_user("visitor", password="x-password-123")
    for _ in range(2):
        response = client.get(f"/dashboard/{tenant.project.id}/no-such-page/")

        assert response.status_code == 404
        body = response.content.decode()
        assert tenant.project.name not in body and 'class="tabs"' not in body
        client.force_login(visitor)


def test_a_superuser_gets_any_projects_tabs_on_its_missing_page(superuser_client, tenant):
    response = superuser_client.get(f"/dashboard/{tenant.project.id}/events/999999/")

    assert response.status_code == 404
    assert '<nav class="tabs" aria-label="Sections">' in response.content.decode()


def test_a_missing_page_under_thousands_of_digits_is_a_plain_404(staff_client, tenant):
    # int() refuses more than 4,300 digits: this must not become a 500.
    response = staff_client.get(f"/dashboard/{'9' * 5000}/events/")

    assert response.status_code == 404


def test_the_home_link_leads_to_the_overview_of_the_project_you_are_in(db):
    first = tenant_create(org="a-org", project="first")
    second = tenant_create(org="b-org", project="second")
    user = User.objects.create_user("kim", password="pw-123-456-789", is_staff=True)
    for tenant in (first, second):
        project_membership_grant(user=user, project=tenant.project)
    client = client_for(user)

    # It led to /dashboard/, which opens the first project.
    for path in ["", "events/", "no-such-page/"]:
        body = client.get(f"/dashboard/{second.project.id}/{path}").content.decode()
        assert f'<a class="brand" href="/dashboard/{second.project.id}/"' in body, path
    # Outside a project (the plain 404) it is the dashboard's start.
    assert '<a class="brand" href="/dashboard/"' in client.get("/no-such-page/").content.decode()

"""No admin page sends a NUL character to PostgreSQL, and every admin page carries the
pages' Content-Security-Policy (``trackhub.admin_site``; in a browser:
``test_admin_site_browser.py``)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import models
from django.test import RequestFactory

from ops.pages import PAGE_CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root", "root@example.com", "pw-root-123")


def _query_parameters(model_admin, user) -> list[str]:
    """What a hand-made list URL can name: the search, every list filter's parameters, and
    a lookup on any of the model's own text fields (the admin allows those unlisted)."""
    request = RequestFactory().get("/")
    request.user = user
    changelist = model_admin.get_changelist_instance(request)
    parameters = ["q"] + [name for spec in changelist.filter_specs for name in spec.expected_parameters()]
    fields = model_admin.model._meta.get_fields()
    return parameters + [f.name for f in fields if isinstance(f, (models.CharField, models.TextField))]


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=[model._meta.label for model, _ in REGISTERED])
def test_every_list_answers_a_nul_in_any_parameter_as_a_bad_lookup(client, superuser, tenant, model, model_admin):
    client.force_login(superuser)
    url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"

    for parameter in _query_parameters(model_admin, superuser):
        response = client.get(f"{url}?{parameter}=a%00b")

        assert (response.status_code, response.get("Location")) == (302, f"{url}?e=1"), parameter


@pytest.mark.parametrize(
    "query",
    [
        "timestamp__year=0",  # Django's ValueError: year 0 is out of range
        "name__regex=%28",  # PostgreSQL's DataError: an invalid regular expression
        "name__range=1,99999999999999999999",  # PostgreSQL's ProgrammingError
    ],
)
def test_a_list_lookup_the_database_refuses_is_a_bad_lookup_not_a_500(client, superuser, tenant, query):
    client.force_login(superuser)

    response = client.get(f"/admin/ingestion/event/?{query}")

    assert (response.status_code, response.get("Location")) == (302, "/admin/ingestion/event/?e=1")
    assert client.get(response["Location"]).status_code == 200


def test_the_autocomplete_refuses_a_nul_in_its_term(client, superuser, tenant):
    client.force_login(superuser)
    query = {"app_label": "dashboard", "model_name": "projectmembership", "field_name": "project", "term": "a\x00b"}

    response = client.get("/admin/autocomplete/", query)

    assert response.status_code == 400


def test_an_anonymous_visitor_is_still_sent_to_the_login_page(client):
    response = client.get("/admin/ingestion/event/?name=%00")

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def _admin_pages(user: User) -> list[str]:
    """The site's own pages, and every registered model's list and add form (where this
    user may add)."""
    request = RequestFactory().get("/")
    request.user = user
    pages = ["/admin/", "/admin/password_change/", "/admin/jsi18n/", "/admin/ingestion/"]
    for model, model_admin in REGISTERED:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        pages += [url, f"{url}add/"] if model_admin.has_add_permission(request) else [url]
    return pages


def test_every_admin_page_carries_the_page_policy(client, superuser, tenant):
    client.force_login(superuser)

    for url in _admin_pages(superuser):
        response = client.get(url)

        assert response.status_code == 200, url
        assert response["Content-Security-Policy"] == PAGE_CONTENT_SECURITY_POLICY, url


def test_an_object_page_and_the_autocomplete_carry_the_page_policy(client, superuser, tenant):
    client.force_login(superuser)
    query = {"app_label": "dashboard", "model_name": "projectmembership", "field_name": "project", "term": "p"}

    for url, data in [(f"/admin/ingestion/source/{tenant.source.id}/change/", None), ("/admin/autocomplete/", query)]:
        response = client.get(url, data)

        assert response.status_code == 200, url
        assert response["Content-Security-Policy"] == PAGE_CONTENT_SECURITY_POLICY, url


def test_the_admin_login_page_carries_the_page_policy(client):
    response = client.get("/admin/login/")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == PAGE_CONTENT_SECURITY_POLICY


def test_a_credential_shown_once_in_the_admin_carries_the_page_policy(client, superuser, tenant):
    client.force_login(superuser)
    form = {"source": tenant.source.id, "scopes": "track:events", "label": "shown once"}

    response = client.post("/admin/ingestion/apikey/add/", form)

    assert response.status_code == 200 and b"key_" in response.content
    assert response["Content-Security-Policy"] == PAGE_CONTENT_SECURITY_POLICY

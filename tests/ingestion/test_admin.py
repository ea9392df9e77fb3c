"""Staff manage credentials in the admin: a created secret is shown once, revocable."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from ingestion.models import AccessToken, ApiKey, Event
from ingestion.selectors import api_key_verify
from ingestion.services import access_token_create
from tests.seeds import seed_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = User.objects.create_superuser("staff", "staff@example.com", "pw-staff-123")
    client.force_login(user)
    return client


def test_admin_needs_a_staff_login(client):
    response = client.get("/admin/ingestion/event/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_creating_an_api_key_shows_its_secret_once(staff_client, tenant):
    response = staff_client.post(
        "/admin/ingestion/apikey/add/",
        {"source": tenant.source.id, "scopes": '["track:events"]', "label": "from admin"},
        follow=True,
    )

    assert response.status_code == 200
    shown = re.search(r"(key_[0-9a-f]{16}\.[\w-]+)", response.content.decode())
    assert shown, "the new secret is shown in a message"
    key = api_key_verify(presented=shown.group(1))
    assert key is not None and key.label == "from admin"
    detail = staff_client.get(f"/admin/ingestion/apikey/{key.pk}/change/").content.decode()
    assert shown.group(1).split(".")[1] not in detail


@pytest.mark.parametrize(
    ("scopes", "message"),
    [('["read"]', "API key scopes are track:events; not read"), ('"track:events"', "scopes must be a list of strings")],
)
def test_an_api_key_that_could_never_work_is_refused(staff_client, tenant, scopes, message):
    before = ApiKey.objects.count()

    response = staff_client.post(
        "/admin/ingestion/apikey/add/", {"source": tenant.source.id, "scopes": scopes, "label": "typo"}
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert ApiKey.objects.count() == before


def test_an_access_token_for_a_source_of_another_project_is_refused(staff_client, tenant, other_tenant):
    response = staff_client.post(
        "/admin/ingestion/accesstoken/add/",
        {"project": tenant.project.id, "source": other_tenant.source.id, "scopes": '["track_api"]'},
    )

    assert response.status_code == 200
    assert "belongs to another project" in response.content.decode()
    assert not AccessToken.objects.filter(source=other_tenant.source, project=tenant.project).exists()


def test_a_track_token_whose_source_moved_to_another_project_cannot_write(client, tenant, other_tenant):
    token, presented = access_token_create(project=tenant.project, source=tenant.source, scopes=["track_api"])
    AccessToken.objects.filter(pk=token.pk).update(source=other_tenant.source)

    response = client.post(
        "/api/track",
        data=[{"event_name": "x", "user_id": "u", "timestamp": "2024-01-01T00:00:00Z"}],
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {presented}",
    )

    assert response.status_code == 401
    assert Event.objects.count() == 0


def test_revoke_action_revokes(staff_client, tenant):
    key = ApiKey.objects.get(source=tenant.source)
    staff_client.post("/admin/ingestion/apikey/", {"action": "revoke", "_selected_action": [key.pk]})

    assert api_key_verify(presented=tenant.api_key) is None


def test_ingested_event_appears_in_admin_list_and_search(staff_client, tenant, client):
    client.post(tenant.intempt_url, data=seed_body("intempt_curl.json"), content_type="application/json")
    event = Event.objects.get()

    listing = staff_client.get("/admin/ingestion/event/?q=custom@intempt.com").content.decode()
    detail = staff_client.get(f"/admin/ingestion/event/{event.pk}/change/").content.decode()

    assert "generated-event-id" in listing
    assert "generated-session-id" in detail and "productName" in detail


@pytest.mark.parametrize(
    "page",
    ["organization", "project", "source", "apikey", "accesstoken", "website", "event", "rejectedevent"],
)
def test_admin_pages_render(staff_client, tenant, page):
    assert staff_client.get(f"/admin/ingestion/{page}/").status_code == 200

"""Sessions, the signed-in user and flash messages are set up for browser pages only, not
for the track endpoints and the read API (``ops.browser``)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db

BROWSER_STATE = ("session", "user", "_messages")


def test_a_track_request_gets_no_session_user_or_messages(client, tenant):
    response = client.post(
        tenant.intempt_url, data=b'{"track": [{"name": "Signup", "payload": [{"userId": "ann"}]}]}',
        content_type="application/json",
    )  # fmt: skip

    assert response.status_code == 200
    # The view sets the request's user from the credential, not from a session.
    assert not any(hasattr(response.wsgi_request, name) for name in ("session", "_messages"))


@pytest.mark.parametrize("path", ["/track/", "//v1/track/", "/track//", "/identify", "/identify/"])
def test_a_track_request_at_any_track_path_gets_no_session_or_messages(client, tenant, path):
    body = b'{"profileId": "ann"}' if "identify" in path else b'{"name": "x", "user_id": "ann", "event_name": "x"}'
    response = client.post(
        path, data=body, content_type="application/json",
        HTTP_AUTHORIZATION=f"{'Token' if 'v1' in path else 'Bearer'} {tenant.api_key}", PATH_INFO=path,
    )  # fmt: skip

    assert response.status_code in (200, 202)
    assert not any(hasattr(response.wsgi_request, name) for name in ("session", "_messages"))


def test_a_read_api_request_gets_no_session_user_or_messages(client, tenant):
    response = client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Bearer {tenant.read_token}")

    assert response.status_code == 200
    assert not any(hasattr(response.wsgi_request, name) for name in ("session", "_messages"))


def test_a_dashboard_request_still_gets_them_and_a_signed_in_user(client, tenant):
    user = User.objects.create_superuser("root", password="root-password-123")
    client.force_login(user)

    response = client.get("/dashboard/")

    assert response.status_code == 302
    assert all(hasattr(response.wsgi_request, name) for name in BROWSER_STATE)
    assert response.wsgi_request.user == user


@pytest.mark.parametrize("path", ["/admin/track", "/admin/track/", "/admin/ingestion/event/1/track/"])
def test_an_admin_path_ending_in_track_still_gets_a_session_and_user(client, path):
    # Anonymous: the admin's login page, not a 500 from a request without a user.
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert hasattr(response.wsgi_request, "user")

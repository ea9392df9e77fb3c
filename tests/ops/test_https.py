"""With ``SECURE_SSL_REDIRECT`` on, a producer's plain-HTTP POST is refused with JSON
rather than redirected, so no event is lost to a redirect (``ops.middleware``)."""

from __future__ import annotations

import json
import uuid

import pytest

from ingestion.models import Event

pytestmark = pytest.mark.django_db

INTEMPT_BODY = json.dumps({"track": [{"name": "Purchase", "payload": [{"eventId": "e-1", "userId": "ada"}]}]})


@pytest.fixture
def https_only(settings):
    settings.SECURE_SSL_REDIRECT = True


def test_a_plain_http_track_post_is_a_403_in_the_format_shape_naming_the_https_url(client, tenant, https_only):
    response = client.post(tenant.intempt_url, data=INTEMPT_BODY, content_type="application/json")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    (error,) = response.json()["errors"]  # Intempt's error shape
    assert error["message"] == (
        f"TrackHub takes requests over HTTPS only: send this request to https://testserver{tenant.intempt_url}"
    )
    assert not Event.objects.exists()


def test_a_plain_http_thrivestack_post_answers_with_a_uuid_response_id(client, tenant, https_only):
    response = client.post(
        "/api/track", data=b"[]", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {tenant.bearer_token}"
    )

    body = response.json()
    assert response.status_code == 403
    assert body["success"] is False and "https://testserver/api/track" in body["message"]
    assert str(uuid.UUID(body["response_id"])) == body["response_id"]


def test_a_plain_http_post_elsewhere_is_a_json_403(client, https_only):
    response = client.post("/api/v1/events/", data=b"{}", content_type="application/json")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "TrackHub takes requests over HTTPS only: send this request to https://testserver/api/v1/events/"
    }


def test_a_post_over_https_is_taken(client, tenant, https_only):
    response = client.post(tenant.intempt_url, data=INTEMPT_BODY, content_type="application/json", secure=True)

    assert response.status_code == 200
    assert Event.objects.get().event_id == "e-1"


def test_a_plain_http_page_visit_is_still_redirected_to_https(client, https_only):
    response = client.get("/accounts/login/")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/"


def test_without_the_setting_a_plain_http_post_is_taken(client, tenant):
    response = client.post(tenant.intempt_url, data=INTEMPT_BODY, content_type="application/json")

    assert response.status_code == 200
    assert Event.objects.get().event_id == "e-1"

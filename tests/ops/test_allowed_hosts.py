"""A request for a host not in ``DJANGO_ALLOWED_HOSTS`` is refused before any view runs
(Django's 400): in the track format's own shape, as JSON for the read API, as Django's
page for a browser (``ops.views.bad_request``)."""

from __future__ import annotations

import pytest

from ingestion.models import Event
from tests.hardening.formats import event_specs, post, present_formats, response_json

pytestmark = pytest.mark.django_db

FORMATS = present_formats()
HOST_REFUSED = "This TrackHub does not serve the host 'evil.example'"


@pytest.fixture
def one_allowed_host(settings):
    settings.ALLOWED_HOSTS = ["track.example.com"]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_a_track_post_for_another_host_is_a_400_in_the_format_shape(client, tenant, fmt, one_allowed_host):
    response = post(client, fmt, tenant, fmt.body(event_specs(1)), HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert fmt.is_error(response_json(response))
    assert HOST_REFUSED in response.content.decode()
    assert not Event.objects.exists()


def test_userpilot_names_a_refused_host_as_a_request_error_not_a_body_error(client, tenant, one_allowed_host):
    fmt = next(fmt for fmt in FORMATS if fmt.name == "userpilot")
    response = post(client, fmt, tenant, fmt.body(event_specs(1)), HTTP_HOST="evil.example")

    assert response.status_code == 400
    [error] = response_json(response)["errors"]
    assert error["error_code"] == "INVALID_REQUEST"
    assert error["message"].startswith(HOST_REFUSED)
    assert not Event.objects.exists()


def test_a_read_api_request_for_another_host_is_a_json_400(client, one_allowed_host):
    response = client.get("/api/v1/events/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response.json()["detail"].startswith(HOST_REFUSED)


def test_a_page_visit_for_another_host_gets_djangos_page(client, one_allowed_host):
    response = client.get("/accounts/login/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")

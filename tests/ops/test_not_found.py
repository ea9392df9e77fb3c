"""A URL no pattern matches: JSON for machines, Django's page for a browser, and no slash
redirect (nor, with DEBUG on, a 500) for a POST (``ops.middleware``)."""

from __future__ import annotations

import pytest

from ops.middleware import TRACK_URLS_HINT

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/batch", "/v1/trak", "/projects/acme/track"])
def test_a_post_to_a_url_with_no_track_endpoint_is_a_json_404_naming_the_track_urls(client, path):
    response = client.post(path, data=b'{"event_name": "x"}', content_type="application/json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": TRACK_URLS_HINT}
    assert "/api/track (ThriveStack)" in TRACK_URLS_HINT


def test_a_browser_opening_a_missing_page_gets_the_html_404(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/api/v1/events", "/dashboard"])
def test_a_post_to_a_url_missing_its_slash_is_a_json_404_not_a_redirect(client, settings, debug, path):
    # With DEBUG on (the quick start) Django raises for a POST it would have to redirect.
    settings.DEBUG = debug

    response = client.post(path, data=b"{}", content_type="application/json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_a_page_visit_missing_its_slash_is_still_redirected(client):
    response = client.get("/dashboard")

    assert response.status_code == 301
    assert response["Location"] == "/dashboard/"

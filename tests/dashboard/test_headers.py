"""The dashboard's pages are kept by no cache and load nothing but this site's own files."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from ingestion.models import Event, RejectedEvent
from profiles.models import Profile
from tests.dashboard.conftest import identity_resolve, intempt_send

pytestmark = pytest.mark.django_db

# What a producer controls, sent as an event name, identifier and property.
MARKUP = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


@pytest.fixture
def pages(client, tenant) -> list[str]:
    """Every kind of dashboard page, over a project holding events with markup in them."""
    assert (
        intempt_send(client, tenant, [{"userId": "u" + MARKUP, "data": {"k": MARKUP}}], name=MARKUP).status_code == 200
    )
    assert intempt_send(client, tenant, [{"userId": ""}]).status_code == 400
    identity_resolve()
    project = f"/dashboard/{tenant.project.id}"
    event, rejected, profile = Event.objects.get(), RejectedEvent.objects.get(), Profile.objects.get()
    return [
        "/dashboard/",
        f"{project}/",
        f"{project}/live/",
        f"{project}/sources/",
        f"{project}/events/",
        f"{project}/events/?name=x",
        f"{project}/events/{event.id}/",
        f"{project}/rejected/",
        f"{project}/rejected/{rejected.id}/",
        f"{project}/profiles/",
        f"{project}/profiles/?q=u",
        f"{project}/profiles/{profile.id}/",
        f"{project}/warnings/",
    ]


class _InlineCode(HTMLParser):
    """What a page carries that a policy without 'unsafe-inline' would block: scripts
    without ``src``, ``<style>`` elements, ``style`` and ``on...`` attributes."""

    def __init__(self, body: str) -> None:
        super().__init__()
        self.found: list[str] = []
        self.feed(body)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if (tag == "script" and "src" not in names) or tag == "style":
            self.found.append(tag)
        self.found += [f"{tag}[{name}]" for name in names if name == "style" or name.startswith("on")]


def _assert_private_and_confined(response) -> None:
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "private"} <= cache_control
    directives = (part.strip().partition(" ") for part in response["Content-Security-Policy"].split(";"))
    policy = {name: value for name, _, value in directives}
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["default-src"] == "'self'" and policy["frame-ancestors"] == "'none'"


def test_every_dashboard_page_is_not_cached_and_runs_only_its_own_script(staff_client, pages):
    for url in pages:
        response = staff_client.get(url, follow=url == "/dashboard/")

        assert response.status_code == 200, url
        _assert_private_and_confined(response)
        body = response.content.decode()
        # The policy allows no inline script or style: the pages must need none.
        assert _InlineCode(body).found == [], url


def test_every_dashboard_page_answers_head_as_a_link_checker_sends_it(staff_client, pages):
    for page in pages:
        response = staff_client.head(page)

        assert response.status_code == staff_client.get(page).status_code != 405, page
        assert response.content == b"", page


def test_the_redirect_to_sign_in_and_the_sign_in_page_are_not_cached(tenant):
    client = Client()

    to_login = client.get(f"/dashboard/{tenant.project.id}/events/")
    login = client.get(to_login["Location"])

    assert to_login.status_code == 302 and login.status_code == 200
    _assert_private_and_confined(to_login)
    _assert_private_and_confined(login)
    assert _InlineCode(login.content.decode()).found == []


def test_a_replay_answer_is_not_cached(staff_client, tenant, pages):
    rejected = RejectedEvent.objects.get()

    response = staff_client.post(f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/", {"payload": "{"})

    assert response.status_code == 400
    _assert_private_and_confined(response)


def test_the_403_of_a_user_no_longer_staff_is_not_cached(staff_client, staff_user, tenant):
    staff_user.is_staff = False
    staff_user.save(update_fields=["is_staff"])

    response = staff_client.get(f"/dashboard/{tenant.project.id}/")

    assert response.status_code == 403
    _assert_private_and_confined(response)


def test_a_csrf_failure_page_is_not_cached(staff_user, tenant):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)

    response = client.post(f"/dashboard/{tenant.project.id}/rejected/1/", {"payload": "{}"})

    assert response.status_code == 403 and b"This form has expired" in response.content
    _assert_private_and_confined(response)


def test_a_405_page_is_not_cached(staff_client, tenant):
    response = staff_client.post(f"/dashboard/{tenant.project.id}/")

    assert response.status_code == 405
    _assert_private_and_confined(response)

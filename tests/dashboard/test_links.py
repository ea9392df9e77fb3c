"""Every link of the dashboard, followed from /dashboard/ as a staff user clicks through:
each answers 200 (a merged-away profile or account redirects to one that does), and a
link to a place on a page (``#source-7001``) finds that place there."""

from __future__ import annotations

import html
import re
from collections import deque
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from ingestion.models import RejectedEvent
from tests.dashboard.conftest import identity_resolve, intempt_send

pytestmark = pytest.mark.django_db

# Enough to follow every link of the seeded project below; the crawl fails past it.
MAX_PAGES = 300


def links(body: str, page_url: str) -> list[str]:
    """The dashboard links of a page (the live tails' fragment URLs included), absolute."""
    found = [urljoin(page_url, html.unescape(href)) for href in re.findall(r'(?:href|data-live-url)="([^"]*)"', body)]
    return [link for link in found if urlsplit(link).path.startswith("/dashboard/")]


def crawl(client: Client) -> dict[str, tuple[int, str]]:
    """Status and body of every dashboard page reachable from /dashboard/, redirects followed."""
    answers: dict[str, tuple[int, str]] = {}
    queue = deque(["/dashboard/"])
    while queue:
        url = urlsplit(queue.popleft())._replace(fragment="").geturl()
        if url in answers:
            continue
        assert len(answers) < MAX_PAGES, "the crawl does not end: a link makes new links forever"
        response = client.get(url)
        body = response.content.decode()
        answers[url] = (response.status_code, body)
        if response.status_code == 302:
            queue.append(urljoin(url, response["Location"]))
        elif response.status_code == 200:
            queue.extend(links(body, url))
    return answers


def assert_every_link_answers(client: Client) -> None:
    answers = crawl(client)

    broken = {url: status for url, (status, _) in answers.items() if status not in (200, 302)}
    assert broken == {}
    for _, body in answers.values():
        for link in links(body, "/"):
            path, fragment = link.split("#", 1) if "#" in link else (link, "")
            if fragment:
                assert f'id="{fragment}"' in answers[urlsplit(path).geturl()][1], link


def test_every_link_of_a_fresh_project_answers(staff_client, tenant):
    assert_every_link_answers(staff_client)


def test_every_link_of_a_busy_project_answers(client, staff_client, tenant, monkeypatch):
    # Pages of two rows, so that every list has an "Older" link to follow.
    monkeypatch.setattr("dashboard.views.PAGE_SIZE", 2)
    intempt_send(client, tenant, [{"userId": "anon-1"}], name="Page Viewed")
    identity_resolve()
    ada = {"userId": "ada@example.com", "accountId": "acme", "userAttributes": {"plan": "pro"}}
    intempt_send(client, tenant, [ada] * 3, name="Signup")
    identity_resolve()
    intempt_send(client, tenant, [{"userId": "ada@example.com", "profileId": "anon-1"}], name="Login")  # a merge
    intempt_send(client, tenant, [{"userId": "guest"}] * 3, name="Login")  # warnings
    intempt_send(client, tenant, [{"userId": ""}] * 3, name="Bad")  # rejections
    identity_resolve()
    RejectedEvent.objects.filter(id=RejectedEvent.objects.order_by("id")[0].id).update(replayed_at=timezone.now())

    assert_every_link_answers(staff_client)

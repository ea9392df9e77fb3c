"""axe-core (the copy axe-playwright-python ships) on every kind of dashboard page, with a
month of demo traffic, at a desktop's and a phone's width: no serious or critical
violation of the WCAG 2.0/2.1 A and AA rules. Django's own /admin/ pages are not audited.

One live server, one seeded database and one browser serve the whole module: seeding the
demo project takes seconds, and a test per page and width keeps each failure to itself.
axe.run is called directly, to ask for the violations alone (the package's wrapper asks
for every pass too). Each page's violations, of any impact, go to test-artifacts/axe/.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from dashboard.services import project_membership_grant
from ingestion.models import Event, RejectedEvent, Source
from ingestion.services import api_key_create
from profiles.models import Account
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.dashboard.conftest import identity_resolve, ms
from tests.dashboard.test_browser import ARTIFACTS, seed_demo_project, send

pytestmark = pytest.mark.browser

# The success criteria of WCAG 2.0 and 2.1, levels A and AA; not axe's "best-practice" rules.
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
BLOCKING = {"serious", "critical"}
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
# Hashed and checked with the real hasher: the module signs in before any test's
# ``fast_password_hashing`` switches to MD5.
PASSWORD = "correct-horse-battery"


@dataclass(frozen=True)
class Demo:
    project: int
    source: int
    event: int
    profile: int
    account: int
    rejected: int
    track_url: str


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any) -> Iterator[Demo]:
    """``test_browser``'s demo project (two sources, a merged profile, accounts, a rejected
    event) plus an ingestion warning, committed for the module's live server, and a staff
    member of it; the database is emptied after, as ``transactional_db`` would have."""
    with django_db_blocker.unblock():
        cache.clear()
        client = Client()
        made = seed_demo_project(client)
        project = made["project"]
        source = Source.objects.get(id=7001)
        _, key = api_key_create(source=source)
        url = f"/{project.organization.name}/projects/{project.name}/sources/{source.id}/track?apiKey={key}"
        send(client, url, "Page Viewed", [{"eventId": "guest-1", "userId": "null", "timestamp": ms(timezone.now())}])
        identity_resolve()
        user = User.objects.create_user("sam", password=PASSWORD, is_staff=True)
        project_membership_grant(user=user, project=project)
        yield Demo(
            project=project.id,
            source=source.id,
            event=Event.objects.get(project=project, event_id="ada-2").id,
            profile=made["profile"].id,
            account=Account.objects.get(project=project, identities__value="acme").id,
            rejected=RejectedEvent.objects.get(project=project).id,
            track_url=url,
        )
        call_command("flush", interactive=False, verbosity=0)
        cache.clear()


@pytest.fixture(autouse=True)
def _live_server_helper() -> None:
    """pytest-django's fixture of this name, overridden for this module: it empties the
    database after every test that uses ``live_server``, and this module's demo data is
    seeded once (``demo``). The server's own settings change (its host allowed) is moot:
    it serves on localhost, which ALLOWED_HOSTS has."""


@pytest.fixture(scope="module")
def chromium(demo: Demo, live_server: Any) -> Iterator[Any]:
    """Started after the seeding and stopped before the database is emptied: Django
    refuses the ORM in this thread while Playwright's event loop runs in it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def tabs(chromium: Any, live_server: Any) -> Iterator[dict[tuple[str, bool], Any]]:
    """A browser tab per width, signed out and signed in (once, through the sign-in form),
    each with axe-core loaded into every page it opens; reused from test to test."""
    made = {}
    for viewport, size in VIEWPORTS.items():
        for signed_in in (False, True):
            page = chromium.new_context(viewport=size).new_page()
            if signed_in:
                page.goto(f"{live_server.url}/accounts/login/")
                page.fill("input[name=username]", "sam")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_selector("[data-testid=events-30d]")
            # Playwright runs it outside the pages' Content-Security-Policy, as page.evaluate would.
            page.context.add_init_script(AXE_SCRIPT)
            made[viewport, signed_in] = page
    yield made
    for page in made.values():
        page.context.close()


def open_details(selector: str) -> Callable[[Any], None]:
    def prepare(page: Any) -> None:
        for summary in page.locator(f"{selector} > summary").all():
            summary.click()

    return prepare


def switcher_opened(page: Any) -> None:
    page.click(".switcher summary")
    page.wait_for_selector(".switcher-menu a", state="visible")


def keys_and_tail_opened(page: Any) -> None:
    open_details("details.keys")(page)
    open_details("details.tail")(page)
    page.wait_for_selector("details.tail a.event-name")


def sign_in_refused(page: Any) -> None:
    page.fill("input[name=username]", "sam")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    page.wait_for_selector("#login-error")


def replay_refused(page: Any) -> None:
    page.fill("textarea[name=payload]", json.dumps({"name": "Signup", "payload": [{"eventId": "bad-1"}]}))
    page.click("text=Replay through ingestion")
    page.wait_for_selector("[data-testid=replay-problems]")


@dataclass(frozen=True)
class Audited:
    path: str  # formatted with the Demo's fields
    prepare: Callable[[Any], None] | None = None
    signed_in: bool = True


PAGES = {
    "sign-in": Audited("/accounts/login/", signed_in=False),
    "sign-in-refused": Audited("/accounts/login/", sign_in_refused, signed_in=False),
    "overview": Audited("/dashboard/{project}/", open_details("details.chart-data")),
    # Open over a short page: the overview's own test covers what is under it.
    "project-switcher": Audited("/dashboard/{project}/warnings/", switcher_opened),
    # Every source's card, its keys and its live tail opened (a source has no page of its own).
    "sources": Audited("/dashboard/{project}/sources/#source-{source}", keys_and_tail_opened),
    "events": Audited("/dashboard/{project}/events/"),
    "events-filtered": Audited("/dashboard/{project}/events/?name=Purchase&user=ada%40example.com"),
    "events-invalid-filter": Audited("/dashboard/{project}/events/?value=x&since=yesterday"),
    "event": Audited("/dashboard/{project}/events/{event}/"),
    "profiles": Audited("/dashboard/{project}/profiles/"),
    "profiles-search": Audited("/dashboard/{project}/profiles/?q=acme"),
    "profile-merged": Audited("/dashboard/{project}/profiles/{profile}/"),
    "account": Audited("/dashboard/{project}/accounts/{account}/"),
    "rejected": Audited("/dashboard/{project}/rejected/?replayed=1"),
    "rejected-detail": Audited("/dashboard/{project}/rejected/{rejected}/"),
    "rejected-replay-refused": Audited("/dashboard/{project}/rejected/{rejected}/", replay_refused),
    "warnings": Audited("/dashboard/{project}/warnings/"),
    "not-found": Audited("/dashboard/{project}/no-such-page/"),
}


def described(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines += [f"    {' '.join(map(str, node['target']))}" for node in violation["nodes"]]
    return "\n".join(lines)


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_serious_or_critical_wcag_violation(
    name: str, viewport: str, demo: Demo, live_server: Any, tabs: dict[tuple[str, bool], Any]
) -> None:
    audited = PAGES[name]
    page = tabs[viewport, audited.signed_in]
    path = audited.path.format(**vars(demo))
    response = page.goto(live_server.url + path)
    assert response is not None and response.status in (200, 404), (name, response and response.status)
    if audited.prepare:
        audited.prepare(page)
    results = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)

    (ARTIFACTS / "axe").mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "axe" / f"{name}-{viewport}.json").write_text(json.dumps(results["violations"], indent=2))
    blocking = [violation for violation in results["violations"] if violation["impact"] in BLOCKING]
    assert blocking == [], f"{path} at {viewport} width:\n{described(blocking)}"


def test_the_live_list_says_how_many_events_arrived(
    demo: Demo, live_server: Any, tabs: dict[tuple[str, bool], Any]
) -> None:
    page = tabs["desktop", True]
    page.goto(f"{live_server.url}/dashboard/{demo.project}/")
    status = page.locator("[data-testid=live-events] >> xpath=ancestor::table/following-sibling::*[@role='status']")
    assert status.inner_text() == ""
    now = ms(timezone.now())
    events = [{"eventId": f"live-{n}", "userId": "ada@example.com", "timestamp": now} for n in range(2)]
    body = {"track": [{"name": "Page Viewed", "payload": events}]}

    assert page.request.post(live_server.url + demo.track_url, data=body).ok

    page.wait_for_function("e => e.textContent !== ''", arg=status.element_handle(), timeout=12000)
    assert status.inner_text() == "2 new events"  # not the rows: a live table read them all out


def test_a_live_tail_opened_says_nothing_of_the_rows_it_loads(
    demo: Demo, live_server: Any, tabs: dict[tuple[str, bool], Any]
) -> None:
    # A source's tail arrives empty ("Loading…") inside a closed <details>: the rows its
    # first refresh brings were there before, and are no news ("3 new events" was said).
    page = tabs["desktop", True]
    page.goto(f"{live_server.url}/dashboard/{demo.project}/sources/")
    tail = page.locator(f"[data-testid=tail-{demo.source}]")
    status = tail.locator("xpath=.//table/following-sibling::*[@role='status']")
    tail.locator("summary").click()
    tail.locator("a.event-name").first.wait_for()  # the status is written with the rows

    assert status.inner_text() == ""

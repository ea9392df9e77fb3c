"""End to end in a real headless Chromium (Debian's ``chromium``) driven by Playwright:
log in, read the overview, filter events, open an event and its profile; screenshots of
each step go to test-artifacts/ (docs/screenshots/ holds copies for the README)."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connections
from django.test import Client
from django.utils import timezone

from dashboard.services import project_membership_grant
from ingestion.models import Event
from ingestion.services import api_key_create, source_ensure
from profiles.models import Account, Profile
from tests.conftest import tenant_create
from tests.dashboard.conftest import identity_resolve, ms

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
T = TypeVar("T")

EVENT_MIX = [("Page Viewed", 10), ("Signup", 2), ("Feature Used", 6), ("Purchase", 2), ("Invite Sent", 1)]


def send(client: Client, url: str, name: str, payload: list[dict]) -> None:
    body = json.dumps({"track": [{"name": name, "payload": payload}]})
    response = client.post(url, data=body, content_type="application/json")
    assert response.status_code == 200, response.content


def outside_playwrights_loop(query: Callable[[], T]) -> T:
    """Run ORM ``query`` in a thread of its own: Django refuses the ORM in this one while
    Playwright's event loop runs here. The thread's connection is closed after, so the
    test database's teardown finds none left open."""

    def run() -> T:
        try:
            return query()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def seed_demo_project(client: Client) -> dict:
    """A project with a month of traffic from two sources and one merged profile."""
    tenant = tenant_create(org="acme-inc", project="web-app", source_id=7001)
    mobile = source_ensure(project=tenant.project, source_id=7002, kind="web")
    mobile.name = "iOS app"
    mobile.save(update_fields=["name"])
    _, mobile_key = api_key_create(source=mobile)
    org, project = tenant.project.organization.name, tenant.project.name
    urls = [tenant.intempt_url, f"/{org}/projects/{project}/sources/{mobile.id}/track?apiKey={mobile_key}"]
    tenant.source.name = "Backend"
    tenant.source.save(update_fields=["name"])
    tenant_create(org="acme-inc", project="marketing-site", source_id=7003)
    randomizer = random.Random(7)
    now = timezone.now()
    groups: dict[tuple[str, int], list[dict]] = {}
    names = [name for name, weight in EVENT_MIX for _ in range(weight)]
    for index in range(1500):
        # More traffic recently, like a growing product.
        age = timedelta(hours=randomizer.triangular(0, 24 * 30, 0) + randomizer.random())
        user = f"user{randomizer.randint(1, 60)}@example.com"
        event = {
            "eventId": f"demo-{index}",
            "userId": user,
            "timestamp": ms(now - age),
            "accountId": randomizer.choice(["acme", "globex", "initech"]),
            "data": {"plan": randomizer.choice(["free", "pro", "team"]), "amount": randomizer.randint(5, 200)},
        }
        groups.setdefault((randomizer.choice(names), randomizer.choice([0, 0, 1])), []).append(event)
    for (name, source_index), payload in groups.items():
        send(client, urls[source_index], name, payload)
    rejected = [{"eventId": "bad-1", "userId": ""}]
    client.post(
        urls[0], data=json.dumps({"track": [{"name": "Signup", "payload": rejected}]}), content_type="application/json"
    )
    identity_resolve()

    # Ada browses anonymously, signs up, then logs in: the login links both identifiers and
    # identity resolution merges the anonymous profile into hers.
    anonymous_visit = {"eventId": "ada-1", "userId": "anon-7f3a", "data": {"path": "/pricing"}}
    purchase = {
        "eventId": "ada-2",
        "userId": "ada@example.com",
        "accountId": "acme",
        "userAttributes": {"name": "Ada Lovelace", "plan": "pro", "country": "UK"},
        "data": {"plan": "pro", "amount": 149},
    }
    login = {"eventId": "ada-3", "userId": "ada@example.com", "profileId": "anon-7f3a"}
    for name, event, age in [
        ("Page Viewed", anonymous_visit, timedelta(days=3)),
        ("Purchase", purchase, timedelta(hours=2)),
        ("Login", login, timedelta(hours=1)),
    ]:
        send(client, urls[0], name, [{**event, "timestamp": ms(now - age)}])
        identity_resolve()
    survivor = Profile.objects.get(project=tenant.project, identities__value="ada@example.com")
    return {"project": tenant.project, "profile": survivor}


@pytest.fixture
def demo(transactional_db):
    """The demo project and a staff member of it, made before the browser starts: ORM calls
    made while Playwright's event loop runs would open a connection of their own that the
    test database's teardown does not close."""
    cache.clear()
    demo = seed_demo_project(Client())
    user = User.objects.create_user("sam", password="correct-horse-battery", is_staff=True)
    project_membership_grant(user=user, project=demo["project"])
    return demo


def test_staff_goes_from_login_to_merged_timeline(demo, live_server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1366, "height": 900}, device_scale_factor=1)

    page.goto(f"{live_server.url}/dashboard/")
    assert "/accounts/login/" in page.url
    page.screenshot(path=str(ARTIFACTS / "login.png"))
    page.fill("input[name=username]", "sam")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")

    page.wait_for_selector("[data-testid=events-30d]")
    assert page.url == f"{live_server.url}/dashboard/{demo['project'].id}/"
    assert page.inner_text("[data-testid=events-30d]") == "1.5k"  # 1,500 + Ada's 3
    assert page.locator("svg.timeseries rect.column").count() == 24 + 30
    assert page.locator("[data-testid=live-events] tr").count() == 15
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

    page.click("nav.tabs >> text=Events")
    page.fill("input[name=name]", "Purchase")
    page.fill("input[name=user]", "ada@example.com")
    page.click("text=Apply filters")
    page.wait_for_url("**/events/?*")
    rows = page.locator("[data-testid=event-results] tbody tr")
    assert rows.count() == 1
    assert rows.first.locator(".event-name").inner_text() == "Purchase"
    page.screenshot(path=str(ARTIFACTS / "events.png"), full_page=True)

    rows.first.locator(".event-name").click()
    page.wait_for_selector("[data-testid=event-profile-link]")
    assert "&quot;" not in page.content().split("<pre")[1]  # the JSON is shown pretty, not escaped twice
    page.click("[data-testid=event-profile-link]")

    page.wait_for_selector("[data-testid=profile-timeline]")
    assert page.url.endswith(f"/profiles/{demo['profile'].id}/")
    assert page.inner_text("[data-testid=profile-identifiers]").split() == ["ada@example.com", "anon-7f3a"]
    timeline = page.inner_text("[data-testid=profile-timeline]")
    assert "Purchase" in timeline and "Login" in timeline
    assert "anon-7f3a" in timeline  # the merged-away profile's event is on the timeline too
    page.screenshot(path=str(ARTIFACTS / "profile.png"), full_page=True)

    page.click("nav.tabs >> text=Sources")
    page.wait_for_selector("[data-testid=source-7001]")
    assert page.inner_text("[data-testid=source-7001] [data-testid=rejected-count]") == "1"
    page.click("[data-testid=tail-7002] summary")
    page.wait_for_selector("[data-testid=tail-7002] a.event-name")
    page.screenshot(path=str(ARTIFACTS / "sources.png"), full_page=True)

    page.click("nav.tabs >> text=Rejected")
    page.click("[data-testid=rejected-results] tbody tr a >> nth=0")
    fixed = {"name": "Signup", "payload": [{"eventId": "bad-1", "userId": "grace@example.com"}]}
    page.fill("textarea[name=payload]", json.dumps(fixed, indent=2))
    page.screenshot(path=str(ARTIFACTS / "rejected.png"), full_page=True)
    page.click("text=Replay through ingestion")
    page.wait_for_selector(".flash")
    assert "Replayed" in page.inner_text(".flash")
    replayed = outside_playwrights_loop(
        lambda: list(Event.objects.filter(event_id="bad-1").values_list("name", "user_id", "source_id"))
    )
    assert replayed == [("Signup", "grace@example.com", 7001)]

    phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    phone.context.add_cookies(page.context.cookies())
    phone.goto(f"{live_server.url}/dashboard/{demo['project'].id}/")
    phone.wait_for_selector("[data-testid=events-30d]")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    phone.screenshot(path=str(ARTIFACTS / "overview-phone.png"), full_page=True)
    for name, path in [("events", "events/?name=Purchase"), ("profile", f"profiles/{demo['profile'].id}/")]:
        phone.goto(f"{live_server.url}/dashboard/{demo['project'].id}/{path}")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, name
        phone.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), full_page=True)


@pytest.fixture
def long_values(transactional_db):
    """An event whose name, user id and account id are long unbroken strings (producers
    send what they like), resolved into a profile and an account; made before the browser
    starts, like ``demo``."""
    cache.clear()
    tenant = tenant_create(org="acme-inc", project="long-values", source_id=7101)
    user_id = "user_" + "y" * 90 + "@example.com"
    event = {
        "eventId": "long-1",
        "userId": user_id,
        "accountId": "acct_" + "z" * 90,
        "timestamp": ms(timezone.now()),
        "userAttributes": {"attribute_" + "k" * 90: "v"},
        "accountAttributes": {"attribute_" + "k" * 90: "v"},
    }
    send(Client(), tenant.intempt_url, "checkout_" + "x" * 110, [event])
    identity_resolve()
    user = User.objects.create_user("sam", password="correct-horse-battery", is_staff=True)
    project_membership_grant(user=user, project=tenant.project)
    profile = Profile.objects.get(project=tenant.project, identities__value=user_id)
    account = Account.objects.get(project=tenant.project)
    return {
        "project": tenant.project,
        "profile": profile,
        "account": account,
        "user_id": user_id,
        "url": tenant.intempt_url,
    }


def test_long_names_and_identifiers_do_not_widen_the_phone_layout(long_values, live_server, browser):
    phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    phone.goto(f"{live_server.url}/accounts/login/")
    phone.fill("input[name=username]", "sam")
    phone.fill("input[name=password]", "correct-horse-battery")
    phone.click("button[type=submit]")
    phone.wait_for_selector("[data-testid=events-30d]")
    project_url = f"{live_server.url}/dashboard/{long_values['project'].id}"

    phone.click("[data-testid=live-events] a.event-name")
    phone.wait_for_selector("[data-testid=event-profile-link]")
    pages = {"event": phone.url}
    phone.goto(f"{project_url}/profiles/{long_values['profile'].id}/")
    pages["profile"] = phone.url
    phone.click(".account-row a")
    phone.wait_for_url("**/accounts/*/")
    pages["account"] = phone.url

    ARTIFACTS.mkdir(exist_ok=True)
    for name, url in pages.items():
        phone.goto(url)
        phone.screenshot(path=str(ARTIFACTS / f"long-{name}-phone.png"), full_page=True)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, name  # no sideways scrolling


def sign_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "sam")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=events-30d]")


# Every table on the page fits its scrolling box, and the header of its last column is in view.
TABLES_FIT = """() => [...document.querySelectorAll('.table-wrap')].filter(w => w.offsetParent).map(w => {
    const heads = [...w.querySelectorAll('th')].filter(th => th.offsetParent);
    return {fits: w.scrollWidth <= w.clientWidth, last: heads[heads.length - 1].getBoundingClientRect().right};
})"""


@pytest.mark.parametrize("width, height", [(1366, 768), (390, 844)])
def test_a_long_event_name_wraps_in_its_cell_and_leaves_the_other_columns_in_view(
    long_values, live_server, browser, width, height
):
    page = browser.new_page(viewport={"width": width, "height": height})
    sign_in(page, live_server)
    project_url = f"{live_server.url}/dashboard/{long_values['project'].id}"

    for path in ["/", "/events/"]:
        page.goto(project_url + path)
        tables = page.evaluate(TABLES_FIT)
        assert tables, path
        for table in tables:
            assert table["fits"], path  # the one long name widened the table past its box
            assert table["last"] <= width, path
        # The truncated user id can still be read whole.
        cell = page.locator("td.truncate").first
        assert cell.get_attribute("title") == long_values["user_id"]


def test_opening_a_sources_keys_and_tail_keeps_a_phone_page_from_scrolling_sideways(long_values, live_server, browser):
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in(phone, live_server)
    phone.goto(f"{live_server.url}/dashboard/{long_values['project'].id}/sources/")

    phone.click("details.keys summary")
    phone.click("details.tail summary")
    phone.wait_for_selector("details.tail a.event-name")

    assert phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_stat_cards_time_is_shown_whole_with_its_zone_on_a_phone(long_values, live_server, browser):
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in(phone, live_server)
    project_url = f"{live_server.url}/dashboard/{long_values['project'].id}"

    for path in ["/sources/", f"/profiles/{long_values['profile'].id}/"]:
        phone.goto(project_url + path)
        notes = phone.evaluate(
            "[...document.querySelectorAll('.stat-note')].map(e => [e.innerText, e.scrollWidth <= e.clientWidth])"
        )
        times = [(text, whole) for text, whole in notes if text.endswith("UTC")]
        assert times, path
        assert all(whole for _, whole in times), times  # was cut to "2026-11-25 01:43:18 U…"


@pytest.fixture
def long_project_names(transactional_db):
    """A project whose organization and name are long (up to 200 characters each)."""
    cache.clear()
    tenant = tenant_create(org="organization-" + "o" * 80, project="project-" + "p" * 80, source_id=7201)
    user = User.objects.create_user("sam", password="correct-horse-battery", is_staff=True)
    project_membership_grant(user=user, project=tenant.project)
    return tenant.project


@pytest.mark.parametrize("width, height", [(1366, 768), (390, 844)])
def test_the_project_switcher_cuts_long_names_and_keeps_its_caret(
    long_project_names, live_server, browser, width, height
):
    page = browser.new_page(viewport={"width": width, "height": height})
    sign_in(page, live_server)

    box = page.locator(".switcher summary").bounding_box()
    caret = page.locator(".switcher-caret").bounding_box(timeout=2000)
    name = page.locator(".switcher summary strong").bounding_box()
    organization = page.locator(".switcher-org").bounding_box()
    assert box and caret and name and organization
    assert box["x"] + box["width"] <= width
    assert caret["x"] + caret["width"] <= box["x"] + box["width"]  # the caret was pushed out of the box
    assert name["x"] + name["width"] <= caret["x"]  # the name ran under it
    assert organization["width"] > 20  # the organization's name shrank to nothing
    assert page.locator(".switcher summary strong").evaluate("e => getComputedStyle(e).textOverflow") == "ellipsis"
    assert page.locator(".switcher summary").get_attribute("title") == (
        f"{long_project_names.organization.name} / {long_project_names.name}"
    )


def test_every_section_tab_is_in_view_on_a_phone(long_project_names, live_server, browser):
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in(phone, live_server)

    tabs = phone.evaluate(
        "[...document.querySelectorAll('nav.tabs a')].map(a => [a.innerText, a.getBoundingClientRect().right])"
    )
    assert [name for name, _ in tabs] == ["Overview", "Sources", "Events", "Profiles", "Rejected", "Warnings"]
    assert all(right <= 390 for _, right in tabs), tabs  # Warnings was past the edge, with no scrollbar


def test_event_lists_on_a_phone_show_each_events_date_not_only_its_time(long_values, live_server, browser):
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in(phone, live_server)
    project_url = f"{live_server.url}/dashboard/{long_values['project'].id}"

    for path, table in [("/", "live-events"), ("/events/", "event-results")]:
        phone.goto(project_url + path)
        # A list spans 30 days: "01:38:15" alone could be any of them.
        when = phone.locator(f"[data-testid={table}] td.mono").first.inner_text()
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\s+\d{2}:\d{2}:\d{2}", when), (path, when)


@pytest.fixture
def with_rejections(long_values):
    """``long_values`` plus a rejected event and an identifier identity resolution refused."""
    client = Client()
    url = long_values["url"]
    bad = {"track": [{"name": "Signup", "payload": [{"eventId": "bad-1", "userId": ""}]}]}
    assert client.post(url, data=json.dumps(bad), content_type="application/json").status_code == 400
    send(client, url, "Page Viewed", [{"eventId": "guest-1", "userId": "null", "timestamp": ms(timezone.now())}])
    identity_resolve()
    return long_values


# Every rendered text's colour against the first opaque background behind it (WCAG AA:
# 4.5:1, 3:1 for large text), and every form control's border against its surroundings (3:1).
CONTRAST_FAILURES = """() => {
    const parse = c => {
        const p = c.match(/[\\d.]+/g).map(Number);
        return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
    };
    const channel = v => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    const lum = c => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
    const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
    const behind = el => {
        for (let e = el; e; e = e.parentElement) {
            const s = getComputedStyle(e);
            if (s.backgroundImage !== 'none') return null;  // a gradient: not measured here
            const c = parse(s.backgroundColor);
            if (c.a === 1) return c;
        }
        return {r: 255, g: 255, b: 255, a: 1};
    };
    const failures = [];
    for (const el of document.querySelectorAll('body *')) {
        if (el.closest('svg') || !el.getClientRects().length) continue;
        if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
        const s = getComputedStyle(el), bg = behind(el);
        if (!bg || s.visibility === 'hidden') continue;
        const size = parseFloat(s.fontSize), large = size >= 24 || (size >= 18.66 && parseInt(s.fontWeight) >= 700);
        const r = ratio(parse(s.color), bg);
        const text = el.textContent.trim().slice(0, 30);
        if (r < (large ? 3 : 4.5)) failures.push(`${el.tagName}.${el.className} "${text}" ${r.toFixed(2)}`);
    }
    for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
        const r = ratio(parse(getComputedStyle(el).borderTopColor), behind(el.parentElement));
        if (r < 3) failures.push(`${el.tagName} ${el.name} border ${r.toFixed(2)}`);
    }
    return failures;
}"""


def test_text_and_form_controls_have_enough_contrast(with_rejections, live_server, browser):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    sign_in(page, live_server)
    project_url = f"{live_server.url}/dashboard/{with_rejections['project'].id}"
    pages = [
        "/",
        "/sources/",
        "/events/?value=x",  # a form error
        f"/profiles/{with_rejections['profile'].id}/",
        "/rejected/?replayed=1",
        "/warnings/",
        "/no-such-page/",
    ]
    failures = {}
    for path in pages:
        page.goto(project_url + path)
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        page.wait_for_timeout(50)
        failures[path] = page.evaluate(CONTRAST_FAILURES)
    page.goto(f"{live_server.url}/accounts/login/")
    failures["login"] = page.evaluate(CONTRAST_FAILURES)

    assert failures == {path: [] for path in failures}


def test_the_keyboard_focus_is_drawn_where_it_is(long_values, live_server, browser):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/{long_values['project'].id}/events/")

    page.focus("input[name=name]")
    style = "getComputedStyle(document.activeElement)"
    outline = page.evaluate(f"[{style}.outlineStyle, {style}.outlineWidth, {style}.outlineColor]")
    # A 2 px outline of the accent colour (6.3:1 on white); it was a pale #eef0ff one (1.1:1).
    assert outline == ["solid", "2px", "rgb(79, 70, 229)"]


@pytest.fixture
def page_of_events(long_values):
    """``long_values`` with a full page (50) of events more."""
    now = timezone.now()
    events = [
        {"eventId": f"many-{n}", "userId": f"u{n}", "timestamp": ms(now - timedelta(minutes=n))} for n in range(60)
    ]
    send(Client(), long_values["url"], "Page Viewed", events)
    return long_values


@pytest.mark.parametrize("width", [1366, 390])
def test_going_back_up_a_page_by_keyboard_never_leaves_the_focus_under_the_top_bar(
    page_of_events, live_server, browser, width
):
    page = browser.new_page(viewport={"width": width, "height": 700})
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/{page_of_events['project'].id}/events/")
    page.focus("nav.pager a")  # "Older »", the page's last link

    hidden = []
    for _ in range(60):
        page.keyboard.press("Shift+Tab")
        top, bar = page.evaluate(
            "[document.activeElement.getBoundingClientRect().top, document.querySelector('.topbar').offsetHeight]"
        )
        if top < bar - 1 and not page.evaluate("document.activeElement.closest('.topbar')"):
            hidden.append(page.evaluate("document.activeElement.outerHTML").split(">")[0])
    assert hidden == []  # the browser scrolled each link just into view: under the sticky bar


def test_the_home_link_has_a_name_when_its_text_is_hidden_on_a_phone(long_project_names, live_server, browser):
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in(phone, live_server)

    assert not phone.locator(".brand span").is_visible()  # the logo alone, whose alt is ""
    assert phone.get_by_role("link", name="TrackHub").count() == 1


def test_every_list_fits_a_phone_without_scrolling_sideways(with_rejections, live_server, browser):
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in(phone, live_server)
    project_url = f"{live_server.url}/dashboard/{with_rejections['project'].id}"

    # A whole date and time on one line, and headings as wide as they are long, widened the
    # profiles', members', warnings' and rejections' tables past the screen.
    for path in [
        "/",
        "/events/",
        "/profiles/",
        f"/accounts/{with_rejections['account'].id}/",
        "/warnings/",
        "/rejected/",
    ]:
        phone.goto(project_url + path)
        tables = phone.evaluate(TABLES_FIT)
        assert tables, path
        assert all(table["fits"] for table in tables), path


# Counts the ticks of every setInterval timer once its callback has run (the live tail's
# refresh is the overview's one timer), so a test can wait for a tick instead of a time.
COUNT_INTERVAL_TICKS = """
window.intervalTicks = 0;
const setIntervalOfThePage = window.setInterval;
window.setInterval = (callback, ms, ...args) => setIntervalOfThePage(
  (...tickArgs) => { try { callback(...tickArgs); } finally { window.intervalTicks += 1; } }, ms, ...args);
"""
FIRST_LIVE_ROW = "document.querySelector('[data-testid=live-events] a.event-name')"


def test_the_live_list_keeps_the_keyboard_focus_on_its_row(long_values, live_server, browser):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.add_init_script(COUNT_INTERVAL_TICKS)
    sign_in(page, live_server)
    project_id = long_values["project"].id
    live_requests: list[str] = []
    page.on("request", lambda request: live_requests.append(request.url) if "/live/" in request.url else None)
    # Unfocused, a refresh does replace the rows (what took the focus away to the page's start).
    page.evaluate(f"window.rowBefore = {FIRST_LIVE_ROW}")
    with page.expect_response(lambda response: response.url.endswith(f"/dashboard/{project_id}/live/")) as refresh:
        pass
    assert refresh.value.ok
    page.wait_for_function(f"() => !window.rowBefore.isConnected && document.contains({FIRST_LIVE_ROW})")

    page.focus("[data-testid=live-events] a.event-name")
    page.evaluate("window.focusedLink = document.activeElement; window.ticksWhenFocused = window.intervalTicks")
    requests_when_focused = len(live_requests)
    page.wait_for_function("() => window.intervalTicks > window.ticksWhenFocused")  # the next refresh's turn

    assert len(live_requests) == requests_when_focused  # it left the rows alone
    assert page.evaluate("document.activeElement === window.focusedLink && window.focusedLink.isConnected")


def test_the_live_dot_does_not_pulse_for_someone_who_asked_for_less_motion(long_values, live_server, browser):
    page = browser.new_page(viewport={"width": 1366, "height": 768}, reduced_motion="reduce")
    sign_in(page, live_server)

    assert page.locator(".pulse").evaluate("e => getComputedStyle(e).animationName") == "none"


def test_the_project_switcher_closes_like_a_menu(long_values, live_server, browser):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    sign_in(page, live_server)
    is_open = "document.querySelector('details.switcher').open"
    on_summary = "document.activeElement === document.querySelector('.switcher summary')"

    # Escape, from a project in the list: closed, and the focus back on its button rather
    # than at the page's start. Nothing but the summary closed it: it stayed open over the tabs.
    page.focus(".switcher summary")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate(is_open) and page.evaluate("!!document.activeElement.closest('.switcher-menu')")
    page.keyboard.press("Escape")
    assert not page.evaluate(is_open)
    assert page.evaluate(on_summary)

    # A click outside it.
    page.click(".switcher summary")
    assert page.evaluate(is_open)
    page.click("h1")
    assert not page.evaluate(is_open)

    # The keyboard moving on past its last project (to Sign out).
    page.click(".switcher summary")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign out"
    assert not page.evaluate(is_open)

    # On a page without a live list (the script was the overview's and the sources' alone).
    page.goto(f"{live_server.url}/dashboard/{long_values['project'].id}/events/")
    page.click(".switcher summary")
    page.keyboard.press("Escape")
    assert not page.evaluate(is_open)


def test_a_long_organization_and_project_name_wrap_in_a_phones_page_heading(long_project_names, live_server, browser):
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in(phone, live_server)
    project_id = long_project_names.id

    for tab in ("", "events/", "profiles/", "rejected/"):
        phone.goto(f"{live_server.url}/dashboard/{project_id}/{tab}")
        overflowing = phone.evaluate(
            "[...document.querySelectorAll('.page-head .eyebrow, .page-head h1')]"
            ".filter(e => e.scrollWidth > e.clientWidth || e.getBoundingClientRect().right > 390)"
            ".map(e => e.innerText.slice(0, 30))"
        )
        assert overflowing == [], tab  # an unbroken organization name ran past the screen's edge

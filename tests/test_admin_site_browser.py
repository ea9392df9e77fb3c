"""The admin under the pages' Content-Security-Policy, in a real headless Chromium: its
scripts run (select all, the autocomplete, the related-object popups) and the browser
reports no blocked script, style or image on any page staff use."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from profiles.models import Identity, Profile
from tests.conftest import tenant_create

pytestmark = pytest.mark.browser

PAGES = [
    "/admin/",
    "/admin/ingestion/apikey/",
    "/admin/ingestion/apikey/add/",
    "/admin/ingestion/accesstoken/add/",
    "/admin/ingestion/event/",
    "/admin/profiles/profile/",
    "/admin/ingestion/source/add/",
    "/admin/dashboard/projectmembership/add/",
    "/admin/auth/user/add/",
    "/admin/password_change/",
]


@pytest.fixture
def admin_site(transactional_db) -> dict[str, Any]:
    """A superuser and a tenant, made before the browser starts (see the dashboard's
    browser tests: ORM calls inside Playwright's loop would open another connection)."""
    User.objects.create_superuser("root", "root@example.com", "correct-horse-battery")
    tenant = tenant_create(org="acme-inc", project="web-app", source_id=8101)
    now = timezone.now()
    person = Profile.objects.create(project=tenant.project, first_seen=now, last_seen=now)
    Identity.objects.create(project=tenant.project, value="jane@example.com", profile=person)
    return {"tenant": tenant, "profile": person}


def _signed_in_page(browser, live_server) -> tuple[Any, list[str]]:
    """A page signed in to the admin, and the list the browser's console messages about
    the policy go to."""
    page = browser.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    return page, violations


def test_no_admin_page_has_anything_blocked_by_the_policy(admin_site, live_server, browser):
    page, violations = _signed_in_page(browser, live_server)

    for path in PAGES:
        response = page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")

        assert response is not None and response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"], path
    assert violations == []


def test_select_all_on_a_list_checks_every_row(admin_site, live_server, browser):
    page, violations = _signed_in_page(browser, live_server)
    page.goto(f"{live_server.url}/admin/ingestion/apikey/")

    page.click("#action-toggle")

    rows = page.locator("input.action-select")
    assert rows.count() >= 1
    assert all(rows.nth(index).is_checked() for index in range(rows.count()))
    assert page.locator(".action-counter").inner_text().startswith(f"{rows.count()} of {rows.count()}")
    assert violations == []


def test_the_membership_forms_project_autocomplete_finds_a_project(admin_site, live_server, browser):
    page, violations = _signed_in_page(browser, live_server)
    page.goto(f"{live_server.url}/admin/dashboard/projectmembership/add/")

    page.click(".field-project .select2-selection")
    page.fill(".select2-search__field", "web")

    option = page.wait_for_selector(".select2-results__option >> text=web-app")
    assert option is not None
    assert violations == []


def test_the_add_another_popup_of_a_form_opens(admin_site, live_server, browser):
    page, violations = _signed_in_page(browser, live_server)
    page.goto(f"{live_server.url}/admin/ingestion/source/add/")

    with page.expect_popup() as popup_info:
        page.click("#add_id_project")
    popup = popup_info.value
    popup.wait_for_load_state("load")

    assert "/admin/ingestion/project/add/" in popup.url and "_popup=1" in popup.url
    assert violations == []


def test_erasing_a_person_from_the_profile_list_asks_then_erases(admin_site, live_server, browser):
    page, violations = _signed_in_page(browser, live_server)
    page.goto(f"{live_server.url}/admin/profiles/profile/")

    page.check("input.action-select")
    page.select_option("select[name=action]", "erase")
    page.click("button[name=index]")
    page.wait_for_selector("text=Erase these people?")
    page.click("input[value='Yes, erase them']")

    page.wait_for_selector(".messagelist")
    assert "Erased 1 people" in page.inner_text(".messagelist")
    assert violations == []

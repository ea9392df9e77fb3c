"""Profile search, the profile page with its merged timeline, the account page, warnings."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from ingestion.models import Event
from profiles.models import Account, AccountMembership, IngestionWarning, Profile
from tests.dashboard.conftest import identity_resolve, intempt_send, ms, profile_make, profile_merge_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def merged_profile(client, tenant):
    """ada@example.com's profile, into which the profile of anon-42 was merged by a Login
    event naming both (real identity resolution, one batch at a time)."""
    intempt_send(client, tenant, [{"userId": "anon-42"}], name="Page Viewed")
    identity_resolve()
    intempt_send(
        client, tenant, [{"userId": "ada@example.com", "userAttributes": {"plan": "pro"}, "accountId": "acme"}],
        name="Signup",
    )  # fmt: skip
    identity_resolve()
    merged = Profile.objects.get(identities__value="anon-42")
    intempt_send(client, tenant, [{"eventId": "evt-link", "userId": "ada@example.com", "profileId": "anon-42"}],
                 name="Login")  # fmt: skip
    identity_resolve()
    survivor = Profile.objects.get(identities__value="ada@example.com")
    merged.refresh_from_db()
    if merged.id == survivor.id:  # whichever profile survives, the other was merged into it
        merged = Profile.objects.exclude(id=survivor.id).get(project=tenant.project)
    return survivor, merged


def test_search_by_exact_identifier_finds_profile(staff_client, tenant, merged_profile):
    survivor, _ = merged_profile

    body = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/?q=anon-42").content.decode()

    assert f"/profiles/{survivor.id}/" in body


def test_search_by_prefix_finds_profile(staff_client, tenant, merged_profile):
    survivor, _ = merged_profile

    body = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/?q=ada@").content.decode()

    assert f"/profiles/{survivor.id}/" in body


def test_search_without_match_says_so(staff_client, tenant, merged_profile):
    body = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/?q=nobody").content.decode()

    assert "No profile has an identifier" in body


def test_search_for_a_nul_character_finds_nothing(staff_client, tenant, merged_profile):
    response = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/?q=ada%00")

    assert response.status_code == 200
    assert "No profile has an identifier" in response.content.decode()


def test_profile_page_shows_identifiers_attributes_merges_and_merged_timeline(staff_client, tenant, merged_profile):
    survivor, merged = merged_profile

    response = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/{survivor.id}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "ada@example.com" in body and "anon-42" in body and "plan" in body and "pro" in body
    assert f"Profile #{merged.id} merged in" in body
    timeline = body.split('data-testid="profile-timeline"')[1].split("</ul>")[0]
    assert "Signup" in timeline and "Page Viewed" in timeline and "Login" in timeline


def test_merged_away_profile_redirects_to_survivor(staff_client, tenant, merged_profile):
    survivor, merged = merged_profile

    response = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/{merged.id}/")

    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/{tenant.project.id}/profiles/{survivor.id}/"


def test_profile_page_query_count_is_bounded(staff_client, tenant, merged_profile, django_assert_max_reads):
    survivor, _ = merged_profile

    # 15: the merge history lists the newest merges and counts them all (tests/dashboard/test_giant.py).
    with django_assert_max_reads(15):
        response = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/{survivor.id}/")

    assert response.status_code == 200


def test_profile_of_another_project_is_not_found(staff_client, tenant, other_tenant):
    other = profile_make(project=other_tenant.project, identifiers=["x@example.com"])

    assert staff_client.get(f"/dashboard/{tenant.project.id}/profiles/{other.id}/").status_code == 404


def test_account_page_shows_identifiers_attributes_members(client, staff_client, tenant, merged_profile):
    survivor, _ = merged_profile
    intempt_send(client, tenant, [{"userId": "ada@example.com", "accountId": "acme",
                                   "accountAttributes": {"tier": "gold"}}])  # fmt: skip
    identity_resolve()
    account = Account.objects.get(identities__value="acme")

    body = staff_client.get(f"/dashboard/{tenant.project.id}/accounts/{account.id}/").content.decode()
    profile_body = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/{survivor.id}/").content.decode()

    assert "acme" in body and "tier" in body and "gold" in body and f"/profiles/{survivor.id}/" in body
    assert f"/accounts/{account.id}/" in profile_body


def test_search_by_account_identifier_finds_account(staff_client, tenant, merged_profile):
    account = Account.objects.get(identities__value="acme")

    body = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/?q=acme").content.decode()

    assert f"/accounts/{account.id}/" in body


def test_warnings_page_lists_refused_identifier_with_its_event(client, staff_client, tenant):
    intempt_send(client, tenant, [{"eventId": "evt-guest", "userId": "guest"}], name="Signup")
    identity_resolve()
    warning = IngestionWarning.objects.get()

    body = staff_client.get(f"/dashboard/{tenant.project.id}/warnings/").content.decode()

    assert escape(warning.reason) in body and "guest" in body
    assert f"/dashboard/{tenant.project.id}/events/{Event.objects.get(event_id='evt-guest').id}/" in body


def result_ids(body: str) -> list[int]:
    table = body.split('data-testid="profile-results"')[1].split("</table>")[0]
    return [int(found) for found in re.findall(r"/profiles/(\d+)/", table)]


@pytest.mark.parametrize("query", ["ann ", " ann"])
def test_search_matches_identifiers_as_stored_spaces_included(staff_client, tenant, query):
    # " ann" and "ann " are identifiers of their own (as in the explorer and the read API):
    # trimmed, the search found "ann", another person.
    spaced = profile_make(project=tenant.project, identifiers=[query])
    profile_make(project=tenant.project, identifiers=["ann"])

    response = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/", {"q": query})

    assert response.status_code == 200
    assert result_ids(response.content.decode()) == [spaced.id]


def test_search_by_account_identifier_with_spaces_finds_that_account(client, staff_client, tenant):
    intempt_send(client, tenant, [{"userId": "ann", "accountId": "acme "}])
    intempt_send(client, tenant, [{"userId": "bob", "accountId": "acme"}])
    identity_resolve()
    spaced = Account.objects.get(identities__value="acme ")

    body = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/", {"q": "acme "}).content.decode()

    assert re.findall(r"/accounts/(\d+)/", body) == [str(spaced.id)]


def test_blank_search_lists_recently_seen_profiles(staff_client, tenant):
    profile = profile_make(project=tenant.project, identifiers=["ada@example.com"])

    body = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/", {"q": "   "}).content.decode()

    assert "Recently seen" in body and "Profiles matching" not in body
    assert result_ids(body) == [profile.id]


def last_seen(body: str) -> str:
    match = re.search(r'Last seen</span><span class="stat-value small">([^<]*)<', body)
    assert match is not None
    return match.group(1).replace("\xa0", " ")  # timesince joins with no-break spaces


@pytest.mark.parametrize(
    ("page", "model", "event"),
    [("profiles", Profile, {"userId": "ada@example.com"}), ("accounts", Account, {"accountId": "acme"})],
    ids=["profile", "account"],
)
def test_seen_in_the_future_says_so_not_zero_minutes_ago(client, staff_client, tenant, page, model, event):
    # A producer's clock may run fast: last seen is its event's time, days ahead.
    intempt_send(client, tenant, [{**event, "timestamp": ms(timezone.now() + timedelta(days=2))}])
    identity_resolve()
    row = model.objects.get(identities__value=next(iter(event.values())))

    body = staff_client.get(f"/dashboard/{tenant.project.id}/{page}/{row.id}/").content.decode()

    assert last_seen(body).startswith("in 1 day")


def test_warnings_page_pages_to_the_oldest_warning(client, staff_client, tenant, monkeypatch):
    # Only the newest 100 were shown, with no way to the older ones.
    monkeypatch.setattr("dashboard.views.PAGE_SIZE", 2)
    intempt_send(client, tenant, [{"eventId": f"evt-guest-{index}", "userId": "guest"} for index in range(5)])
    identity_resolve()
    url = f"/dashboard/{tenant.project.id}/warnings/"
    shown: list[str] = []

    while url:
        body = staff_client.get(url).content.decode()
        shown += re.findall(r'<div class="muted mono">(evt-guest-\d)</div>', body)
        older = re.search(r'href="(\?before=[^"]*)">Older', body)
        url = f"/dashboard/{tenant.project.id}/warnings/{older.group(1)}" if older else ""

    assert sorted(shown) == [f"evt-guest-{index}" for index in range(5)]


@pytest.fixture
def team(client, tenant):
    """Twelve people of one account, each with an email and an anonymous id."""
    members = [{"userId": f"user{index}@example.com", "profileId": f"anon-{index}", "accountId": "acme"}
               for index in range(12)]  # fmt: skip
    intempt_send(client, tenant, members, name="Signup")
    identity_resolve()
    return Account.objects.get(identities__value="acme")


def test_profile_search_query_count_does_not_grow_with_matches(staff_client, tenant, team, django_assert_max_reads):
    with django_assert_max_reads(9):
        response = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/", {"q": "user"})

    assert response.status_code == 200
    assert len(result_ids(response.content.decode())) == 12


def test_account_page_query_count_does_not_grow_with_members(staff_client, tenant, team, django_assert_max_reads):
    with django_assert_max_reads(11):
        response = staff_client.get(f"/dashboard/{tenant.project.id}/accounts/{team.id}/")

    assert response.status_code == 200
    assert response.content.decode().count('class="id-link" href="/dashboard/') == 12


def account_result_ids(body: str) -> list[int]:
    if 'data-testid="account-results"' not in body:
        return []
    section = body.split('data-testid="account-results"')[1].split("</section>")[0]
    return [int(found) for found in re.findall(r"/accounts/(\d+)/", section)]


def test_profiles_page_lists_the_most_recently_seen_accounts_first(client, staff_client, tenant):
    intempt_send(client, tenant, [{"userId": "u1", "accountId": "older-co"}], name="Signup")
    identity_resolve()
    intempt_send(client, tenant, [{"userId": "u2", "accountId": "newer-co"}], name="Signup")
    identity_resolve()
    older, newer = (Account.objects.get(identities__value=value) for value in ("older-co", "newer-co"))
    Account.objects.filter(id=older.id).update(last_seen=timezone.now() - timedelta(days=1))

    body = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/").content.decode()

    assert "Recently seen accounts" in body
    assert account_result_ids(body) == [newer.id, older.id]
    assert "1 member" in body.split('data-testid="account-results"')[1].split("</section>")[0]


def test_profiles_page_lists_at_most_ten_accounts(staff_client, tenant):
    now = timezone.now()
    accounts = Account.objects.bulk_create(
        Account(project=tenant.project, first_seen=now, last_seen=now - timedelta(minutes=index)) for index in range(12)
    )

    body = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/").content.decode()

    assert account_result_ids(body) == [account.id for account in accounts[:10]]


def test_profiles_page_without_accounts_shows_no_accounts_card(staff_client, tenant):
    profile_make(project=tenant.project, identifiers=["solo"])

    body = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/").content.decode()

    assert 'data-testid="account-results"' not in body and "Recently seen accounts" not in body


def test_recently_seen_accounts_cost_no_query_per_account(staff_client, tenant, team, django_assert_max_reads):
    now = timezone.now()
    Account.objects.bulk_create(Account(project=tenant.project, first_seen=now, last_seen=now) for _ in range(9))

    with django_assert_max_reads(9):
        response = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/")

    assert response.status_code == 200
    assert len(account_result_ids(response.content.decode())) == 10


@pytest.mark.parametrize("page", ["account", "profile", "account search"])
def test_pages_count_an_accounts_members_without_reading_every_member_id(staff_client, tenant, team, page):
    # An account can have hundreds of thousands of members; the pages show a count.
    member = Profile.objects.get(identities__value="user0@example.com")
    url, query = {
        "account": (f"/dashboard/{tenant.project.id}/accounts/{team.id}/", {}),
        "profile": (f"/dashboard/{tenant.project.id}/profiles/{member.id}/", {}),
        "account search": (f"/dashboard/{tenant.project.id}/profiles/", {"q": "acme"}),
    }[page]

    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(url, query, follow=True)

    body = response.content.decode()
    assert response.status_code == 200
    assert "12 members" in body or '<span class="stat-value small">12<' in body
    member_ids_read = 'SELECT "profiles_accountmembership"."profile_id"'
    assert [query["sql"] for query in queries if query["sql"].startswith(member_ids_read)] == []


def test_warnings_query_count_does_not_grow_with_warnings(client, staff_client, tenant, django_assert_max_reads):
    intempt_send(client, tenant, [{"userId": "guest"}] * 12)
    identity_resolve()

    with django_assert_max_reads(5):
        response = staff_client.get(f"/dashboard/{tenant.project.id}/warnings/")

    assert response.status_code == 200
    assert response.content.decode().count("/events/") == 12 + 1  # each warning's event, and the Events tab


@pytest.mark.parametrize(("matches", "says_more"), [(3, True), (2, False)])
def test_search_says_so_when_more_profiles_match_than_are_shown(staff_client, tenant, monkeypatch, matches, says_more):
    # Only the first 50 prefix matches are listed; the page gave no sign there were more.
    monkeypatch.setattr("dashboard.views.SEARCH_LIMIT", 2)
    for index in range(matches):
        profile_make(project=tenant.project, identifiers=[f"user{index}@example.com"])

    body = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/", {"q": "user"}).content.decode()

    assert len(result_ids(body)) == 2
    assert ("More profiles match “<bdi>user</bdi>” than the 2 shown" in body) is says_more
    assert ("More profiles match" in body) is says_more


def test_timeline_pager_counts_the_events_on_the_page_and_says_so(client, staff_client, tenant, monkeypatch):
    # "2 events" on a page of a longer timeline read as the profile's total.
    monkeypatch.setattr("dashboard.views.PAGE_SIZE", 2)
    intempt_send(client, tenant, [{"userId": "ada@example.com"}] * 3)
    identity_resolve()
    profile = Profile.objects.get(identities__value="ada@example.com")

    body = staff_client.get(f"/dashboard/{tenant.project.id}/profiles/{profile.id}/").content.decode()

    pager = body.split('data-testid="profile-timeline"')[1].split("</nav>")[0]
    assert '<span class="muted">2 events on this page</span>' in pager


def test_account_page_lists_the_most_recently_seen_members_and_says_how_many_there_are(
    staff_client, tenant, team, monkeypatch
):
    # Every member was listed, however many: a big account's page was as long as its roster.
    monkeypatch.setattr("dashboard.views.MEMBERS_LIMIT", 2)
    newest = list(Profile.objects.filter(memberships__account=team).order_by("-last_seen", "-id")[:2])

    body = staff_client.get(f"/dashboard/{tenant.project.id}/accounts/{team.id}/").content.decode()

    members = body.split('data-testid="account-members"')[1].split("</table>")[0]
    assert [int(found) for found in re.findall(r"/profiles/(\d+)/", members)] == [profile.id for profile in newest]
    assert 'Members</span><span class="stat-value small">12<' in body
    assert "the 2 most recently seen of 12" in body


def test_an_accounts_member_count_has_thousands_separators(staff_client, tenant, team):
    now = timezone.now()
    extra = Profile.objects.bulk_create(
        [
            Profile(project=tenant.project, first_seen=now - timedelta(days=2), last_seen=now - timedelta(days=1))
            for _ in range(1_200)
        ]
    )
    AccountMembership.objects.bulk_create([AccountMembership(account=team, profile=profile) for profile in extra])

    body = staff_client.get(f"/dashboard/{tenant.project.id}/accounts/{team.id}/").content.decode()

    assert 'Members</span><span class="stat-value small">1,212<' in body  # was 1212
    assert "the 50 most recently seen of 1,212" in body


def test_profile_texts_isolate_what_producers_wrote_from_the_sentence_around_it(staff_client, tenant):
    # A right-to-left override in the query or an event name turned the text after it around.
    survivor = profile_make(project=tenant.project, identifiers=["\u202eresu"])
    merged = profile_make(project=tenant.project, identifiers=["other"])
    profile_merge_make(survivor=survivor, merged=merged, event_name="\u202eLogin", event_id="e-1")
    project_url = f"/dashboard/{tenant.project.id}"

    search = staff_client.get(f"{project_url}/profiles/", {"q": "\u202eres"}).content.decode()
    missing = staff_client.get(f"{project_url}/profiles/", {"q": "\u202enobody"}).content.decode()
    detail = staff_client.get(f"{project_url}/profiles/{survivor.id}/").content.decode()

    assert "Profiles matching “<bdi>\u202eres</bdi>”" in search
    assert "starting with “<bdi>\u202enobody</bdi>”." in missing
    assert "<bdi>\u202eLogin</bdi> · <bdi>e-1</bdi>" in detail

"""The contract's identity rules, through the Intempt endpoint, the outbox and the read API."""

from __future__ import annotations

import json

import pytest

from profiles.models import AccountMerge, Identity, IdentityWork, IngestionWarning, Profile, ProfileMerge
from tests.profiles.conftest import identity_drain, intempt_post
from tests.seeds import seed_body

pytestmark = pytest.mark.django_db


def profile_by_identifier(read_client, identifier: str) -> dict:
    response = read_client.get("/api/v1/profiles/", {"identifier": identifier})
    assert response.status_code == 200, response.content
    (profile,) = response.json()["results"]
    return profile


def test_seed_example_gives_one_profile_and_one_account_with_both_identifiers(client, tenant, read_client):
    response = client.post(
        tenant.intempt_url, data=seed_body("intempt_example_1.json"), content_type="application/json"
    )
    assert response.status_code == 200
    identity_drain()

    profiles = read_client.get("/api/v1/profiles/").json()["results"]
    accounts = read_client.get("/api/v1/accounts/").json()["results"]

    (profile,) = profiles
    (account,) = accounts
    assert profile == {
        "id": profile["id"],
        "identifiers": ["+111111111", "custom@intempt.com"],
        "attributes": {"location": "USA"},
        "accounts": [account["id"]],
        "first_seen": "2024-05-02T06:38:24.000Z",
        "last_seen": "2024-05-02T06:38:24.000Z",
    }
    assert account == {
        "id": account["id"],
        "identifiers": ["Intempt", "no-reply@intempt.com"],
        "attributes": {"founded": 2000},
        "members": [profile["id"]],
    }
    assert IdentityWork.objects.filter(processed_at__isnull=True).count() == 0


def test_link_merges_two_existing_profiles_into_the_first_created(client, tenant, read_client):
    intempt_post(client, tenant, {"eventId": "e1", "userId": "alice", "timestamp": 1_000})
    identity_drain()
    intempt_post(client, tenant, {"eventId": "e2", "userId": "alice-phone", "timestamp": 2_000})
    identity_drain()
    first = profile_by_identifier(read_client, "alice")["id"]
    second = profile_by_identifier(read_client, "alice-phone")["id"]
    assert first < second

    intempt_post(
        client, tenant, {"eventId": "e3", "userId": "alice", "anotherUserId": "alice-phone", "timestamp": 3_000}
    )
    identity_drain()

    merged = profile_by_identifier(read_client, "alice-phone")
    assert merged["id"] == first
    assert merged["identifiers"] == ["alice", "alice-phone"]
    assert (merged["first_seen"], merged["last_seen"]) == ("1970-01-01T00:00:01.000Z", "1970-01-01T00:00:03.000Z")
    merge = ProfileMerge.objects.get(merged_id=second)
    assert (merge.survivor_id, merge.event_name, merge.event_id) == (first, "Purchase", "e3")
    assert Profile.objects.get(id=second).merged_into_id == first


def test_merged_away_id_answers_with_its_survivor(client, tenant, read_client):
    intempt_post(client, tenant, {"eventId": "e1", "userId": "a", "timestamp": 1_000})
    intempt_post(client, tenant, {"eventId": "e2", "userId": "b", "timestamp": 1_000})
    identity_drain()
    loser = profile_by_identifier(read_client, "b")["id"]
    intempt_post(client, tenant, {"eventId": "e3", "userId": "a", "anotherUserId": "b", "timestamp": 1_000})
    identity_drain()

    response = read_client.get(f"/api/v1/profiles/{loser}/")

    assert response.status_code == 200
    assert response.json()["id"] == profile_by_identifier(read_client, "a")["id"] != loser
    assert response.json()["identifiers"] == ["a", "b"]


def test_after_a_merge_every_event_of_both_profiles_is_the_survivors(client, tenant, read_client):
    intempt_post(client, tenant, {"eventId": "e1", "userId": "a", "timestamp": 1_000})
    intempt_post(client, tenant, {"eventId": "e2", "userId": "b", "timestamp": 2_000})
    identity_drain()
    intempt_post(client, tenant, {"eventId": "e3", "userId": "b", "anotherUserId": "a", "timestamp": 3_000})
    identity_drain()
    survivor = profile_by_identifier(read_client, "a")["id"]

    events = read_client.get("/api/v1/events/").json()["results"]
    profile_events = read_client.get(f"/api/v1/profiles/{survivor}/events/").json()["results"]
    filtered = read_client.get("/api/v1/events/", {"profile": survivor}).json()["results"]

    assert {(e["event_id"], e["profile"]) for e in events} == {("e1", survivor), ("e2", survivor), ("e3", survivor)}
    assert [e["event_id"] for e in profile_events] == ["e3", "e2", "e1"]
    assert [e["event_id"] for e in filtered] == ["e3", "e2", "e1"]


def test_placeholders_never_merge_users(client, tenant, read_client):
    intempt_post(
        client,
        tenant,
        {"eventId": "e1", "userId": "undefined", "anotherUserId": "alice", "timestamp": 1_000},
        {"eventId": "e2", "userId": "undefined", "anotherUserId": "bob", "timestamp": 1_000},
        {"eventId": "e3", "userId": "NULL ", "timestamp": 1_000},
    )
    identity_drain()

    profiles = read_client.get("/api/v1/profiles/").json()["results"]
    events = read_client.get("/api/v1/events/").json()["results"]

    assert sorted(p["identifiers"] for p in profiles) == [["alice"], ["bob"]]
    # The contract: an event whose user field is a placeholder is stored without a profile.
    assert {e["event_id"]: e["profile"] for e in events} == {"e1": None, "e2": None, "e3": None}
    assert sorted(IngestionWarning.objects.values_list("event_id", "field", "value")) == [
        ("e1", "user_id", "undefined"),
        ("e2", "user_id", "undefined"),
        ("e3", "user_id", "NULL "),
    ]


def test_placeholders_in_invisible_characters_or_full_width_create_nothing(client, tenant, read_client):
    intempt_post(
        client,
        tenant,
        {"eventId": "e1", "userId": "\ufeffnull", "anotherUserId": "alice", "accountId": "\u200bundefined"},
        {"eventId": "e2", "userId": "\uff2e\uff35\uff2c\uff2c", "anotherUserId": "bob", "accountId": "N\u0130L"},
    )
    identity_drain()

    profiles = read_client.get("/api/v1/profiles/").json()["results"]
    events = read_client.get("/api/v1/events/").json()["results"]

    assert sorted(p["identifiers"] for p in profiles) == [["alice"], ["bob"]]
    assert read_client.get("/api/v1/accounts/").json()["results"] == []
    assert {e["event_id"]: e["profile"] for e in events} == {"e1": None, "e2": None}
    assert sorted(IngestionWarning.objects.values_list("event_id", "field")) == [
        ("e1", "account_id"), ("e1", "user_id"), ("e2", "account_id"), ("e2", "user_id"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("post", "body", "field"),
    [
        ("intempt", {"userId": "", "profileId": "p1"}, "user_id"),
        ("intempt", {"userId": "u1", "profileId": ""}, "profile_id"),
        ("intempt", {"userId": "u1", "anotherUserId": ""}, "another_user_id"),
        ("intempt", {"userId": "u1", "accountId": ""}, "account_id"),
        ("intempt", {"userId": "u1", "accountId": "acme", "anotherAccountId": ""}, "another_account_id"),
        ("databuddy", {"anonymousId": "", "profileId": "p1"}, "anonymous_id"),
        ("databuddy", {"anonymousId": "a1", "profileId": ""}, "profile_id"),
        ("thrivestack", {"user_id": "u1", "context": {"group_id": ""}}, "account_id"),
    ],
)
def test_an_identifier_sent_empty_is_a_placeholder_with_its_warning(client, tenant, read_client, post, body, field):
    from tests.ingestion.track_formats import DATABUDDY, THRIVESTACK

    if post == "intempt":
        intempt_post(client, tenant, {"eventId": "e1", **body})
    elif post == "databuddy":
        assert DATABUDDY.post(client, tenant, {"name": "x", **body}).status_code == 200
    else:
        event = {"event_name": "x", "timestamp": "2024-05-02T06:38:24.000Z", **body}
        assert THRIVESTACK.post(client, tenant, [event]).status_code == 200
    identity_drain()

    (warning,) = IngestionWarning.objects.all()
    assert (warning.field, warning.value) == (field, "")
    assert all("" not in p["identifiers"] for p in read_client.get("/api/v1/profiles/").json()["results"])
    assert all("" not in a["identifiers"] for a in read_client.get("/api/v1/accounts/").json()["results"])


def test_an_empty_user_id_leaves_the_event_without_a_profile_as_null_does(client, tenant, read_client):
    item = {"eventId": "e1", "userId": "", "anotherUserId": "a1", "userAttributes": {"plan": "x"}}
    intempt_post(client, tenant, item)
    identity_drain()

    (event,) = read_client.get("/api/v1/events/").json()["results"]
    assert (event["user_id"], event["profile"]) == (None, None)
    assert profile_by_identifier(read_client, "a1")["attributes"] == {}


def test_placeholder_account_creates_no_account(client, tenant, read_client):
    intempt_post(client, tenant, {"eventId": "e1", "userId": "a", "accountId": "none", "timestamp": 1_000})
    identity_drain()

    assert read_client.get("/api/v1/accounts/").json()["results"] == []
    assert profile_by_identifier(read_client, "a")["accounts"] == []
    assert IngestionWarning.objects.get().field == "account_id"


def test_attributes_latest_timestamp_wins_then_greater_event_id_and_null_is_a_value(client, tenant, read_client):
    intempt_post(
        client,
        tenant,
        {"eventId": "b", "userId": "u", "timestamp": 2_000, "userAttributes": {"plan": "pro", "seat": 3}},
        {"eventId": "a", "userId": "u", "timestamp": 2_000, "userAttributes": {"plan": "free"}},
        {"eventId": "c", "userId": "u", "timestamp": 3_000, "userAttributes": {"seat": None}},
        {"eventId": "d", "userId": "u", "timestamp": 1_000, "userAttributes": {"seat": 9, "city": "Riga"}},
    )
    identity_drain()

    assert profile_by_identifier(read_client, "u")["attributes"] == {"plan": "pro", "seat": None, "city": "Riga"}


def test_equal_timestamps_compare_event_ids_as_strings_not_numbers(client, tenant, read_client):
    intempt_post(
        client,
        tenant,
        {"eventId": "9", "userId": "u", "timestamp": 2_000, "userAttributes": {"plan": "nine"}},
        {"eventId": "10", "userId": "u", "timestamp": 2_000, "userAttributes": {"plan": "ten"}},
    )
    identity_drain()

    assert profile_by_identifier(read_client, "u")["attributes"] == {"plan": "nine"}


def test_profile_merge_keeps_the_latest_attributes_of_both(client, tenant, read_client):
    intempt_post(client, tenant, {"eventId": "1", "userId": "a", "timestamp": 5_000, "userAttributes": {"x": "a-new"}})
    intempt_post(client, tenant, {"eventId": "2", "userId": "b", "timestamp": 1_000, "userAttributes": {"x": "b-old"}})
    intempt_post(client, tenant, {"eventId": "3", "userId": "b", "timestamp": 1_000, "userAttributes": {"y": "b"}})
    identity_drain()
    intempt_post(client, tenant, {"eventId": "4", "userId": "b", "anotherUserId": "a", "timestamp": 2_000})
    identity_drain()

    assert profile_by_identifier(read_client, "a")["attributes"] == {"x": "a-new", "y": "b"}


def test_account_merge_gives_the_survivor_the_members_of_both(client, tenant, read_client):
    intempt_post(client, tenant, {"eventId": "1", "userId": "u1", "accountId": "acme", "timestamp": 1_000})
    intempt_post(client, tenant, {"eventId": "2", "userId": "u2", "accountId": "acme-inc", "timestamp": 1_000})
    identity_drain()
    loser = read_client.get("/api/v1/accounts/", {"identifier": "acme-inc"}).json()["results"][0]["id"]
    intempt_post(
        client,
        tenant,
        {"eventId": "3", "userId": "u3", "accountId": "acme", "anotherAccountId": "acme-inc", "timestamp": 1},
    )
    identity_drain()

    account = read_client.get(f"/api/v1/accounts/{loser}/").json()
    members = {profile_by_identifier(read_client, u)["id"] for u in ("u1", "u2", "u3")}

    assert account["identifiers"] == ["acme", "acme-inc"]
    assert account["id"] != loser
    assert set(account["members"]) == members
    assert AccountMerge.objects.get(merged_id=loser).survivor_id == account["id"]


def test_processing_a_batch_twice_changes_nothing(client, tenant, read_client):
    from profiles.services import identity_work_process

    intempt_post(client, tenant, {"eventId": "1", "userId": "a", "anotherUserId": "b", "timestamp": 1_000})
    identity_drain()
    work = IdentityWork.objects.get()

    assert identity_work_process(work_id=work.id) is False
    assert Profile.objects.count() == 1


def test_identifier_lookup_is_exact_whitespace_included(client, tenant, read_client):
    intempt_post(client, tenant, {"eventId": "e1", "userId": "ann", "accountId": "acme"})
    intempt_post(client, tenant, {"eventId": "e2", "userId": " ann ", "accountId": " acme"})
    identity_drain()

    assert profile_by_identifier(read_client, " ann ")["identifiers"] == [" ann "]
    assert profile_by_identifier(read_client, "ann")["identifiers"] == ["ann"]
    (account,) = read_client.get("/api/v1/accounts/", {"identifier": " acme"}).json()["results"]
    assert account["identifiers"] == [" acme"]


def test_profiles_of_another_project_are_not_found(client, tenant, other_tenant, read_client):
    intempt_post(client, other_tenant, {"eventId": "1", "userId": "a", "timestamp": 1_000})
    identity_drain()
    other_profile = Profile.objects.get()

    assert read_client.get(f"/api/v1/profiles/{other_profile.id}/").status_code == 404
    assert read_client.get(f"/api/v1/profiles/{other_profile.id}/events/").status_code == 404
    assert read_client.get("/api/v1/profiles/", {"identifier": "a"}).json()["results"] == []


def test_profile_endpoints_need_a_read_token(client, tenant):
    for url in ("/api/v1/profiles/", "/api/v1/profiles/1/", "/api/v1/accounts/", "/api/v1/accounts/1/"):
        assert client.get(url).status_code == 401


def test_identifiers_share_one_namespace_across_the_four_formats(client, tenant, read_client):
    from tests.ingestion.track_formats import DATABUDDY, THRIVESTACK, USERPILOT

    thrivestack = {"event_name": "signed_up", "user_id": "u-1", "timestamp": "2024-05-02T06:38:24.000Z"}
    thrivestack["context"] = {"group_id": "g-1"}
    assert THRIVESTACK.post(client, tenant, [thrivestack]).status_code == 200
    databuddy = {"name": "clicked", "anonymousId": "anon-1", "profileId": "u-1", "timestamp": 1714631905000}
    assert DATABUDDY.post(client, tenant, databuddy).status_code == 200
    assert USERPILOT.post(client, tenant, {"user_id": "anon-1", "event_name": "viewed"}).status_code == 202
    intempt_post(client, tenant, {"eventId": "i1", "userId": "u-1", "accountId": "g-2", "anotherAccountId": "g-1"})
    identity_drain()

    (profile,) = read_client.get("/api/v1/profiles/").json()["results"]
    (account,) = read_client.get("/api/v1/accounts/").json()["results"]
    events = read_client.get(f"/api/v1/profiles/{profile['id']}/events/").json()["results"]

    assert profile["identifiers"] == ["anon-1", "u-1"]
    assert account["identifiers"] == ["g-1", "g-2"]
    assert profile["accounts"] == [account["id"]] and account["members"] == [profile["id"]]
    assert sorted(e["wire_format"] for e in events) == ["databuddy", "intempt", "thrivestack", "userpilot"]


def test_profile_list_pages_cover_every_profile_once(client, tenant, read_client):
    intempt_post(client, tenant, *({"eventId": f"e{i}", "userId": f"u{i}", "timestamp": 1_000} for i in range(5)))
    identity_drain()

    seen, url = [], "/api/v1/profiles/?page_size=2"
    while url:
        body = read_client.get(url).json()
        seen += [p["identifiers"][0] for p in body["results"]]
        url = body["next"]

    assert sorted(seen) == [f"u{i}" for i in range(5)]


def test_dashboard_selectors_follow_merges_and_find_by_prefix(client, tenant):
    from profiles import selectors

    intempt_post(client, tenant, {"eventId": "1", "userId": "ann@x.io", "timestamp": 1_000})
    intempt_post(client, tenant, {"eventId": "2", "userId": "ann-phone", "timestamp": 2_000})
    identity_drain()
    intempt_post(client, tenant, {"eventId": "3", "userId": "ann@x.io", "anotherUserId": "ann-phone", "timestamp": 3})
    identity_drain()
    survivor, loser = Profile.objects.order_by("id").values_list("id", flat=True)
    project_id = tenant.project.id

    (found,) = selectors.profiles_search_prefix(project_id=project_id, query="ann")
    (merge,) = selectors.profile_merges(project_id=project_id, profile_id=loser)
    events = selectors.profile_events(project_id=project_id, profile_id=loser).events

    assert found.id == survivor and found.identifiers == ["ann-phone", "ann@x.io"]
    assert (merge.merged_id, merge.survivor_id, merge.event_id) == (loser, survivor, "3")
    assert sorted(events.values_list("event_id", flat=True)) == ["1", "2", "3"]
    assert selectors.profile_detail(project_id=project_id, profile_id=loser).id == survivor


def test_prune_deletes_only_batches_done_long_ago(client, tenant):
    from datetime import timedelta

    from django.utils import timezone

    from profiles.services import identity_work_prune

    intempt_post(client, tenant, {"eventId": "1", "userId": "a", "timestamp": 1_000})
    intempt_post(client, tenant, {"eventId": "2", "userId": "b", "timestamp": 1_000})
    identity_drain()
    old, recent = IdentityWork.objects.order_by("id")
    IdentityWork.objects.filter(id=old.id).update(processed_at=timezone.now() - timedelta(days=8))
    intempt_post(client, tenant, {"eventId": "3", "userId": "c", "timestamp": 1_000})  # pending

    assert identity_work_prune() == 1
    assert not IdentityWork.objects.filter(id=old.id).exists()
    assert IdentityWork.objects.filter(id=recent.id).exists()
    assert IdentityWork.objects.filter(processed_at__isnull=True).count() == 1
    assert Profile.objects.count() == 2


def test_only_the_contracts_pairs_link_identifiers_on_one_event(client, tenant, read_client):
    # No userId: neither (userId, anotherUserId) nor (profileId, userId) applies.
    intempt_post(client, tenant, {"eventId": "e1", "profileId": "p1", "anotherUserId": "a1", "timestamp": 1_000})
    # A placeholder userId joins nothing either.
    intempt_post(
        client,
        tenant,
        {"eventId": "e2", "userId": "null", "profileId": "p2", "anotherUserId": "a2", "timestamp": 1_000},
    )
    identity_drain()

    profiles = read_client.get("/api/v1/profiles/").json()["results"]
    events = {e["event_id"]: e["profile"] for e in read_client.get("/api/v1/events/").json()["results"]}

    assert sorted(p["identifiers"] for p in profiles) == [["a1"], ["a2"], ["p1"], ["p2"]]
    assert events["e1"] == profile_by_identifier(read_client, "p1")["id"]
    assert events["e2"] == profile_by_identifier(read_client, "p2")["id"]


def test_attributes_of_an_event_go_only_to_its_own_profile(client, tenant, read_client):
    intempt_post(
        client, tenant, {"eventId": "e1", "userId": "undefined", "anotherUserId": "a1", "userAttributes": {"plan": "x"}}
    )
    identity_drain()

    assert profile_by_identifier(read_client, "a1")["attributes"] == {}


def test_a_json_null_user_id_is_an_absent_one_not_a_placeholder(client, tenant, read_client):
    intempt_post(client, tenant, {"eventId": "e1", "userId": None, "anotherUserId": "a1", "userAttributes": {"p": 1}})
    identity_drain()

    profile = profile_by_identifier(read_client, "a1")
    (event,) = read_client.get("/api/v1/events/").json()["results"]
    assert (event["user_id"], event["profile"]) == (None, profile["id"])
    assert profile["attributes"] == {"p": 1}
    assert not IngestionWarning.objects.exists()


def test_an_event_naming_only_another_user_id_is_that_users(client, tenant, read_client):
    intempt_post(client, tenant, {"eventId": "e1", "anotherUserId": "a1", "userAttributes": {"plan": "pro"}})
    identity_drain()

    profile = profile_by_identifier(read_client, "a1")
    (event,) = read_client.get(f"/api/v1/profiles/{profile['id']}/events/").json()["results"]
    assert event["event_id"] == "e1" and event["profile"] == profile["id"]
    assert profile["attributes"] == {"plan": "pro"}


@pytest.mark.parametrize("level", ["group", "body"])
def test_intempt_identity_fields_around_the_events_are_only_data(client, tenant, read_client, level):
    """Only a payload item's anotherUserId links: one on its group would merge every user in it."""
    shared = {"anotherUserId": "shared-phone", "anotherAccountId": "acme.io", "userAttributes": {"plan": "all"}}
    group = {"name": "Purchase", "payload": [{"eventId": "e1", "userId": "ann"}, {"eventId": "e2", "userId": "bob"}]}
    body = {"track": [{**group, **shared}]} if level == "group" else {**shared, "track": [group]}
    response = client.post(tenant.intempt_url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    identity_drain()

    profiles = read_client.get("/api/v1/profiles/").json()["results"]
    assert sorted(p["identifiers"] for p in profiles) == [["ann"], ["bob"]]
    assert all(p["attributes"] == {} for p in profiles)
    assert read_client.get("/api/v1/accounts/").json()["results"] == []
    events = read_client.get("/api/v1/events/").json()["results"]
    assert {e["context"]["anotherUserId"] for e in events} == {"shared-phone"}  # kept as data


def test_an_intempt_items_own_identity_field_wins_over_its_groups(client, tenant, read_client):
    item = {"eventId": "e1", "userId": "ann", "anotherUserId": "ann-phone"}
    body = {"track": [{"name": "Purchase", "anotherUserId": "shared-phone", "payload": [item]}]}
    response = client.post(tenant.intempt_url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    identity_drain()

    assert profile_by_identifier(read_client, "ann")["identifiers"] == ["ann", "ann-phone"]


@pytest.mark.parametrize(
    ("post", "context"),
    [
        ("thrivestack", {"group_id": "g-1", "anotherUserId": "other", "anotherAccountId": "g-2"}),
        ("userpilot", None),
        ("databuddy", None),
    ],
)
def test_other_formats_fields_named_like_intempts_are_only_data(client, tenant, read_client, post, context):
    """The contract's identity fields in context (anotherUserId, ...) are Intempt's."""
    from tests.ingestion.track_formats import DATABUDDY, THRIVESTACK, USERPILOT

    extra = {"anotherUserId": "other", "anotherAccountId": "g-2", "userAttributes": {"plan": "leak"}}
    extra |= {"accountAttributes": {"tier": 1}}
    if post == "thrivestack":
        event = {"event_name": "x", "user_id": "u-1", "timestamp": "2024-05-02T06:38:24.000Z"}
        response = THRIVESTACK.post(client, tenant, [{**event, "context": {**extra, **context}}])
    elif post == "userpilot":
        response = USERPILOT.post(client, tenant, {"user_id": "u-1", "event_name": "x", **extra})
    else:
        response = DATABUDDY.post(client, tenant, {"name": "x", "anonymousId": "u-1", **extra})
    assert response.status_code in (200, 202), response.content
    identity_drain()

    (profile,) = read_client.get("/api/v1/profiles/").json()["results"]
    assert profile["identifiers"] == ["u-1"] and profile["attributes"] == {}
    accounts = read_client.get("/api/v1/accounts/").json()["results"]
    assert [account["identifiers"] for account in accounts] == ([["g-1"]] if post == "thrivestack" else [])
    (stored,) = read_client.get("/api/v1/events/").json()["results"]
    assert stored["context"]["anotherUserId"] == "other"  # kept, as the contract keeps unlisted fields


@pytest.mark.parametrize("first", ["A", "B"])
def test_attributes_of_events_sharing_timestamp_and_id_do_not_depend_on_arrival(client, tenant, read_client, first):
    for name in (first, "B" if first == "A" else "A"):
        item = {"eventId": "same", "userId": "t", "timestamp": 1_000, "userAttributes": {"plan": name}}
        intempt_post(client, tenant, item, name=name)
        identity_drain()

    assert profile_by_identifier(read_client, "t")["attributes"] == {"plan": "B"}


def test_identity_work_recorded_with_an_oversized_identifier_skips_it(client, tenant, read_client):
    """Work recorded before ingestion capped anotherUserId must not fail every drain."""
    long_value = "x" * 6000
    IdentityWork.objects.create(
        project_id=tenant.project.id,
        facts=[{"name": "ev", "event_id": "p1", "ts_us": 1, "user_id": "victim-a", "another_user_id": long_value}],
    )
    intempt_post(client, tenant, {"eventId": "p2", "userId": "victim-b", "anotherUserId": "victim-c"})

    identity_drain()

    assert profile_by_identifier(read_client, "victim-a")["identifiers"] == ["victim-a"]
    assert profile_by_identifier(read_client, "victim-b")["identifiers"] == ["victim-b", "victim-c"]
    warning = IngestionWarning.objects.get(event_id="p1")
    assert warning.field == "another_user_id" and "over 1024 bytes" in warning.reason and len(warning.value) == 201
    assert not IdentityWork.objects.filter(processed_at__isnull=True).exists()


def test_the_sweep_goes_on_past_a_project_whose_work_fails(client, tenant, other_tenant, caplog):
    broken, healthy = sorted([tenant, other_tenant], key=lambda t: t.project.id)
    # A fact without its timestamp: this project's drain fails every time.
    IdentityWork.objects.create(project_id=broken.project.id, facts=[{"name": "ev", "event_id": "1", "user_id": "u"}])
    intempt_post(client, healthy, {"eventId": "ok", "userId": "later-project-user"})

    identity_drain()

    assert not IdentityWork.objects.filter(project_id=healthy.project.id, processed_at__isnull=True).exists()
    assert Identity.objects.filter(project_id=healthy.project.id, value="later-project-user").exists()
    assert IdentityWork.objects.filter(project_id=broken.project.id, processed_at__isnull=True).exists()
    assert f"identity work of project {broken.project.id} failed" in caplog.text


def test_old_work_whose_only_user_is_an_oversized_another_user_id_is_done(client, tenant, read_client):
    IdentityWork.objects.create(
        project_id=tenant.project.id,
        facts=[
            {"name": "ev", "event_id": "p1", "ts_us": 1, "another_user_id": "x" * 6000, "account_id": "acme"},
            {"name": "ev", "event_id": "p2", "ts_us": 2, "user_id": "someone"},
        ],
    )

    identity_drain()

    assert not IdentityWork.objects.filter(processed_at__isnull=True).exists()
    assert [p["identifiers"] for p in read_client.get("/api/v1/profiles/").json()["results"]] == [["someone"]]
    (account,) = read_client.get("/api/v1/accounts/").json()["results"]
    assert account["identifiers"] == ["acme"] and account["members"] == []


def test_the_periodic_sweep_does_leftover_work_and_prunes_batches_done_long_ago(client, tenant):
    from datetime import timedelta

    from django.utils import timezone

    from profiles.services import identity_work_upkeep

    intempt_post(client, tenant, {"eventId": "1", "userId": "a", "timestamp": 1_000})
    identity_drain()
    IdentityWork.objects.update(processed_at=timezone.now() - timedelta(days=8))
    intempt_post(client, tenant, {"eventId": "2", "userId": "b", "timestamp": 1_000})  # left over

    assert identity_work_upkeep(older_than=timedelta(0)) == 1
    (leftover,) = IdentityWork.objects.all()
    assert leftover.processed_at is not None
    assert Profile.objects.count() == 2


def test_an_attribute_number_past_64_bits_does_not_stop_identity_work(client, tenant, read_client):
    # Found by the audit-schema session's schemathesis run: a track request with
    # userAttributes {"n": 1e22} was stored (200), but PostgreSQL's jsonb gives the number
    # back as the integer 10000000000000000000000, which orjson cannot write: every later
    # drain of the project that changed that profile failed (TypeError), so no later event
    # of the project got a profile.
    big = {"eventId": "big", "userId": "ann", "accountId": "acme", "timestamp": 1_000}
    intempt_post(client, tenant, {**big, "userAttributes": {"n": 1e22, "low": -1e19}, "accountAttributes": {"n": 1e22}})
    identity_drain()
    intempt_post(
        client,
        tenant,
        {"eventId": "plan", "userId": "ann", "accountId": "acme", "timestamp": 2_000,
         "userAttributes": {"plan": "pro"}, "accountAttributes": {"plan": "team"}},
        {"eventId": "later", "userId": "bob", "timestamp": 2_000},
    )  # fmt: skip
    identity_drain()

    assert profile_by_identifier(read_client, "ann")["attributes"] == {"n": 10**22, "low": -(10**19), "plan": "pro"}
    accounts = read_client.get("/api/v1/accounts/", {"identifier": "acme"}).json()["results"]
    assert [account["attributes"] for account in accounts] == [{"n": 10**22, "plan": "team"}]
    assert profile_by_identifier(read_client, "bob")["identifiers"] == ["bob"]
    assert not IdentityWork.objects.filter(processed_at=None).exists()

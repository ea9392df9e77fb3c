"""``POST /identify``: what Databuddy's SDKs send for ``identify()`` (``DatabuddyIdentifyAdapter``)."""

from __future__ import annotations

import json

import pytest

from ingestion.models import Event, RejectedEvent
from profiles.models import Profile
from tests.profiles.conftest import identity_drain

pytestmark = pytest.mark.django_db

IDENTIFIED = {"status": "success", "type": "identify"}


def identify(client, body, *, authorization: str | None = None, query: str = ""):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    return client.post(f"/identify{query}", data=data, content_type="application/json", **headers)


def test_identify_joins_the_two_ids_in_one_profile_with_the_traits_as_attributes(client, tenant):
    # The body the SDK's identify() posts (@databuddy/sdk 2.6.0, /node).
    body = {"profileId": "user_42", "anonymousId": "anon_7f3a", "traits": {"plan": "pro"}, "websiteId": None}

    response = identify(client, body, authorization=f"Bearer {tenant.api_key}")
    identity_drain()

    assert response.status_code == 200
    assert response.json() == IDENTIFIED
    event = Event.objects.get()
    assert (event.name, event.profile_id, event.anonymous_id) == ("$identify", "user_42", "anon_7f3a")
    assert event.context["userAttributes"] == {"plan": "pro"}
    (profile,) = Profile.objects.filter(merged_into=None)
    assert sorted(profile.identities.values_list("value", flat=True)) == ["anon_7f3a", "user_42"]
    assert profile.attributes == {"plan": "pro"}


def test_identify_links_a_visitor_tracked_before_it(client, tenant):
    client.post(
        "/track",
        data=json.dumps({"name": "page_view", "anonymousId": "anon_7f3a"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {tenant.api_key}",
    )
    identity_drain()

    identify(client, {"profileId": "user_42", "anonymousId": "anon_7f3a"}, authorization=f"Bearer {tenant.api_key}")
    identity_drain()

    assert Profile.objects.filter(merged_into=None).count() == 1
    assert Event.objects.count() == 2


def test_identify_from_a_browser_with_the_website_id(client, tenant):
    response = identify(client, {"anonymousId": "anon_1"}, query=f"?website_id={tenant.website_id}")

    assert response.status_code == 200
    assert Event.objects.get().anonymous_id == "anon_1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"traits": {"plan": "pro"}}, "profileId"),
        ({"profileId": 42}, "profileId"),
        ({"anonymousId": "a" * 257}, "anonymousId"),
        ({"profileId": "user_42", "traits": "pro"}, "traits"),
        ({"profileId": "user\u0000"}, "profileId"),
        ([{"profileId": "user_42"}], "body"),
        # A websiteId that is no string was looked up as one: a 500 (found by schemathesis).
        ({"profileId": "user_42", "websiteId": [None, None]}, "websiteId"),
        ({"profileId": "user_42", "websiteId": 5}, "websiteId"),
    ],
)
def test_a_bad_identify_is_a_400_in_databuddys_shape_and_keeps_nothing(client, tenant, body, field):
    response = identify(client, body, authorization=f"Bearer {tenant.api_key}")

    assert response.status_code == 400
    answer = response.json()
    assert (answer["status"], answer["message"]) == ("error", "Invalid request body")
    assert answer["errors"][0]["field"] == field
    assert not Event.objects.exists() and not RejectedEvent.objects.exists()


def test_identify_without_a_credential_is_refused(client, tenant):
    response = identify(client, {"profileId": "user_42"})

    assert response.status_code == 401
    assert response.json() == {"status": "error", "message": "API key or website_id required"}


def test_each_identify_is_an_event_of_its_own(client, tenant):
    for _ in range(2):
        identify(client, {"profileId": "user_42", "traits": {"plan": "pro"}}, authorization=f"Bearer {tenant.api_key}")

    assert Event.objects.filter(name="$identify").count() == 2

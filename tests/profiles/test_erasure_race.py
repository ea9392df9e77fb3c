"""Erasing a person while their events arrive (``profiles.services.profile_erase``):
an event committed after the pending identity work was settled, but before the events
delete, is deleted with the rest, and its identity facts must not be applied afterwards.
Committed for real (``transaction=True``), the other request on its own connection."""

from __future__ import annotations

import pytest
from django.test import Client

from ingestion.models import Event
from profiles.models import Identity, IdentityWork
from profiles.services import profile_erase
from tests.profiles.conftest import committed_before_the_first_query_on, identity_drain, intempt_post

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS_DELETE = 'DELETE FROM "ingestion_event"'


@pytest.fixture
def victim(client, tenant):
    intempt_post(client, tenant, {"userId": "victim", "eventId": "v1", "timestamp": 1_700_000_000_000})
    intempt_post(client, tenant, {"userId": "bystander", "eventId": "b1", "timestamp": 1_700_000_000_000})
    identity_drain()
    return tenant


# The erasure's read of the person's identifiers, after the settle, before the events delete.
IDENTIFIERS_READ = 'SELECT "profiles_identity"."value" AS "value" FROM'


@pytest.mark.parametrize(
    ("user_id", "another_user_id", "commits_before"),
    [
        ("victim", "victims-new-phone", EVENTS_DELETE),
        # Its ``identity_key`` is the new identifier, so the events delete alone kept it,
        # and the next drain re-created the erased identifier from its facts.
        ("victims-new-phone", "victim", IDENTIFIERS_READ),
    ],
    ids=["keyed by the person", "keyed by the new identifier"],
)
def test_an_event_linking_the_person_committed_before_the_delete_goes_with_the_rest_and_leaves_no_identity(
    victim, user_id, another_user_id, commits_before
):
    def link_arrives() -> None:
        link = {"userId": user_id, "anotherUserId": another_user_id, "eventId": "v2", "timestamp": 1_700_000_001_000}
        intempt_post(Client(), victim, link, name="Late")

    with committed_before_the_first_query_on(commits_before, link_arrives):
        erased = profile_erase(project_id=victim.project.id, identifier="victim")
    identity_drain()

    assert erased is not None and erased.events == 2  # the late event went with the rest
    assert not Event.objects.filter(event_id__in=["v1", "v2"]).exists()
    assert not Identity.objects.filter(value__in=["victim", "victims-new-phone"]).exists()
    assert list(Identity.objects.values_list("value", flat=True)) == ["bystander"]
    assert not IdentityWork.objects.filter(processed_at__isnull=True).exists()


def test_an_event_committed_after_the_delete_began_is_new_data(victim):
    """Its event stays, so its identity is resolved: a new person to TrackHub."""

    def link_arrives_after() -> None:
        intempt_post(Client(), victim, {"userId": "victim", "eventId": "v3", "timestamp": 1_700_000_002_000})

    # After the events delete: the first query on the rejected events that follows it.
    with committed_before_the_first_query_on("ingestion_rejectedevent", link_arrives_after):
        profile_erase(project_id=victim.project.id, identifier="victim")
    identity_drain()

    assert list(Event.objects.filter(user_id="victim").values_list("event_id", flat=True)) == ["v3"]
    assert Identity.objects.filter(value="victim").exists()

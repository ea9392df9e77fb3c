"""Erasing a person on request (``profiles.services.profile_erase``, ``manage.py
erase_profile``): their profile, identifiers, merged profiles, memberships, events and
rejected events go; everybody else's data stays."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from ingestion.models import Event, RejectedEvent
from profiles.models import AccountMembership, Identity, Profile, ProfileMerge
from profiles.selectors import profile_ids_for_identifiers
from profiles.services import profile_erase
from tests.profiles.conftest import identity_drain, intempt_post

pytestmark = pytest.mark.django_db


def _events_of(*identity_keys: str) -> int:
    return Event.objects.filter(identity_key__in=identity_keys).count()


@pytest.fixture
def alice_and_bob(client, tenant):
    """Alice (two identifiers, one account) and Bob, each with events, all resolved."""
    intempt_post(client, tenant, {"eventId": "a1", "userId": "alice", "profileId": "alice@example.com",
                                  "accountId": "acme", "timestamp": 1_700_000_000_000})  # fmt: skip
    intempt_post(client, tenant, {"eventId": "a2", "userId": "alice", "timestamp": 1_700_000_001_000})
    intempt_post(
        client, tenant, {"eventId": "b1", "userId": "bob", "accountId": "acme", "timestamp": 1_700_000_002_000}
    )
    identity_drain()
    return tenant


def test_erasing_a_person_deletes_their_events_identifiers_and_profile(alice_and_bob):
    project_id = alice_and_bob.project.id
    alice = profile_ids_for_identifiers(project_id=project_id, identifiers=["alice"])["alice"]

    erased = profile_erase(project_id=project_id, identifier="alice@example.com")

    assert erased is not None
    assert (erased.profile_id, erased.identifiers, erased.profiles) == (alice, ["alice", "alice@example.com"], 1)
    assert erased.events == 2 and erased.rejected_events == 0
    assert _events_of("alice", "alice@example.com") == 0
    assert not Profile.objects.filter(id=alice).exists()
    assert not Identity.objects.filter(value__startswith="alice").exists()


def test_erasing_a_person_keeps_everybody_elses_data(alice_and_bob):
    project_id = alice_and_bob.project.id
    bob = profile_ids_for_identifiers(project_id=project_id, identifiers=["bob"])["bob"]

    profile_erase(project_id=project_id, identifier="alice")

    assert _events_of("bob") == 1
    assert Profile.objects.filter(id=bob).exists()
    assert AccountMembership.objects.filter(profile_id=bob, account__identities__value="acme").exists()


def test_erasing_a_person_ends_their_account_membership_but_keeps_the_account(alice_and_bob):
    project_id = alice_and_bob.project.id
    alice = profile_ids_for_identifiers(project_id=project_id, identifiers=["alice"])["alice"]

    profile_erase(project_id=project_id, profile_id=alice)

    assert not AccountMembership.objects.filter(profile_id=alice).exists()
    assert AccountMembership.objects.filter(account__identities__value="acme").count() == 1  # Bob's


def test_a_merged_away_profile_id_erases_the_survivor_and_every_profile_merged_into_it(client, tenant):
    intempt_post(client, tenant, {"eventId": "m1", "userId": "ann", "timestamp": 1_700_000_000_000})
    intempt_post(client, tenant, {"eventId": "m2", "userId": "ann-work", "timestamp": 1_700_000_001_000})
    identity_drain()
    before = profile_ids_for_identifiers(project_id=tenant.project.id, identifiers=["ann", "ann-work"])
    intempt_post(client, tenant, {"eventId": "m3", "userId": "ann", "anotherUserId": "ann-work",
                                  "timestamp": 1_700_000_002_000})  # fmt: skip
    identity_drain()
    merge = ProfileMerge.objects.get(project=tenant.project)

    erased = profile_erase(project_id=tenant.project.id, profile_id=merge.merged_id)

    assert erased is not None and erased.profile_id == merge.survivor_id and erased.profiles == 2
    assert erased.identifiers == ["ann", "ann-work"] and erased.events == 3
    assert not Profile.objects.filter(id__in=before.values()).exists()
    assert not ProfileMerge.objects.filter(project=tenant.project).exists()


def test_identity_work_pending_at_the_erasure_is_resolved_first_and_erased_with_the_rest(client, tenant):
    intempt_post(client, tenant, {"eventId": "p1", "userId": "carol", "timestamp": 1_700_000_000_000})
    identity_drain()
    # Not drained: this link is still in the outbox when the erasure starts.
    intempt_post(client, tenant, {"eventId": "p2", "userId": "carol-new", "anotherUserId": "carol",
                                  "timestamp": 1_700_000_001_000})  # fmt: skip

    erased = profile_erase(project_id=tenant.project.id, identifier="carol")

    assert erased is not None and erased.identifiers == ["carol", "carol-new"] and erased.events == 2
    identity_drain()
    assert not Identity.objects.filter(project=tenant.project).exists()
    assert not Profile.objects.filter(project=tenant.project).exists()


def test_rejected_events_naming_the_person_are_erased_and_others_kept(alice_and_bob, client):
    # A NUL character gets an event refused (400); its payload is kept for replay, identifiers and all.
    for user in ("alice", "bob"):
        item = {"eventId": f"r-{user}", "userId": user, "data": {"note": "\u0000"}}
        body = json.dumps({"track": [{"name": "Purchase", "payload": [item]}]})
        assert client.post(alice_and_bob.intempt_url, data=body, content_type="application/json").status_code == 400
    assert RejectedEvent.objects.filter(project=alice_and_bob.project).count() == 2

    erased = profile_erase(project_id=alice_and_bob.project.id, identifier="alice")

    assert erased is not None and erased.rejected_events == 1
    kept = RejectedEvent.objects.get(project=alice_and_bob.project)
    assert "bob" in json.dumps(kept.payload) and "alice" not in json.dumps(kept.payload)


def test_a_person_the_project_does_not_know_is_no_erasure(alice_and_bob, other_tenant):
    assert profile_erase(project_id=alice_and_bob.project.id, identifier="nobody") is None
    assert profile_erase(project_id=alice_and_bob.project.id, profile_id=10**12) is None
    # Another project's person is not this project's.
    assert profile_erase(project_id=other_tenant.project.id, identifier="alice") is None
    assert _events_of("alice") == 2


def test_the_erase_profile_command_erases_and_says_what(alice_and_bob, capsys):
    project = alice_and_bob.project

    call_command("erase_profile", "--org", project.organization.name, "--project", project.name,
                 "--identifier", "alice", "--yes", "--json")  # fmt: skip

    printed = json.loads(capsys.readouterr().out)
    assert printed["identifiers"] == ["alice", "alice@example.com"] and printed["events"] == 2
    assert _events_of("alice", "alice@example.com") == 0


def test_the_erase_profile_command_erases_nothing_unless_confirmed(alice_and_bob, monkeypatch):
    project = alice_and_bob.project
    monkeypatch.setattr("builtins.input", lambda prompt: "no")

    with pytest.raises(CommandError, match="not erased"):
        call_command("erase_profile", "--org", project.organization.name, "--project", project.name,
                     "--identifier", "alice")  # fmt: skip

    assert _events_of("alice") == 2


def test_the_erase_profile_command_without_an_answer_erases_nothing(alice_and_bob, monkeypatch):
    project = alice_and_bob.project
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # a script run without --yes: end of input

    with pytest.raises(CommandError, match="not erased"):
        call_command("erase_profile", "--org", project.organization.name, "--project", project.name,
                     "--identifier", "alice")  # fmt: skip

    assert _events_of("alice") == 2


def test_the_erase_profile_command_names_an_unknown_person(alice_and_bob):
    project = alice_and_bob.project

    with pytest.raises(CommandError, match=r"nobody has the identifier 'nobody' in .*: nothing erased"):
        call_command("erase_profile", "--org", project.organization.name, "--project", project.name,
                     "--identifier", "nobody", "--yes")  # fmt: skip

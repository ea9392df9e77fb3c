"""Staff can read identity resolution's results in the admin, and cannot edit them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from dashboard.services import project_membership_grant
from ingestion.models import Event
from profiles import admin as profiles_admin
from profiles.models import (
    Account,
    AccountMembership,
    AccountMerge,
    IdentityWork,
    IngestionWarning,
    Profile,
    ProfileMerge,
)
from tests.profiles.conftest import identity_drain
from tests.seeds import seed_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def resolved_seed(client, tenant):
    response = client.post(
        tenant.intempt_url, data=seed_body("intempt_example_1.json"), content_type="application/json"
    )
    assert response.status_code == 200
    identity_drain()


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("staff", "staff@example.com", "pw-staff-123"))
    return client


@pytest.mark.parametrize(("model", "identifier"), [(Profile, "+111111111"), (Account, "no-reply@intempt.com")])
def test_profile_and_account_pages_show_identifiers_read_only(resolved_seed, staff_client, model, identifier):
    owner = model.objects.get()
    name = model._meta.model_name

    listing = staff_client.get(f"/admin/profiles/{name}/?q={identifier}")
    detail = staff_client.get(f"/admin/profiles/{name}/{owner.pk}/change/")

    assert listing.status_code == detail.status_code == 200
    assert identifier in detail.content.decode()
    assert staff_client.get(f"/admin/profiles/{name}/add/").status_code == 403


def _rows_make(project) -> dict[type, object]:
    """One row of every model of this admin in ``project``: what identity resolution leaves
    after a merge of two profiles and of two accounts, a warning, a batch of work."""
    now = timezone.now()
    made: dict[type, object] = {}
    for model, merge in ((Profile, ProfileMerge), (Account, AccountMerge)):
        survivor = model.objects.create(project=project, first_seen=now, last_seen=now)
        merged = model.objects.create(project=project, first_seen=now, last_seen=now, merged_into=survivor)
        made[model] = survivor
        made[merge] = merge.objects.create(
            project=project, survivor=survivor, merged=merged, event_name="Purchase", event_id="e1"
        )
    made[IngestionWarning] = IngestionWarning.objects.create(
        project=project, event_name="Purchase", event_id="e1", field="userId", value="null", reason="placeholder"
    )
    made[IdentityWork] = IdentityWork.objects.create(project_id=project.id, facts=[])
    return made


@pytest.mark.parametrize("model", [Profile, Account, ProfileMerge, AccountMerge, IngestionWarning, IdentityWork])
def test_a_member_lists_only_the_rows_of_their_projects(member_client, tenant, other_tenant, model):
    own, other = _rows_make(tenant.project)[model], _rows_make(other_tenant.project)[model]
    url = f"/admin/profiles/{model._meta.model_name}/"

    response = member_client.get(url)

    body = response.content.decode()
    assert response.status_code == 200
    assert f"{url}{own.pk}/change/" in body and f"{url}{other.pk}/change/" not in body


def test_a_member_cannot_open_another_tenants_profile(member_client, other_tenant):
    profile = _rows_make(other_tenant.project)[Profile]

    response = member_client.get(f"/admin/profiles/profile/{profile.pk}/change/")

    assert response.status_code == 302 and response["Location"] == "/admin/"


@pytest.fixture
def two_people(client, tenant):
    for user in ("alice", "bob"):
        response = client.post(
            tenant.intempt_url,
            data=f'{{"track": [{{"name": "Signup", "payload": [{{"eventId": "{user}-1", "userId": "{user}"}}]}}]}}',
            content_type="application/json",
        )
        assert response.status_code == 200
    identity_drain()
    return {identity: Profile.objects.get(identities__value=identity) for identity in ("alice", "bob")}


def _erase_action(client, profile, **confirm: str):
    return client.post(
        "/admin/profiles/profile/", {"action": "erase", "_selected_action": [profile.pk], **confirm}, follow=True
    )


def test_the_erase_action_asks_first_and_erases_nothing_until_confirmed(two_people, staff_client):
    response = _erase_action(staff_client, two_people["alice"])

    assert response.status_code == 200
    assert f"profile {two_people['alice'].pk}" in response.content.decode()
    assert 'name="post" value="yes"' in response.content.decode()
    assert Profile.objects.filter(pk=two_people["alice"].pk).exists()


def test_the_confirmed_erase_action_erases_the_person_and_their_events(two_people, staff_client):
    response = _erase_action(staff_client, two_people["alice"], post="yes")

    assert response.status_code == 200
    assert "Erased 1 people with 1 events and 0 rejected events." in response.content.decode()
    assert not Profile.objects.filter(pk=two_people["alice"].pk).exists()
    assert not Event.objects.filter(identity_key="alice").exists()
    assert Event.objects.filter(identity_key="bob").exists()


def test_staff_who_may_only_view_profiles_get_no_erase_action(two_people, client):
    viewer = User.objects.create_user("viewer", password="pw-viewer-123", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_profile"))
    project_membership_grant(user=viewer, project=two_people["alice"].project)
    client.force_login(viewer)

    listing = client.get("/admin/profiles/profile/")
    response = _erase_action(client, two_people["alice"], post="yes")

    assert listing.status_code == 200 and 'value="erase"' not in listing.content.decode()
    assert response.status_code == 200
    assert Profile.objects.filter(pk=two_people["alice"].pk).exists()


@pytest.mark.parametrize("model", [Profile, Account])
def test_the_list_of_merged_profiles_and_accounts_reads_their_survivors_in_one_query(
    tenant, staff_client, django_assert_max_num_queries, model
):
    now = timezone.now()
    survivor = model.objects.create(project=tenant.project, first_seen=now, last_seen=now)
    model.objects.bulk_create(
        [model(project=tenant.project, first_seen=now, last_seen=now, merged_into=survivor) for _ in range(20)]
    )
    name = model._meta.model_name
    staff_client.get(f"/admin/profiles/{name}/")  # the session, the site's caches

    with django_assert_max_num_queries(6):
        listing = staff_client.get(f"/admin/profiles/{name}/")

    assert listing.status_code == 200
    assert listing.content.decode().count(f">{survivor}<") >= 20


def owner_with_members(tenant, owner_model, member_model, *, count):
    """A profile with ``count`` accounts, or an account with ``count`` member profiles."""
    now = timezone.now()
    owner = owner_model.objects.create(project=tenant.project, first_seen=now, last_seen=now)
    members = member_model.objects.bulk_create(
        [member_model(project=tenant.project, first_seen=now, last_seen=now) for _ in range(count)]
    )
    pairs = [(owner, member) if owner_model is Account else (member, owner) for member in members]
    AccountMembership.objects.bulk_create([AccountMembership(account=a, profile=p) for a, p in pairs])
    return owner, members


@pytest.mark.parametrize(("owner_model", "member_model"), [(Profile, Account), (Account, Profile)])
def test_a_profile_or_account_page_reads_its_memberships_in_one_query(
    tenant, staff_client, django_assert_max_num_queries, owner_model, member_model
):
    owner, members = owner_with_members(tenant, owner_model, member_model, count=20)
    url = f"/admin/profiles/{owner_model._meta.model_name}/{owner.pk}/change/"
    staff_client.get(url)  # the session, the site's caches

    with django_assert_max_num_queries(12):
        detail = staff_client.get(url)

    assert detail.status_code == 200
    member_url = f"/admin/profiles/{member_model._meta.model_name}/"
    assert all(f"{member_url}{member.pk}/change/" in detail.content.decode() for member in members)


@pytest.mark.parametrize(("owner_model", "member_model"), [(Profile, Account), (Account, Profile)])
def test_a_profile_or_account_page_lists_only_its_newest_memberships_and_links_the_dashboard(
    tenant, staff_client, monkeypatch, owner_model, member_model
):
    monkeypatch.setattr(profiles_admin, "INLINE_ROWS_LIMIT", 5)
    owner, members = owner_with_members(tenant, owner_model, member_model, count=8)

    detail = staff_client.get(f"/admin/profiles/{owner_model._meta.model_name}/{owner.pk}/change/")

    body = detail.content.decode()
    member_url = f"/admin/profiles/{member_model._meta.model_name}/"
    shown = [member for member in members if f'"{member_url}{member.pk}/change/"' in body]
    assert detail.status_code == 200
    assert shown == members[-5:]  # the newest memberships
    assert f'href="/dashboard/{tenant.project.pk}/{owner_model._meta.model_name}s/{owner.pk}/"' in body

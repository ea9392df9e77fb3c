"""Staff can read identity resolution's results in the admin, and cannot edit them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from profiles.models import Account, Profile
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

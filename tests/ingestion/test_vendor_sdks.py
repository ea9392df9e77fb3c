"""Requests the vendors' own SDKs send, replayed byte for byte through the URL.

Each body was captured from the SDK pointed at TrackHub with its base-URL option only
(docs/formats.md, the sections "Intempt's SDK", "Databuddy's Node SDK" and "ThriveStack
and Userpilot SDKs"); the headers are the SDK's own.
"""

from __future__ import annotations

import base64

import pytest

from ingestion.models import Event
from tests.conftest import Tenant, tenant_create
from tests.seeds import seed_body

pytestmark = pytest.mark.django_db


# --- Intempt: ``pip install intempt`` (2.0.0) -------------------------------------------


def intempt_sdk_path(tenant: Tenant) -> str:
    """The URL the SDK posts to: ``/v1`` before the org, no ``?apiKey=``."""
    org = tenant.project.organization.name
    return f"/v1/{org}/projects/{tenant.project.name}/sources/{tenant.source.id}/track"


def intempt_sdk_authorization(api_key: str) -> str:
    """The SDK's header: ``Basic`` base64 of the key with its first "." made ":"."""
    identifier, _, secret = api_key.partition(".")
    return "Basic " + base64.b64encode(f"{identifier}:{secret}".encode()).decode()


def intempt_sdk_post(client, tenant: Tenant, *, path: str, api_key: str):
    return client.post(
        path,
        data=seed_body("sdk_intempt_python_track.json"),
        content_type="application/json",
        HTTP_AUTHORIZATION=intempt_sdk_authorization(api_key),
        HTTP_X_INTEMPT_LIB="intempt-python/2.0.0",
    )


def test_intempt_sdk_track_is_stored(client, tenant):
    response = intempt_sdk_post(client, tenant, path=intempt_sdk_path(tenant), api_key=tenant.api_key)

    assert response.status_code == 200
    assert response.json() == {}
    event = Event.objects.get(project=tenant.project)
    assert (event.name, event.event_id, event.user_id, event.account_id) == (
        "Purchase",
        "1ee47e40-bedd-467b-a4b4-0e88448635e2",
        "py-user@example.com",
        "py-acct",
    )
    assert event.properties == {"total": 99.99}
    assert event.source_id == tenant.source.id


def test_intempt_basic_key_without_the_v1_prefix_is_accepted(client, tenant):
    path = intempt_sdk_path(tenant).removeprefix("/v1")

    response = intempt_sdk_post(client, tenant, path=path, api_key=tenant.api_key)

    assert response.status_code == 200
    assert Event.objects.filter(project=tenant.project).count() == 1


def test_intempt_org_named_v1_still_resolves_without_prefix(client, db):
    v1_tenant = tenant_create(org="v1", project="web")
    path = f"/v1/projects/web/sources/{v1_tenant.source.id}/track"

    response = intempt_sdk_post(client, v1_tenant, path=path, api_key=v1_tenant.api_key)

    assert response.status_code == 200
    assert Event.objects.filter(project=v1_tenant.project).count() == 1


def test_intempt_sdk_wrong_secret_is_401_and_stores_nothing(client, tenant):
    identifier = tenant.api_key.partition(".")[0]

    response = intempt_sdk_post(client, tenant, path=intempt_sdk_path(tenant), api_key=f"{identifier}.wrong")

    # The SDK treats 401 as final: raised to the caller, or its batch dropped, never retried.
    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Invalid API key"}]}
    assert not Event.objects.exists()


def test_intempt_sdk_key_of_another_source_is_401(client, tenant, other_tenant):
    response = intempt_sdk_post(client, tenant, path=intempt_sdk_path(tenant), api_key=other_tenant.api_key)

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "API key is not valid for this source"}]}
    assert not Event.objects.exists()


def test_intempt_basic_credentials_that_are_not_base64_are_401(client, tenant):
    response = client.post(
        intempt_sdk_path(tenant),
        data=seed_body("sdk_intempt_python_track.json"),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic not-base64!",
    )

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "Invalid API key"}]}


def test_intempt_query_api_key_decides_over_basic(client, tenant, other_tenant):
    path = intempt_sdk_path(tenant) + f"?apiKey={tenant.api_key}"

    response = intempt_sdk_post(client, tenant, path=path, api_key=other_tenant.api_key)

    assert response.status_code == 200
    assert Event.objects.filter(project=tenant.project).count() == 1


# --- Databuddy: ``@databuddy/sdk/node`` (2.6.0) -----------------------------------------

# The website the captured requests name; each test puts its tenant's website in its place.
DATABUDDY_CAPTURED_WEBSITE = b"f0d1bf70-4c71-4422-b402-cec73eda646e"


def databuddy_sdk_post(client, tenant: Tenant, *, body: str):
    """The SDK's request: ``fetch`` with these headers and a Bearer API key."""
    return client.post(
        "/track",
        data=seed_body(body).replace(DATABUDDY_CAPTURED_WEBSITE, tenant.website_id.encode()),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {tenant.api_key}",
        HTTP_ACCEPT="*/*",
        HTTP_ACCEPT_LANGUAGE="*",
        HTTP_SEC_FETCH_MODE="cors",
        HTTP_USER_AGENT="node",
    )


def test_databuddy_sdk_batch_is_acknowledged_whole_and_stored_by_the_contracts_dedupe(client, tenant):
    # The batch the SDK flushed for four track() calls: the two identical clicks carry the
    # flush's timestamp and no eventId (the SDK drops it from what it sends), so by the
    # contract's rule (an id-less event with a timestamp is a hash of what it carries)
    # they are one event; count is what was accepted, as for a retry.
    response = databuddy_sdk_post(client, tenant, body="sdk_databuddy_node_batch.json")

    assert response.status_code == 200
    assert response.json() == {"status": "success", "type": "custom_event", "count": 4}
    names = sorted(Event.objects.filter(project=tenant.project).values_list("name", flat=True))
    assert names == ["api_call", "button_clicked", "order"]


def test_databuddy_sdk_batch_sent_again_is_stored_once(client, tenant):
    databuddy_sdk_post(client, tenant, body="sdk_databuddy_node_batch.json")

    response = databuddy_sdk_post(client, tenant, body="sdk_databuddy_node_batch.json")

    assert response.json() == {"status": "success", "type": "custom_event", "count": 4}
    assert Event.objects.filter(project=tenant.project).count() == 3


def intempt_sdk_project_path(tenant: Tenant) -> str:
    """The URL of the SDK built without ``source_id`` (optional there)."""
    return f"/v1/{tenant.project.organization.name}/projects/{tenant.project.name}/track"


def test_intempt_sdk_without_source_id_tracks_into_the_keys_source(client, tenant):
    response = intempt_sdk_post(client, tenant, path=intempt_sdk_project_path(tenant), api_key=tenant.api_key)

    assert response.status_code == 200
    assert response.json() == {}
    assert Event.objects.get(project=tenant.project).source_id == tenant.source.id


def test_intempt_sdk_without_source_id_refuses_a_key_of_another_project(client, tenant, other_tenant):
    response = intempt_sdk_post(client, tenant, path=intempt_sdk_project_path(tenant), api_key=other_tenant.api_key)

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "API key is not valid for this source"}]}
    assert not Event.objects.exists()

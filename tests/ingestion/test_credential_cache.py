"""Each web process keeps a copy of the track credentials it read, so a request needs no
credential query; the write then checks the copy is current. A credential revoked or
changed in the database is judged as it is now on the very next request, whatever the
request's answer would have been."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from ingestion.models import AccessToken, ApiKey, Event, Project, RejectedEvent, Website
from ingestion.selectors import track_access_token_verify, track_api_key_verify, track_website_get
from ingestion.services import access_token_create, api_key_create, credential_revoke
from tests.ingestion.track_formats import FORMATS, THRIVESTACK, assert_error_shape

pytestmark = pytest.mark.django_db

formats = pytest.mark.parametrize("spec", FORMATS, ids=lambda spec: spec.name)


def _credential_model(spec):
    return AccessToken if spec is THRIVESTACK else ApiKey


def _presented(spec, tenant) -> str:
    return spec.authorization(tenant).split(" ", 1)[1]


def _revoked_after_its_copy_was_made(client, tenant, spec) -> None:
    """One accepted request (this process now holds the credential's copy), then revoke."""
    assert spec.post(client, tenant, [spec.event(0)]).status_code == spec.success_status
    credential_revoke(presented_or_identifier=_presented(spec, tenant))


def _check_passes(check) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {check.sql}", check.params)
        return cursor.fetchone()[0]


# --- the copy -------------------------------------------------------------------------------


def test_the_first_read_is_from_the_database_and_the_next_from_the_copy(tenant):
    first = track_api_key_verify(presented=tenant.api_key)
    second = track_api_key_verify(presented=tenant.api_key)

    assert first is not None and first.check is None
    assert second is not None and second.check is not None
    assert second.credential.source.id == tenant.source.id
    assert _check_passes(second.check)


def test_a_wrong_secret_is_refused_even_when_the_identifier_is_cached(tenant):
    track_api_key_verify(presented=tenant.api_key)
    identifier = tenant.api_key.split(".")[0]

    assert track_api_key_verify(presented=f"{identifier}.not-the-secret") is None


def test_the_check_fails_once_the_credential_is_revoked(tenant):
    track_api_key_verify(presented=tenant.api_key)
    check = track_api_key_verify(presented=tenant.api_key).check

    credential_revoke(presented_or_identifier=tenant.api_key)

    assert not _check_passes(check)


@pytest.mark.parametrize(
    "change",
    [
        lambda tenant: ApiKey.objects.filter(source=tenant.source).update(scopes=["read"]),
        lambda tenant: Project.objects.filter(id=tenant.project.id).update(name="renamed"),
    ],
    ids=["scopes", "project name"],
)
def test_the_check_fails_once_the_credential_or_its_tenant_changes(tenant, change):
    track_api_key_verify(presented=tenant.api_key)
    check = track_api_key_verify(presented=tenant.api_key).check

    change(tenant)

    assert not _check_passes(check)


def test_marking_a_credential_used_does_not_make_the_copies_stale(tenant):
    track_access_token_verify(presented=tenant.bearer_token)
    check = track_access_token_verify(presented=tenant.bearer_token).check

    AccessToken.objects.filter(identifier=tenant.bearer_token.split(".")[0]).update(last_used_at=timezone.now())

    assert _check_passes(check)


# --- through the endpoints -------------------------------------------------------------------


@formats
def test_a_bulk_request_after_a_revocation_is_refused_and_writes_nothing(client, tenant, spec):
    _revoked_after_its_copy_was_made(client, tenant, spec)
    response = spec.post(client, tenant, [spec.event(n) for n in range(1, 31)])

    assert response.status_code == 401
    assert Event.objects.count() == 1


@formats
def test_a_request_with_only_invalid_events_after_a_revocation_is_refused_not_kept(client, tenant, spec):
    _revoked_after_its_copy_was_made(client, tenant, spec)
    response = spec.post(client, tenant, [spec.invalid_event])

    assert response.status_code == 401
    assert RejectedEvent.objects.count() == 0


@formats
def test_a_malformed_body_after_a_revocation_gets_the_refusal_not_a_400(client, tenant, spec):
    _revoked_after_its_copy_was_made(client, tenant, spec)
    response = spec.post(client, tenant, b"{not json")

    assert response.status_code == 401
    assert_error_shape(spec, response)


@formats
def test_a_scope_taken_away_is_refused_on_the_next_request(client, tenant, spec):
    assert spec.post(client, tenant, [spec.event(0)]).status_code == spec.success_status

    _credential_model(spec).objects.filter(identifier=_presented(spec, tenant).split(".")[0]).update(scopes=["read"])
    response = spec.post(client, tenant, [spec.event(1)])

    assert response.status_code == spec.scope_failure_status
    assert Event.objects.count() == 1


@formats
def test_a_scope_granted_after_a_refusal_admits_the_next_request(client, tenant, spec):
    model = _credential_model(spec)
    identifier = _presented(spec, tenant).split(".")[0]
    granted = list(model.objects.get(identifier=identifier).scopes)
    model.objects.filter(identifier=identifier).update(scopes=["read"])
    assert spec.post(client, tenant, [spec.event(0)]).status_code == spec.scope_failure_status  # copy: no scope

    model.objects.filter(identifier=identifier).update(scopes=granted)
    response = spec.post(client, tenant, [spec.event(1)])

    assert response.status_code == spec.success_status
    assert Event.objects.count() == 1


def test_a_renamed_project_moves_the_intempt_url_on_the_next_request(client, tenant):
    old_url = tenant.intempt_url

    def body(event_id: str) -> str:
        return json.dumps(
            {"track": [{"name": "e", "payload": [{"eventId": event_id, "userId": "u", "timestamp": 1714631904000}]}]}
        )

    assert client.post(old_url, data=body("a"), content_type="application/json").status_code == 200

    Project.objects.filter(id=tenant.project.id).update(name="renamed")
    tenant.project.name = "renamed"
    stale = client.post(old_url, data=body("stale"), content_type="application/json")
    moved = client.post(tenant.intempt_url, data=body("moved"), content_type="application/json")

    assert stale.status_code == 401
    assert stale.json() == {"errors": [{"message": "API key is not valid for this source"}]}
    assert moved.status_code == 200
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["a", "moved"]


def test_a_new_key_of_the_same_source_is_admitted_while_the_old_one_is_cached(client, tenant):
    body = {"track": [{"name": "e", "payload": [{"eventId": "a", "userId": "u", "timestamp": 1714631904000}]}]}
    assert client.post(tenant.intempt_url, data=body, content_type="application/json").status_code == 200
    _, fresh = api_key_create(source=tenant.source)

    url = tenant.intempt_url.split("apiKey=")[0] + f"apiKey={fresh}"
    body["track"][0]["payload"][0]["eventId"] = "b"
    response = client.post(url, data=body, content_type="application/json")

    assert response.status_code == 200
    assert Event.objects.count() == 2


def test_a_cached_track_token_is_refused_once_it_expires(client, tenant):
    token, presented = access_token_create(
        project=tenant.project, source=tenant.source, scopes=["track_api"], expires_in=timedelta(seconds=1)
    )
    authorization = f"Bearer {presented}"
    assert THRIVESTACK.post(client, tenant, [THRIVESTACK.event(0)], authorization=authorization).status_code == 200

    time.sleep(max(0.0, (token.expires_at - timezone.now()).total_seconds()) + 0.05)
    response = THRIVESTACK.post(client, tenant, [THRIVESTACK.event(1)], authorization=authorization)

    assert response.status_code == 401
    assert Event.objects.count() == 1


# --- Databuddy websites (a public id, no secret) ------------------------------------------


def _website_post(client, tenant, n: int, **headers):
    body = json.dumps([{"name": "page_view", "anonymousId": f"anon-{n}", "timestamp": 1714631904000 + n}])
    return client.post(f"/track?website_id={tenant.website_id}", data=body, content_type="application/json", **headers)


def test_a_website_is_served_from_the_copy_after_its_first_read(tenant):
    first = track_website_get(website_id=tenant.website_id)
    second = track_website_get(website_id=tenant.website_id)

    assert first is not None and first.check is None
    assert second is not None and second.check is not None
    assert _check_passes(second.check)


def test_a_deleted_website_is_refused_on_the_next_request(client, tenant):
    assert _website_post(client, tenant, 0).status_code == 200

    Website.objects.filter(id=tenant.website_id).delete()
    response = _website_post(client, tenant, 1)

    assert response.status_code == 404
    assert Event.objects.count() == 1


def test_an_origin_taken_off_a_website_is_refused_on_the_next_request(client, tenant):
    Website.objects.filter(id=tenant.website_id).update(allowed_origins=["https://shop.example"])
    assert _website_post(client, tenant, 0, HTTP_ORIGIN="https://shop.example").status_code == 200

    Website.objects.filter(id=tenant.website_id).update(allowed_origins=["https://other.example"])
    response = _website_post(client, tenant, 1, HTTP_ORIGIN="https://shop.example")

    assert response.status_code == 403
    assert Event.objects.count() == 1


def test_an_origin_added_to_a_website_admits_the_next_request(client, tenant):
    Website.objects.filter(id=tenant.website_id).update(allowed_origins=["https://other.example"])
    assert _website_post(client, tenant, 0, HTTP_ORIGIN="https://shop.example").status_code == 403  # copy made

    Website.objects.filter(id=tenant.website_id).update(allowed_origins=["https://shop.example"])
    response = _website_post(client, tenant, 1, HTTP_ORIGIN="https://shop.example")

    assert response.status_code == 200
    assert Event.objects.count() == 1

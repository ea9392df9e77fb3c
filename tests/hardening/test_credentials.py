"""Credentials: revoked and expired ones stop at once, no cross-tenant reads or writes,
staff-only admin with CSRF, secure deploy settings, no API key in any log line."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from ingestion.models import AccessToken, Event, RejectedEvent
from ingestion.services import access_token_create, credential_revoke
from profiles.models import IdentityWork
from profiles.services import identity_work_drain, identity_work_process
from tests.conftest import tenant_create
from tests.hardening import live
from tests.hardening.formats import FIXED_TS_MS, READ_PATHS, event_specs, post, present_formats, response_json
from tests.hardening.test_faults import intempt_body, shared_test_db_url

pytestmark = pytest.mark.django_db

FORMATS = present_formats()
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_a_revoked_credential_is_refused_on_the_very_next_request(client, tenant, fmt):
    assert post(client, fmt, tenant, fmt.body(event_specs(1, prefix="before"))).status_code == fmt.success_status
    presented = tenant.intempt_url.split("apiKey=")[1] if fmt.name != "thrivestack" else tenant.bearer_token
    if fmt.name in ("databuddy", "userpilot"):
        presented = tenant.api_key

    credential_revoke(presented_or_identifier=presented)
    response = post(client, fmt, tenant, fmt.body(event_specs(1, prefix="after")))

    assert response.status_code == 401
    assert fmt.is_error(response_json(response))
    assert Event.objects.count() == 1


def test_a_revoked_read_token_is_refused_on_the_very_next_request(tenant):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.read_token}")
    assert client.get("/api/v1/events/").status_code == 200

    credential_revoke(presented_or_identifier=tenant.read_token)

    assert client.get("/api/v1/events/").status_code == 401


def test_an_expired_read_token_is_refused_as_soon_as_it_expires(tenant):
    token, presented = access_token_create(project=tenant.project, scopes=["read"], expires_in=timedelta(hours=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {presented}")
    assert client.get("/api/v1/events/").status_code == 200

    AccessToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert client.get("/api/v1/events/").status_code == 401


def test_an_expired_track_token_is_refused(client, tenant):
    fmt = next(f for f in FORMATS if f.name == "thrivestack")
    token, presented = access_token_create(
        project=tenant.project, source=tenant.source, scopes=["track_api"], expires_in=timedelta(hours=1)
    )
    AccessToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.post(
        fmt.url(tenant), data=fmt.body(event_specs(1)), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {presented}",
    )  # fmt: skip

    assert response.status_code == 401
    assert Event.objects.count() == 0


def test_another_projects_api_key_cannot_write_through_this_projects_intempt_url(client, tenant, other_tenant):
    fmt = next(f for f in FORMATS if f.name == "intempt")
    url = fmt.url(tenant).split("apiKey=")[0] + "apiKey=" + other_tenant.api_key

    response = client.post(url, data=fmt.body(event_specs(1)), content_type="application/json")

    assert response.status_code == 401
    assert fmt.is_error(response_json(response))
    assert Event.objects.count() == 0


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f.name != "intempt"], ids=lambda f: f.name)
def test_another_projects_credentials_write_only_into_their_own_project(client, tenant, other_tenant, fmt):
    # Nothing in these requests names a project but the credential: the event lands in the
    # credential's project, never in another one.
    response = post(client, fmt, other_tenant, fmt.body(event_specs(1)))

    assert response.status_code == fmt.success_status
    assert Event.objects.filter(project=other_tenant.project).count() == 1
    assert Event.objects.filter(project=tenant.project).count() == 0


def test_a_website_of_another_project_cannot_write_through_a_key(client, tenant, other_tenant):
    fmt = next(f for f in FORMATS if f.name == "databuddy")

    response = client.post(
        f"/track?website_id={other_tenant.website_id}", data=fmt.body(event_specs(1)),
        content_type="application/json", **fmt.client_headers(tenant),
    )  # fmt: skip

    assert response.status_code == 404
    assert Event.objects.filter(project=other_tenant.project).count() == 0


def _read(reader: APIClient, path: str) -> tuple[int, bytes]:
    # The profile and account lists are searched for the secret; the others take no identifier.
    query = {"/api/v1/profiles/": {"identifier": "secret-user"}, "/api/v1/accounts/": {"identifier": "secret-account"}}
    response = reader.get(path, query.get(path, {}))
    return response.status_code, b"".join(response.streaming_content) if response.streaming else response.content


# What the owner's read token finds on each read path: the stranger's must not find it.
_OWNERS_SECRET = {
    "/api/v1/events/": b"secret-user",
    "/api/v1/rejected-events/": b"track[0]",
    "/api/v1/profiles/": b"secret-user",
    "/api/v1/accounts/": b"secret-account",
    "/api/v1/events/export.ndjson": b"secret-user",
    "/api/v1/events/export.csv": b"secret-user",
}


@pytest.mark.parametrize("path", READ_PATHS)
def test_another_projects_read_token_sees_nothing_of_this_project(client, tenant, other_tenant, path):
    fmt = FORMATS[0]
    payload = [
        {"eventId": f"secret-{n}", "userId": "secret-user", "accountId": "secret-account", "timestamp": FIXED_TS_MS}
        for n in range(2)
    ]
    assert post(client, fmt, tenant, json.dumps({"track": [{"name": "x", "payload": payload}]})).status_code == 200
    assert post(client, fmt, tenant, b'{"track": [{"name": "x", "payload": [{}]}]}').status_code == 400  # rejected
    identity_work_drain(project_id=tenant.project.id)  # profiles and accounts, as the worker would
    owner = APIClient()
    owner.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.read_token}")
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION=f"Bearer {other_tenant.read_token}")
    owner_status, owner_body = _read(owner, path)
    assert owner_status == 200
    assert _OWNERS_SECRET[path] in owner_body  # there is something to hide

    status, body = _read(stranger, path)

    assert status == 200
    for secret in (b"secret-user", b"secret-account", b"track[0]"):
        assert secret not in body, secret


@pytest.mark.parametrize("path", READ_PATHS)
def test_track_credentials_cannot_read(tenant, path):
    for header in (f"Bearer {tenant.api_key}", f"Bearer {tenant.bearer_token}", f"Token {tenant.api_key}"):
        reader = APIClient()
        reader.credentials(HTTP_AUTHORIZATION=header)
        assert reader.get(path).status_code == 401, header


def _resolved_ids(tenant, reader: APIClient) -> tuple[int | None, int | None]:
    """Run the pending identity work now, then find the tenant's profile and account ids."""
    for work in IdentityWork.objects.filter(processed_at__isnull=True):
        identity_work_process(work_id=work.id)
    profiles = reader.get("/api/v1/profiles/", {"identifier": "secret-user"}).json()["results"]
    accounts = reader.get("/api/v1/accounts/", {"identifier": "secret-account"}).json()["results"]
    return (profiles[0]["id"] if profiles else None), (accounts[0]["id"] if accounts else None)


def test_another_projects_read_token_cannot_open_this_projects_profile_account_or_events(client, tenant, other_tenant):
    body = {"track": [{"name": "x", "payload": [{"userId": "secret-user", "accountId": "secret-account"}]}]}
    post(client, FORMATS[0], tenant, json.dumps(body))
    owner = APIClient()
    owner.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.read_token}")
    profile_id, account_id = _resolved_ids(tenant, owner)
    assert profile_id is not None and account_id is not None
    assert owner.get(f"/api/v1/profiles/{profile_id}/").status_code == 200
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION=f"Bearer {other_tenant.read_token}")

    for path in (
        f"/api/v1/profiles/{profile_id}/",
        f"/api/v1/profiles/{profile_id}/events/",
        f"/api/v1/accounts/{account_id}/",
    ):
        response = stranger.get(path)
        assert response.status_code == 404, path
        assert b"secret-user" not in response.content


def test_admin_requires_a_staff_login():
    user_model = get_user_model()
    user_model.objects.create_user("plain", password="pw-plain-123456")
    anonymous = Client()
    plain = Client()
    plain.login(username="plain", password="pw-plain-123456")

    assert anonymous.get("/admin/").status_code == 302
    assert "/admin/login/" in anonymous.get("/admin/")["Location"]
    assert plain.get("/admin/ingestion/event/").status_code == 302


def test_admin_forms_refuse_a_post_without_a_csrf_token():
    user_model = get_user_model()
    user_model.objects.create_superuser("boss", "boss@example.com", "pw-boss-123456")
    browser = Client(enforce_csrf_checks=True)
    browser.login(username="boss", password="pw-boss-123456")

    form = browser.get("/admin/ingestion/organization/add/")
    without = browser.post("/admin/ingestion/organization/add/", {"name": "sneaky"})

    assert form.status_code == 200
    assert b"csrfmiddlewaretoken" in form.content
    assert without.status_code == 403


def test_admin_login_form_refuses_a_post_without_a_csrf_token():
    browser = Client(enforce_csrf_checks=True)

    response = browser.post("/admin/login/", {"username": "x", "password": "y"})

    assert response.status_code == 403


def test_dashboard_requires_a_staff_login():
    user_model = get_user_model()
    user_model.objects.create_user("plain2", password="pw-plain-123456")
    plain = Client()
    plain.login(username="plain2", password="pw-plain-123456")

    assert Client().get("/dashboard/").status_code in (302, 403)
    assert plain.get("/dashboard/").status_code in (302, 403)


def _check_deploy(*, tags: tuple[str, ...] = ("security",), **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "a-long-random-production-secret-key-" + "x7Qp9" * 10,
        "DJANGO_ALLOWED_HOSTS": "trackhub.example.com",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", *(f"--tag={t}" for t in tags), "--fail-level", "WARNING"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_is_clean_behind_tls():
    result = _check_deploy(DJANGO_SECURE_SSL_REDIRECT="1")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


@pytest.mark.parametrize(("redirect", "silenced"), [("1", 0), ("0", 4)])
def test_check_deploy_of_every_tag_is_clean(redirect, silenced):
    # The contract's "check --deploy is then clean" is the whole check, not only its
    # security tag: a warning of any other tag (urls.W002 from the track patterns was
    # one) is printed by every manage.py command an operator runs.
    result = _check_deploy(tags=(), DJANGO_SECURE_SSL_REDIRECT=redirect)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"no issues ({silenced} silenced)" in result.stdout, result.stdout + result.stderr


def test_check_deploy_with_tls_off_silences_only_the_four_https_checks():
    result = _check_deploy(DJANGO_SECURE_SSL_REDIRECT="0")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (4 silenced)" in result.stdout


def test_check_deploy_catches_a_weak_secret_key():
    result = _check_deploy(DJANGO_SECURE_SSL_REDIRECT="1", DJANGO_SECRET_KEY="short")

    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def _console_output(action) -> str:
    """Run ``action`` with the configured console handler (filters and formatter
    included) writing to a buffer, and return what it wrote."""
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        action()
    finally:
        handler.setStream(previous)
    return buffer.getvalue()


def test_the_api_key_never_reaches_the_logs_of_a_refused_request(client, tenant):
    secret = tenant.api_key.split(".")[1]
    url = tenant.intempt_url.replace(tenant.api_key, tenant.api_key + "wrong")

    output = _console_output(lambda: client.post(url, data=b"{}", content_type="application/json"))

    assert "Unauthorized" in output  # Django logged the request, with its URL
    assert "apiKey=[scrubbed]" in output
    assert secret not in output


@pytest.mark.parametrize(
    ("spelling", "status"),
    [
        ("?ap%69Key=", 400),  # the name percent-encoded: Django decodes it, the key is accepted
        ("?APIKEY%3d", 401),  # a mangled query: no such parameter, but the key is in the URL
    ],
)
def test_an_api_key_in_an_odd_spelling_never_reaches_the_logs(client, tenant, spelling, status):
    identifier, secret = tenant.api_key.split(".")
    url = tenant.intempt_url.replace("?apiKey=", spelling)
    body = b'{"track": [{"name": "x", "payload": [{"userId": ""}]}]}'  # refused: a 400, logged

    output = _console_output(lambda: client.post(url, data=body, content_type="application/json"))

    assert client.post(url, data=body, content_type="application/json").status_code == status
    assert tenant.intempt_url.split("?")[0] in output  # Django logged the request, with its URL
    assert secret not in output
    assert f"{identifier}.[scrubbed]" in output  # which key it was stays readable


def test_the_api_key_is_scrubbed_from_any_log_message_and_traceback():
    secret = "key_abcdef.SuperSecretValue123"
    log = logging.getLogger("trackhub.test")

    def emit() -> None:
        log.warning("GET /o/projects/p/sources/1/track?apiKey=%s&x=1", secret)
        try:
            raise ValueError(f"failed for /track?apiKey={secret}")
        except ValueError:
            log.exception("boom")

    output = _console_output(emit)

    assert "SuperSecretValue123" not in output
    assert output.count("apiKey=[scrubbed]") >= 2


def test_dashboard_forms_refuse_a_post_without_a_csrf_token(client, tenant):
    post(client, FORMATS[0], tenant, b'{"track": [{"name": "x", "payload": [{}]}]}')
    rejected = RejectedEvent.objects.get(project=tenant.project)
    get_user_model().objects.create_superuser("staff", "staff@example.com", "pw-staff-123456")
    browser = Client(enforce_csrf_checks=True)
    browser.login(username="staff", password="pw-staff-123456")
    url = f"/dashboard/{tenant.project.id}/rejected/{rejected.id}/"

    form = browser.get(url)
    without = browser.post(url, {"payload": '{"name": "x", "payload": [{"userId": "u"}]}'})

    assert form.status_code == 200
    assert b"csrfmiddlewaretoken" in form.content
    assert without.status_code == 403
    assert Event.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_revocation_stops_every_gunicorn_worker_on_its_next_request():
    """Each worker process keeps its own copy of the key (``selectors.track_api_key_verify``);
    none may write with it once the database says it is revoked."""
    tenant = tenant_create(org="revoke-org", project="revoke-project")
    with live.gunicorn(live.base_env(DATABASE_URL=shared_test_db_url()), workers=2) as server:
        # Fresh connections spread over both workers, and each caches the key.
        warm = [live.request(server.port, "POST", tenant.intempt_url, intempt_body([f"w{n}"])) for n in range(30)]
        credential_revoke(presented_or_identifier=tenant.api_key)
        after = [live.request(server.port, "POST", tenant.intempt_url, intempt_body([f"r{n}"])) for n in range(30)]

    assert {answer.status for answer in warm} == {200}
    assert {answer.status for answer in after} == {401}
    assert Event.objects.filter(source_id=tenant.source.id).count() == 30

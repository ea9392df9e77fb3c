"""The credential management commands, as the README and contract give them."""

from __future__ import annotations

import io
import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ingestion.models import AccessToken, ApiKey, Event, Organization, Project, Source, Website
from ingestion.selectors import access_token_verify, api_key_verify

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def provision(source_id: str = "1001", *extra: str) -> dict:
    return json.loads(run("provision", "--org", "acme", "--project", "web", "--source-id", source_id, "--json", *extra))


def test_provision_creates_tenant_and_prints_working_credentials():
    result = provision()

    assert set(result) == {"org", "project", "source_id", "api_key", "bearer_token", "website_id", "read_token"}
    assert (result["org"], result["project"], result["source_id"]) == ("acme", "web", 1001)
    assert api_key_verify(presented=result["api_key"]).source_id == 1001
    assert set(access_token_verify(presented=result["bearer_token"]).scopes) == {"track_api", "telemetry_apis"}
    assert access_token_verify(presented=result["read_token"]).scopes == ["read"]
    assert Website.objects.get().id.hex == result["website_id"].replace("-", "")


def test_provision_twice_reuses_tenant_and_keeps_earlier_credentials_valid():
    first = provision()
    second = provision()

    assert Organization.objects.count() == Project.objects.count() == Source.objects.count() == 1
    assert first["website_id"] == second["website_id"]
    assert first["api_key"] != second["api_key"]
    assert api_key_verify(presented=first["api_key"]) is not None
    assert api_key_verify(presented=second["api_key"]) is not None


def test_provision_takes_a_wildcard_origin_for_subdomains():
    provision("1001", "--origin", "https://*.example.com")

    assert Website.objects.get().allowed_origins == ["https://*.example.com"]


def test_provision_sets_website_origins():
    provision("1001", "--origin", "https://shop.example.com")

    assert Website.objects.get().allowed_origins == ["https://shop.example.com"]


def test_provision_refuses_a_source_id_of_another_project():
    provision("1001")

    with pytest.raises(CommandError, match="another project"):
        run("provision", "--org", "acme", "--project", "other", "--source-id", "1001")


def test_secrets_are_stored_hashed():
    result = provision()
    identifier, secret = result["api_key"].split(".")

    stored = ApiKey.objects.get(identifier=identifier)
    assert secret not in stored.secret_hash
    assert len(stored.secret_hash) == 64


def test_create_api_key_with_scopes():
    provision()
    key = json.loads(run("create_api_key", "--source-id", "1001", "--scope", "track:events", "--json"))

    assert api_key_verify(presented=key["key"]).scopes == ["track:events"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create_api_key", "--source-id", "1001", "--scope", "track:event"), "not track:event"),
        (("create_access_token", "--source-id", "1001", "--scope", "read"), "A source's token scopes are"),
        (("create_access_token", "--org", "acme", "--project", "web", "--scope", "track_api"), "not track_api"),
        (("create_access_token", "--source-id", "1001", "--org", "acme", "--project", "web"), "not both"),
        (("create_access_token", "--org", "acme", "--project", "web", "--expires-in", "99999999999999"), "100 years"),
        (("create_api_key", "--source-id", "9223372036854775808"), "no source"),
        (("provision", "--org", "a/b", "--project", "p", "--source-id", "7"), "without '/'"),
        (("provision", "--org", "", "--project", "p", "--source-id", "7"), "org must be"),
        (("provision", "--org", "o" * 201, "--project", "p", "--source-id", "7"), "org must be"),
        (("provision", "--org", "o", "--project", "p", "--source-id", "9223372036854775808"), "source id must be"),
        (
            ("provision", "--org", "o", "--project", "p", "--source-id", "7", "--origin", "https://a.example/x"),
            "origin",
        ),
        (
            ("provision", "--org", "o", "--project", "p", "--source-id", "7", "--origin", "https://shop*.example"),
            "origin",
        ),
        (
            ("import_events", "-", "--source-id", "1001", "--format", "ndjson", "--rejected-file", "/no/such/dir/x"),
            "cannot write the rejected lines",
        ),
    ],
)
def test_a_value_that_could_never_work_is_a_command_error_naming_it(args, message):
    provision()

    with pytest.raises(CommandError, match=re.escape(message)):
        run(*args)


@pytest.mark.parametrize(
    "args",
    [
        ("create_api_key", "--source-id", "1001"),
        ("create_access_token", "--source-id", "1001", "--scope", "track_api"),
        ("create_access_token", "--org", "acme", "--project", "web", "--scope", "read"),
    ],
)
def test_a_label_too_long_to_store_is_a_command_error_and_makes_nothing(args):
    provision()
    before = ApiKey.objects.count(), AccessToken.objects.count()

    with pytest.raises(CommandError, match="a label is at most 200 characters, not 201"):
        run(*args, "--label", "x" * 201)

    assert (ApiKey.objects.count(), AccessToken.objects.count()) == before


def test_create_api_key_for_unknown_source_fails():
    with pytest.raises(CommandError, match=r"^no source 999$"):
        run("create_api_key", "--source-id", "999", "--json")

    assert not ApiKey.objects.exists()


def test_create_access_token_for_source_without_scope_has_none():
    provision()
    token = json.loads(run("create_access_token", "--source-id", "1001", "--json"))["token"]

    stored = access_token_verify(presented=token)
    assert stored.scopes == [] and stored.source_id == 1001


@pytest.mark.parametrize(
    ("target", "needed"),
    [
        (("--source-id", "1001"), "--scope track_api or telemetry_apis"),
        (("--org", "acme", "--project", "web"), "--scope read"),
    ],
)
def test_create_access_token_without_scope_warns_on_stderr_and_keeps_stdout_the_token(target, needed):
    provision()
    out, err = StringIO(), StringIO()

    call_command("create_access_token", *target, "--json", stdout=out, stderr=err)

    assert set(json.loads(out.getvalue())) == {"token"}
    assert "no scopes" in err.getvalue() and needed in err.getvalue()


def test_create_access_token_with_a_scope_warns_of_nothing():
    provision()
    err = StringIO()

    call_command(
        "create_access_token", "--org", "acme", "--project", "web", "--scope", "read", stdout=StringIO(), stderr=err
    )

    assert err.getvalue() == ""


def test_create_read_token_for_project_with_expiry():
    provision()
    token = json.loads(
        run(
            "create_access_token",
            "--org",
            "acme",
            "--project",
            "web",
            "--scope",
            "read",
            "--expires-in",
            "60",
            "--json",
        )
    )["token"]

    stored = access_token_verify(presented=token)
    assert stored.source is None and stored.scopes == ["read"] and stored.expires_at is not None


def test_expired_token_is_not_valid():
    provision()
    token = json.loads(run("create_access_token", "--org", "acme", "--project", "web", "--scope", "read", "--json"))[
        "token"
    ]
    AccessToken.objects.update(expires_at="2000-01-01T00:00:00Z")

    assert access_token_verify(presented=token) is None


def test_revoke_credential_by_full_string():
    result = provision()
    run("revoke_credential", result["api_key"])
    run("revoke_credential", result["read_token"])

    assert api_key_verify(presented=result["api_key"]) is None
    assert access_token_verify(presented=result["read_token"]) is None
    assert access_token_verify(presented=result["bearer_token"]) is not None


def test_revoke_credential_says_when_it_was_already_revoked():
    result = provision()
    first = run("revoke_credential", result["api_key"])
    second = run("revoke_credential", result["api_key"])

    identifier = result["api_key"].partition(".")[0]
    revoked_at = ApiKey.objects.get(identifier=identifier).revoked_at
    assert first.strip() == f"revoked {identifier}"
    assert second.strip() == f"{identifier} was already revoked at {revoked_at.isoformat()}"


def test_revoke_unknown_credential_fails():
    with pytest.raises(CommandError, match=r"^no such key or token$"):
        run("revoke_credential", "key_nope.secret")


def test_delete_project_deletes_the_project_and_refuses_its_credentials():
    result = provision()

    out = run("delete_project", "--org", "acme", "--project", "web", "--yes")

    assert "acme/web: sources 1, API keys 1, access tokens 2, events 0" in out
    assert "deleted acme/web" in out
    assert not Project.objects.exists() and not Source.objects.exists()
    assert api_key_verify(presented=result["api_key"]) is None


def test_delete_project_without_a_broker_says_the_events_are_gone(
    client, eager_tasks, django_capture_on_commit_callbacks
):
    key = provision()["api_key"]
    body = {"track": [{"name": "X", "payload": [{"eventId": "e1", "userId": "u1"}]}]}
    url = f"/acme/projects/web/sources/1001/track?apiKey={key}"
    assert client.post(url, data=body, content_type="application/json").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):  # the purge, queued on commit
        out = run("delete_project", "--org", "acme", "--project", "web", "--yes")

    assert out.splitlines()[-1] == "deleted acme/web and its events"
    assert not Event.objects.exists()


def test_delete_project_asks_for_the_projects_name(monkeypatch):
    provision()
    monkeypatch.setattr("builtins.input", lambda prompt: "not-web")

    with pytest.raises(CommandError, match="not deleted"):
        run("delete_project", "--org", "acme", "--project", "web")
    assert Project.objects.filter(name="web").exists()


def test_delete_project_without_an_answer_deletes_nothing_and_says_why(monkeypatch):
    provision()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # a script run without --yes: end of input

    with pytest.raises(CommandError, match=r"not deleted \(no confirmation; --yes skips it\)"):
        run("delete_project", "--org", "acme", "--project", "web")
    assert Project.objects.filter(name="web").exists()


def test_delete_project_names_a_project_that_does_not_exist():
    with pytest.raises(CommandError, match="no project 'web' in organization 'acme'"):
        run("delete_project", "--org", "acme", "--project", "web")

"""Staff manage credentials in the admin: a created secret is shown once, revocable."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.models import ProjectMembership
from dashboard.services import project_membership_grant
from ingestion.admin import CappedCountPaginator
from ingestion.models import AccessToken, ApiKey, Event, Organization, Project, RejectedEvent, Source, Website
from ingestion.selectors import access_token_verify, api_key_verify
from ingestion.services import access_token_create
from tests.conftest import tenant_create
from tests.ingestion.bulk import bulk_events
from tests.seeds import seed_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = User.objects.create_superuser("staff", "staff@example.com", "pw-staff-123")
    client.force_login(user)
    return client


def test_admin_needs_a_staff_login(client):
    response = client.get("/admin/ingestion/event/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_creating_an_api_key_shows_its_secret_once(staff_client, tenant):
    response = staff_client.post(
        "/admin/ingestion/apikey/add/",
        {"source": tenant.source.id, "scopes": "track:events", "label": "from admin"},
        follow=True,
    )

    assert response.status_code == 200
    shown = re.search(r"(key_[0-9a-f]{16}\.[\w-]+)", response.content.decode())
    assert shown, "the new secret is shown on the answer's page"
    key = api_key_verify(presented=shown.group(1))
    assert key is not None and key.label == "from admin"
    detail = staff_client.get(f"/admin/ingestion/apikey/{key.pk}/change/").content.decode()
    assert shown.group(1).split(".")[1] not in detail


@pytest.mark.parametrize(
    ("model", "form"),
    [
        ("apikey", {"scopes": "track:events", "label": "kept nowhere"}),
        ("accesstoken", {"scopes": "track_api", "label": "kept nowhere"}),
    ],
)
def test_a_new_credentials_secret_is_only_in_the_answer_that_created_it(staff_client, tenant, model, form):
    response = staff_client.post(f"/admin/ingestion/{model}/add/", {"source": tenant.source.id, **form})

    # On the page answering the POST, which no cache may keep.
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    shown = re.search(r'value="((?:key|tok)_[0-9a-f]{16}\.[\w-]+)"', response.content.decode())
    assert shown is not None
    presented = shown.group(1)
    verified = (api_key_verify if model == "apikey" else access_token_verify)(presented=presented)
    assert verified is not None and verified.label == "kept nowhere"
    # Not in a cookie (Django's flash messages live in one, signed but readable) nor in
    # the session: the answer sets no cookie but the session's and CSRF's.
    assert set(response.cookies) <= {"sessionid", "csrftoken"}
    secret = presented.split(".", 1)[1]
    assert secret not in json.dumps(dict(staff_client.session.items()), default=str)
    # Nor on any later page.
    assert secret not in staff_client.get(f"/admin/ingestion/{model}/").content.decode()
    assert secret not in staff_client.get(f"/admin/ingestion/{model}/{verified.pk}/change/").content.decode()


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        ([], "an API key needs the scope track:events"),
        (["read"], "Select a valid choice. read is not one of the available choices."),
        # The JSON list the form once took, sent to the checkboxes: refused, not misread.
        (['["track:events"]'], "is not one of the available choices."),
    ],
)
def test_an_api_key_that_could_never_work_is_refused(staff_client, tenant, scopes, message):
    before = ApiKey.objects.count()

    response = staff_client.post(
        "/admin/ingestion/apikey/add/", {"source": tenant.source.id, "scopes": scopes, "label": "typo"}
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert ApiKey.objects.count() == before


def test_an_access_token_for_a_source_of_another_project_is_refused(staff_client, tenant, other_tenant):
    response = staff_client.post(
        "/admin/ingestion/accesstoken/add/",
        {"project": tenant.project.id, "source": other_tenant.source.id, "scopes": "track_api"},
    )

    assert response.status_code == 200
    assert "belongs to another project" in response.content.decode()
    assert not AccessToken.objects.filter(source=other_tenant.source, project=tenant.project).exists()


def test_a_source_token_made_in_the_admin_takes_its_sources_project(staff_client, tenant):
    response = staff_client.post(
        "/admin/ingestion/accesstoken/add/",
        {"source": tenant.source.id, "scopes": "track_api", "label": "no project given"},
        follow=True,
    )

    assert response.status_code == 200
    token = AccessToken.objects.get(label="no project given")
    assert token.source == tenant.source and token.project == tenant.project


def test_an_access_token_with_neither_project_nor_source_is_refused_naming_project(staff_client, tenant):
    before = AccessToken.objects.count()

    response = staff_client.post("/admin/ingestion/accesstoken/add/", {"scopes": "read"})

    assert response.status_code == 200
    assert "needs its project" in response.content.decode()
    assert AccessToken.objects.count() == before


def test_a_track_token_whose_source_moved_to_another_project_cannot_write(client, tenant, other_tenant):
    token, presented = access_token_create(project=tenant.project, source=tenant.source, scopes=["track_api"])
    AccessToken.objects.filter(pk=token.pk).update(source=other_tenant.source)

    response = client.post(
        "/api/track",
        data=[{"event_name": "x", "user_id": "u", "timestamp": "2024-01-01T00:00:00Z"}],
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {presented}",
    )

    assert response.status_code == 401
    assert Event.objects.count() == 0


def test_revoke_action_revokes(staff_client, tenant):
    key = ApiKey.objects.get(source=tenant.source)
    staff_client.post("/admin/ingestion/apikey/", {"action": "revoke", "_selected_action": [key.pk]})

    assert api_key_verify(presented=tenant.api_key) is None


@pytest.mark.parametrize("model", [ApiKey, AccessToken])
def test_a_revocation_in_the_admin_is_in_the_credentials_history(staff_client, tenant, model):
    presented = tenant.api_key if model is ApiKey else tenant.read_token
    credential = model.objects.get(identifier=presented.split(".")[0])
    url = f"/admin/ingestion/{model._meta.model_name}/"

    response = staff_client.post(url, {"action": "revoke", "_selected_action": [credential.pk]}, follow=True)
    history = staff_client.get(f"{url}{credential.pk}/history/").content.decode()

    assert response.status_code == 200 and "Revoked 1 credential(s)." in response.content.decode()
    assert model.objects.get(pk=credential.pk).revoked_at is not None
    entry = LogEntry.objects.get(object_id=str(credential.pk), content_type__model=model._meta.model_name)
    assert entry.user.username == "staff" and entry.get_change_message() == "Revoked."
    assert "Revoked." in history


@pytest.mark.parametrize("model", [ApiKey, AccessToken])
def test_staff_who_may_only_view_credentials_cannot_revoke_them(client, tenant, model):
    viewer = User.objects.create_user("viewer", password="pw-viewer-123", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename=f"view_{model._meta.model_name}"))
    client.force_login(viewer)
    presented = tenant.api_key if model is ApiKey else tenant.read_token
    pk = model.objects.get(identifier=presented.split(".")[0]).pk
    url = f"/admin/ingestion/{model._meta.model_name}/"

    listing = client.get(url)
    response = client.post(url, {"action": "revoke", "_selected_action": [pk]})

    assert listing.status_code == 200 and 'value="revoke"' not in listing.content.decode()
    assert response.status_code == 200
    assert model.objects.get(pk=pk).revoked_at is None


@pytest.mark.parametrize("model", [ApiKey, AccessToken])
@pytest.mark.parametrize("lookup", ["secret_hash__startswith", "secret_hash"])
def test_the_credential_list_refuses_a_filter_on_the_stored_hash(staff_client, tenant, model, lookup):
    presented = tenant.api_key if model is ApiKey else tenant.read_token
    stored = model.objects.get(identifier=presented.split(".")[0]).secret_hash
    value = stored[:2] if lookup.endswith("startswith") else stored

    response = staff_client.get(f"/admin/ingestion/{model._meta.model_name}/", {lookup: value})

    assert response.status_code == 400
    assert presented.split(".")[0] not in response.content.decode()


def test_ingested_event_appears_in_admin_list_and_search(staff_client, tenant, client):
    client.post(tenant.intempt_url, data=seed_body("intempt_curl.json"), content_type="application/json")
    event = Event.objects.get()

    listing = staff_client.get("/admin/ingestion/event/?q=custom@intempt.com").content.decode()
    detail = staff_client.get(f"/admin/ingestion/event/{event.pk}/change/").content.decode()

    assert "generated-event-id" in listing
    assert "generated-session-id" in detail and "productName" in detail


def test_the_event_list_runs_no_unbounded_query_on_the_events_table(staff_client, tenant):
    bulk_events(tenant, 150)  # more than a page

    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get("/admin/ingestion/event/")

    assert response.status_code == 200 and "bulk-150" in response.content.decode()
    on_events = [query["sql"] for query in queries.captured_queries if "ingestion_event" in query["sql"]]
    assert on_events and all("LIMIT" in sql for sql in on_events), on_events


def test_the_event_list_shows_the_events_of_a_deleted_source(staff_client, tenant):
    # Deleting a source keeps its events; the list joined each event to its source, so it
    # counted them ("3 events") and showed none.
    bulk_events(tenant, 3)
    source_id = tenant.source.id
    assert staff_client.post(f"/admin/ingestion/source/{source_id}/delete/", {"post": "yes"}).status_code == 302
    assert Event.objects.filter(source_id=source_id).count() == 3

    response = staff_client.get("/admin/ingestion/event/")

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 3
    assert all(f"bulk-{n}" in response.content.decode() for n in (1, 2, 3))


def test_the_event_list_reads_each_pages_sources_in_one_query(staff_client, tenant, django_assert_max_num_queries):
    bulk_events(tenant, 50)
    second = tenant_create(org="second-org", project="second-project")
    bulk_events(second, 50)

    # The session, the user, the filters' projects, names and sources, the capped count,
    # the page and its sources (in one query, however many rows).
    with django_assert_max_num_queries(9):
        response = staff_client.get("/admin/ingestion/event/")

    assert len(response.context["cl"].result_list) == 100


def test_the_event_list_counts_up_to_a_cap_and_says_more_than(staff_client, tenant, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 10)
    bulk_events(tenant, 30)

    capped = staff_client.get("/admin/ingestion/event/").content.decode()
    exact = staff_client.get("/admin/ingestion/event/?q=bulk-3").content.decode()  # bulk-3 and bulk-30

    assert "more than 10 events" in capped
    assert re.search(r"\b2 events", exact) and "more than" not in exact


def test_a_capped_event_list_pages_through_full_pages_up_to_the_cap(staff_client, tenant, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 10)
    monkeypatch.setattr(admin.site.get_model_admin(Event), "list_per_page", 5)
    bulk_events(tenant, 30)

    last = staff_client.get("/admin/ingestion/event/?p=2")
    past = staff_client.get("/admin/ingestion/event/?p=3")

    assert last.status_code == 200 and last.content.decode().count('class="field-name"') == 5
    assert "filter or search for the others" in last.content.decode()
    assert (past.status_code, past["Location"]) == (302, "/admin/ingestion/event/?e=1")


def test_the_rejected_event_list_counts_up_to_a_cap_and_no_more(staff_client, tenant, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 10)
    RejectedEvent.objects.bulk_create(
        RejectedEvent(project=tenant.project, source=tenant.source, wire_format="intempt", index=str(number),
                      field="userId", message="userId is required", payload={})
        for number in range(150)
    )  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get("/admin/ingestion/rejectedevent/?q=userId")

    assert response.status_code == 200 and "more than 10 rejected events" in response.content.decode()
    counts = [query["sql"] for query in queries.captured_queries if "COUNT(" in query["sql"]]
    assert counts and all("LIMIT 11" in sql for sql in counts), counts


def test_the_event_list_filters_by_project_and_by_name(staff_client, tenant, other_tenant, client):
    bulk_events(tenant, 3)
    client.post(
        other_tenant.intempt_url.replace(tenant.api_key, other_tenant.api_key),
        data=seed_body("intempt_curl.json"),
        content_type="application/json",
    )
    other = Event.objects.get(project=other_tenant.project)

    by_project = staff_client.get(f"/admin/ingestion/event/?project__id__exact={other_tenant.project.id}")
    by_name = staff_client.get("/admin/ingestion/event/?name=Bulk").content.decode()

    assert by_project.status_code == 200
    assert other.event_id in by_project.content.decode() and "bulk-1" not in by_project.content.decode()
    assert "bulk-1" in by_name and other.event_id not in by_name
    assert f'href="?name={other.name}"' in by_name  # every project's names are offered


@pytest.mark.parametrize("who", ["superuser", "member"])
@pytest.mark.parametrize(
    "url",
    [
        "/admin/ingestion/source/",
        "/admin/ingestion/source/add/",
        "/admin/ingestion/event/",
        "/admin/ingestion/accesstoken/add/",
        "/admin/profiles/profile/",
        "/admin/profiles/account/",
        "/admin/profiles/profilemerge/",
        "/admin/profiles/accountmerge/",
        "/admin/profiles/ingestionwarning/",
    ],
)
def test_a_page_offering_projects_runs_as_many_queries_for_many_projects_as_for_two(
    request, tenant, other_tenant, url, who
):
    client = request.getfixturevalue("staff_client" if who == "superuser" else "member_client")
    member = User.objects.filter(username="member").first()
    if member is not None:  # two projects to choose from, as the superuser has
        project_membership_grant(user=member, project=other_tenant.project)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        assert str(tenant.project) in response.content.decode()
        return len(captured.captured_queries)

    queries()  # the first request also fills caches (content types)
    with_two = queries()
    for number in range(5):
        more = tenant_create(org=f"org-{number}", project=f"project-{number}")
        if member is not None:
            project_membership_grant(user=member, project=more.project)

    assert queries() == with_two


@pytest.mark.parametrize(
    "page",
    ["organization", "project", "source", "apikey", "accesstoken", "website", "event", "rejectedevent"],
)
def test_admin_pages_render(staff_client, tenant, page):
    assert staff_client.get(f"/admin/ingestion/{page}/").status_code == 200


def _scope_checkboxes(body: str) -> dict[str, bool]:
    """The scope checkboxes of an admin form: each value, and whether it is ticked."""
    boxes = re.findall(r'<input type="checkbox" name="scopes" value="([^"]+)"([^>]*)>', body)
    return {value: "checked" in rest for value, rest in boxes}


def test_the_api_key_form_offers_its_scope_ticked(staff_client):
    body = staff_client.get("/admin/ingestion/apikey/add/").content.decode()

    assert _scope_checkboxes(body) == {"track:events": True}


def test_the_access_token_form_offers_every_token_scope_unticked(staff_client):
    body = staff_client.get("/admin/ingestion/accesstoken/add/").content.decode()

    assert _scope_checkboxes(body) == {"read": False, "telemetry_apis": False, "track_api": False}


def test_an_existing_tokens_form_shows_its_scopes_ticked(staff_client, tenant):
    token, _ = access_token_create(project=tenant.project, source=tenant.source, scopes=["track_api", "telemetry_apis"])

    body = staff_client.get(f"/admin/ingestion/accesstoken/{token.pk}/change/").content.decode()

    assert _scope_checkboxes(body) == {"read": False, "telemetry_apis": True, "track_api": True}


def test_an_access_token_made_with_two_scopes_keeps_both(staff_client, tenant):
    response = staff_client.post(
        "/admin/ingestion/accesstoken/add/",
        {"source": tenant.source.id, "scopes": ["track_api", "telemetry_apis"], "label": "both"},
    )

    assert response.status_code == 200
    assert sorted(AccessToken.objects.get(label="both").scopes) == ["telemetry_apis", "track_api"]


def test_an_access_token_with_an_unknown_scope_is_refused(staff_client, tenant):
    before = AccessToken.objects.count()

    response = staff_client.post(
        "/admin/ingestion/accesstoken/add/", {"project": tenant.project.id, "scopes": ["write"]}
    )

    assert response.status_code == 200
    assert "Select a valid choice. write is not one of the available choices." in response.content.decode()
    assert AccessToken.objects.count() == before


def test_an_access_token_without_a_scope_is_refused(staff_client, tenant):
    before = AccessToken.objects.count()

    response = staff_client.post("/admin/ingestion/accesstoken/add/", {"project": tenant.project.id})

    assert response.status_code == 200
    assert "a token needs a scope" in response.content.decode()
    assert AccessToken.objects.count() == before


def test_an_access_token_that_already_expired_is_refused(staff_client, tenant):
    before = AccessToken.objects.count()

    response = staff_client.post(
        "/admin/ingestion/accesstoken/add/",
        {"project": tenant.project.id, "scopes": "read", "expires_at_0": "2020-01-01", "expires_at_1": "00:00:00"},
    )

    assert response.status_code == 200
    assert "expires at must be in the future" in response.content.decode()
    assert AccessToken.objects.count() == before


@pytest.mark.parametrize(
    ("origins", "message"),
    [
        ("5", "allowed origins must be a list of strings"),
        ("[5]", "allowed origins must be a list of strings"),
        ('"https://a.com"', "allowed origins must be a list of strings"),
        ('["https://a.com/path"]', "origin must be * or scheme://host[:port]"),
    ],
)
def test_a_website_with_unusable_origins_is_refused(staff_client, tenant, origins, message):
    before = Website.objects.count()

    form = {"source": tenant.source.id, "allowed_origins": origins}
    response = staff_client.post("/admin/ingestion/website/add/", form)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Website.objects.count() == before


def test_a_website_with_listed_origins_is_saved(staff_client, tenant):
    response = staff_client.post(
        "/admin/ingestion/website/add/", {"source": tenant.source.id, "allowed_origins": '["https://a.com", "*"]'}
    )

    assert response.status_code == 302
    assert Website.objects.filter(allowed_origins=["https://a.com", "*"]).exists()


@pytest.mark.parametrize(("model", "what"), [(Organization, "org"), (Project, "project")])
def test_a_tenant_name_the_intempt_url_cannot_address_is_refused(staff_client, tenant, model, what):
    before = model.objects.count()
    form = {"name": "acme/eu", "created_at_0": "2024-01-01", "created_at_1": "00:00:00"}
    if model is Project:
        form["organization"] = tenant.project.organization_id

    response = staff_client.post(f"/admin/ingestion/{model._meta.model_name}/add/", form)

    assert response.status_code == 200
    assert f"{what} must be 1-200 characters without &#x27;/&#x27;" in response.content.decode()
    assert model.objects.count() == before


@pytest.mark.parametrize("source_id", [0, -5])
def test_a_source_id_the_commands_would_not_know_is_refused(staff_client, tenant, source_id):
    form = {"id": source_id, "project": tenant.project.id, "kind": "backend"}
    form |= {"created_at_0": "2024-01-01", "created_at_1": "00:00:00"}

    response = staff_client.post("/admin/ingestion/source/add/", form)

    assert response.status_code == 200
    assert f"source id must be from 1 to 9223372036854775807, not {source_id}" in response.content.decode()
    assert not Source.objects.filter(id=source_id).exists()


def test_a_source_keeps_its_id_and_project(staff_client, tenant, other_tenant):
    form = {"id": 777, "project": other_tenant.project.id, "name": "renamed", "kind": tenant.source.kind}
    form |= {"created_at_0": "2024-01-01", "created_at_1": "00:00:00"}
    response = staff_client.post(f"/admin/ingestion/source/{tenant.source.id}/change/", form)

    assert response.status_code == 302
    assert list(Source.objects.filter(name="renamed").values_list("id", "project_id")) == [
        (tenant.source.id, tenant.project.id)
    ]


def rejected_events_make(tenant, count: int) -> None:
    RejectedEvent.objects.bulk_create(
        RejectedEvent(
            project=tenant.project, source=tenant.source, wire_format="intempt", index=f"track[0].payload[{i}]",
            field="userId", message="userId is required", payload={},
        )
        for i in range(count)
    )  # fmt: skip


@pytest.mark.parametrize("who", ["staff_client", "member_client"])  # a superuser, a member
def test_a_sources_delete_page_counts_its_rejected_events_in_a_few_queries_and_lists_none(
    request, tenant, django_assert_max_num_queries, who
):
    # A source's rejected events go with it, and there is one per refused event, kept for
    # good. Django's page loaded each of them, listed each on a line of its own and, for
    # a member, asked the database once per row whether it was theirs to delete.
    rejected_events_make(tenant, 150)
    client = request.getfixturevalue(who)

    with django_assert_max_num_queries(12):
        response = client.get(f"/admin/ingestion/source/{tenant.source.id}/delete/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "<li>Rejected events: 150</li>" in body and "<li>API keys: 1</li>" in body
    assert "userId is required" not in body  # no rejected event listed one by one


def test_deleting_a_source_in_the_admin_takes_its_credentials_and_rejected_events_and_keeps_its_events(
    member_client, tenant, django_assert_max_num_queries
):
    rejected_events_make(tenant, 150)
    bulk_events(tenant, 3)
    source_id = tenant.source.id

    with django_assert_max_num_queries(30):
        response = member_client.post(f"/admin/ingestion/source/{source_id}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Source.objects.filter(pk=source_id).exists()
    assert not ApiKey.objects.filter(source_id=source_id).exists()
    assert not Website.objects.filter(source_id=source_id).exists()
    assert not RejectedEvent.objects.filter(source_id=source_id).exists()
    assert Event.objects.filter(source_id=source_id).count() == 3


def test_a_member_without_the_delete_permission_of_api_keys_cannot_delete_a_source_that_has_one(member_client, tenant):
    member = User.objects.get(username="member")
    member.user_permissions.remove(Permission.objects.get(codename="delete_apikey"))

    page = member_client.get(f"/admin/ingestion/source/{tenant.source.id}/delete/")
    response = member_client.post(f"/admin/ingestion/source/{tenant.source.id}/delete/", {"post": "yes"})

    assert page.context["perms_lacking"] == {"API key"}
    assert response.status_code == 403
    assert Source.objects.filter(pk=tenant.source.id).exists()


def test_an_api_key_keeps_its_source_when_its_change_form_names_another(staff_client, tenant, other_tenant):
    key = ApiKey.objects.get(identifier=tenant.api_key.split(".")[0])

    response = staff_client.post(
        f"/admin/ingestion/apikey/{key.pk}/change/",
        {"source": other_tenant.source.id, "scopes": "track:events", "label": "relabelled"},
    )

    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.source_id, key.label) == (tenant.source.id, "relabelled")


def test_an_access_token_keeps_its_tenant_when_its_change_form_names_another(staff_client, tenant, other_tenant):
    token = AccessToken.objects.get(identifier=tenant.bearer_token.split(".")[0])
    form = {"project": other_tenant.project.id, "source": other_tenant.source.id, "scopes": "track_api"}

    response = staff_client.post(f"/admin/ingestion/accesstoken/{token.pk}/change/", form | {"label": "relabelled"})

    assert response.status_code == 302
    token.refresh_from_db()
    assert (token.project_id, token.source_id, token.label) == (tenant.project.id, tenant.source.id, "relabelled")


def test_an_existing_access_tokens_scopes_are_still_checked_against_its_tenant(staff_client, tenant):
    token = AccessToken.objects.get(identifier=tenant.bearer_token.split(".")[0])

    response = staff_client.post(f"/admin/ingestion/accesstoken/{token.pk}/change/", {"scopes": "read"})

    assert response.status_code == 200
    token.refresh_from_db()
    assert token.scopes != ["read"]


def test_a_website_keeps_its_source_when_its_change_form_names_another(staff_client, tenant, other_tenant):
    website = Website.objects.get(id=tenant.website_id)

    response = staff_client.post(
        f"/admin/ingestion/website/{website.pk}/change/",
        {"source": other_tenant.source.id, "name": "renamed", "allowed_origins": '["*"]'},
    )

    assert response.status_code == 302
    website.refresh_from_db()
    assert (website.source_id, website.name) == (tenant.source.id, "renamed")


# --- what staff who are not superusers see: the projects they are members of -------------


def _result_rows(body: str) -> str:
    """A changelist's table of rows (not its filters); empty if it shows none."""
    return body.split('id="result_list"', 1)[1].split("</table>", 1)[0] if 'id="result_list"' in body else ""


def _list_filters(body: str) -> str:
    return body.split('id="changelist-filter"', 1)[1]


def _select_options(body: str, field: str) -> list[str]:
    select = re.search(rf'<select name="{field}"[^>]*>(.*?)</select>', body, re.S)
    assert select, f"no {field} choice on the form"
    return re.findall(r'<option value="([^"]+)"', select.group(1))


def _row_of(model, tenant):
    """The tenant's row of ``model`` (every model gets one from ``_rows_make``)."""
    if model is Organization:
        return tenant.project.organization
    if model is Project:
        return tenant.project
    if model is Source:
        return tenant.source
    if model in (ApiKey, Website):
        return model.objects.filter(source=tenant.source).first()
    return model.objects.filter(project=tenant.project).first()


def _rows_make(tenant, *, source_name: str, event_name: str) -> None:
    """An event and a rejected event besides what provisioning made (org, project,
    source, key, tokens, website); names the source and the event."""
    Source.objects.filter(pk=tenant.source.pk).update(name=source_name)
    bulk_events(tenant, 1)
    Event.objects.filter(project=tenant.project).update(name=event_name)
    RejectedEvent.objects.create(
        project=tenant.project, source=tenant.source, wire_format="intempt", index="0", field="userId",
        message="userId is required", payload={},
    )  # fmt: skip


@pytest.fixture
def two_tenants_rows(tenant, other_tenant):
    _rows_make(tenant, source_name="own-source", event_name="OwnEvent")
    _rows_make(other_tenant, source_name="other-source", event_name="OtherTenantEvent")


@pytest.mark.parametrize("model", [Organization, Project, Source, ApiKey, AccessToken, Website, Event, RejectedEvent])
def test_a_member_lists_only_the_rows_of_their_projects(member_client, tenant, other_tenant, two_tenants_rows, model):
    url = f"/admin/ingestion/{model._meta.model_name}/"

    response = member_client.get(url)

    assert response.status_code == 200
    rows = _result_rows(response.content.decode())
    assert f"{url}{_row_of(model, tenant).pk}/change/" in rows
    assert f"{url}{_row_of(model, other_tenant).pk}/change/" not in rows


def test_a_superuser_lists_every_organization_one_without_projects_too(staff_client, tenant, other_tenant):
    empty = Organization.objects.create(name="no-projects-yet")

    rows = _result_rows(staff_client.get("/admin/ingestion/organization/").content.decode())

    for organization in (tenant.project.organization, other_tenant.project.organization, empty):
        assert f"/admin/ingestion/organization/{organization.pk}/change/" in rows


@pytest.mark.parametrize(
    ("page", "offered"),
    [
        ("event", ["demo-organization/demo-project", "own-source", "OwnEvent"]),
        ("rejectedevent", ["own-source"]),
        ("source", ["demo-organization/demo-project"]),
        ("project", ["demo-organization"]),
    ],
)
def test_a_members_list_filters_offer_only_their_projects(member_client, tenant, two_tenants_rows, page, offered):
    # A second project (in another organization) of theirs: a filter with one choice is not shown.
    second = tenant_create(org="second-org", project="second-project")
    project_membership_grant(user=User.objects.get(username="member"), project=second.project)
    bulk_events(second, 1)
    RejectedEvent.objects.create(
        project=second.project, source=second.source, wire_format="intempt", index="0", field="userId",
        message="userId is required", payload={},
    )  # fmt: skip

    filters = _list_filters(member_client.get(f"/admin/ingestion/{page}/").content.decode())

    assert all(choice in filters for choice in offered), filters
    assert "other-org" not in filters and "other-source" not in filters and "OtherTenantEvent" not in filters


@pytest.mark.parametrize(
    ("page", "field"),
    [
        ("project", "organization"),
        ("source", "project"),
        ("website", "source"),
        ("apikey", "source"),
        ("accesstoken", "project"),
        ("accesstoken", "source"),
    ],
)
def test_a_members_add_forms_offer_only_their_tenants(member_client, tenant, other_tenant, page, field):
    own = {"organization": tenant.project.organization_id, "project": tenant.project.id, "source": tenant.source.id}
    other = {
        "organization": other_tenant.project.organization_id,
        "project": other_tenant.project.id,
        "source": other_tenant.source.id,
    }

    options = _select_options(member_client.get(f"/admin/ingestion/{page}/add/").content.decode(), field)

    assert str(own[field]) in options and str(other[field]) not in options


def test_a_member_cannot_create_an_api_key_for_another_projects_source(member_client, other_tenant):
    before = ApiKey.objects.count()

    response = member_client.post(
        "/admin/ingestion/apikey/add/", {"source": other_tenant.source.id, "scopes": "track:events", "label": "x"}
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert ApiKey.objects.count() == before


@pytest.mark.parametrize("tenant_field", ["project", "source"])
def test_a_member_cannot_create_an_access_token_for_another_project(member_client, other_tenant, tenant_field):
    form = (
        {"project": other_tenant.project.id, "scopes": "read"}
        if tenant_field == "project"
        else {"source": other_tenant.source.id, "scopes": "track_api"}
    )
    before = AccessToken.objects.count()

    response = member_client.post("/admin/ingestion/accesstoken/add/", form | {"label": "x"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert AccessToken.objects.count() == before


def test_a_member_creates_an_api_key_for_their_own_projects_source(member_client, tenant):
    response = member_client.post(
        "/admin/ingestion/apikey/add/", {"source": tenant.source.id, "scopes": "track:events", "label": "mine"}
    )

    assert response.status_code == 200 and 'data-testid="new-credential"' in response.content.decode()
    assert ApiKey.objects.filter(source=tenant.source, label="mine").exists()


def test_a_member_cannot_open_or_change_another_tenants_credential(member_client, other_tenant):
    key = ApiKey.objects.get(source=other_tenant.source)
    url = f"/admin/ingestion/apikey/{key.pk}/change/"

    opened = member_client.get(url)
    changed = member_client.post(url, {"scopes": "track:events", "label": "taken over"})

    assert opened.status_code == changed.status_code == 302 and opened["Location"] == "/admin/"
    key.refresh_from_db()
    assert key.label != "taken over"


def test_a_members_revoke_action_leaves_another_tenants_credentials_alone(member_client, other_tenant):
    key = ApiKey.objects.get(source=other_tenant.source)

    member_client.post("/admin/ingestion/apikey/", {"action": "revoke", "_selected_action": [key.pk]})

    assert api_key_verify(presented=other_tenant.api_key) is not None


@pytest.fixture
def shared_org(tenant):
    """The member's organization also holds a project of someone else's."""
    return tenant_create(org=tenant.project.organization.name, project="someone-elses").project


def test_a_member_cannot_rename_an_organization_holding_someone_elses_project(member_client, tenant, shared_org):
    organization = tenant.project.organization
    form = {"name": "renamed", "created_at_0": "2024-01-01", "created_at_1": "00:00:00"}

    response = member_client.post(f"/admin/ingestion/organization/{organization.pk}/change/", form)

    assert response.status_code == 403
    assert Organization.objects.get(pk=organization.pk).name == organization.name


def test_a_member_cannot_delete_an_organization_holding_someone_elses_project(member_client, tenant, shared_org):
    organization = tenant.project.organization

    single = member_client.post(f"/admin/ingestion/organization/{organization.pk}/delete/", {"post": "yes"})
    bulk = member_client.post(
        "/admin/ingestion/organization/",
        {"action": "delete_selected", "_selected_action": [organization.pk], "post": "yes"},
    )

    assert single.status_code == bulk.status_code == 403
    assert Project.objects.filter(pk=shared_org.pk).exists()


def test_a_member_renames_an_organization_holding_only_their_projects(member_client, tenant):
    organization = tenant.project.organization
    form = {"name": "renamed", "created_at_0": "2024-01-01", "created_at_1": "00:00:00"}

    response = member_client.post(f"/admin/ingestion/organization/{organization.pk}/change/", form)

    assert response.status_code == 302
    assert Organization.objects.get(pk=organization.pk).name == "renamed"


def _project_add_form(tenant, name: str) -> dict:
    return {
        "organization": tenant.project.organization.pk, "name": name,
        "created_at_0": "2024-01-01", "created_at_1": "00:00:00",
    }  # fmt: skip


def test_a_member_who_creates_a_project_is_its_member_and_still_sees_it(member_client, tenant):
    response = member_client.post("/admin/ingestion/project/add/", _project_add_form(tenant, "their-new-project"))

    assert response.status_code == 302, response.content.decode()[-2000:]
    project = Project.objects.get(name="their-new-project")
    assert ProjectMembership.objects.filter(user__username="member", project=project).exists()
    assert f"/admin/ingestion/project/{project.pk}/change/" in _result_rows(
        member_client.get("/admin/ingestion/project/").content.decode()
    )


def test_a_superuser_who_creates_a_project_gets_no_membership(staff_client, tenant):
    response = staff_client.post("/admin/ingestion/project/add/", _project_add_form(tenant, "admins-project"))

    assert response.status_code == 302
    assert not ProjectMembership.objects.filter(project__name="admins-project").exists()


def test_a_member_cannot_add_an_organization(member_client):
    form = {"name": "new-org", "created_at_0": "2024-01-01", "created_at_1": "00:00:00"}

    response = member_client.post("/admin/ingestion/organization/add/", form)

    assert response.status_code == 403
    assert not Organization.objects.filter(name="new-org").exists()


def test_a_superuser_adds_an_organization(staff_client):
    form = {"name": "new-org", "created_at_0": "2024-01-01", "created_at_1": "00:00:00"}

    response = staff_client.post("/admin/ingestion/organization/add/", form)

    assert response.status_code == 302
    assert Organization.objects.filter(name="new-org").exists()

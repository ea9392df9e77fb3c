"""Staff management of tenants and credentials; read-only views of events."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.forms import CheckboxSelectMultiple, ModelForm, MultipleChoiceField
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.text import capfirst

from dashboard.scoped_admin import ProjectScopedAdmin, ScopedRelatedListFilter
from dashboard.selectors import (
    organization_holds_hidden_projects,
    project_ids_visible,
    projects_all_visible,
    projects_visible_condition,
)
from dashboard.services import project_membership_grant
from ingestion import selectors
from ingestion.credentials import READ_SCOPE, TRACK_EVENTS_SCOPE, TRACK_TOKEN_SCOPES
from ingestion.models import AccessToken, ApiKey, Event, Organization, Project, RejectedEvent, Source, Website
from ingestion.services import (
    access_token_check,
    api_key_check,
    credential_revoke,
    credential_secret_issue,
    organization_delete,
    project_delete,
    source_id_check,
    tenant_name_check,
    website_origins_check,
)
from profiles.selectors import profiles_count

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _service_check(check: Callable[..., None], **kwargs: Any) -> None:
    """Run one of the services' checks for a form: its ValueError becomes the field's (or
    form's) error, with the same message the commands give."""
    try:
        check(**kwargs)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


class TenantNameForm(ModelForm):
    """Refuses a name the Intempt URL could not address (as ``provision`` does)."""

    what = ""

    def clean_name(self) -> Any:
        name = self.cleaned_data.get("name")
        _service_check(tenant_name_check, what=self.what, name=name or "")
        return name


class OrganizationForm(TenantNameForm):
    what = "org"

    class Meta:
        model = Organization
        fields = ("name", "created_at")


class ProjectForm(TenantNameForm):
    what = "project"

    class Meta:
        model = Project
        fields = ("organization", "name", "created_at")


class TenantDeletionAdmin(ProjectScopedAdmin):
    """Organizations and projects are deleted by their services (``organization_delete``,
    ``project_delete``) and confirmed with counts.

    Django's confirmation walks every related row to list it and asks for the delete
    permission of each model on the way: a project's profiles, read-only here, made it
    refuse every project that had one, and a project of a million profiles would be a page
    of a million lines. Its cascade would then load those rows to delete them, and leave
    the events, which carry no foreign key. Here the page names the organizations and
    projects going, counts what goes with them, and asks the delete permission of each of
    those organizations and projects, as Django would."""

    def _projects(self, objs: list[Any]) -> list[Project]:
        raise NotImplementedError

    def _delete(self, obj: Any) -> None:
        raise NotImplementedError

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[Any, int], set[Any], list[Any]]:
        objs = list(objs)
        projects = self._projects(objs)
        project_ids = [project.pk for project in projects]
        counts = {
            "projects": len(projects), **selectors.projects_contents_count(project_ids=project_ids),
            **profiles_count(project_ids=project_ids),
        }  # fmt: skip
        project_admin = self.admin_site.get_model_admin(Project)
        perms_needed = {
            str(obj._meta.verbose_name)
            for obj, model_admin in [*((obj, self) for obj in objs), *((p, project_admin) for p in projects)]
            if not model_admin.has_delete_permission(request, obj)
        }
        listed = [f"{capfirst(obj._meta.verbose_name)}: {obj}" for obj in objs]
        return listed, {kind: count for kind, count in counts.items() if count}, perms_needed, []

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._delete(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self._delete(obj)


@admin.register(Organization)
class OrganizationAdmin(TenantDeletionAdmin):
    form = OrganizationForm
    list_display = ("name", "created_at")
    search_fields = ("name",)

    def rows_visible(self, request: HttpRequest) -> Q:
        # The organizations holding a project the user sees; a superuser's are every
        # organization, one without projects too.
        if projects_all_visible(user=request.user):
            return Q()
        projects = Project.objects.filter(projects_visible_condition(user=request.user))
        return Q(pk__in=projects.values("organization_id"))

    # An organization also holding projects the user is no member of is theirs to see, not
    # to change: a new name moves those projects' Intempt URLs (their producers' requests
    # would fail), and a deletion cascades into them. Deleting one in a bulk action is
    # refused too (Django asks this of every object it would delete).
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and not self._holds_others_projects(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and not self._holds_others_projects(request, obj)

    # A new organization holds no project yet, so no member could see it after saving it
    # (it would vanish from their list): creating one is a superuser's.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and projects_all_visible(user=request.user)

    def _holds_others_projects(self, request: HttpRequest, organization: Organization | None) -> bool:
        if organization is None:  # the model's permission, not one organization's
            return False
        return organization_holds_hidden_projects(organization_id=organization.pk, user=request.user)

    def _projects(self, objs: list[Any]) -> list[Project]:
        return list(Project.objects.filter(organization__in=objs))

    def _delete(self, obj: Any) -> None:
        organization_delete(organization_id=obj.pk)


@admin.register(Project)
class ProjectAdmin(TenantDeletionAdmin):
    form = ProjectForm
    project_field = "pk"
    # By name, as the dashboard's switcher lists them; the autocomplete pages through it.
    ordering = ("organization__name", "name")
    list_display = ("name", "organization", "created_at")
    list_filter = (("organization", ScopedRelatedListFilter),)
    search_fields = ("name", "organization__name")
    list_select_related = ("organization",)

    def choices(self, request: HttpRequest) -> QuerySet:
        return super().choices(request).select_related("organization")

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change and not projects_all_visible(user=request.user):
            # A member who creates a project is its member: else it would vanish from their
            # view (and its sources and keys be out of their reach) once saved.
            project_membership_grant(user=cast("User", request.user), project=obj)

    def _projects(self, objs: list[Any]) -> list[Project]:
        return objs

    def _delete(self, obj: Any) -> None:
        project_delete(project_id=obj.pk)


class SourceForm(ModelForm):
    class Meta:
        model = Source
        fields = ("id", "project", "name", "kind", "created_at")

    def clean_id(self) -> Any:
        source_id = self.cleaned_data.get("id")
        if source_id is not None:
            _service_check(source_id_check, source_id=source_id)
        return source_id


@admin.register(Source)
class SourceAdmin(ProjectScopedAdmin):
    form = SourceForm
    list_display = ("id", "name", "kind", "project", "created_at")
    list_filter = ("kind", ("project", ScopedRelatedListFilter))
    search_fields = ("id", "name")
    list_select_related = ("project__organization",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # A source keeps its id and stays in the project it was made in: its events, its
        # credentials and the Intempt URL naming both would no longer agree with it after a
        # move (and the admin "changes" a primary key by saving a copy).
        return ("id", "project") if obj is not None else ()

    # What goes with a source, counted, not listed: its rejected events go too, one per
    # refused event and kept for good, and Django's confirmation (on the page and again on
    # confirming) loaded every one, listed each on a line and asked the permission of each,
    # a query per row for a member. The deletion itself needs none of that: Django deletes
    # each kind of row in one statement. Its events stay (no foreign key to cascade).
    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[Any, int], set[Any], list[Any]]:
        objs = list(objs)
        contents = selectors.sources_contents_count(source_ids=[obj.pk for obj in objs])
        counts = {"sources": len(objs), **{str(model._meta.verbose_name_plural): n for model, n in contents.items()}}
        # Django's rule, a kind at a time: a row of a kind the user may not delete (every row
        # here is of the source's project, which they see) refuses the deletion.
        perms_needed = {str(obj._meta.verbose_name) for obj in objs if not self.has_delete_permission(request, obj)}
        perms_needed |= {
            str(model._meta.verbose_name)
            for model, n in contents.items()
            if n and not self.admin_site.get_model_admin(model).has_delete_permission(request)
        }
        listed = [f"{capfirst(obj._meta.verbose_name)}: {obj}" for obj in objs]
        return listed, {kind: count for kind, count in counts.items() if count}, perms_needed, []


class WebsiteForm(ModelForm):
    class Meta:
        model = Website
        fields = ("source", "name", "allowed_origins")

    def clean_allowed_origins(self) -> Any:
        origins = self.cleaned_data.get("allowed_origins")
        _service_check(website_origins_check, origins=origins if origins is not None else [])
        return origins if origins is not None else []


@admin.register(Website)
class WebsiteAdmin(ProjectScopedAdmin):
    form = WebsiteForm
    project_field = "source__project"
    list_display = ("id", "name", "source", "allowed_origins", "created_at")
    list_select_related = ("source",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # Its id is a browser credential for its source (as a key is): it stays with it.
        return ("source",) if obj is not None else ()


class CredentialAdmin(ProjectScopedAdmin):
    """Creating a credential generates its secret and shows it once, on its own page."""

    project_field = "source__project"
    list_display: tuple[str, ...] = ("identifier", "label", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("identifier", "label")
    readonly_fields = ("identifier", "created_at", "last_used_at", "revoked_at")
    exclude = ("secret_hash",)
    actions = ("revoke",)
    # What the credential writes to or reads: fixed once it exists (``get_readonly_fields``).
    tenant_fields: tuple[str, ...] = ("source",)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # The stored hash authenticates nobody, but a list filter on it in the URL
        # (``?secret_hash__startswith=ab``) would read it out a few characters at a time:
        # no lookup may touch it (a 400, as for any lookup the admin refuses).
        if lookup.split("__", 1)[0] == "secret_hash":
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # A credential stays with the tenant it was made for: moved to another source or
        # project (perhaps of another organization), whoever holds its secret would write
        # to or read that tenant from the next request. Make a new credential instead.
        return (*self.readonly_fields, *(self.tenant_fields if obj is not None else ()))

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        if not change:
            presented = credential_secret_issue(credential=obj)
            super().save_model(request, obj, form, change)
            # For ``response_add``, on this request only: never stored anywhere.
            request._trackhub_new_credential = presented  # type: ignore[attr-defined]
            return
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: str | None = None) -> HttpResponse:
        """The new credential, secret included, in the body of this answer and nowhere else.

        It was a flash message before: Django keeps messages in a cookie (signed, not
        encrypted), so the secret went back and forth in the Cookie header (in the clear
        over plain HTTP, where TrackHub runs by default; into whatever logs a proxy or an
        error tracker keeps of headers), and stayed in the browser's cookie jar until the
        next admin page was opened. The page is sent ``no-store`` (``admin_view``)."""
        presented = request.__dict__.pop("_trackhub_new_credential", None)
        if presented is None:
            return super().response_add(request, obj, post_url_continue)
        opts = self.opts
        context = {
            **self.admin_site.each_context(request),
            "title": f"Copy the new {opts.verbose_name} now",
            "opts": opts,
            "credential": obj,
            "presented": presented,
            "change_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]),
            "changelist_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        }
        return TemplateResponse(request, "admin/ingestion/credential_created.html", context)

    # A revocation changes the credential: staff who may only view credentials get no such action.
    @admin.action(description="Revoke selected credentials", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        for credential in queryset.filter(revoked_at__isnull=True):
            revoked = credential_revoke(presented_or_identifier=credential.identifier)
            if revoked is not None and revoked[1]:  # this call revoked it: in its history, by whom
                self.log_change(request, revoked[0], "Revoked.")
                count += 1
        messages.success(request, f"Revoked {count} credential(s).")


def _scopes_field(*, choices: list[tuple[str, str]]) -> MultipleChoiceField:
    """A credential's scopes as checkboxes of the scopes that exist. The model field is a
    JSON list, whose default form field is a textarea of JSON: staff typing the scope
    itself (``track:events``) got "Enter a valid JSON". None ticked is left to the
    service's check, which says which scope is needed."""
    return MultipleChoiceField(choices=choices, widget=CheckboxSelectMultiple, required=False)


class CredentialForm(ModelForm):
    """Refuses, with the service's own message, a credential that could never work (the
    same checks as the commands): one saved anyway would be refused on every request."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        _service_check(self.credential_check, cleaned=cleaned)
        return cleaned

    def credential_check(self, *, cleaned: dict[str, Any]) -> None:
        raise NotImplementedError


class ApiKeyForm(CredentialForm):
    scopes = _scopes_field(
        choices=[(TRACK_EVENTS_SCOPE, f"{TRACK_EVENTS_SCOPE}: send events (Intempt, Databuddy, Userpilot)")]
    )

    class Meta:
        model = ApiKey
        fields = ("source", "scopes", "label")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.initial.setdefault("scopes", [TRACK_EVENTS_SCOPE])  # its one scope, as create_api_key

    def credential_check(self, *, cleaned: dict[str, Any]) -> None:
        if "scopes" in cleaned:  # else the field's own error is shown
            api_key_check(scopes=cleaned["scopes"])


@admin.register(ApiKey)
class ApiKeyAdmin(CredentialAdmin):
    form = ApiKeyForm
    list_display = ("identifier", "source", *CredentialAdmin.list_display[1:])
    list_select_related = ("source",)


class AccessTokenForm(CredentialForm):
    scopes = _scopes_field(
        choices=[
            (READ_SCOPE, f"{READ_SCOPE}: the read API (a project's token, no source)"),
            *((scope, f"{scope}: send ThriveStack events (a source's token)") for scope in sorted(TRACK_TOKEN_SCOPES)),
        ]
    )

    class Meta:
        model = AccessToken
        fields = ("project", "source", "scopes", "label", "expires_at")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "project" in self.fields:  # a new token (an existing one keeps its tenant)
            # A source's (track) token belongs to the source's project: asking for both
            # invites a mismatch. Required only for a project's (read) token, in ``clean``.
            self.fields["project"].required = False
            self.fields["project"].help_text = "Leave empty for a source's token: its source's project is used."

    def clean(self) -> dict[str, Any]:
        if "project" not in self.fields:  # an existing token: its tenant is the instance's
            self.cleaned_data |= {"project": self.instance.project, "source": self.instance.source}
            return super().clean()
        source, project = self.cleaned_data.get("source"), self.cleaned_data.get("project")
        if project is None and source is not None:
            self.cleaned_data["project"] = source.project
        elif project is None and "project" not in self.errors:
            self.add_error("project", "A project's (read) token needs its project; a source's token, its source.")
        return super().clean()

    def credential_check(self, *, cleaned: dict[str, Any]) -> None:
        if cleaned.get("project") is not None and "scopes" in cleaned:  # else a field's own error is shown
            access_token_check(project=cleaned["project"], source=cleaned.get("source"), scopes=cleaned["scopes"])
            if not cleaned["scopes"]:
                # The command may make one (the contract: no --scope, no scopes); staff
                # filling in this form want a token that works.
                raise ValueError(
                    "a token needs a scope: read (a project's token) or track_api / telemetry_apis (a source's)"
                )
        expires_at = cleaned.get("expires_at")
        if "expires_at" in self.changed_data and expires_at is not None and expires_at <= timezone.now():
            raise ValueError("expires at must be in the future (revoke a token to stop it now)")


@admin.register(AccessToken)
class AccessTokenAdmin(CredentialAdmin):
    form = AccessTokenForm
    project_field = "project"
    tenant_fields = ("project", "source")
    list_display = ("identifier", "project", "source", *CredentialAdmin.list_display[1:], "expires_at")
    list_select_related = ("project__organization", "source")


class ReadOnlyAdmin(ProjectScopedAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CappedCountPaginator(Paginator):
    """Counts at most ``cap`` rows (the page says "more than"): an exact COUNT(*) of the
    events table (or the rejected events) reads every one of its rows, on every page."""

    cap = 10_000

    @cached_property
    def count(self) -> int:
        events = cast(QuerySet, self.object_list)  # the admin pages a queryset
        return events.order_by()[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    @cached_property
    def num_pages(self) -> int:
        # Past the cap the rows are not counted, so neither are their pages: the list pages
        # through the first ``cap`` rows, every page full (the one row counted past the cap
        # made a last page of one), and filters and search reach the others.
        if self.capped:
            return math.ceil(self.cap / self.per_page)
        return super().num_pages


class EventNameFilter(admin.SimpleListFilter):
    """The names from an index skip scan (``selectors.event_names``), not Django's
    SELECT DISTINCT over every event."""

    title = "name"
    parameter_name = "name"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        project_ids = project_ids_visible(user=request.user)  # None: every project's names
        return [(name, name) for name in selectors.event_names(project_ids=project_ids)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset if value is None else queryset.filter(name=value)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("name", "event_id", "timestamp", "user_id", "account_id", "source", "wire_format")
    # By project first: its events are listed newest first straight from its index. No
    # date_hierarchy: its MIN/MAX and DISTINCT over the timestamps read the whole table.
    list_filter = (
        ("project", ScopedRelatedListFilter),
        "wire_format",
        EventNameFilter,
        ("source", ScopedRelatedListFilter),
        "timestamp",
    )
    search_fields = ("name", "event_id", "user_id", "account_id", "session_id")
    paginator = CappedCountPaginator
    show_full_result_count = False
    # Not joined to the source (an empty tuple, not False: False makes Django join every
    # relation the columns show): an event outlives its source (deleting a source keeps
    # its events), and the join left those rows out of the list while its count had them.
    # The page's sources are read in one more query instead; a deleted one shows as "-".
    list_select_related = ()
    ordering = ("-timestamp", "-id")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("source")


@admin.register(RejectedEvent)
class RejectedEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "wire_format", "source", "index", "field", "message")
    list_filter = ("wire_format", ("source", ScopedRelatedListFilter), "received_at")
    search_fields = ("message", "field")
    # Kept forever, one row per refused event: a producer sending only bad events fills it
    # as fast as the events table.
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_select_related = ("source",)

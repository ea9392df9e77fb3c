"""Read-only staff views of identity resolution: profiles, accounts, merges, warnings.

Everything here is derived from events by ``profiles.services``; editing it by hand would
break the invariants documented in ``profiles.models``, so the admin only shows it. The one
write is erasing a person on request, through ``profiles.services.profile_erase``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_permission_codename
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from dashboard.scoped_admin import ProjectScopedAdmin, ScopedRelatedListFilter
from profiles.models import (
    Account,
    AccountIdentity,
    AccountMembership,
    AccountMerge,
    Identity,
    IdentityWork,
    IngestionWarning,
    Profile,
    ProfileMerge,
)
from profiles.services import profile_erase


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# A merged profile can hold thousands of identifiers and an account hundreds of
# thousands of members; a change page renders every inline row, so each list stops here.
# The dashboard's profile and account pages (linked from the page) give the counts, and
# the read API (`/api/v1/profiles/{id}/`, `/api/v1/accounts/{id}/`) lists every one.
INLINE_ROWS_LIMIT = 100


class CappedInlineFormSet(BaseInlineFormSet):
    """The newest ``INLINE_ROWS_LIMIT`` rows only (read-only inlines: nothing is posted
    back, so the rows left out cannot be lost)."""

    def get_queryset(self) -> QuerySet[Any]:
        if not hasattr(self, "_capped_queryset"):
            self._capped_queryset = super().get_queryset().order_by("-pk")[:INLINE_ROWS_LIMIT]
        return self._capped_queryset


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    formset = CappedInlineFormSet
    extra = 0


class IdentityInline(ReadOnlyInline):
    model = Identity
    fields = ("value", "created_at")
    verbose_name_plural = f"identities (the newest {INLINE_ROWS_LIMIT})"


class AccountIdentityInline(ReadOnlyInline):
    model = AccountIdentity
    fields = ("value", "created_at")
    verbose_name_plural = f"account identities (the newest {INLINE_ROWS_LIMIT})"


class ProfileMembershipInline(ReadOnlyInline):
    model = AccountMembership
    fk_name = "profile"
    fields = ("account", "created_at")
    verbose_name_plural = f"accounts (the newest {INLINE_ROWS_LIMIT} memberships)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccountMembership]:
        # Each row shows its account (a link): one query for all of them, not one per row.
        return super().get_queryset(request).select_related("account")


class AccountMembershipInline(ReadOnlyInline):
    model = AccountMembership
    fk_name = "account"
    fields = ("profile", "created_at")
    verbose_name_plural = f"members (the newest {INLINE_ROWS_LIMIT})"

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccountMembership]:
        # Each row shows its profile (a link): one query for all of them, not one per row.
        return super().get_queryset(request).select_related("profile")


class IdentityOwnerAdmin(ReadOnlyMixin, ProjectScopedAdmin):
    """Profiles and accounts: the same columns, their own identities and memberships."""

    list_display = ("id", "project", "merged_into", "first_seen", "last_seen")
    list_filter = (("project", ScopedRelatedListFilter),)
    search_fields = ("=id", "identities__value")
    list_select_related = ("project__organization", "merged_into")
    readonly_fields = (
        "project",
        "in_dashboard",
        "merged_into",
        "attributes",
        "first_seen",
        "last_seen",
        "created_at",
        "updated_at",
    )
    exclude = ("attribute_stamps",)
    dashboard_page: str  # the dashboard URL name of this kind's page

    @admin.display(description="dashboard")
    def in_dashboard(self, obj: Profile | Account) -> str:
        """The dashboard's page of this profile or account: its counts, members and
        events (the inlines below stop at ``INLINE_ROWS_LIMIT`` rows)."""
        url = reverse(self.dashboard_page, args=[obj.project_id, obj.pk])
        return format_html('<a href="{}">{}</a>', url, url)


@admin.register(Profile)
class ProfileAdmin(IdentityOwnerAdmin):
    inlines = (IdentityInline, ProfileMembershipInline)
    dashboard_page = "dashboard:profile-detail"
    actions = ("erase",)

    def has_erase_permission(self, request: HttpRequest) -> bool:
        # Profiles cannot be deleted here (the invariants); erasing goes through the
        # service, for whoever Django would let delete profiles.
        return request.user.has_perm(f"{self.opts.app_label}.{get_permission_codename('delete', self.opts)}")

    @admin.action(description="Erase the selected people and all their data", permissions=["erase"])
    def erase(self, request: HttpRequest, queryset: QuerySet[Profile]) -> TemplateResponse | None:
        """A confirmation page first, as Django's own delete action has, then
        ``profile_erase`` for each (one transaction each)."""
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase these people?",
                "opts": self.opts,
                "profiles": list(queryset.select_related("project__organization")),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/profiles/profile/erase_confirmation.html", context)
        self.log_deletions(request, queryset)  # before, as Django asks: it reads the rows
        erasures = [
            erased
            for profile in queryset
            if (erased := profile_erase(project_id=profile.project_id, profile_id=profile.id)) is not None
        ]
        events = sum(erased.events for erased in erasures)
        rejected = sum(erased.rejected_events for erased in erasures)
        messages.success(
            request, f"Erased {len(erasures)} people with {events:,} events and {rejected:,} rejected events."
        )
        return None


@admin.register(Account)
class AccountAdmin(IdentityOwnerAdmin):
    inlines = (AccountIdentityInline, AccountMembershipInline)
    dashboard_page = "dashboard:account-detail"


@admin.register(ProfileMerge)
class ProfileMergeAdmin(ReadOnlyMixin, ProjectScopedAdmin):
    list_display = ("merged", "survivor", "event_name", "event_id", "merged_at")
    list_filter = (("project", ScopedRelatedListFilter),)
    search_fields = ("=merged__id", "=survivor__id", "event_id")


@admin.register(AccountMerge)
class AccountMergeAdmin(ReadOnlyMixin, ProjectScopedAdmin):
    list_display = ("merged", "survivor", "event_name", "event_id", "merged_at")
    list_filter = (("project", ScopedRelatedListFilter),)
    search_fields = ("=merged__id", "=survivor__id", "event_id")


@admin.register(IngestionWarning)
class IngestionWarningAdmin(ReadOnlyMixin, ProjectScopedAdmin):
    list_display = ("created_at", "project", "event_name", "event_id", "field", "value", "reason")
    list_filter = (("project", ScopedRelatedListFilter), "field")
    search_fields = ("event_id", "value")
    list_select_related = ("project__organization",)


@admin.register(IdentityWork)
class IdentityWorkAdmin(ReadOnlyMixin, ProjectScopedAdmin):
    project_field = "project_id"  # a plain column: the outbox is written with the events
    list_display = ("id", "project_id", "created_at", "processed_at")
    list_filter = (("processed_at", admin.EmptyFieldListFilter),)

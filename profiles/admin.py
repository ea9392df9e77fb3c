"""Read-only staff views of identity resolution: profiles, accounts, merges, warnings.

Everything here is derived from events by ``profiles.services``; editing it by hand would
break the invariants documented in ``profiles.models``, so the admin only shows it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ingestion.admin import ProjectScopedAdmin, ScopedRelatedListFilter
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


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class IdentityInline(ReadOnlyMixin, admin.TabularInline):
    model = Identity
    fields = ("value", "created_at")
    extra = 0


class AccountIdentityInline(ReadOnlyMixin, admin.TabularInline):
    model = AccountIdentity
    fields = ("value", "created_at")
    extra = 0


class ProfileMembershipInline(ReadOnlyMixin, admin.TabularInline):
    model = AccountMembership
    fk_name = "profile"
    fields = ("account", "created_at")
    extra = 0


class AccountMembershipInline(ReadOnlyMixin, admin.TabularInline):
    model = AccountMembership
    fk_name = "account"
    fields = ("profile", "created_at")
    extra = 0


class IdentityOwnerAdmin(ReadOnlyMixin, ProjectScopedAdmin):
    """Profiles and accounts: the same columns, their own identities and memberships."""

    list_display = ("id", "project", "merged_into", "first_seen", "last_seen")
    list_filter = (("project", ScopedRelatedListFilter),)
    search_fields = ("=id", "identities__value")
    list_select_related = ("project__organization",)
    readonly_fields = ("project", "merged_into", "attributes", "first_seen", "last_seen", "created_at", "updated_at")
    exclude = ("attribute_stamps",)


@admin.register(Profile)
class ProfileAdmin(IdentityOwnerAdmin):
    inlines = (IdentityInline, ProfileMembershipInline)


@admin.register(Account)
class AccountAdmin(IdentityOwnerAdmin):
    inlines = (AccountIdentityInline, AccountMembershipInline)


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

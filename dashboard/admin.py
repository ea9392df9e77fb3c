from django.contrib import admin

from dashboard.models import ProjectMembership
from ingestion.admin import ProjectScopedAdmin, ScopedRelatedListFilter


@admin.register(ProjectMembership)
class ProjectMembershipAdmin(ProjectScopedAdmin):
    list_display = ("user", "project", "created_at")
    list_filter = (("project__organization", ScopedRelatedListFilter),)
    list_select_related = ("user", "project__organization")
    search_fields = ("user__username", "project__name", "project__organization__name")
    autocomplete_fields = ("project",)

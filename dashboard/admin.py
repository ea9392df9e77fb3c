from django.contrib import admin

from dashboard.models import ProjectMembership


@admin.register(ProjectMembership)
class ProjectMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "project", "created_at")
    list_filter = ("project__organization",)
    list_select_related = ("user", "project__organization")
    search_fields = ("user__username", "project__name", "project__organization__name")
    autocomplete_fields = ("project",)

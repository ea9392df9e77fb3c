from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.http import HttpRequest

from dashboard.models import ProjectMembership
from dashboard.scoped_admin import ProjectScopedAdmin, ScopedRelatedListFilter
from dashboard.selectors import projects_all_visible


@admin.register(ProjectMembership)
class ProjectMembershipAdmin(ProjectScopedAdmin):
    list_display = ("user", "project", "created_at")
    list_filter = (("project__organization", ScopedRelatedListFilter),)
    list_select_related = ("user", "project__organization")
    search_fields = ("user__username", "project__name", "project__organization__name")
    autocomplete_fields = ("project",)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # Only staff get into the dashboard, so a membership is only ever a staff user's:
        # the form offers those (and no longer lists every account of the site).
        if db_field.name == "user":
            kwargs.setdefault("queryset", User.objects.filter(is_staff=True).order_by("username"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- users and groups ---------------------------------------------------------------------
# Memberships decide what staff see; Django's user and group admins would let any staff
# user allowed to change users or groups step out of them (make themselves superuser,
# give themselves a group's permissions, or set a superuser's or another staff user's
# password and sign in as them). Those changes are a superuser's.

_PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")

admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class TrackHubUserAdmin(UserAdmin):
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if _is_superuser(request) else (*fields, *_PRIVILEGE_FIELDS)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and _within_reach(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and _within_reach(request, obj)


@admin.register(Group)
class TrackHubGroupAdmin(GroupAdmin):
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if _is_superuser(request) else (*fields, "permissions")


def _is_superuser(request: HttpRequest) -> bool:
    return projects_all_visible(user=request.user)


def _within_reach(request: HttpRequest, user: Any) -> bool:
    """Whether ``request``'s user may change or delete ``user`` (None: users in general).

    Changing another staff user (their password, say) is becoming them: their memberships
    and permissions, a superuser's all. So other staff users are a superuser's to change;
    anyone may still change themselves (their privileges read-only) and non-staff users.
    """
    if user is None or _is_superuser(request) or user.pk == request.user.pk:
        return True
    return not (user.is_staff or user.is_superuser)

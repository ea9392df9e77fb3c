"""The admin's side of the dashboard's access rule: the base class of every admin whose
rows belong to a tenant's project, and the list filter that offers only the rows the
signed-in user sees. The rule itself is ``dashboard.selectors.projects_visible_condition``;
the ingestion and profiles admins build on these."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import ForeignKey, Q, QuerySet
from django.http import HttpRequest

from dashboard.selectors import projects_all_visible, projects_visible_condition

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise  # dev dependency: for the type checker only


class ProjectScopedAdmin(admin.ModelAdmin):
    """Rows of a tenant's project: staff who are not superusers see (in lists, change
    forms, actions, the choices of other forms and the filters of other lists) only those
    of the projects they are members of, the dashboard's rule
    (``dashboard.selectors.projects_visible_condition``). Without it any staff user could
    read and change every tenant's credentials, events and profiles here."""

    # The path from a row to its project's id.
    project_field = "project"

    def rows_visible(self, request: HttpRequest) -> Q:
        return projects_visible_condition(user=request.user, field=self.project_field)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(self.rows_visible(request))

    # A row of a project the user is no member of is not theirs to change or delete, even
    # where Django reaches it by another path than this admin's list: deleting a user
    # cascades into their memberships, and Django's confirmation listed (and the deletion
    # removed) those of every project. Asked of such a row, "no" makes Django refuse the
    # deletion and name only the kind of row.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._row_visible(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._row_visible(request, obj)

    def _row_visible(self, request: HttpRequest, obj: Any) -> bool:
        """Whether ``obj`` (None: this admin's rows in general) is one the user sees."""
        if obj is None or projects_all_visible(user=request.user):
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def choices(self, request: HttpRequest) -> QuerySet:
        """The rows another admin's form or filter offers: those this user sees, in one
        query (an admin whose rows are named after a relation selects it here)."""
        return self.get_queryset(request)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        # An add form takes its initial values from the URL (``?project=3``). A relation's
        # value that is no id at all (``?project=abc``) made the autocomplete widget's query
        # fail (a 500): it is dropped, and the field starts empty.
        initial = super().get_changeform_initial_data(request)
        for name, value in list(initial.items()):
            field = next((f for f in self.opts.fields if f.name == name and isinstance(f, ForeignKey)), None)
            if field is None:
                continue
            try:
                field.target_field.to_python(value)
            except ValidationError:
                del initial[name]
        return initial

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # Django's own choices are every row of the table: another tenant's project or
        # source could be picked (a credential made for it) by knowing its id.
        related_admin = _scoped_admin(self.admin_site, db_field.related_model)
        if related_admin is not None:
            kwargs.setdefault("queryset", related_admin.choices(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def _scoped_admin(site: admin.AdminSite, model: Any) -> ProjectScopedAdmin | None:
    """The admin of ``model`` if its rows belong to projects (not, say, users')."""
    model_admin = site.get_model_admin(model) if site.is_registered(model) else None
    return model_admin if isinstance(model_admin, ProjectScopedAdmin) else None


class ScopedRelatedListFilter(admin.RelatedFieldListFilter):
    """A filter on a relation (project, source, organization) offering only the rows this
    user sees (``ProjectScopedAdmin.choices``): Django's offers every tenant's. One query: a
    project is named after its organization (``Project.__str__``), which Django's filter
    would fetch once per project."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        related_admin = _scoped_admin(model_admin.admin_site, field.related_model)
        if related_admin is None:
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin)
        return [(str(row.pk), str(row)) for row in related_admin.choices(request).order_by(*ordering)]

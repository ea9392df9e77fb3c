"""The event explorer's filters (django-filter), scoped to one project."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet

from dashboard.forms import EventExplorerForm, UtcDateTimeField
from ingestion.api import IdFilter
from ingestion.models import Project
from ingestion.selectors import events_with_property, sources_for_project
from profiles.selectors import profile_events


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M")


class UtcDateTimeFilter(django_filters.DateTimeFilter):
    field_class = UtcDateTimeField


@dataclass(frozen=True)
class ProfileShown:
    """The profile the explorer is filtered on (its "Filter events" button): its
    identifiers, None if the project has no such profile."""

    profile_id: int
    identifiers: list[str] | None


class EventExplorerFilterSet(django_filters.FilterSet):
    # Values as stored, exactly (as in the read API): a form field would strip " ann " to
    # "ann", another person, and a chart's link for the name "Signup " to "Signup".
    name = django_filters.CharFilter(field_name="name", label="Event name", strip=False)
    # The project's sources, set in __init__.
    source = django_filters.ModelChoiceFilter(field_name="source", queryset=None, empty_label="All sources")
    user = django_filters.CharFilter(field_name="user_id", label="User id", strip=False)
    account = django_filters.CharFilter(field_name="account_id", label="Account id", strip=False)
    since = UtcDateTimeFilter(
        field_name="timestamp", lookup_expr="gte", label="From (UTC)", widget=DateTimeLocalInput()
    )
    until = UtcDateTimeFilter(
        field_name="timestamp", lookup_expr="lt", label="Until (UTC)", widget=DateTimeLocalInput()
    )
    property = django_filters.CharFilter(method="filter_property", label="Property key", strip=False)
    value = django_filters.CharFilter(method="filter_noop", label="Property value", strip=False)
    profile = IdFilter(method="filter_profile", widget=forms.HiddenInput())

    profile_shown: ProfileShown | None = None  # set by filter_profile once ``qs`` is read

    class Meta:
        form = EventExplorerForm

    def __init__(self, data: Any, queryset: QuerySet, *, project: Project) -> None:
        super().__init__(data, queryset=queryset)
        self.project = project
        self.filters["source"].queryset = sources_for_project(project_id=project.id)
        self.form.fields["source"].queryset = self.filters["source"].queryset
        for name in ("name", "user", "account", "property", "value"):
            self.form.fields[name].widget.attrs["autocomplete"] = "off"
        self.form.fields["name"].widget.attrs["list"] = "event-names"

    def filter_noop(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset

    def filter_property(self, queryset: QuerySet, name: str, key: str) -> QuerySet:
        """With a value: the property's JSON text equals it (as in the read API);
        without one: the property is present."""
        return events_with_property(queryset=queryset, key=key, value=self.form.cleaned_data.get("value") or None)

    def filter_profile(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        found = profile_events(project_id=self.project.id, profile_id=int(value), events=queryset)
        # For the page to say whose events these are (or that there is no such profile).
        self.profile_shown = ProfileShown(
            profile_id=int(value), identifiers=None if found is None else found.identifiers
        )
        return queryset.none() if found is None else found.events

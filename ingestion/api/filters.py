"""django-filter sets for the read API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError

from ingestion.api.schema import ISO_8601_SCHEMA
from ingestion.authentication import read_principal
from ingestion.canonical import MAX_ID, ascii_digits, datetime_from_ms, digits_parse, instant_bound_from_iso
from ingestion.models import Event, RejectedEvent, WireFormat
from ingestion.selectors import events_with_property
from profiles.selectors import profile_events

_ID_SCHEMA = {"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_ID}


@extend_schema_field(_ID_SCHEMA)
class IdFilter(django_filters.NumberFilter):
    """A whole number that fits an id column: "1001.9" or an id past 64 bits is a 400, not
    truncated (NumberFilter's Decimal) or an overflow in the database driver."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


# A "+hh:mm" offset typed into a URL unencoded: the query string reads "+" as a space.
_OFFSET_PLUS_AS_SPACE = re.compile(r"(\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?) (\d\d(?::?\d\d)?)$")


def instant_parse(value: str, *, field: str) -> datetime:
    """ISO 8601 or milliseconds since the epoch, as an aware UTC datetime.

    ``2024-05-02T08:38:24+02:00`` pasted into a URL arrives as ``...24 02:00``: the only
    reading of that is the offset, so it is taken as one rather than refused."""
    text = _OFFSET_PLUS_AS_SPACE.sub(r"\1+\2", value.strip())
    if ascii_digits(text.removeprefix("-")):
        # Far more digits than any millisecond in range: out of range (a 400), not parsed.
        ms = digits_parse(text.removeprefix("-"), max_digits=30)
        parsed = None if ms is None else datetime_from_ms(-ms if text.startswith("-") else ms)
    else:
        parsed = instant_bound_from_iso(text)
    if parsed is None:
        raise ValidationError({field: [f"{field} must be ISO 8601 (2024-05-02T06:38:24Z) or milliseconds"]})
    return parsed


# The schema of a filter declared with ``extend_schema_field`` is taken as it is, so its
# help_text would not reach the docs: the profile filter carries its description here.
@extend_schema_field({**_ID_SCHEMA, "description": "A TrackHub profile id (a merged-away one: its survivor's): "
                      "the events of every identifier of that profile."})  # fmt: skip
class ProfileIdFilter(IdFilter):
    pass


def _instant_schema(description: str) -> dict[str, Any]:
    """What ``instant_parse`` always takes, so a schema-driven client never gets a 400 for
    a value the schema allowed (schemathesis sent ``since=yesterday``): ISO 8601 with a
    four-digit year, or milliseconds within years 1 to 9999. A pattern cannot bound the
    value, so milliseconds are documented up to 14 digits (year 5138), 13 when negative
    (year 1653). Not said: an offset that moves the time past year 1 or 9999 in UTC."""
    return {
        "anyOf": [
            ISO_8601_SCHEMA,
            {"type": "string", "pattern": "^(?:[0-9]{1,14}|-[0-9]{1,13})$"},
        ],
        "description": f"{description}; ISO 8601 (`2024-05-02T06:38:24Z`, no offset: UTC) or milliseconds since "
        "the epoch.",
    }


# The schema of a filter declared with ``extend_schema_field`` is taken as it is (help_text
# does not reach the docs), so each carries its description.
@extend_schema_field(_instant_schema("Inclusive"))
class SinceFilter(django_filters.CharFilter):
    pass


@extend_schema_field(_instant_schema("Exclusive"))
class UntilFilter(django_filters.CharFilter):
    pass


class TimeRangeFilterSet(django_filters.FilterSet):
    """``since`` (inclusive) and ``until`` (exclusive) on ``time_field``."""

    time_field = "timestamp"

    since = SinceFilter(method="filter_since")
    until = UntilFilter(method="filter_until")

    def filter_since(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(**{f"{self.time_field}__gte": instant_parse(value, field="since")})

    def filter_until(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(**{f"{self.time_field}__lt": instant_parse(value, field="until")})


class EventFilterSet(TimeRangeFilterSet):
    # Values as stored, exactly: a form field would strip " ann " to "ann", another person.
    name = django_filters.CharFilter(strip=False)
    user_id = django_filters.CharFilter(strip=False)
    account_id = django_filters.CharFilter(strip=False)
    session_id = django_filters.CharFilter(strip=False)
    source_id = IdFilter(field_name="source_id")
    wire_format = django_filters.ChoiceFilter(choices=WireFormat.choices)
    profile = ProfileIdFilter(method="filter_profile")
    property = django_filters.CharFilter(
        strip=False,
        method="filter_property",
        help_text="A top-level key of properties: alone, the events that have it (any value, null included); "
        "with value, those where it has that value.",
    )
    value = django_filters.CharFilter(
        strip=False,
        method="filter_property_value",
        help_text="With property: matches a JSON string equal to it, or a number or boolean whose JSON text equals it.",
    )

    class Meta:
        model = Event
        fields = ["name", "source_id", "wire_format", "user_id", "account_id", "session_id"]

    def filter_property(self, queryset: QuerySet, name: str, key: str) -> QuerySet:
        return events_with_property(queryset=queryset, key=key, value=self.form.cleaned_data.get("value") or None)

    def filter_property_value(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not self.form.cleaned_data.get("property"):
            raise ValidationError({"property": ["property is required with value"]})
        return queryset  # applied by filter_property

    def filter_profile(self, queryset: QuerySet, name: str, value: int) -> QuerySet:
        if self.request is None:  # no request, so no project: no profile matches
            return queryset.none()
        project_id = read_principal(self.request).project.id
        found = profile_events(project_id=project_id, profile_id=int(value), events=queryset)
        return queryset.none() if found is None else found.events


class RejectedEventFilterSet(TimeRangeFilterSet):
    time_field = "received_at"
    source_id = IdFilter(field_name="source_id")
    wire_format = django_filters.ChoiceFilter(choices=WireFormat.choices)

    class Meta:
        model = RejectedEvent
        fields = ["source_id", "wire_format"]

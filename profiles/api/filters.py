"""django-filter sets for the profile and account lists."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from profiles.models import Account, Profile


class ProfileFilterSet(django_filters.FilterSet):
    # strip=False: " ann " and "ann" are two identifiers, so two people.
    identifier = django_filters.CharFilter(
        method="filter_identifier", strip=False, help_text="A user identifier, exactly."
    )

    class Meta:
        model = Profile
        fields: list[str] = []

    def filter_identifier(self, queryset: QuerySet[Profile], name: str, value: str) -> QuerySet[Profile]:
        return queryset.filter(identities__value=value)


class AccountFilterSet(django_filters.FilterSet):
    identifier = django_filters.CharFilter(
        method="filter_identifier", strip=False, help_text="An account identifier, exactly."
    )

    class Meta:
        model = Account
        fields: list[str] = []

    def filter_identifier(self, queryset: QuerySet[Account], name: str, value: str) -> QuerySet[Account]:
        return queryset.filter(identities__value=value)

"""The dashboard's sign-in form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError


class StaffAuthenticationForm(AuthenticationForm):
    """Sign-in for staff only: the dashboard and the admin are all there is to sign in to,
    so a non-staff account is refused at the form instead of landing on a bare 403."""

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        if not user.is_staff:
            raise ValidationError("This account is not staff: the dashboard is for staff.", code="not_staff")


class EventExplorerForm(forms.Form):
    """The event explorer's filter form (its fields come from ``EventExplorerFilterSet``)."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # A value matches one property: without its key there is nothing to match, and
        # ignoring it would list every event as if it matched.
        if cleaned.get("value") and not cleaned.get("property"):
            self.add_error("property", "Give the property key to match this value.")
        return cleaned

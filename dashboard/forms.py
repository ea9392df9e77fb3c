"""The dashboard's forms: sign-in and the lists' filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from ingestion.canonical import MAX_ID, utc_or_none

NOT_STAFF_MESSAGE = "This account is not staff: the dashboard is for staff."


class StaffAuthenticationForm(AuthenticationForm):
    """Sign-in for staff only: the dashboard and the admin are all there is to sign in to,
    so a non-staff account is refused at the form instead of landing on a bare 403, and
    the sign-in page says why (``refused_not_staff``); a wrong username or password keeps
    the page's one generic message."""

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        if not user.is_staff:
            raise ValidationError(NOT_STAFF_MESSAGE, code="not_staff")

    @property
    def refused_not_staff(self) -> bool:
        return self.has_error(NON_FIELD_ERRORS, "not_staff")


class UtcDateTimeField(forms.DateTimeField):
    """A date and time, in UTC once read. One whose offset takes it past the calendar's
    ends in UTC (``0001-01-01T00:00:00+00:01``) is invalid here: it could be neither
    compared in the database nor shown (a 500)."""

    def to_python(self, value: Any) -> datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        in_utc = utc_or_none(moment)
        if in_utc is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return in_utc


class EventExplorerForm(forms.Form):
    """The event explorer's filter form (its fields come from ``EventExplorerFilterSet``)."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # A value matches one property: without its key there is nothing to match, and
        # ignoring it would list every event as if it matched.
        if cleaned.get("value") and not cleaned.get("property"):
            self.add_error("property", "Give the property key to match this value.")
        return cleaned


class RejectedFilterForm(forms.Form):
    """The rejected list's filters: ``?source=`` and ``?since=`` (a source card's "inspect"
    link carries both). A value given but unreadable is a form error, as in the explorer:
    the list then shows nothing rather than what the filter would have left out."""

    _SOURCE_ERROR = "source must be a source id (a whole number)."
    source = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID,
        error_messages={"invalid": _SOURCE_ERROR, "min_value": _SOURCE_ERROR, "max_value": _SOURCE_ERROR},
    )  # fmt: skip
    since = UtcDateTimeField(
        required=False, error_messages={"invalid": "since must be a date and time, such as 2026-11-24T09:30."}
    )

"""The admin site: Django's, except that no admin page passes a NUL character to the
database, and a list's lookup the database refuses is answered as Django answers one it
cannot build: the unfiltered list with "?e=1", not a 500.

PostgreSQL text cannot hold a NUL (``\\x00``), and a query comparing a text column with one
fails rather than matching nothing. Any admin list takes a lookup on any of its model's
own fields from the URL (``/admin/ingestion/event/?name=%00``, ``?user_id=a%00b``, a list
filter's parameter), and the autocomplete takes a search term: each was a 500. No stored
value holds a NUL, so a query string with one is a bad request, answered here for every
admin, Django's own (users, groups) included.

The admin is where credentials are made and shown, and its lists show what producers
sent (event names, identifiers): its pages get the dashboard's policy
(``ops.pages.PageHeadersMiddleware``), which lets a page run only this site's own script
files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import BadRequest
from django.db import DataError, OperationalError, ProgrammingError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

logger = logging.getLogger(__name__)


def _nul_in_query(request: HttpRequest) -> bool:
    # Values only: a parameter's name is a lookup path, which Django checks against the
    # model's fields before any query (an unknown one is its own "?e=1").
    return any("\x00" in value for _, values in request.GET.lists() for value in values)


def _changelist(request: HttpRequest) -> bool:
    url_name = request.resolver_match.url_name if request.resolver_match else None
    return bool(url_name and url_name.endswith("_changelist"))


# What a lookup from the URL raises when the database or Django cannot run it: a year 0
# (``?timestamp__year=0``), a bad regular expression (``?name__regex=(``), a number past
# 64 bits (``?project=9223372036854775808``), a range of a text and a number. SQLite
# runs ``__regex`` with a Python function: a bad expression is an OperationalError there.
_LOOKUP_ERRORS = (ValueError, OverflowError, DataError, ProgrammingError, OperationalError)


def _bad_lookups_refused(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Any admin list takes a lookup on any of its model's own fields from the URL. Django
    answers one it cannot build with the unfiltered list and "?e=1", but one the database
    refuses only fails when the list is counted or shown: a 500. Those get the same answer."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _nul_in_query(request):
            if _changelist(request):
                return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")
            raise BadRequest("A NUL character is no value any admin page looks up.")
        if request.method not in ("GET", "HEAD") or not request.GET or not _changelist(request):
            return view(request, *args, **kwargs)
        try:
            # In a transaction of its own: after PostgreSQL refuses a query, the
            # transaction it ran in (the test's, a caller's) takes no other.
            with transaction.atomic():
                response = view(request, *args, **kwargs)
                if isinstance(response, TemplateResponse):
                    response.render()  # the rows are read here, so their query fails here
        except _LOOKUP_ERRORS as exc:
            # Here, not at the top: this module is loaded while the apps are (the admin's
            # default site), before DRF, which ops.api imports, can be.
            from ops.api import database_unavailable

            if database_unavailable(exc=exc):
                raise
            logger.info("admin list lookup refused: %s", exc)
            return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")
        return response

    return guarded


class TrackHubAdminSite(admin.AdminSite):
    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        # The lookup checks inside Django's wrapper: anonymous visitors still get the login
        # page first. Every admin URL but the login page comes through here.
        return super().admin_view(_bad_lookups_refused(view), cacheable)


class TrackHubAdminConfig(AdminConfig):
    """``django.contrib.admin`` with ``TrackHubAdminSite`` as ``admin.site``."""

    default_site = "trackhub.admin_site.TrackHubAdminSite"

"""The admin site: Django's, except that no admin page passes a NUL character to the
database, and every admin page carries the pages' Content-Security-Policy.

PostgreSQL text cannot hold a NUL (``\\x00``), and a query comparing a text column with one
fails rather than matching nothing. Any admin list takes a lookup on any of its model's
own fields from the URL (``/admin/ingestion/event/?name=%00``, ``?user_id=a%00b``, a list
filter's parameter), and the autocomplete takes a search term: each was a 500. No stored
value holds a NUL, so a query string with one is a bad request, answered here for every
admin, Django's own (users, groups) included.

The admin is where credentials are made and shown, and its lists show what producers
sent (event names, identifiers): it gets the dashboard's policy (``ops.pages``), which
lets a page run only this site's own script files.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from ops.pages import page_content_security_policy_add, page_policy


def _nul_in_query(request: HttpRequest) -> bool:
    # Values only: a parameter's name is a lookup path, which Django checks against the
    # model's fields before any query (an unknown one is its own "?e=1").
    return any("\x00" in value for _, values in request.GET.lists() for value in values)


def _nul_refused(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _nul_in_query(request):
            url_name = request.resolver_match.url_name if request.resolver_match else None
            if url_name and url_name.endswith("_changelist"):
                # What Django's list answers to a lookup it cannot run: the list again,
                # unfiltered, with "?e=1".
                return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")
            raise BadRequest("A NUL character is no value any admin page looks up.")
        return view(request, *args, **kwargs)

    return guarded


class TrackHubAdminSite(admin.AdminSite):
    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        # The NUL check inside Django's wrapper: anonymous visitors still get the login
        # page first. Every admin URL but the login page comes through here.
        return page_policy(super().admin_view(_nul_refused(view), cacheable))

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().login(request, extra_context)
        page_content_security_policy_add(response)
        return response


class TrackHubAdminConfig(AdminConfig):
    """``django.contrib.admin`` with ``TrackHubAdminSite`` as ``admin.site``."""

    default_site = "trackhub.admin_site.TrackHubAdminSite"

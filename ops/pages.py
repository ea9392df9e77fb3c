"""The Content-Security-Policy of every page a person reads in a browser: the dashboard,
the sign-in page and the admin.

Such a page loads this site's own stylesheets, scripts and images, nothing inline and no
other host. Names, properties and identifiers on these pages are whatever producers sent;
if one ever slipped past the templates' escaping, the browser would still run nothing it
carried. The dashboard's templates have no inline script or style, and neither have the
admin's (Django removed them in 1.10 and runs its own admin tests under this policy's
``default-src 'self'``). The API docs (Swagger UI, ReDoc) are not covered: their viewers
need inline code.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers

_Response = TypeVar("_Response", bound=HttpResponseBase)  # a page's, or the sign-in view's

PAGE_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def page_content_security_policy_add(response: HttpResponseBase) -> None:
    """Give ``response`` the page policy, unless its view set a policy of its own."""
    if "Content-Security-Policy" not in response:
        response["Content-Security-Policy"] = PAGE_CONTENT_SECURITY_POLICY


def page_policy(view: Callable[..., _Response]) -> Callable[..., _Response]:
    """``view`` with its answers under the page policy."""

    @wraps(view)
    def with_policy(request: HttpRequest, *args: Any, **kwargs: Any) -> _Response:
        response = view(request, *args, **kwargs)
        page_content_security_policy_add(response)
        return response

    return with_policy


def private_page(view: Callable[..., _Response]) -> Callable[..., _Response]:
    """Answers no cache may keep, under the page policy (the dashboard, the sign-in page).

    The pages show tenants' events, profiles and credential identifiers, and nothing told
    a browser (its back/forward cache, after signing out on a shared computer) or a proxy
    between it and TrackHub not to keep them: the admin and Django's sign-in page send
    ``Cache-Control: no-store``, the dashboard sent no Cache-Control at all.
    """

    @wraps(view)
    def never_cached(request: HttpRequest, *args: Any, **kwargs: Any) -> _Response:
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    return page_policy(never_cached)

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

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers

PAGE_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def page_content_security_policy_add(response: HttpResponseBase) -> None:
    """Give ``response`` the page policy, unless its view set a policy of its own."""
    if "Content-Security-Policy" not in response:
        response["Content-Security-Policy"] = PAGE_CONTENT_SECURITY_POLICY


class PageHeadersMiddleware:
    """Every answer of the pages, and every HTML answer, is kept by no cache and runs
    under the page policy: the dashboard's, the admin's and the sign-in pages, the
    redirects to sign in, and the error pages Django makes when a view raises (the 403 of
    a user no longer staff, a CSRF failure, a 405, a 500). A middleware, not decorators on the views: those error
    pages are made outside the views, and went out with neither header.

    The pages show tenants' events, profiles and credential identifiers, and nothing told
    a browser (its back/forward cache, after signing out on a shared computer) or a proxy
    between it and TrackHub not to keep them. The API docs' viewers (Swagger UI, ReDoc)
    need inline code and are public: they are left alone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        path = request.path_info
        if not path.startswith(_PUBLIC_HTML_PREFIXES) and (
            path.startswith(_PAGE_PREFIXES) or response.get("Content-Type", "").startswith("text/html")
        ):
            page_content_security_policy_add(response)
            add_never_cache_headers(response)
        return response


# Where trackhub/urls.py puts the pages: every answer there (the admin's autocomplete's
# JSON too) is a signed-in person's.
_PAGE_PREFIXES = ("/admin/", "/dashboard/", "/accounts/")
_PUBLIC_HTML_PREFIXES = ("/api/docs/", "/api/redoc/")

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

from django.http import HttpResponseBase

PAGE_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def page_content_security_policy_add(response: HttpResponseBase) -> None:
    """Give ``response`` the page policy, unless its view set a policy of its own."""
    if "Content-Security-Policy" not in response:
        response["Content-Security-Policy"] = PAGE_CONTENT_SECURITY_POLICY

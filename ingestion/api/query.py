"""The query string of a read API request: only the endpoint's own parameters, each once,
in UTF-8, not empty.

django-filter and DRF ignore a parameter they do not know (``?nmae=Purchase`` answered
every event), keep the last of a repeated one (``?name=a&name=b`` answered only ``b``),
read bytes that are not UTF-8 as U+FFFD (``?name=%FF`` matched nothing) and skip an
empty filter (``?identifier=`` answered every profile). Each of those quietly answers
another question than the one asked, so each is a 400 naming the parameter, in the read
API's one error shape.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import unquote_to_bytes

from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.settings import APISettings

# The attributes of our paginators that name a query parameter.
_PAGINATION_PARAMS = ("cursor_query_param", "page_size_query_param", "ordering_query_param")


def query_params_check(*, request: Request, allowed: Collection[str], may_be_empty: Collection[str] = ()) -> None:
    """ValidationError (400) naming each parameter of ``request`` that is not in
    ``allowed``, is given more than once, is not UTF-8 once percent-decoded, or is empty
    (unless in ``may_be_empty``)."""
    errors: dict[str, list[str]] = {}
    for name in _not_utf8(request.META.get("QUERY_STRING", "")):
        errors[name] = ["not valid UTF-8: percent-encode the UTF-8 bytes of the text"]
    taken = f"this endpoint takes: {', '.join(sorted(allowed))}" if allowed else "this endpoint takes no parameters"
    for name, values in request.query_params.lists():
        if name in errors:
            continue
        if name not in allowed:
            errors[name] = [f"unknown parameter; {taken}"]
        elif len(values) > 1:
            errors[name] = ["given more than once; give it once"]
        elif values == [""] and name not in may_be_empty:
            # django-filter skips an empty value, so ?identifier= answered every profile
            # and ?user_id= every event: the opposite of the (impossible) match asked for.
            errors[name] = ["empty; leave the parameter out not to filter by it"]
    if errors:
        raise ValidationError(errors)


def _not_utf8(query_string: str) -> list[str]:
    """The names (as Django decoded them) of the parameters whose name or value is not
    UTF-8. ``QUERY_STRING`` holds the raw bytes as latin-1 (PEP 3333)."""
    names = []
    for piece in query_string.encode("latin-1", errors="replace").split(b"&"):
        key, _, value = piece.partition(b"=")
        raw_key, raw_value = (unquote_to_bytes(part.replace(b"+", b" ")) for part in (key, value))
        try:
            raw_key.decode("utf-8")
            raw_value.decode("utf-8")
        except UnicodeDecodeError:
            names.append(raw_key.decode("utf-8", errors="replace"))
    return names


class QueryFormatIgnored(DefaultContentNegotiation):
    """DRF's negotiation without its ``?format=`` override: on the read API that is an
    unknown parameter like any other (a 400), not a 404 for ``?format=csv``; ``Accept``
    still chooses."""

    # Only ``URL_FORMAT_OVERRIDE`` is read from it; every other setting keeps its default.
    settings = APISettings(user_settings={"URL_FORMAT_OVERRIDE": None})  # type: ignore[arg-type,assignment]


class QueryParamsCheckedMixin(generics.GenericAPIView):
    """A read API view that refuses a query parameter it does not take (after the token is
    checked: a bad token is a 401 whatever the query). It takes its filter set's filters,
    its paginator's parameters and ``extra_query_params``."""

    content_negotiation_class: type[BaseContentNegotiation] = QueryFormatIgnored
    extra_query_params: tuple[str, ...] = ()
    # An empty cursor is the first page (as DRF reads it); an empty ``value`` beside
    # ``property`` matches any value (docs/read-api.md).
    empty_query_params: tuple[str, ...] = ("cursor", "value")

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        query_params_check(request=request, allowed=self.query_params_allowed(), may_be_empty=self.empty_query_params)

    def query_params_allowed(self) -> set[str]:
        allowed = set(self.extra_query_params)
        filterset_class = getattr(self, "filterset_class", None)
        if filterset_class is not None:
            allowed.update(filterset_class.base_filters)
        if self.paginator is not None:
            allowed.update(
                name for attribute in _PAGINATION_PARAMS if (name := getattr(self.paginator, attribute, None))
            )
        return allowed

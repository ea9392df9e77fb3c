"""TrackHub's URLs plus two yardsticks under the same gunicorn, middleware and settings:

- ``/api/bench/empty`` reads the body and answers ``{}``, nothing else: the ceiling a Django
  view can reach on this machine;
- ``/api/bench/reference?project=&source=`` is the issue's reference design
  (``bench.reference``): msgspec-decode an Intempt body and COPY it, a commit per request.

Both live under ``/api/`` so that, like the track endpoints, they skip the browser-only
middleware (``ops.browser``): the yardsticks pay exactly the middleware TrackHub pays.
"""

import msgspec
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from bench.reference import reference_copy
from trackhub.urls import urlpatterns as trackhub_urlpatterns


@csrf_exempt
def empty(request: HttpRequest) -> HttpResponse:
    request.body  # noqa: B018 - read it, as a track view does
    return HttpResponse(b"{}", content_type="application/json")


@csrf_exempt
def reference(request: HttpRequest) -> HttpResponse:
    try:
        written = reference_copy(
            body=request.body, project_id=int(request.GET["project"]), source_id=int(request.GET["source"])
        )
    except (KeyError, ValueError, msgspec.DecodeError) as exc:  # ValidationError is a DecodeError
        return HttpResponse(msgspec.json.encode({"error": str(exc)}), status=400, content_type="application/json")
    return HttpResponse(msgspec.json.encode({"written": written}), content_type="application/json")


urlpatterns = [path("api/bench/empty", empty), path("api/bench/reference", reference), *trackhub_urlpatterns]

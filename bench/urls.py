"""TrackHub's URLs plus ``/bench/empty``: reads the body and answers ``{}``, nothing else.

It runs under the same gunicorn, middleware and settings as the track endpoints, so its
rate is the ceiling a Django view can reach on this machine.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from trackhub.urls import urlpatterns as trackhub_urlpatterns


@csrf_exempt
def empty(request: HttpRequest) -> HttpResponse:
    request.body  # noqa: B018 - read it, as a track view does
    return HttpResponse(b"{}", content_type="application/json")


urlpatterns = [path("bench/empty", empty), *trackhub_urlpatterns]

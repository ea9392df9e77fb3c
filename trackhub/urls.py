"""URL wiring only: each app owns its views."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.generic import RedirectView

from ingestion.urls import api_urlpatterns, track_urlpatterns
from profiles.urls import api_urlpatterns as profiles_api_urlpatterns


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("healthz", healthz, name="healthz"),
    *api_urlpatterns,
    *profiles_api_urlpatterns,
    *track_urlpatterns,
]

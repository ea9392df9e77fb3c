"""URL wiring only: each app owns its views."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from ingestion.urls import api_urlpatterns, track_urlpatterns
from ops import views as ops_views
from profiles.urls import api_urlpatterns as profiles_api_urlpatterns

urlpatterns = [
    # First: Django tries patterns in order, and the track endpoints take nearly all the
    # traffic. None of them can match another app's URL (each ends in "track").
    *track_urlpatterns,
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("healthz", ops_views.healthz, name="healthz"),
    path("readyz", ops_views.readyz, name="readyz"),
    path("metrics", ops_views.metrics, name="metrics"),
    *api_urlpatterns,
    *profiles_api_urlpatterns,
]

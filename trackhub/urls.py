"""URL wiring only: each app owns its views."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from dashboard.forms import StaffAuthenticationForm
from ingestion.urls import api_urlpatterns, track_urlpatterns
from profiles.urls import api_urlpatterns as profiles_api_urlpatterns

urlpatterns = [
    # First: Django tries patterns in order, and the track endpoints take nearly all the
    # traffic. None of them can match another app's URL (each ends in "track").
    *track_urlpatterns,
    path("", RedirectView.as_view(url="/dashboard/", permanent=False)),
    path("admin/", admin.site.urls),
    # Sign in and out. No password-reset pages: TrackHub sends no email; staff passwords
    # are reset with ``manage.py changepassword`` or in the admin.
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=StaffAuthenticationForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/", include("dashboard.urls")),
    # /healthz, /readyz and /metrics are answered by ops.middleware.ProbeMiddleware, before
    # host validation and the SSL redirect.
    *api_urlpatterns,
    *profiles_api_urlpatterns,
]

handler400 = "ops.views.bad_request"
handler404 = "dashboard.views.page_not_found"
handler500 = "ops.views.server_error"

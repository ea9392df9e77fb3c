from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from ingestion import views
from ingestion.api import views as api_views

# Repeated slashes are taken as one (``/*``, ``/+``), trailing ones too: a producer's base
# URL configured with a trailing slash makes its SDK post to ``//track``, which the
# vendors' proxies take (nginx merges slashes by default); a 404 page would drop events.
# The leading slashes are written ``(?:/*)``, not ``/*``: Django's urls.W002 check
# flags a pattern starting ``^/``, and its warning printed on every ``manage.py``
# command would keep ``check --deploy`` from being clean (CONTRACT.md, Operations).
# Intempt's path segments may be empty (``[^/]*``): the docs' own curl posts to
# ``//projects//sources/0/track?apiKey``, and it gets Intempt's 401, not a 404 page.
track_urlpatterns = [
    re_path(
        r"^(?:/*)(?P<org_name>[^/]*)/+projects/+(?P<project_name>[^/]*)/+sources/+(?P<source_id>[^/]*)/+track/*$",
        views.IntemptTrackView.as_view(),
        name="track-intempt",
    ),
    # Intempt's SDK (``pip install intempt``) puts ``/v1`` before the org, as Intempt's API
    # serves it (``api.intempt.com/v1/{org}/...``): a producer that changes only the host
    # lands here. After the pattern above, so an org named ``v1`` keeps its own URL. The
    # same operation, so the OpenAPI schema shows it once (``track_intempt_v1_hidden``).
    re_path(
        r"^(?:/*)v1/+(?P<org_name>[^/]*)/+projects/+(?P<project_name>[^/]*)/+sources/+(?P<source_id>[^/]*)/+track/*$",
        views.IntemptTrackView.as_view(),
        name="track-intempt-v1",
    ),
    # The SDK built without a ``source_id`` (optional there) posts to the project's
    # ``/track``: the API key then names the source, in that organization and project.
    re_path(
        r"^(?:/*)v1/+(?P<org_name>[^/]*)/+projects/+(?P<project_name>[^/]*)/+track/*$",
        views.IntemptTrackView.as_view(),
        name="track-intempt-v1-project",
    ),
    re_path(r"^(?:/*)api/+track/*$", views.ThriveStackTrackView.as_view(), name="track-thrivestack"),
    re_path(r"^(?:/*)track/*$", views.DatabuddyTrackView.as_view(), name="track-databuddy"),
    # Databuddy's SDKs' identify() call (not in the seed): see DatabuddyIdentifyAdapter.
    re_path(r"^(?:/*)identify/*$", views.DatabuddyIdentifyView.as_view(), name="track-databuddy-identify"),
    re_path(r"^(?:/*)v1/+track/*$", views.UserpilotTrackView.as_view(), name="track-userpilot"),
]

api_urlpatterns = [
    path("api/v1/events/", api_views.EventListView.as_view(), name="api-events"),
    path("api/v1/events/export.ndjson", api_views.EventExportNdjsonView.as_view(), name="api-events-export-ndjson"),
    path("api/v1/events/export.csv", api_views.EventExportCsvView.as_view(), name="api-events-export-csv"),
    path("api/v1/rejected-events/", api_views.RejectedEventListView.as_view(), name="api-rejected-events"),
    # OpenAPI 3, public; the docs pages load Swagger UI / ReDoc from drf-spectacular-sidecar's static files.
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path(
        "api/redoc/",
        # Our template: drf-spectacular's loads Google Fonts, and the docs load nothing from another host.
        SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html"),
        name="api-redoc",
    ),
]

from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("<int:project_id>/", views.overview, name="overview"),
    path("<int:project_id>/live/", views.live_events, name="live-events"),
    path("<int:project_id>/sources/", views.sources, name="sources"),
    path("<int:project_id>/events/", views.events, name="events"),
    path("<int:project_id>/events/<int:event_id>/", views.event_detail, name="event-detail"),
    path("<int:project_id>/rejected/", views.rejected_events, name="rejected"),
    path("<int:project_id>/rejected/<int:rejected_id>/", views.rejected_event_detail, name="rejected-detail"),
    path("<int:project_id>/profiles/", views.profiles, name="profiles"),
    path("<int:project_id>/profiles/<int:profile_id>/", views.profile_detail, name="profile-detail"),
    path("<int:project_id>/accounts/<int:account_id>/", views.account_detail, name="account-detail"),
    path("<int:project_id>/warnings/", views.warnings, name="warnings"),
]

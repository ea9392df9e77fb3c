from django.urls import path

from profiles.api import views

api_urlpatterns = [
    path("api/v1/profiles/", views.ProfileListView.as_view(), name="api-profiles"),
    path("api/v1/profiles/<int:profile_id>/", views.ProfileDetailView.as_view(), name="api-profile"),
    path("api/v1/profiles/<int:profile_id>/events/", views.ProfileEventListView.as_view(), name="api-profile-events"),
    path("api/v1/accounts/", views.AccountListView.as_view(), name="api-accounts"),
    path("api/v1/accounts/<int:account_id>/", views.AccountDetailView.as_view(), name="api-account"),
]

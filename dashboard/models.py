"""Who may see which project in the staff dashboard and the admin.

The rule (docs/dashboard.md, ``selectors.projects_visible_condition``): superusers see
every project; any other staff user sees the projects they have a ``ProjectMembership``
for (granted in the admin). Non-staff users never see the dashboard.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from ingestion.models import Project


class ProjectMembership(models.Model):
    # No index of its own: the unique (user, project) one leads with it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships", db_index=False
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "project"], name="membership_user_project_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.project}"

"""Writes of the dashboard domain: who may see which project."""

from __future__ import annotations

from django.contrib.auth.models import User

from dashboard.models import ProjectMembership
from ingestion.models import Project


def project_membership_grant(*, user: User, project: Project) -> ProjectMembership:
    membership, _ = ProjectMembership.objects.get_or_create(user=user, project=project)
    return membership

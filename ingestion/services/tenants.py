"""Organizations, projects, sources and websites: creating, provisioning and deleting them."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from ingestion.canonical import MAX_ID
from ingestion.credentials import READ_SCOPE, TRACK_EVENTS_SCOPE, TRACK_TOKEN_SCOPES
from ingestion.models import (
    DeletedProject,
    Event,
    EventKey,
    Organization,
    Project,
    RejectedEvent,
    Source,
    Website,
)
from ingestion.services.credentials import access_token_create, api_key_create
from profiles.services import profiles_project_purge

logger = logging.getLogger(__name__)


def organization_project_ensure(*, org: str, project: str) -> Project:
    organization, _ = Organization.objects.get_or_create(name=org)
    project_obj, _ = Project.objects.get_or_create(organization=organization, name=project)
    return project_obj


def source_ensure(*, project: Project, source_id: int, kind: str = Source.Kind.BACKEND) -> Source:
    """The source with that id in ``project``; ValueError if the id belongs to another one."""
    source, _ = Source.objects.get_or_create(id=source_id, defaults={"project": project, "kind": kind})
    if source.project_id != project.id:
        raise ValueError(f"source {source_id} already belongs to another project")
    return source


def website_origins_check(*, origins: object) -> None:
    """ValueError unless ``origins`` is a list of ``*`` or scheme://host[:port] (what a
    browser's Origin header holds: no path)."""
    if not isinstance(origins, list | tuple) or not all(isinstance(origin, str) for origin in origins):
        raise ValueError("allowed origins must be a list of strings")
    for origin in origins:
        if origin != "*" and not _ORIGIN.match(origin.rstrip("/")):
            raise ValueError(
                "origin must be * or scheme://host[:port] like https://shop.example.com "
                f"(or https://*.example.com for its subdomains), not {origin!r}"
            )


def website_create(*, source: Source, origins: Sequence[str] = ()) -> Website:
    website_origins_check(origins=origins)
    return Website.objects.create(source=source, allowed_origins=list(origins))


@dataclass(frozen=True)
class Provisioned:
    org: str
    project: str
    source_id: int
    api_key: str
    bearer_token: str
    website_id: str
    read_token: str


# Names appear as path segments of the Intempt URL.
_NAME_MAX_LENGTH = 200
# What a browser's Origin header holds (no path), or ``*.`` before the host for every
# subdomain (``ingestion.authentication.website_allowed_origin``); a "*" anywhere else
# would be taken as a character and match no browser.
_ORIGIN = re.compile(r"^https?://(\*\.)?[^/\s?#*]+$", re.IGNORECASE)


def tenant_name_check(*, what: str, name: str) -> None:
    """ValueError unless ``name`` can be an organization's or project's name: it is a path
    segment of the Intempt URL, so it is not empty and holds no "/"."""
    if not name.strip() or "/" in name or len(name) > _NAME_MAX_LENGTH:
        raise ValueError(f"{what} must be 1-{_NAME_MAX_LENGTH} characters without '/', not {name!r}")


def source_id_check(*, source_id: int) -> None:
    """ValueError for an id outside 1..2^63-1: the commands and the read API take no other."""
    if not 1 <= source_id <= MAX_ID:
        raise ValueError(f"source id must be from 1 to {MAX_ID}, not {source_id}")


def _provision_check(*, org: str, project: str, source_id: int, origins: Sequence[str]) -> None:
    """ValueError naming what could never work: an empty name, a name with "/" (the
    Intempt URL could not address it), one too long to store, a source id outside 1..2^63-1,
    an origin that is not ``*`` or scheme://host[:port] (a browser's Origin has no path)."""
    tenant_name_check(what="org", name=org)
    tenant_name_check(what="project", name=project)
    source_id_check(source_id=source_id)
    website_origins_check(origins=origins)


def source_provision(*, org: str, project: str, source_id: int, origins: Sequence[str] = ()) -> Provisioned:
    """Create what is missing of org > project > source (+ website) and fresh credentials.

    Earlier credentials stay valid; the website is reused (its origins replaced when
    ``origins`` is given). ValueError for values that could never work (``_provision_check``).
    """
    _provision_check(org=org, project=project, source_id=source_id, origins=origins)
    with transaction.atomic():
        project_obj = organization_project_ensure(org=org, project=project)
        source = source_ensure(project=project_obj, source_id=source_id)
        # Row lock: two provisions of one source at once would each find no website and
        # make one (the second waits here, then finds the first's).
        Source.objects.select_for_update().filter(id=source.id).exists()
        website = source.websites.order_by("created_at").first()
        if website is None:
            website = website_create(source=source, origins=origins)
        elif origins:
            website.allowed_origins = list(origins)
            website.save(update_fields=["allowed_origins"])
        _, api_key = api_key_create(source=source, scopes=[TRACK_EVENTS_SCOPE], label="provision")
        _, bearer = access_token_create(
            project=project_obj, source=source, scopes=sorted(TRACK_TOKEN_SCOPES), label="provision"
        )
        _, read_token = access_token_create(project=project_obj, scopes=[READ_SCOPE], label="provision")
    return Provisioned(
        org=org, project=project, source_id=source.id, api_key=api_key, bearer_token=bearer,
        website_id=str(website.id), read_token=read_token,
    )  # fmt: skip


# A write whose credential check passed before its project's deletion committed (a bulk
# write checks just before its transaction) may commit events after the first purge: the
# purge runs once more this long after the deletion, past any request's time limit.
PROJECT_PURGE_STRAGGLER_SECONDS = 120


def project_delete(*, project_id: int) -> bool:
    """Delete a project and everything it holds; False if there is no such project.

    In one transaction: its profiles and accounts (``profiles_project_purge``), its
    rejected events, then the project with its sources, credentials, websites and
    memberships (Django's cascade: few rows), leaving a ``DeletedProject``. Producers and
    readers holding its credentials are refused from the next request on. Its events,
    dedupe keys and identity outbox, which may be millions of rows, are deleted after
    commit by ``project_data_purge``, in a task (now, and again after
    PROJECT_PURGE_STRAGGLER_SECONDS), so the deletion answers in seconds.
    """
    with transaction.atomic():
        # Row lock: two deletions of the same project (two staff, a bulk action) serialize
        # here and the second finds nothing; a rename waits for the deletion.
        locked = Project.objects.select_related("organization").select_for_update(of=("self",))
        project = locked.filter(id=project_id).first()
        if project is None:
            return False
        profiles_project_purge(project_id=project_id)
        RejectedEvent.objects.filter(project_id=project_id).delete()
        DeletedProject.objects.create(project_id=project_id, name=str(project))
        project.delete()
        transaction.on_commit(lambda: _project_purge_queue(project_id=project_id))
    return True


def organization_delete(*, organization_id: int) -> bool:
    """Delete an organization and each of its projects (``project_delete``), all or none;
    False if there is no such organization."""
    with transaction.atomic():
        organization = Organization.objects.select_for_update().filter(id=organization_id).first()
        if organization is None:
            return False
        # The organization's row lock serializes two deletions of it; its projects are then
        # locked one by one (``project_delete``) in a fixed order, by id.
        projects = Project.objects.filter(organization=organization).order_by("id")
        for project_id in projects.values_list("id", flat=True):
            project_delete(project_id=project_id)
        organization.delete()
    return True


def project_data_purge(*, project_id: int, now: datetime | None = None) -> bool:
    """Delete the events, dedupe keys and identity outbox rows of a deleted project, each
    kind in one statement; idempotent. Once PROJECT_PURGE_STRAGGLER_SECONDS have passed
    since the deletion, no write can add more: the ``DeletedProject`` is marked purged
    and True returned. A project that is not deleted is left alone."""
    deletion = DeletedProject.objects.filter(project_id=project_id).first()
    if deletion is None or deletion.purged_at is not None:
        return deletion is not None
    now = now or timezone.now()
    Event.objects.filter(project_id=project_id).delete()
    EventKey.objects.filter(project_id=project_id).delete()
    with transaction.atomic():
        profiles_project_purge(project_id=project_id)  # the outbox rows of late writes
    if now < deletion.deleted_at + timedelta(seconds=PROJECT_PURGE_STRAGGLER_SECONDS):
        return False
    deletion.purged_at = now
    deletion.save(update_fields=["purged_at"])
    return True


def deleted_projects_purge(*, now: datetime | None = None) -> int:
    """Purge every deleted project not yet marked purged (the hourly task: covers a purge
    task lost with the broker). Returns how many are now done."""
    pending = DeletedProject.objects.filter(purged_at=None).order_by("deleted_at").values_list("project_id", flat=True)
    return sum(project_data_purge(project_id=project_id, now=now) for project_id in pending)


def _project_purge_queue(*, project_id: int) -> None:
    from ingestion.tasks import project_data_purge_task

    try:
        project_data_purge_task.delay(project_id)
        project_data_purge_task.apply_async((project_id,), countdown=PROJECT_PURGE_STRAGGLER_SECONDS + 5)
    except Exception as exc:  # any broker failure: kombu raises several kinds
        logger.warning("purge of deleted project %s not queued, the hourly purge will do it: %s", project_id, exc)

"""Shared fixtures: tenants and credentials made through the real services."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from dashboard.services import project_membership_grant
from ingestion.models import Project, Source
from ingestion.selectors import track_credentials_forget_all
from ingestion.services import access_token_create, api_key_create, source_provision
from profiles.services import outbox as identity_outbox
from trackhub.celery import app as celery_app
from trackhub.redis import redis_client

_source_ids = itertools.count(1001)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, driven by Playwright (tests marked ``browser``)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does it when root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def identity_queued_flags_cleared() -> None:
    """Forget "a drain is queued" flags left in the test Redis by earlier tests: project
    ids repeat across runs, and a stale flag would hold back a new project's drain. The
    same for this process's memory of drains queued (it would skip a kick)."""
    identity_outbox._drain_surely_ahead_until.clear()
    client = redis_client()
    if client is not None:
        keys = list(client.scan_iter("trackhub:identity:queued:*"))
        if keys:
            client.delete(*keys)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Staff passwords hashed with MD5 in the tests, as Django's testing docs advise:
    PBKDF2's million rounds take 0.25 s per password set or checked, which was a minute
    and a half of the suite. Only this process hashes so: the servers some tests start
    (gunicorn, celery) keep the real hashers, and those tests sign in with a session
    (``force_login``), which no hasher reads. ``tests/test_settings.py`` checks the
    product's own hashers."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def credential_copies_cleared() -> None:
    """Forget this process's cached credentials: ids repeat across tests' rolled-back
    rows, and each test starts as a fresh web process would."""
    track_credentials_forget_all()


@dataclass
class Tenant:
    """One org > project > source with a credential of every kind."""

    project: Project
    source: Source
    api_key: str
    bearer_token: str
    website_id: str
    read_token: str

    @property
    def intempt_url(self) -> str:
        org = self.project.organization.name
        return f"/{org}/projects/{self.project.name}/sources/{self.source.id}/track?apiKey={self.api_key}"


def tenant_create(
    *, org: str = "demo-organization", project: str = "demo-project", source_id: int | None = None
) -> Tenant:
    result = source_provision(org=org, project=project, source_id=source_id or next(_source_ids))
    source = Source.objects.select_related("project__organization").get(id=result.source_id)
    return Tenant(
        project=source.project,
        source=source,
        api_key=result.api_key,
        bearer_token=result.bearer_token,
        website_id=result.website_id,
        read_token=result.read_token,
    )


@pytest.fixture
def tenant(db: Any) -> Tenant:
    return tenant_create()


@pytest.fixture
def other_tenant(db: Any) -> Tenant:
    return tenant_create(org="other-org", project="other-project")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def read_client(tenant: Tenant) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.read_token}")
    return client


__all__ = ["Tenant", "access_token_create", "api_key_create", "tenant_create"]


@pytest.fixture
def member_client(client: Client, tenant: Tenant) -> Client:
    """Staff who is not a superuser, with every permission on TrackHub's models, a member
    of ``tenant``'s project only: what the admin lets them see is the membership's doing."""
    member = User.objects.create_user("member", password="pw-member-123", is_staff=True)
    member.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["ingestion", "profiles", "dashboard"])
    )
    project_membership_grant(user=member, project=tenant.project)
    client.force_login(member)
    return client


_SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@pytest.fixture
def django_assert_max_reads() -> Callable[[int], contextlib.AbstractContextManager[list[str]]]:
    """Like pytest-django's ``django_assert_max_num_queries``, without counting savepoints:
    a page or answer read in one snapshot (``trackhub.db.read_snapshot``) takes one inside
    a test's transaction (in production, one SET TRANSACTION). Yields the queries counted."""

    @contextlib.contextmanager
    def assert_max_reads(most: int) -> Iterator[list[str]]:
        reads: list[str] = []
        with CaptureQueriesContext(connection) as captured:
            yield reads
        reads += [query["sql"] for query in captured.captured_queries if not query["sql"].startswith(_SAVEPOINTS)]
        assert len(reads) <= most, f"{len(reads)} queries, at most {most} expected:\n" + "\n".join(reads)

    return assert_max_reads


@pytest.fixture
def ann_and_bob(client: Client, tenant: Tenant) -> Any:
    """Ann's and Bob's profiles, resolved apart (``tests.profiles.conftest.ann_and_bob_resolve``):
    the snapshot tests of the read API and of the dashboard merge Bob into Ann."""
    from tests.profiles.conftest import ann_and_bob_resolve

    return ann_and_bob_resolve(client, tenant)


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Celery running tasks in-process, as without a broker (with Redis still set)."""
    conf = celery_app.conf
    conf.task_always_eager = True
    try:
        yield
    finally:
        conf.task_always_eager = False

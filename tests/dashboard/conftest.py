"""Dashboard fixtures: staff users, events sent through the real track endpoint."""

from __future__ import annotations

import html
import itertools
import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from dashboard.services import project_membership_grant
from ingestion.models import Project
from profiles.models import Identity, Profile, ProfileMerge
from profiles.services import identity_work_sweep
from tests.conftest import Tenant

_event_ids = itertools.count(1)


def intempt_send(client: Client, tenant: Tenant, events: list[dict[str, Any]], *, name: str = "Purchase") -> Any:
    """POST Intempt events (each gets an eventId and a timestamp unless given)."""
    now_ms = int(timezone.now().timestamp() * 1000)
    payload = [
        {"eventId": f"evt-{next(_event_ids)}", "timestamp": now_ms, "userId": "ada@example.com", **event}
        for event in events
    ]
    body = json.dumps({"track": [{"name": name, "payload": payload}]})
    return client.post(tenant.intempt_url, data=body, content_type="application/json")


def identity_resolve() -> int:
    """Run identity resolution on every recorded batch now (what the worker and the sweep do)."""
    return identity_work_sweep(older_than=timedelta(0))


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def profile_make(
    *, project: Project, identifiers: list[str], attributes: dict[str, Any] | None = None, seen: datetime | None = None
) -> Profile:
    """A resolved profile owning ``identifiers`` (the state identity resolution leaves)."""
    seen = seen or timezone.now()
    profile = Profile.objects.create(
        project=project, attributes=attributes or {}, first_seen=seen - timedelta(days=3), last_seen=seen
    )
    Identity.objects.bulk_create([Identity(project=project, value=value, profile=profile) for value in identifiers])
    return profile


def profile_merge_make(*, survivor: Profile, merged: Profile, event_name: str, event_id: str) -> None:
    """``merged`` folded into ``survivor``: identities move, the old row points at the survivor."""
    Identity.objects.filter(profile=merged).update(profile=survivor)
    merged.merged_into = survivor
    merged.save(update_fields=["merged_into"])
    ProfileMerge.objects.create(
        project=survivor.project, survivor=survivor, merged=merged, event_name=event_name, event_id=event_id
    )


@pytest.fixture(autouse=True)
def fresh_cache() -> Any:
    """Chart aggregates are cached per project id; ids repeat between test databases."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff_user(tenant: Tenant) -> User:
    user = User.objects.create_user("sam", password="correct-horse-battery", is_staff=True)
    project_membership_grant(user=user, project=tenant.project)
    return user


def client_for(user: User) -> Client:
    """A test client signed in as ``user``."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(staff_user: User) -> Client:
    return client_for(staff_user)


@pytest.fixture
def superuser_client(db: Any) -> Client:
    return client_for(User.objects.create_superuser("root", password="root-password-123"))


def assert_source_link_opens_its_card(client: Client, page_url: str, *, source_id: int) -> None:
    """The page's Source link opens the sources page at that source's card."""
    body = client.get(page_url).content.decode()
    link = re.search(r'<dt>Source</dt><dd[^>]*><a href="([^"]*)#([^"]*)"', body)
    assert link is not None

    sources = client.get(link.group(1)).content.decode()

    card = re.search(rf'<article class="card source" id="{link.group(2)}" data-testid="source-(\d+)"', sources)
    assert card is not None and card.group(1) == str(source_id)


def invalid_fields(body: str) -> dict[str, str]:
    """Each form field marked aria-invalid, by name, with the text of the elements its
    aria-describedby names ("" for an id that is nowhere on the page): what a screen reader
    says of the error when the field is focused."""
    found = {}
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", body):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        if attrs.get("aria-invalid") != "true":
            continue
        texts = []
        for element_id in attrs.get("aria-describedby", "").split():
            element = re.search(rf'<[^>]* id="{re.escape(element_id)}"[^>]*>([^<]*)<', body)
            texts.append(html.unescape(element.group(1)) if element else "")
        found[attrs["name"]] = " ".join(texts)
    return found

"""The benchmark's request bodies are accepted by TrackHub, so ``bench.ingest`` measures
successful ingest of every format it finds (and fails loudly here when a format changes)."""

from __future__ import annotations

import pytest

from bench.bodies import LOADS, Credentials, loads_available
from ingestion.models import Event
from ingestion.urls import track_urlpatterns

pytestmark = pytest.mark.django_db

AVAILABLE = loads_available({pattern.name for pattern in track_urlpatterns if pattern.name})


def credentials_of(tenant) -> Credentials:
    return Credentials(
        org=tenant.project.organization.name, project=tenant.project.name, source_id=tenant.source.id,
        api_key=tenant.api_key, bearer_token=tenant.bearer_token, website_id=tenant.website_id,
    )  # fmt: skip


def test_every_wire_format_with_a_track_url_has_a_benchmark_body():
    # Intempt has more than one URL (its SDK's /v1/ forms): a format is benchmarked once.
    assert {load.wire_format for load in AVAILABLE} == {
        pattern.callback.view_class.adapter.wire_format
        for pattern in track_urlpatterns
        if pattern.name and pattern.name.startswith("track-")
    }


@pytest.mark.parametrize("load", AVAILABLE, ids=lambda load: load.wire_format)
def test_benchmark_body_is_stored_in_full(client, tenant, load):
    credentials = credentials_of(tenant)
    headers = {f"HTTP_{name.upper()}": value for name, value in load.headers(credentials).items()}

    response = client.post(
        load.path(credentials), data=load.body(5, "test"), content_type="application/json", **headers
    )

    assert response.status_code == load.success_status, response.content
    assert Event.objects.filter(project=tenant.project, wire_format=load.wire_format).count() == 5


def test_benchmark_bodies_are_unique_per_request(client, tenant):
    load = next(load for load in LOADS if load.wire_format == "intempt")
    credentials = credentials_of(tenant)

    for tag in ("a", "b"):
        client.post(load.path(credentials), data=load.body(3, tag), content_type="application/json")

    assert Event.objects.filter(project=tenant.project).count() == 6

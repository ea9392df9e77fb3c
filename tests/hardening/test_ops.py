"""/healthz, /readyz, /metrics, request ids and JSON log lines."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from django.utils.module_loading import import_string
from prometheus_client.parser import text_string_to_metric_families

from ingestion.models import Event
from ops.logging import RequestIdFilter
from profiles.models import IdentityWork
from tests.database import empty_database
from tests.hardening.formats import event_specs, post, present_formats

pytestmark = pytest.mark.django_db

FORMATS = present_formats()


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_healthz_answers_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok"


def test_readyz_is_200_when_database_and_broker_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
def empty_database_url():
    """A PostgreSQL database with no tables at all (never migrated), dropped afterwards."""
    with empty_database("unmigrated") as url:
        yield url


def test_readyz_is_503_naming_the_schema_on_an_unmigrated_database(empty_database_url):
    code = "r = Client().get('/readyz'); print(r.status_code, r.json()['failing'])"

    assert _on_unmigrated(empty_database_url, code) == "503 ['schema']"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_answer_head_as_uptime_checks_send_it(client, path):
    response = client.head(path)

    assert response.status_code == 200
    assert response.content == b""


@override_settings(ALLOWED_HOSTS=["track.example.com"])
@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_answer_whatever_host_they_were_addressed_by(client, path):
    # A Kubernetes probe or a scraper reaches the process by its address.
    response = client.get(path, HTTP_HOST="10.1.2.3:8000")

    assert response.status_code == 200


@override_settings(ALLOWED_HOSTS=["track.example.com"])
def test_other_urls_still_refuse_a_host_not_allowed(client):
    assert client.get("/api/v1/events/", HTTP_HOST="10.1.2.3:8000").status_code == 400


def _on_unmigrated(database_url: str, code: str) -> str:
    """The last line ``code`` prints, run in a process whose database is ``database_url``
    (with DEBUG off, as in production: Django's handler500 answers failures)."""
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SECRET_KEY": "s", "DJANGO_ALLOWED_HOSTS": "*"}
    env["DJANGO_DEBUG"] = "0"
    env["DJANGO_SETTINGS_MODULE"] = "trackhub.settings"
    setup = "import django; django.setup(); from django.test import Client; "
    result = subprocess.run([sys.executable, "-c", setup + code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def unreachable_database_url() -> str:
    """A PostgreSQL URL at a port nothing listens on: the database down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgres://postgres@127.0.0.1:{port}/trackhub"


# A signed-in browser: its session is read from the database on every page.
_SIGNED_IN_GET = "c = Client(raise_request_exception=False); c.cookies['sessionid'] = 'x' * 32; r = c.get('{path}'); "


@pytest.mark.parametrize("path", ["/dashboard/", "/admin/", "/admin/ingestion/event/"])
def test_a_signed_in_page_is_503_not_500_while_the_database_is_down(unreachable_database_url, path):
    code = _SIGNED_IN_GET.format(path=path) + "print(r.status_code, r['Retry-After'], b'database' in r.content)"

    assert _on_unmigrated(unreachable_database_url, code) == "503 5 True"


def test_a_signed_in_page_is_503_not_500_on_an_unmigrated_database(empty_database_url):
    code = _SIGNED_IN_GET.format(path="/dashboard/") + "print(r.status_code, r['Retry-After'])"

    assert _on_unmigrated(empty_database_url, code) == "503 5"


def test_metrics_answer_without_the_queue_when_the_database_cannot(empty_database_url):
    code = (
        "r = Client().get('/metrics'); text = r.content.decode(); "
        "print(r.status_code, 'trackhub_database_up 0.0' in text, 'trackhub_identity_queue_pending' in text)"
    )

    assert _on_unmigrated(empty_database_url, code) == "200 True False"


def test_the_read_api_on_an_unmigrated_database_is_503_not_500(empty_database_url):
    code = (
        "r = Client().get('/api/v1/events/', HTTP_AUTHORIZATION='Bearer tok_x.y'); "
        "print(r.status_code, r['Retry-After'])"
    )

    assert _on_unmigrated(empty_database_url, code) == "503 5"


def test_metrics_are_refused_to_other_networks(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 403


@override_settings(TRACKHUB_METRICS_ALLOW=["203.0.113.0/24"])
def test_metrics_are_answered_for_allowed_networks(client):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="198.51.100.1").status_code == 403


def test_metrics_ignore_a_forged_forwarded_header(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="127.0.0.1")

    assert response.status_code == 403


@pytest.mark.parametrize(
    "header",
    [
        {"HTTP_X_FORWARDED_FOR": "198.51.100.1"},
        {"HTTP_X_FORWARDED_PROTO": "https"},
        {"HTTP_FORWARDED": "for=198.51.100.1;proto=https"},
        {"HTTP_X_REAL_IP": "198.51.100.1"},
    ],
    ids=lambda header: next(iter(header)),
)
def test_metrics_are_refused_to_a_request_a_proxy_on_this_machine_forwarded(client, header):
    # A TLS proxy on the web machine connects from loopback: without this, anyone on the
    # internet could read /metrics through it.
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **header)

    assert response.status_code == 403


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f.deduplicates], ids=lambda f: f.name)
def test_event_counters_count_accepted_deduplicated_and_rejected_per_source_and_format(client, tenant, fmt):
    labels = {"source": str(tenant.source.id), "format": fmt.name}
    before = scrape(client)
    body = fmt.body(event_specs(1, prefix="m"))

    post(client, fmt, tenant, body)
    post(client, fmt, tenant, body)  # a retry: deduplicated
    after = scrape(client)

    assert (
        value(after, "trackhub_events_accepted_total", **labels)
        - value(before, "trackhub_events_accepted_total", **labels)
        == 2
    )
    assert (
        value(after, "trackhub_events_deduplicated_total", **labels)
        - value(before, "trackhub_events_deduplicated_total", **labels)
        == 1
    )


def test_rejected_events_and_rejected_requests_are_counted_per_source(client, tenant):
    fmt = FORMATS[0]
    labels = {"source": str(tenant.source.id), "format": fmt.name}
    before = scrape(client)

    post(client, fmt, tenant, b'{"track": [{"name": "x", "payload": [{}, {}]}]}')  # two bad events
    post(client, fmt, tenant, b"not json")
    after = scrape(client)

    rejected = "trackhub_events_rejected_total"
    requests = "trackhub_requests_rejected_total"
    assert value(after, rejected, **labels) - value(before, rejected, **labels) == 2
    assert value(after, requests, **labels, status="400") - value(before, requests, **labels, status="400") == 1


def series_of(samples, name: str, label: str) -> set[str]:
    return {dict(labels).get(label, "") for (sample, labels) in samples if sample == name}


def test_a_made_up_source_id_in_a_track_path_adds_no_metric_series(client, db):
    made_up = ["9" * 18, "abc", "x" * 2000]
    unknown = {"source": "unknown", "format": "intempt", "status": "401"}
    before = scrape(client)

    for source_id in made_up:
        assert (
            client.post(
                f"/o/projects/p/sources/{source_id}/track", data="{}", content_type="application/json"
            ).status_code
            == 401
        )
    after = scrape(client)

    assert not series_of(after, "trackhub_requests_rejected_total", "source") & set(made_up)
    name = "trackhub_requests_rejected_total"
    assert value(after, name, **unknown) - value(before, name, **unknown) == 3


def test_a_refused_request_to_a_real_sources_path_is_counted_under_that_source(client, tenant, other_tenant):
    labels = {"source": str(tenant.source.id), "format": "intempt", "status": "401"}
    before = scrape(client)
    url = tenant.intempt_url.replace(tenant.api_key, other_tenant.api_key)

    assert client.post(url, data="{}", content_type="application/json").status_code == 401
    after = scrape(client)

    name = "trackhub_requests_rejected_total"
    assert value(after, name, **labels) - value(before, name, **labels) == 1


def test_a_refused_credential_of_a_known_source_is_counted_under_that_source(client, tenant, other_tenant):
    from ingestion.models import Website
    from ingestion.services import access_token_create

    Website.objects.filter(id=tenant.website_id).update(allowed_origins=["https://shop.example"])
    _, scopeless = access_token_create(project=tenant.project, source=tenant.source)
    before = scrape(client)

    refused = [
        # A browser on an origin the website does not allow.
        client.post(f"/track?website_id={tenant.website_id}", data='{"name": "x"}',
                    content_type="text/plain", HTTP_ORIGIN="https://elsewhere.example"),
        # A key with the website of another project.
        client.post(f"/track?website_id={other_tenant.website_id}", data='{"name": "x"}',
                    content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {tenant.api_key}"),
        # A track token without its scopes.
        client.post("/api/track", data="[]", content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {scopeless}"),
    ]  # fmt: skip
    after = scrape(client)

    assert [response.status_code for response in refused] == [403, 404, 401]
    name = "trackhub_requests_rejected_total"
    source = str(tenant.source.id)
    for fmt, status in (("databuddy", "403"), ("databuddy", "404"), ("thrivestack", "401")):
        labels = {"source": source, "format": fmt, "status": status}
        assert value(after, name, **labels) - value(before, name, **labels) == 1, (fmt, status)
    assert not Event.objects.exists()


def test_a_revoked_expired_or_wrong_secret_credential_is_counted_under_its_source(client, tenant):
    from datetime import timedelta

    from ingestion.models import AccessToken
    from ingestion.services import access_token_create, api_key_create, credential_revoke

    _, revoked_key = api_key_create(source=tenant.source)
    credential_revoke(presented_or_identifier=revoked_key)
    expired, expired_token = access_token_create(project=tenant.project, source=tenant.source, scopes=["track_api"])
    AccessToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    wrong_secret = tenant.api_key.split(".")[0] + ".not-the-secret"
    before = scrape(client)

    refused = [
        client.post("/v1/track", data="{}", content_type="application/json",
                    HTTP_AUTHORIZATION=f"Token {revoked_key}"),
        client.post("/api/track", data="[]", content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {expired_token}"),
        client.post("/v1/track", data="{}", content_type="application/json",
                    HTTP_AUTHORIZATION=f"Token {wrong_secret}"),
        # Names no credential at all: nothing to count it under.
        client.post("/v1/track", data="{}", content_type="application/json",
                    HTTP_AUTHORIZATION="Token key_0000000000000000.nothing"),
    ]  # fmt: skip
    after = scrape(client)

    assert [response.status_code for response in refused] == [401, 401, 401, 401]
    name = "trackhub_requests_rejected_total"
    source = str(tenant.source.id)
    for fmt, expected in (("userpilot", 2), ("thrivestack", 1)):
        labels = {"source": source, "format": fmt, "status": "401"}
        assert value(after, name, **labels) - value(before, name, **labels) == expected, fmt
    unknown = {"source": "unknown", "format": "userpilot", "status": "401"}
    assert value(after, name, **unknown) - value(before, name, **unknown) == 1
    assert not Event.objects.exists()


def test_a_made_up_http_method_is_labelled_other(client):
    before = scrape(client)

    client.generic("QWERTY1", "/healthz")
    after = scrape(client)

    name = "trackhub_request_duration_seconds_count"
    assert "QWERTY1" not in series_of(after, name, "method")
    route = {"route": "healthz", "method": "other"}
    assert value(after, name, **route) - value(before, name, **route) == 1


def test_request_latency_is_observed_per_route(client, tenant):
    fmt = FORMATS[0]
    before = scrape(client)

    post(client, fmt, tenant, fmt.body(event_specs(1)))
    after = scrape(client)

    name = "trackhub_request_duration_seconds_count"
    route = {"route": "track-intempt", "method": "POST"}
    assert value(after, name, **route) - value(before, name, **route) == 1


def test_identity_queue_lag_is_the_age_of_the_oldest_pending_work(client):
    assert value(scrape(client), "trackhub_identity_queue_lag_seconds") == 0
    IdentityWork.objects.create(project_id=1, facts=[], created_at=timezone.now() - timedelta(minutes=5))
    IdentityWork.objects.create(
        project_id=1, facts=[], created_at=timezone.now() - timedelta(hours=1), processed_at=timezone.now()
    )

    samples = scrape(client)

    assert 300 <= value(samples, "trackhub_identity_queue_lag_seconds") < 3600
    assert value(samples, "trackhub_identity_queue_pending") == 1


def test_every_response_carries_a_request_id_and_keeps_a_sane_client_one(client):
    generated = client.get("/healthz")
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="client-req-42")
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")

    assert len(generated["X-Request-ID"]) == 36
    assert kept["X-Request-ID"] == "client-req-42"
    assert replaced["X-Request-ID"] != "bad id\nwith newline"


def test_log_lines_are_json_with_the_request_id(client, tenant):
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        client.post(
            tenant.intempt_url + "x", data=b"{}", content_type="application/json", HTTP_X_REQUEST_ID="trace-123"
        )
    finally:
        handler.setStream(previous)

    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert lines
    assert any(line["request_id"] == "trace-123" and line["level"] == "WARNING" for line in lines)
    assert all({"ts", "level", "logger", "message"} <= line.keys() for line in lines)


def test_a_text_log_line_cannot_be_split_by_a_newline_a_client_sent(settings):
    # TRACKHUB_LOG_FORMAT=text: the formatter as the settings build it.
    config = settings.LOGGING["formatters"]["text"]
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(import_string(config["()"])(fmt=config["format"]))
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("tests.text_log")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("Not Found: %s", "/x\n2026-11-25 03:00:00,000 ERROR django.request forged\r")
    finally:
        logger.removeHandler(handler)

    lines = handler.stream.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("Not Found: /x\\n2026-11-25 03:00:00,000 ERROR django.request forged\\r")

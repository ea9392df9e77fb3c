"""The embedded setup (SQLite, Celery in-process, no Redis) runs the whole track path and
the export: the suite's other tests run on PostgreSQL, where the hot path uses
PostgreSQL-only SQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import json, os, sys
import django
django.setup()
from django.test import Client
from ingestion.models import Event
from profiles.models import IdentityWork, Profile
creds = json.loads(sys.argv[1])
client = Client()
intempt = client.post(
    f"/o/projects/p/sources/5/track?apiKey={creds['api_key']}",
    json.dumps({"track": [{"name": "Signup", "payload": [
        {"eventId": "1", "userId": "a", "anotherUserId": "b", "timestamp": 1000}]}]}),
    content_type="application/json",
)
thrivestack = client.post(
    "/api/track",
    json.dumps([{"event_name": "x", "user_id": "c", "timestamp": "2024-01-01T00:00:00Z", "properties": {}}]),
    content_type="application/json",
    HTTP_AUTHORIZATION=f"Bearer {creds['bearer_token']}",
)
databuddy_browser = client.post(
    f"/track?website_id={creds['website_id']}",
    json.dumps([{"name": "page_view", "anonymousId": "d", "timestamp": 1000}]),
    content_type="application/json",
)
# 3,000 more events on one timestamp, so the export's 2,000-row chunks split a tie.
bulk = [
    client.post(
        f"/o/projects/p/sources/5/track?apiKey={creds['api_key']}",
        json.dumps({"track": [{"name": "Bulk", "payload": [
            {"eventId": f"bulk-{batch}-{n}", "userId": "e", "timestamp": 2000} for n in range(1000)]}]}),
        content_type="application/json",
    ).status_code
    for batch in range(3)
]
export = client.get("/api/v1/events/export.ndjson", HTTP_AUTHORIZATION=f"Bearer {creds['read_token']}")
exported = [json.loads(line)["id"] for line in b"".join(export.streaming_content).splitlines()]
print(json.dumps({
    "statuses": [
        intempt.status_code, thrivestack.status_code, databuddy_browser.status_code, *bulk, export.status_code
    ],
    "exported": [len(exported), len(set(exported))],
    "events": Event.objects.count(),
    "profiles": sorted(len(p.identities.all()) for p in Profile.objects.prefetch_related("identities")),
    "pending": IdentityWork.objects.filter(processed_at__isnull=True).count(),
}))
"""


def test_embedded_setup_stores_events_and_resolves_profiles_in_process(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "CELERY_", "REDIS_", "TRACKHUB_"))
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
        DJANGO_SECRET_KEY="embedded-test",
        DJANGO_SETTINGS_MODULE="trackhub.settings",
        DJANGO_ALLOWED_HOSTS="testserver",
        PYTHONPATH=str(ROOT),
    )

    def run(*args: str) -> str:
        result = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    run("manage.py", "migrate", "--verbosity", "0")
    creds = run("manage.py", "provision", "--org", "o", "--project", "p", "--source-id", "5", "--json")
    outcome = json.loads(run("-c", SCRIPT, creds).strip().splitlines()[-1])

    assert outcome == {
        "statuses": [200, 200, 200, 200, 200, 200, 200],
        "exported": [3003, 3003],
        "events": 3003,
        "profiles": [1, 1, 1, 2],
        "pending": 0,
    }

"""The embedded setup (SQLite, Celery in-process, no Redis) runs the whole track path and
the export: the suite's other tests run on PostgreSQL, where the hot path uses
PostgreSQL-only SQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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


class Embedded:
    """A migrated SQLite database with one provisioned source; ``script`` runs Python with
    Django set up on it and answers the JSON its last line prints."""

    def __init__(self, database: Path, creds: str | None = None) -> None:
        self.database = database
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "DATABASE_", "CELERY_", "REDIS_", "TRACKHUB_"))
        }
        self.env.update(
            DATABASE_URL=f"sqlite:///{database}",
            DJANGO_SECRET_KEY="embedded-test",
            DJANGO_SETTINGS_MODULE="trackhub.settings",
            DJANGO_ALLOWED_HOSTS="testserver",
            PYTHONPATH=str(ROOT),
        )
        if creds is None:
            self.run("manage.py", "migrate", "--verbosity", "0")
            creds = self.run("manage.py", "provision", "--org", "o", "--project", "p", "--source-id", "5", "--json")
        self.creds = creds

    def copy(self, directory: Path) -> Embedded:
        """The same database, copied into ``directory``: migrating and provisioning take
        seconds, copying the file none."""
        shutil.copy(self.database, directory / self.database.name)
        return Embedded(directory / self.database.name, self.creds)

    def run(self, *args: str) -> str:
        return self.run_with_stderr(*args)[0]

    def run_with_stderr(self, *args: str) -> tuple[str, str]:
        result = subprocess.run(
            [sys.executable, *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout, result.stderr

    def script(self, source: str) -> Any:
        return json.loads(self.run("-c", source, self.creds).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def embedded_migrated(tmp_path_factory: pytest.TempPathFactory) -> Embedded:
    return Embedded(tmp_path_factory.mktemp("embedded") / "embedded.sqlite3")


@pytest.fixture
def embedded(embedded_migrated: Embedded, tmp_path: Path) -> Embedded:
    return embedded_migrated.copy(tmp_path)


def test_embedded_setup_stores_events_and_resolves_profiles_in_process(embedded):
    outcome = embedded.script(SCRIPT)

    assert outcome == {
        "statuses": [200, 200, 200, 200, 200, 200, 200],
        "exported": [3003, 3003],
        "events": 3003,
        "profiles": [1, 1, 1, 2],
        "pending": 0,
    }


PROPERTY_SCRIPT = """
import json, sys
import django
django.setup()
from django.test import Client
creds = json.loads(sys.argv[1])
client = Client()
data = {"text": "h\u00e9llo", "n": 120, "s": "120", "f": 1.5, "b": True, "o": {"a": 1}, "123": "k"}
client.post(
    f"/o/projects/p/sources/5/track?apiKey={creds['api_key']}",
    json.dumps({"track": [{"name": "Typed", "payload": [{"eventId": "typed", "userId": "u", "data": data}]}]}),
    content_type="application/json",
)
queries = [["text", "h\u00e9llo"], ["n", "120"], ["s", "120"], ["f", "1.5"], ["b", "true"], ["123", "k"],
           ["text", "hello"], ["o", '{"a": 1}'], ["missing", "x"]]
answers = []
for key, value in queries:
    response = client.get("/api/v1/events/", {"property": key, "value": value},
                          HTTP_AUTHORIZATION=f"Bearer {creds['read_token']}")
    answers.append([response.status_code, len(response.json().get("results", []))])
for key in ["text", "o", "123", "missing"]:  # the property alone: the events that have it
    response = client.get("/api/v1/events/", {"property": key}, HTTP_AUTHORIZATION=f"Bearer {creds['read_token']}")
    answers.append([response.status_code, len(response.json().get("results", []))])
print(json.dumps(answers))
"""


def test_property_value_filter_works_on_sqlite(embedded):
    answers = embedded.script(PROPERTY_SCRIPT)

    assert answers == [[200, 1]] * 6 + [[200, 0]] * 3 + [[200, 1]] * 3 + [[200, 0]]


CONCURRENT_SCRIPT = """
import json, sys, threading
import django
django.setup()
from django.db import connection
from django.test import Client
from ingestion.models import Event
creds = json.loads(sys.argv[1])
statuses = []

def send(thread):
    client = Client()
    for batch in range(3):
        body = {"track": [{"name": "Burst", "payload": [
            {"eventId": f"{thread}-{batch}-{n}", "userId": f"u{thread}", "timestamp": 1000} for n in range(30)]}]}
        response = client.post(
            f"/o/projects/p/sources/5/track?apiKey={creds['api_key']}", json.dumps(body),
            content_type="application/json",
        )
        statuses.append(response.status_code)
    connection.close()

threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"statuses": sorted(set(statuses)), "answers": len(statuses), "events": Event.objects.count()}))
"""


def test_concurrent_writers_on_sqlite_wait_for_the_lock_instead_of_failing(embedded):
    outcome = embedded.script(CONCURRENT_SCRIPT)

    assert outcome == {"statuses": [200], "answers": 24, "events": 720}


ERASE_SCRIPT = """
import json, sys
import django
django.setup()
from django.test import Client
creds = json.loads(sys.argv[1])
client = Client()
url = f"/o/projects/p/sources/5/track?apiKey={creds['api_key']}"
for items in ([{"eventId": "1", "userId": "alice", "timestamp": 1000},
               {"eventId": "2", "userId": "bob", "timestamp": 1000}],
              [{"eventId": "3", "userId": "alice", "data": {"note": "\\u0000"}}],
              [{"eventId": "4", "userId": "bob", "data": {"note": "\\u0000"}}]):
    client.post(url, json.dumps({"track": [{"name": "Signup", "payload": items}]}), content_type="application/json")
print(json.dumps({}))
"""

COUNT_SCRIPT = """
import json
import django
django.setup()
from ingestion.models import Event, RejectedEvent
from profiles.models import Identity
print(json.dumps({
    "events": sorted(Event.objects.values_list("user_id", flat=True)),
    "rejected": sorted(RejectedEvent.objects.values_list("payload__payload__0__userId", flat=True)),
    "identities": sorted(Identity.objects.values_list("value", flat=True)),
}))
"""


def test_embedded_setup_erases_a_person(embedded):
    embedded.script(ERASE_SCRIPT)

    printed = embedded.run(
        "manage.py", "erase_profile", "--org", "o", "--project", "p", "--identifier", "alice", "--yes", "--json"
    )

    erased = json.loads(printed)
    assert isinstance(erased.pop("profile_id"), int)
    assert erased == {"identifiers": ["alice"], "profiles": 1, "events": 1, "rejected_events": 1}
    assert embedded.script(COUNT_SCRIPT) == {"events": ["bob"], "rejected": ["bob"], "identities": ["bob"]}


ADMIN_LOOKUP_SCRIPT = """
import json, sys
import django
django.setup()
from django.contrib.auth.models import User
from django.test import Client
creds = json.loads(sys.argv[1])
client = Client()
client.post(  # an event: SQLite runs ``__regex`` only on a row
    f"/o/projects/p/sources/5/track?apiKey={creds['api_key']}",
    json.dumps({"track": [{"name": "Signup", "payload": [{"eventId": "1", "userId": "a", "timestamp": 1000}]}]}),
    content_type="application/json",
)
client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
queries = ["project=9223372036854775808", "timestamp__gte=0001-01-01T00:00:00%2B00:01", "name__regex=%28"]
answers = [client.get(f"/admin/ingestion/event/?{query}") for query in queries]
print(json.dumps([[answer.status_code, answer.get("Location")] for answer in answers]))
"""


def test_admin_list_lookups_sqlite_cannot_run_are_bad_lookups_not_a_500(embedded):
    # The first two raise OverflowError on SQLite (PostgreSQL takes them); a bad regular
    # expression fails in the Python function SQLite runs ``__regex`` with, an
    # OperationalError that is no database being unavailable (it was a 503).
    answers = embedded.script(ADMIN_LOOKUP_SCRIPT)

    assert answers == [[302, "/admin/ingestion/event/?e=1"]] * 3


PREFIX_SEARCH_SCRIPT = """
import json, re, sys
import django
django.setup()
from django.contrib.auth.models import User
from django.test import Client
from ingestion.models import Project
creds = json.loads(sys.argv[1])
client = Client()
client.post(
    f"/o/projects/p/sources/5/track?apiKey={creds['api_key']}",
    json.dumps({"track": [{"name": "Signup", "payload": [
        {"eventId": "1", "userId": "alice", "timestamp": 1000},
        {"eventId": "2", "userId": "Alicia", "timestamp": 1000}]}]}),
    content_type="application/json",
)
client.force_login(User.objects.create_superuser("root", password="pw-root-123"))
project = Project.objects.get()
found = []
for query in ["ali", "ALI", "Ali", "alice", "ALICE"]:
    page = client.get(f"/dashboard/{project.id}/profiles/", {"q": query}).content.decode()
    found.append(sorted(set(re.findall(r'<span class="chip">([A-Za-z]+)</span>', page))))
print(json.dumps(found))
"""


def test_the_dashboards_profile_search_matches_case_as_on_postgresql(embedded):
    # SQLite's LIKE (Django's ``startswith`` there) ignores the case of ASCII letters:
    # "ALI" found alice's profile, which PostgreSQL's does not.
    found = embedded.script(PREFIX_SEARCH_SCRIPT)

    assert found == [["alice"], [], ["Alicia"], ["alice"], []]


RESEND_SCRIPT = """
import json, sys
import django
django.setup()
from django.test import Client
from ingestion.models import Event
from profiles.models import Identity
creds = json.loads(sys.argv[1])
response = Client().post(
    f"/o/projects/p/sources/5/track?apiKey={creds['api_key']}",
    json.dumps({"track": [{"name": "Signup", "payload": [{"eventId": "1", "userId": "alice", "timestamp": 1000}]}]}),
    content_type="application/json",
)
print(json.dumps({
    "status": response.status_code,
    "events": sorted(Event.objects.values_list("user_id", flat=True)),
    "identities": sorted(Identity.objects.values_list("value", flat=True)),
}))
"""


def test_an_erased_persons_event_sent_again_is_not_stored_again_on_sqlite(embedded):
    # identity.md: the erased events' dedupe keys stay, "so a retried old request cannot
    # bring the person back". SQLite deduplicated on the events table alone, so the
    # retry stored alice's event and made her profile again.
    embedded.script(ERASE_SCRIPT)
    embedded.run("manage.py", "erase_profile", "--org", "o", "--project", "p", "--identifier", "alice", "--yes")

    assert embedded.script(RESEND_SCRIPT) == {"status": 200, "events": ["bob"], "identities": ["bob"]}


QUIET_SCRIPT = """
import json, sys
import django
django.setup()
from django.test import Client
from profiles.models import Profile
creds = json.loads(sys.argv[1])
response = Client().post(
    f"/o/projects/p/sources/5/track?apiKey={creds['api_key']}",
    json.dumps({"track": [{"name": "X", "payload": [{"eventId": "e1", "userId": "u1", "anotherUserId": "a1"}]}]}),
    content_type="application/json",
)
print(json.dumps([response.status_code, Profile.objects.count()]))
"""


def test_identity_work_run_in_process_logs_nothing_on_success(embedded):
    out, err = embedded.run_with_stderr("-c", QUIET_SCRIPT, embedded.creds)

    assert json.loads(out) == [200, 1]  # resolved in the request, in this process
    # No log line: no "Task ... succeeded", no kombu "No hostname was supplied".
    assert [line for line in err.splitlines() if line.startswith("{")] == []

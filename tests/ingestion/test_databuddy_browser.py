"""Databuddy's client-side tracking from a real headless Chromium (Debian's ``chromium``).

A page served from one loopback origin posts an event with ``fetch`` (JSON, so the
browser sends a CORS preflight first) to TrackHub's live server on another; the page
writes what the browser let it read into the DOM, which Chromium dumps.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ingestion.models import Event, Website
from tests.conftest import CHROMIUM, tenant_create

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def chromium_installed() -> None:
    """CI installs it: a missing browser fails these tests rather than skipping them (as
    ``tests.conftest.browser`` does)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does it when root)")


PAGE = """<!doctype html><html><body><pre id="result">pending</pre><script>
fetch(%(url)s, {
  method: "POST",
  headers: {"Content-Type": "application/json"},
  body: JSON.stringify({name: "video_played", properties: {video_id: "intro-2024", duration: 120}}),
})
  .then((response) => response.json().then((body) => ({status: response.status, body})))
  .then((result) => { document.getElementById("result").textContent = JSON.stringify(result); })
  .catch((error) => { document.getElementById("result").textContent = "blocked: " + error; });
</script></body></html>"""

# A flush of the track queue of Databuddy's browser tracker (packages/tracker): its
# HttpClient's default headers, ``keepalive``, ``credentials: "omit"``, and the event
# shape its ``trackEvent`` queues.
TRACKER_PAGE = """<!doctype html><html><body><pre id="result">pending</pre><script>
const url = %(url)s;
fetch(url, {
  method: "POST",
  keepalive: true,
  credentials: "omit",
  headers: {
    "Content-Type": "application/json",
    "databuddy-client-id": %(website_id)s,
    "databuddy-sdk-name": "web",
    "databuddy-sdk-version": "2.0.0",
  },
  body: JSON.stringify([{
    eventId: "5b0e8f7e-2f6a-4a55-9d55-0d3c1c7e3d11", name: "signup_started", timestamp: 1714631904000,
    path: "https://shop.example/pricing", anonymousId: "anon_8c2d0a3e-7b1f-4c55-a3a4-2f0e9d1b6c77",
    sessionId: "sess_0f4b2a9c-6d3e-4f1a-9b8c-7e6d5c4b3a21", websiteId: %(website_id)s, source: "browser",
  }]),
})
  .then((response) => response.json().then((body) => ({status: response.status, body})))
  .then((result) => { document.getElementById("result").textContent = JSON.stringify(result); })
  .catch((error) => { document.getElementById("result").textContent = "blocked: " + error; });
</script></body></html>"""


# The first try of Databuddy's browser tracker for every queue flush (HttpClient.post with
# ``keepalive``): ``navigator.sendBeacon`` with a JSON Blob. A beacon always carries
# credentials, and a JSON one is preflighted; ``true`` means only that it was queued, so
# the tracker counts the events as sent and never retries them.
BEACON_PAGE = """<!doctype html><html><body><pre id="result">pending</pre><script>
const events = [{name: "beacon_sent", timestamp: 1714631904000, anonymousId: "anon-beacon", source: "browser"}];
const blob = new Blob([JSON.stringify(events)], {type: "application/json"});
document.getElementById("result").textContent = String(navigator.sendBeacon(%(url)s, blob));
</script></body></html>"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def page_origin(tmp_path):
    """Serve ``tmp_path`` on a loopback port of its own: the page's origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_page(tmp_path, page_origin: str, track_url: str, *, page: str = PAGE, website_id: str = "") -> str:
    (tmp_path / "page.html").write_text(page % {"url": json.dumps(track_url), "website_id": json.dumps(website_id)})
    completed = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
            f"{page_origin}/page.html",
        ],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    start = completed.stdout.index('<pre id="result">') + len('<pre id="result">')
    return completed.stdout[start : completed.stdout.index("</pre>", start)]


def test_a_page_of_an_allowed_origin_tracks_and_reads_the_answer(live_server, tmp_path, page_origin):
    tenant = tenant_create(org="browser-org", project="browser-project")
    Website.objects.filter(id=tenant.website_id).update(allowed_origins=[page_origin])

    result = run_page(tmp_path, page_origin, f"{live_server.url}/track?website_id={tenant.website_id}")

    assert json.loads(result) == {"status": 200, "body": {"status": "success", "type": "custom_event", "count": 1}}
    event = Event.objects.get()
    assert (event.name, event.source_id, event.wire_format) == ("video_played", tenant.source.id, "databuddy")


def test_a_page_of_another_origin_is_blocked_and_stores_nothing(live_server, tmp_path, page_origin):
    tenant = tenant_create(org="browser-org", project="browser-project")
    Website.objects.filter(id=tenant.website_id).update(allowed_origins=["https://shop.example"])

    result = run_page(tmp_path, page_origin, f"{live_server.url}/track?website_id={tenant.website_id}")

    assert result.startswith("blocked: ")
    assert Event.objects.count() == 0


def test_databuddys_own_tracker_tracks_with_its_extra_headers(live_server, tmp_path, page_origin):
    tenant = tenant_create(org="browser-org", project="browser-project")
    url = f"{live_server.url}/track?website_id={tenant.website_id}"

    result = run_page(tmp_path, page_origin, url, page=TRACKER_PAGE, website_id=tenant.website_id)

    assert json.loads(result) == {"status": 200, "body": {"status": "success", "type": "custom_event", "count": 1}}
    event = Event.objects.get()
    assert (event.name, event.anonymous_id, event.context["source"]) == (
        "signup_started", "anon_8c2d0a3e-7b1f-4c55-a3a4-2f0e9d1b6c77", "browser",
    )  # fmt: skip


def events_within(seconds: float) -> list[Event]:
    """The stored events once there are any, waiting up to ``seconds`` (a beacon is sent
    after the page has nothing more to say)."""
    deadline = time.monotonic() + seconds
    while not (events := list(Event.objects.all())) and time.monotonic() < deadline:
        time.sleep(0.1)
    return events


@pytest.mark.parametrize("origins", [[], ["page"]], ids=["any origin", "listed origin"])
def test_a_json_beacon_like_the_trackers_first_try_is_delivered(live_server, tmp_path, page_origin, origins):
    tenant = tenant_create(org="browser-org", project="browser-project")
    Website.objects.filter(id=tenant.website_id).update(
        allowed_origins=[page_origin if origin == "page" else origin for origin in origins]
    )

    result = run_page(
        tmp_path, page_origin, f"{live_server.url}/track?website_id={tenant.website_id}", page=BEACON_PAGE
    )

    assert result == "true"
    assert [(event.name, event.anonymous_id) for event in events_within(10)] == [("beacon_sent", "anon-beacon")]

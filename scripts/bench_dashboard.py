"""Time every dashboard page against a project with many events (default one million).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/trackhub_bench \\
        .venv/bin/python scripts/bench_dashboard.py --events 1000000

Fills the project once with generate_series (PostgreSQL only; rerunning reuses it), then,
as a superuser through the Django test client, requests each page once with an empty
chart cache (a project's first view), then ``--repeat`` times with the charts counted
(what the refresh task keeps cached): milliseconds of the first view, p50 and p95 of the
later ones, and queries per page. Also prints how long the worker's 30-day count takes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackhub.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from dashboard.services import project_activity_refresh  # noqa: E402
from ingestion.models import Event  # noqa: E402
from ingestion.services import organization_project_ensure, source_ensure  # noqa: E402
from profiles.models import Identity, Profile  # noqa: E402

FILL = """
INSERT INTO ingestion_event (project_id, source_id, wire_format, name, event_id, timestamp, received_at,
                             user_id, identity_key, account_id, properties, context)
SELECT %(project)s, %(first_source)s + (g %% 3), 'intempt',
       (ARRAY['Page Viewed','Page Viewed','Page Viewed','Feature Used','Feature Used','Signup','Purchase',
              'Invite Sent','Login','Logout'])[1 + (g %% 10)],
       'bench-' || g,
       now() - make_interval(secs => (g::double precision / %(events)s) ^ 2 * 45 * 86400),
       now() - make_interval(secs => (g::double precision / %(events)s) ^ 2 * 45 * 86400),
       'user' || (g %% 50000) || '@example.com', 'user' || (g %% 50000) || '@example.com',
       'account' || (g %% 500),
       jsonb_build_object('plan', (ARRAY['free','pro','team'])[1 + (g %% 3)], 'amount', g %% 200),
       '{}'::jsonb
FROM generate_series(1, %(events)s) AS g
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20, help="later views per page (default 20)")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    project = organization_project_ensure(org="bench", project=f"events-{args.events}")
    first_source = 900_000_000 + project.id * 10
    for offset in range(3):
        source_ensure(project=project, source_id=first_source + offset)
    if not Event.objects.filter(project=project).exists():
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(FILL, {"project": project.id, "first_source": first_source, "events": args.events})
            # VACUUM as autovacuum would: it also summarizes the BRIN index on id.
            cursor.execute("VACUUM ANALYZE ingestion_event")
        print(f"filled {args.events} events in {time.perf_counter() - started:.1f}s")
    user = "user1@example.com"
    profile = Identity.objects.filter(project=project, value=user).first()
    if profile is None:
        first = Event.objects.filter(project=project, identity_key=user).order_by("timestamp").first()
        last = Event.objects.filter(project=project, identity_key=user).order_by("-timestamp").first()
        if first is None or last is None:
            raise SystemExit(f"no events of {user} in project {project.id}: the fill query did not run")
        created = Profile.objects.create(project=project, first_seen=first.timestamp, last_seen=last.timestamp)
        profile = Identity.objects.create(project=project, value=user, profile=created)
    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client(HTTP_HOST="localhost")
    client.force_login(admin)
    event_id = Event.objects.filter(project=project).order_by("-timestamp", "-id").values_list("id", flat=True)[500]
    base = f"/dashboard/{project.id}"
    pages = [
        f"{base}/",
        f"{base}/live/",
        f"{base}/sources/",
        f"{base}/events/",
        f"{base}/events/?name=Signup",
        f"{base}/events/?user={user}",
        f"{base}/events/?source={first_source + 1}&since=2020-01-01T00:00",
        f"{base}/events/?name=Purchase&property=plan&value=pro",
        f"{base}/events/{event_id}/",
        f"{base}/profiles/?q=user1@",
        f"{base}/profiles/{profile.profile_id}/",
        f"{base}/rejected/",
    ]
    cache.clear()
    started = time.perf_counter()
    project_activity_refresh(project_id=project.id)
    print(f"the worker's 30-day count (project_activity_refresh_task): {(time.perf_counter() - started) * 1000:.0f} ms")
    print(f"{'page':70} {'first ms':>9} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    every_later: list[float] = []
    for url in pages:
        cache.clear()
        first_view = _timed_get(client, url)[0]
        project_activity_refresh(project_id=project.id)  # what the worker does
        later = []
        for _ in range(args.repeat):
            elapsed, queries = _timed_get(client, url)
            later.append(elapsed)
        every_later.extend(later)
        print(f"{url:70} {first_view:9.0f} {_percentile(later, 50):8.0f} {_percentile(later, 95):8.0f} {queries:8d}")
    print(f"p95 of every later view: {_percentile(every_later, 95):.0f} ms")


def _timed_get(client: Client, url: str) -> tuple[float, int]:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed, len(queries)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


if __name__ == "__main__":
    main()

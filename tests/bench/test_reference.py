"""The issue's reference view (``bench.reference``), which ``bench.ingest`` measures as a
yardstick: it stores each Intempt body's events in the scratch table and refuses a body
of the wrong shape."""

from __future__ import annotations

import orjson
import pytest
from django.db import connection

from bench.bodies import LOADS
from bench.reference import SCRATCH_TABLE_SQL

pytestmark = pytest.mark.django_db

INTEMPT = next(load for load in LOADS if load.wire_format == "intempt")


@pytest.fixture
def scratch_table(settings):
    settings.ROOT_URLCONF = "bench.urls"
    with connection.cursor() as cursor:
        cursor.execute(SCRATCH_TABLE_SQL)


def scratch_rows() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT project_id, source_id, name, event_id, user_id, properties FROM bench_copy ORDER BY id")
        return cursor.fetchall()


def test_reference_view_copies_every_event_of_the_body(client, scratch_table):
    response = client.post(
        "/api/bench/reference?project=7&source=8", data=INTEMPT.body(3, "t"), content_type="application/json"
    )

    assert response.status_code == 200
    assert orjson.loads(response.content) == {"written": 3}
    # It skips the browser-only middleware, as the track endpoints do.
    assert not hasattr(response.wsgi_request, "session")
    rows = scratch_rows()
    assert [row[:5] for row in rows] == [(7, 8, "bench_purchase", f"t-{n}", f"user-{n}@example.com") for n in range(3)]
    # Django's psycopg backend hands jsonb back as text.
    assert orjson.loads(rows[0][5]) == {
        "plan": "pro", "amount": 19.99, "currency": "EUR", "items": 1, "path": "/checkout/t/0",
    }  # fmt: skip


def test_reference_view_refuses_a_body_of_the_wrong_shape(client, scratch_table):
    response = client.post(
        "/api/bench/reference?project=7&source=8", data=b'{"track": [{"name": 1}]}', content_type="application/json"
    )

    assert response.status_code == 400
    assert "error" in orjson.loads(response.content)
    assert scratch_rows() == []

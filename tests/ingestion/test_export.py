"""GET /api/v1/events/export.ndjson and export.csv: same shape and filters, streamed."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingestion.api.serializers import EVENT_FIELDS
from tests.ingestion.bulk import bulk_events, rows_removed_by_filters
from tests.seeds import seed_body

pytestmark = pytest.mark.django_db


def ingest(client, tenant, body: bytes) -> None:
    response = client.post(tenant.intempt_url, data=body, content_type="application/json")
    assert response.status_code == 200, response.content


def streamed(response) -> bytes:
    assert response.streaming, "exports must be streamed"
    return b"".join(response.streaming_content)


def test_ndjson_lines_are_the_list_endpoint_events(client, tenant, read_client):
    for name in ("intempt_curl.json", "intempt_example_2.json", "intempt_example_3.json"):
        ingest(client, tenant, seed_body(name))

    response = read_client.get("/api/v1/events/export.ndjson")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in streamed(response).splitlines()]
    assert lines == read_client.get("/api/v1/events/").json()["results"]
    assert len(lines) == 5


def test_ndjson_export_resolves_profiles(client, tenant, read_client):
    from tests.ingestion.test_events_api import resolve_identities

    ingest(client, tenant, seed_body("intempt_example_2.json"))
    resolve_identities()
    listed = {e["event_id"]: e["profile"] for e in read_client.get("/api/v1/events/").json()["results"]}

    exported = [json.loads(line) for line in streamed(read_client.get("/api/v1/events/export.ndjson")).splitlines()]

    assert sorted(listed) == ["evt_purchase_001", "evt_purchase_002"]  # not two empty answers
    assert {e["event_id"]: e["profile"] for e in exported} == listed
    assert all(isinstance(profile, int) for profile in listed.values())


def test_ndjson_export_applies_the_filters(client, tenant, read_client):
    ingest(client, tenant, seed_body("intempt_example_2.json"))
    ingest(client, tenant, seed_body("intempt_example_3.json"))

    response = read_client.get("/api/v1/events/export.ndjson?name=Purchase&since=1714631904000&until=1714631910000")

    assert [json.loads(line)["event_id"] for line in streamed(response).splitlines()] == [
        "evt_purchase_003",
        "evt_purchase_001",
    ]


def exported_event_ids(response, path: str) -> list[str]:
    body = streamed(response).decode()
    if path.endswith(".csv"):
        return [row["event_id"] for row in csv.DictReader(io.StringIO(body))]
    return [json.loads(line)["event_id"] for line in body.splitlines()]


@pytest.mark.parametrize("path", ["export.ndjson", "export.csv"])
def test_export_with_ordering_timestamp_is_oldest_first_as_the_list(client, tenant, read_client, path):
    ingest(client, tenant, seed_body("intempt_example_2.json"))
    ingest(client, tenant, seed_body("intempt_example_3.json"))
    listed = [e["event_id"] for e in read_client.get("/api/v1/events/?ordering=timestamp").json()["results"]]

    response = read_client.get(f"/api/v1/events/{path}?ordering=timestamp")

    assert response.status_code == 200
    assert exported_event_ids(response, path) == listed
    assert len(listed) >= 3 and listed != list(reversed(listed))


@pytest.mark.parametrize("path", ["export.ndjson", "export.csv"])
def test_export_with_a_bad_ordering_is_the_lists_400(read_client, path):
    listed = read_client.get("/api/v1/events/?ordering=name")

    response = read_client.get(f"/api/v1/events/{path}?ordering=name", HTTP_ACCEPT="text/csv")

    assert response.status_code == listed.status_code == 400
    assert response.json() == listed.json() == {"ordering": ["-timestamp or timestamp"]}


def test_csv_has_the_contract_columns_and_json_encoded_objects(client, tenant, read_client):
    ingest(client, tenant, seed_body("intempt_curl.json"))
    (event,) = read_client.get("/api/v1/events/").json()["results"]

    response = read_client.get("/api/v1/events/export.csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(streamed(response).decode())))
    assert rows[0] == list(EVENT_FIELDS)
    (row,) = rows[1:]
    record = dict(zip(rows[0], row, strict=True))
    assert json.loads(record["properties"]) == event["properties"]
    assert json.loads(record["context"]) == event["context"]
    assert record["namespace"] == "" and record["profile"] == ""
    assert record["timestamp"] == "2024-05-02T06:38:24.000Z"
    assert record["id"] == str(event["id"]) and record["source_id"] == str(tenant.source.id)


def test_csv_export_applies_the_filters(client, tenant, read_client):
    ingest(client, tenant, seed_body("intempt_example_3.json"))

    response = read_client.get("/api/v1/events/export.csv?name=Signup")

    rows = list(csv.DictReader(io.StringIO(streamed(response).decode())))
    assert [row["event_id"] for row in rows] == ["evt_signup_001"]


@pytest.mark.parametrize("path", ["export.ndjson", "export.csv"])
def test_export_without_read_token_is_401(client, path):
    assert client.get(f"/api/v1/events/{path}", HTTP_ACCEPT="text/csv").status_code == 401


@pytest.mark.parametrize("path", ["export.ndjson", "export.csv"])
def test_export_with_a_bad_filter_is_400_json(read_client, path):
    response = read_client.get(f"/api/v1/events/{path}?since=soon", HTTP_ACCEPT="application/x-ndjson")

    assert response.status_code == 400
    assert "since" in response.json()


def test_export_of_another_project_is_empty(client, tenant, other_tenant):
    ingest(client, tenant, seed_body("intempt_example_1.json"))

    response = client.get("/api/v1/events/export.ndjson", HTTP_AUTHORIZATION=f"Bearer {other_tenant.read_token}")

    assert streamed(response) == b""


# --- constant memory --------------------------------------------------------------------------


def export_peak_bytes(read_client, path: str) -> tuple[int, int]:
    """(traced peak bytes, lines) while streaming the whole export."""
    tracemalloc.start()
    try:
        response = read_client.get(path)
        lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, lines


@pytest.mark.parametrize("path", ["/api/v1/events/export.ndjson", "/api/v1/events/export.csv"])
def test_export_memory_stays_flat_from_5k_to_50k_events(tenant, read_client, path):
    # 5,000 events are already three of the export's 2,000-row chunks.
    bulk_events(tenant, 5_000)
    small_peak, small_lines = export_peak_bytes(read_client, path)
    bulk_events(tenant, 45_000, first=5_001)
    large_peak, large_lines = export_peak_bytes(read_client, path)

    header = 1 if path.endswith(".csv") else 0
    assert (small_lines, large_lines) == (5_000 + header, 50_000 + header)
    print(f"{path}: peak {small_peak / 1e6:.1f} MB for 5k events, {large_peak / 1e6:.1f} MB for 50k")
    # Ten times the events: the peak is set by the chunk size, not by the count.
    assert large_peak < small_peak * 1.5


# --- chunks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ordering", ["-timestamp", "timestamp"])
def test_export_splits_rows_sharing_a_timestamp_across_chunks_exactly_once(tenant, read_client, ordering):
    # 5,000 events on three timestamps: both chunk edges (2,000 and 4,000 rows) fall
    # inside a run of equal timestamps, in either order.
    bulk_events(tenant, 5_000, same_timestamp_runs=2_000)

    lines = streamed(read_client.get(f"/api/v1/events/export.ndjson?ordering={ordering}")).splitlines()

    exported = [json.loads(line) for line in lines]
    assert sorted(event["event_id"] for event in exported) == sorted(f"bulk-{n}" for n in range(1, 5_001))
    order = [(event["timestamp"], event["id"]) for event in exported]
    assert order == sorted(order, reverse=ordering.startswith("-"))


def event_queries(captured) -> list[str]:
    return [query["sql"] for query in captured if 'FROM "ingestion_event"' in query["sql"]]


def test_export_reads_bounded_chunks_each_starting_at_the_last_one(tenant, read_client):
    # No server-side cursor (it cannot pass through PgBouncer in transaction mode): each
    # chunk is its own LIMITed query that an index starts right where the last one ended.
    bulk_events(tenant, 30_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ingestion_event")

    with CaptureQueriesContext(connection) as captured:
        lines = streamed(read_client.get("/api/v1/events/export.ndjson")).count(b"\n")

    assert lines == 30_000
    queries = event_queries(captured)
    assert len(queries) == 16  # fifteen full chunks, then the empty one that ends the export
    assert all(query.endswith("LIMIT 2000") for query in queries)
    assert max(rows_removed_by_filters(query) for query in queries) < 100


@pytest.fixture
def events_table_locked():
    """Another session holds ingestion_event exclusively; this session gives up waiting
    for it after 100 ms (a real lock timeout: PostgreSQL's LockNotAvailable)."""
    import psycopg

    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"], dbname=settings["NAME"]
    ) as other:
        other.execute("LOCK TABLE ingestion_event IN ACCESS EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '100ms'")
        yield


@pytest.mark.parametrize("path", ["/api/v1/events/export.ndjson", "/api/v1/events/export.csv"])
def test_an_export_whose_first_query_fails_is_a_503_not_a_cut_off_200(tenant, read_client, events_table_locked, path):
    response = read_client.get(path)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"detail": "The database is unavailable; retry later."}

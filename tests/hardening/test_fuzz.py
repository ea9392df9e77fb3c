"""Property-based fuzzing of every track endpoint and the read API: random JSON shapes
and random bytes never produce a 5xx, and only valid events are ever stored."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from bench.wire import EVENT_NAME
from ingestion.canonical import unstorable_fields
from ingestion.models import Event
from tests.hardening.formats import FIXED_TS_MS, READ_PATHS, post, present_formats

pytestmark = pytest.mark.django_db

FORMATS = present_formats()
FUZZ = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Values a producer might plausibly send, including the awkward ones (NUL, surrogates are
# not valid JSON text and are covered by the bytes fuzz).
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["", "null", "0", "undefined", "\x00", "2024-05-02T06:38:24Z", "20-11-23T22:28:55.111Z"])
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
# Known field names with random values: gets past the top-level shape checks more often.
FIELDS = [
    "eventId", "userId", "profileId", "anotherUserId", "accountId", "timestamp", "data", "userAttributes",
    "event_name", "user_id", "properties", "context", "name", "namespace", "anonymousId", "websiteId",
    "metadata", "sessionId",
]  # fmt: skip
# Fields some format lists with a type of its own: not "extra" for any of them.
LISTED = {*FIELDS, "pageId", "anotherAccountId", "accountAttributes", "event_id", "group_id", "session_id",
          "anonymous_id", "profile_id", "account_id", "website_id", "page_id", "messageId", "type"}  # fmt: skip
events = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8)
documents = (
    json_values
    | st.lists(events, max_size=4)
    | events
    | st.builds(
        lambda groups: {"track": groups},
        st.lists(st.fixed_dictionaries({"name": json_values, "payload": st.lists(events, max_size=3)}), max_size=3),
    )
)


def assert_only_valid_events_stored() -> None:
    """Every stored row has what the contract requires of an event."""
    for event in Event.objects.all():
        assert isinstance(event.name, str) and event.name, event.pk
        assert isinstance(event.event_id, str) and event.event_id, event.pk
        assert event.timestamp is not None
        if event.wire_format != "databuddy":  # its events may name nobody (anonymousId is optional)
            assert any(value for value in (event.user_id, event.profile_id, event.anonymous_id)), event.pk
        assert isinstance(event.properties, dict) and isinstance(event.context, dict)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_random_json_documents_never_cause_a_5xx_or_store_garbage(client, tenant, fmt):
    @FUZZ
    @given(document=documents)
    def run(document):
        response = post(client, fmt, tenant, json.dumps(document))
        assert response.status_code < 500, (response.status_code, response.content[:500])
        if response.status_code >= 400:
            assert fmt.is_error(json.loads(response.content)), response.content[:500]

    run()
    assert_only_valid_events_stored()


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_random_bytes_never_cause_a_5xx(client, tenant, fmt):
    @FUZZ
    @given(body=st.binary(max_size=300), gzipped=st.booleans())
    def run(body, gzipped):
        extra = {"HTTP_CONTENT_ENCODING": "gzip"} if gzipped else {}
        response = post(client, fmt, tenant, body, **extra)
        assert response.status_code < 500, (response.status_code, response.content[:500])

    run()
    assert_only_valid_events_stored()


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_valid_events_with_random_extra_fields_are_accepted(client, tenant, fmt):
    ids = itertools.count()

    @FUZZ
    @given(extra=st.dictionaries(st.text(min_size=1, max_size=12).filter(lambda k: k not in LISTED), json_values))
    def run(extra):
        marker = f"fz-{next(ids)}"  # a new event each time, never a duplicate of an earlier one
        document = fmt.build([{"id": marker, "user": "fuzz-user", "props": {}}])
        target = document["track"][0]["payload"][0] if fmt.name == "intempt" else document
        target = target[0] if isinstance(target, list) else target
        target.update(extra)
        response = post(client, fmt, tenant, json.dumps(document))
        assert response.status_code < 500, response.content[:500]
        if not unstorable_fields(extra):
            assert response.status_code == fmt.success_status, response.content[:500]
            stored = Event.objects.get(properties__marker=marker)
            assert (stored.name, stored.source_id) == (EVENT_NAME, tenant.source.id)

    run()
    assert_only_valid_events_stored()


READ_PARAMS = ["name", "source_id", "wire_format", "user_id", "account_id", "session_id", "profile", "since",
               "until", "property", "value", "cursor", "page_size", "identifier", "format"]  # fmt: skip


def test_random_read_api_queries_never_cause_a_5xx(tenant):
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {tenant.read_token}")
    paths = READ_PATHS

    @FUZZ
    @given(
        path=st.sampled_from(paths),
        params=st.dictionaries(
            st.sampled_from(READ_PARAMS),
            st.text(max_size=40) | st.integers().map(str) | st.just(str(FIXED_TS_MS)),
            max_size=4,
        ),
    )
    def run(path, params):
        response = reader.get(path, params)
        assert response.status_code < 500, (path, params, response.status_code)

    run()

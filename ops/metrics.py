"""Prometheus metrics, shared by every gunicorn and celery process.

Counters work across processes with prometheus_client's multiprocess mode: each process
writes its values to files under ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them
up (gunicorn.conf.py sets the directory and cleans up after dead workers). Without the
variable (runserver, tests) the values live in the one process. The identity queue lag
is not a counter: it is read from the database at scrape time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import DatabaseError
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import REGISTRY, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ingestion.formats.base import IngestOutcome

logger = logging.getLogger(__name__)

EVENTS_ACCEPTED = Counter(
    "trackhub_events_accepted", "Valid events acknowledged (duplicates included)", ["source", "format"]
)
EVENTS_DEDUPLICATED = Counter(
    "trackhub_events_deduplicated", "Acknowledged events that were already stored", ["source", "format"]
)
EVENTS_REJECTED = Counter(
    "trackhub_events_rejected", "Events refused at the event level (kept as rejected events)", ["source", "format"]
)
REQUESTS_REJECTED = Counter(
    "trackhub_requests_rejected",
    "Track requests refused as a whole (bad body, credentials, limits, rate limit, outage)",
    ["source", "format", "status"],
)
REQUEST_LATENCY = Histogram(
    "trackhub_request_duration_seconds",
    "Time to answer a request, per route",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def track_outcome_observe(*, source_id: int | str, wire_format: str, outcome: IngestOutcome) -> None:
    """Count what one track request did with its events."""
    labels = {"source": str(source_id), "format": wire_format}
    if outcome.accepted:
        EVENTS_ACCEPTED.labels(**labels).inc(outcome.accepted)
    if outcome.duplicates:
        EVENTS_DEDUPLICATED.labels(**labels).inc(outcome.duplicates)
    rejected = outcome.rejected_events
    if rejected:
        EVENTS_REJECTED.labels(**labels).inc(rejected)


def request_rejection_observe(*, source_id: int | str | None, wire_format: str, status: int) -> None:
    REQUESTS_REJECTED.labels(source=str(source_id or "unknown"), format=wire_format, status=str(status)).inc()


# The methods a request's latency is labelled with; any other is "other". The method is
# the client's text (gunicorn takes any 3-20 capitals and digits), and a histogram series
# per made-up method, a dozen values each, piled up in every process and in /metrics.
_LABELLED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_observe(*, route: str, method: str, seconds: float) -> None:
    method = method if method in _LABELLED_METHODS else "other"
    REQUEST_LATENCY.labels(route=route, method=method).observe(seconds)


class IdentityQueueCollector(Collector):
    """Age of the oldest unprocessed IdentityWork row (0 when none), and how many wait; and
    whether the database answered that question (``trackhub_database_up``)."""

    def collect(self) -> Iterable[Metric]:
        from profiles.selectors import identity_queue_state

        up = GaugeMetricFamily("trackhub_database_up", "1 if the database answered this scrape's queries, else 0")
        try:
            state = identity_queue_state()
        except DatabaseError as exc:
            # An outage is when the other metrics matter most: answer them, without the queue.
            logger.warning("metrics: the identity queue could not be read: %s", exc)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        lag = GaugeMetricFamily(
            "trackhub_identity_queue_lag_seconds", "Age of the oldest unprocessed identity work, in seconds"
        )
        lag.add_metric([], state.lag_seconds)
        pending = GaugeMetricFamily("trackhub_identity_queue_pending", "Identity work rows not yet processed")
        pending.add_metric([], state.pending)
        return [up, lag, pending]


def metrics_render() -> bytes:
    """The text exposition of every metric, summed over processes in multiprocess mode."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    scrape = CollectorRegistry()
    scrape.register(IdentityQueueCollector())
    return generate_latest(registry) + generate_latest(scrape)

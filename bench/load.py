"""A small, efficient HTTP load generator: a few processes, one socket each, http.client.

Closed loop (``rate=None``): each client sends its next request as soon as the previous
one is answered, which finds the maximum rate. Open loop (``rate`` requests/s shared by
the clients): requests are sent on a fixed schedule, evenly spaced across the clients,
which measures latency at a given load. Gunicorn's sync workers close the connection
after each response; http.client reconnects transparently, so that cost is part of every
figure, as it would be for a producer talking to sync workers directly.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class ClientResult:
    ok: int = 0
    failed: int = 0
    events_acked: int = 0
    latencies: list[float] = field(default_factory=list)
    first_failure: str = ""


@dataclass
class LoadResult:
    duration: float
    ok: int
    failed: int
    events_acked: int
    latencies: list[float]
    first_failure: str

    @property
    def requests_per_s(self) -> float:
        return self.ok / self.duration

    @property
    def events_per_s(self) -> float:
        return self.events_acked / self.duration

    def percentile_ms(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    path: str
    headers: dict[str, str]
    success_status: int
    events_per_request: int
    # (client number, request number) -> body; must be picklable (a module-level callable)
    body: Callable[[int, int], bytes]


def _client(
    target: Target, client: int, start_at: float, duration: float, interval: float | None, offset: float
) -> ClientResult:
    result = ClientResult()
    conn = http.client.HTTPConnection(target.host, target.port, timeout=30)
    headers = {"Content-Type": "application/json", **target.headers}
    end = start_at + duration
    number = 0
    next_send = start_at + offset
    while time.time() < start_at:
        time.sleep(0.001)
    while True:
        if interval is not None:
            delay = next_send - time.time()
            if delay > 0:
                time.sleep(delay)
            next_send += interval
        body = target.body(client, number)
        number += 1
        sent = time.perf_counter()
        if time.time() >= end:
            break
        try:
            conn.request("POST", target.path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            status, payload = 0, repr(exc).encode()
        elapsed = time.perf_counter() - sent
        if time.time() > end:
            break  # answered after the window: not counted
        if status == target.success_status:
            result.ok += 1
            result.events_acked += target.events_per_request
            result.latencies.append(elapsed)
        else:
            result.failed += 1
            if not result.first_failure:
                result.first_failure = f"{status} {payload[:300]!r}"
    conn.close()
    return result


def _run_client(args: tuple) -> ClientResult:
    return _client(*args)


def load_run(target: Target, *, clients: int, duration: float, rate: float | None = None) -> LoadResult:
    """Run ``clients`` processes against ``target`` for ``duration`` seconds."""
    start_at = time.time() + 0.3
    interval = clients / rate if rate else None
    # Open loop: client n sends at n/clients of the interval, so the requests arrive evenly
    # spaced at ``rate`` rather than in bursts of ``clients`` at once.
    offsets = [n * interval / clients if interval else 0.0 for n in range(clients)]
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with context.Pool(clients) as pool:
        parts = pool.map(_run_client, [(target, n, start_at, duration, interval, offsets[n]) for n in range(clients)])
    return LoadResult(
        duration=duration,
        ok=sum(p.ok for p in parts),
        failed=sum(p.failed for p in parts),
        events_acked=sum(p.events_acked for p in parts),
        latencies=[latency for p in parts for latency in p.latencies],
        first_failure=next((p.first_failure for p in parts if p.first_failure), ""),
    )

"""An export that streams for longer than gunicorn's worker timeout is not cut off
(``ops.gunicorn.worker_heartbeat``): a sync worker counts a whole request as silence."""

from __future__ import annotations

import socket
import time

import pytest

from tests.conftest import tenant_create
from tests.hardening import live
from tests.hardening.test_faults import shared_test_db_url
from tests.ingestion.bulk import bulk_events

NEWLINE = b"\n"
EVENTS = 40_000  # about 16 MB: more than the socket buffers hold, so the worker waits on the reader
READ_BYTES_PER_SECOND = 1_000_000  # about 1 s per 2,000-row chunk, 16 s for the whole
# Well above the time between two chunks' heartbeats on a loaded machine, well below the
# time the whole export takes: without the heartbeat the worker is killed mid-stream.
WORKER_TIMEOUT_SECONDS = 5


def _export_read_slowly(port: int, *, token: str) -> bytes:
    """The NDJSON export's body, read at ``READ_BYTES_PER_SECOND`` as a slow client would,
    through a small receive window so the server waits on the reader."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
        client.settimeout(30)
        client.connect(("127.0.0.1", port))
        client.sendall(
            b"GET /api/v1/events/export.ndjson HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode()
        )
        received, started = bytearray(), time.monotonic()
        while chunk := client.recv(65_536):
            received += chunk
            ahead = len(received) / READ_BYTES_PER_SECOND - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return _unchunked(body)


def _unchunked(body: bytes) -> bytes:
    """An HTTP/1.1 chunked body decoded; AssertionError if it ends before its last chunk."""
    decoded, rest = bytearray(), body
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return bytes(decoded)
        assert len(rest) >= size + 2, f"the stream ended after {decoded.count(NEWLINE)} rows"
        decoded += rest[:size]
        rest = rest[size + 2 :]


@pytest.mark.django_db(transaction=True)
def test_an_export_streaming_longer_than_the_worker_timeout_sends_every_event():
    tenant = tenant_create(org="long-export", project="p")
    bulk_events(tenant, EVENTS)
    env = live.base_env(DATABASE_URL=shared_test_db_url(), GUNICORN_TIMEOUT=str(WORKER_TIMEOUT_SECONDS))

    with live.gunicorn(env, workers=1) as server:
        body = _export_read_slowly(server.port, token=tenant.read_token)

        assert body.count(b"\n") == EVENTS
        assert "WORKER TIMEOUT" not in server.output()

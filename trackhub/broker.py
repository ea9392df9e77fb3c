"""kombu's Redis transport, with one defect of kombu 5.7 / Celery 5.7 worked around: a
celery worker holding unacknowledged messages exited when the broker went away.

What happened (``tests/hardening/test_faults.py`` reproduces it): on losing the broker
the worker's consumer calls ``connection.collect()`` and then ``connection.close()``.
``collect()`` closes the default channel, which stops half way (reading the reply to its
pending BRPOP fails: the broker is gone), then detaches the transport from the connection
(``transport.client = None``) but leaves that channel in place. ``close()`` closes the
channel again; this time it gets as far as putting the unacknowledged messages back on
their queue, which builds a Redis connection pool from ``transport.client.hostname``:
``AttributeError: 'NoneType' object has no attribute 'hostname'``. That is neither a
connection nor a channel error, so nothing on the way catches it, and the worker logs
``Unrecoverable error`` and exits. It needs a message delivered and not yet acknowledged
(a drain waiting for its countdown, a task running with ``acks_late``), which under
steady ingest there nearly always is; an idle worker reconnected fine.

Here a channel that has lost its connection (the transport detached, or the channel
itself closed) raises Redis's ``ConnectionError`` when it needs one: the error kombu and
Celery already handle wherever the broker is unreachable. The second close then ends
quietly and the consumer reconnects as it does without unacknowledged messages; a task
that finishes after the loss cannot acknowledge its message on the old channel either,
and the worker logs ``Couldn't ack``. Messages not put back stay in Redis's unacked set,
from which kombu restores them after the visibility timeout (an hour) if the broker kept
them; under load they are mostly identity drains, whose work waits in the outbox for the
next drain or the periodic sweep anyway (docs/hardening.md).

Selected by ``CELERY_BROKER_TRANSPORT`` for ``redis://`` broker URLs (trackhub/settings.py).
"""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        transport = self.connection
        if transport is None or transport.client is None:
            raise redis.exceptions.ConnectionError("the broker connection of this channel is closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel

"""The read API's reads from a PostgreSQL streaming replica (``DATABASE_REPLICA_URL``).

Only the read API's queries go there, and only after the request is authenticated:
credentials are always checked on the primary, so a revoked read token is refused at
once however far the replica lags. The track path, the identity workers, the dashboard
and the admin read and write the primary. Without ``DATABASE_REPLICA_URL`` the router is
not installed and everything uses the primary.

Each read API answer is also one snapshot of the database (``read_snapshot``): its
queries see the same committed state, whichever database they read.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from rest_framework.request import Request

from trackhub.db import read_snapshot

REPLICA = "replica"

# True while a read API view handles its authenticated request.
_replica_reads: ContextVar[bool] = ContextVar("trackhub_replica_reads", default=False)


class ReplicaRouter:
    """Sends reads to the replica while ``_replica_reads`` is set; all else to the primary."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        return REPLICA if _replica_reads.get() else None

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        return None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the replica holds the primary's very rows

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db != REPLICA  # it replicates the primary's schema


class ReplicaReadsMixin:
    """For DRF views of the read API: their queries after authentication, permissions and
    throttling read the replica (when one is configured), in one snapshot
    (``read_snapshot``). A streamed response must pin its querysets with
    ``queryset.using(queryset.db)`` inside the handler, and set ``snapshot_reads`` off: it
    is iterated after the view has returned, when the snapshot is over."""

    snapshot_reads = True

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # Whatever happens in the view, the flag is off again for the worker's next request.
        token = _replica_reads.set(False)
        # Entered once the request is authenticated (``initial``), left as the view returns.
        self._snapshot = contextlib.ExitStack()
        try:
            with self._snapshot:
                return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        finally:
            _replica_reads.reset(token)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        _replica_reads.set(True)
        if self.snapshot_reads:
            using = REPLICA if REPLICA in settings.DATABASES else DEFAULT_DB_ALIAS
            self._snapshot.enter_context(read_snapshot(using=using))

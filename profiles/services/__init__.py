"""Writes of the profiles domain. Ingestion and the tasks import them from here; each
module holds one step of identity work:

- ``outbox``: what a stored event contributes (its facts), recorded in the write's own
  transaction, and the drain queued once it commits;
- ``drain``: the workers' side: draining a project's outbox under its identity lock, the
  sweep, the prune, and purging a deleted project;
- ``resolution``: applying the facts: identities, profiles, accounts, merges, attributes;
- ``erasure``: deleting one person and their data on request.
"""

from profiles.services.drain import (
    identity_work_drain,
    identity_work_process,
    identity_work_prune,
    identity_work_sweep,
    identity_work_upkeep,
    profiles_project_purge,
)
from profiles.services.erasure import ProfileErasure, profile_erase
from profiles.services.outbox import (
    event_identity_key,
    identity_facts,
    identity_work_insert_sql,
    identity_work_kick,
    identity_work_kick_on_commit,
    identity_work_record,
)

__all__ = [
    "ProfileErasure",
    "event_identity_key",
    "identity_facts",
    "identity_work_drain",
    "identity_work_insert_sql",
    "identity_work_kick",
    "identity_work_kick_on_commit",
    "identity_work_process",
    "identity_work_prune",
    "identity_work_record",
    "identity_work_sweep",
    "identity_work_upkeep",
    "profile_erase",
    "profiles_project_purge",
]

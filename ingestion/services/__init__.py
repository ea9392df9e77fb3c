"""Writes of the ingestion domain. Other apps, the views, tasks and commands import them
from here; each module holds one subject:

- ``tenants``: organizations, projects, sources and websites: provisioning and deletion;
- ``credentials``: API keys and bearer tokens;
- ``events``: the one track path (``wire_document_ingest``), rejected events and their
  replay, partition upkeep;
- ``event_writes``: how the events reach the database, each once (the dedupe ledger, COPY);
- ``erasure``: deleting one person's events and rejected events (``profiles`` decides whose).
"""

from ingestion.services.credentials import (
    access_token_check,
    access_token_create,
    api_key_check,
    api_key_create,
    credential_mark_used,
    credential_revoke,
    credential_secret_issue,
)
from ingestion.services.erasure import events_erase, rejected_events_erase
from ingestion.services.events import (
    ReplayRefused,
    ReplayResult,
    event_partitions_maintain,
    events_ingest,
    new_request_id,
    rejected_event_replay,
    wire_document_ingest,
)
from ingestion.services.tenants import (
    PROJECT_PURGE_STRAGGLER_SECONDS,
    Provisioned,
    deleted_projects_purge,
    organization_delete,
    organization_project_ensure,
    project_data_purge,
    project_delete,
    source_ensure,
    source_id_check,
    source_provision,
    tenant_name_check,
    website_create,
    website_origins_check,
)

__all__ = [
    "PROJECT_PURGE_STRAGGLER_SECONDS",
    "Provisioned",
    "ReplayRefused",
    "ReplayResult",
    "access_token_check",
    "access_token_create",
    "api_key_check",
    "api_key_create",
    "credential_mark_used",
    "credential_revoke",
    "credential_secret_issue",
    "deleted_projects_purge",
    "event_partitions_maintain",
    "events_erase",
    "events_ingest",
    "new_request_id",
    "organization_delete",
    "organization_project_ensure",
    "project_data_purge",
    "project_delete",
    "rejected_event_replay",
    "rejected_events_erase",
    "source_ensure",
    "source_id_check",
    "source_provision",
    "tenant_name_check",
    "website_create",
    "website_origins_check",
    "wire_document_ingest",
]

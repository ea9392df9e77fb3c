"""Dedupe keys for the Databuddy events stored before ``eventId`` was their id.

Since 8a6358e a Databuddy event's ``eventId`` (a non-empty string within the identifier
cap) is its ``event_id``, so a retry is stored once. Earlier releases kept it only in the
event's ``context`` and gave the event a content hash or a random UUID: after an upgrade
a producer retrying such an event (Databuddy's SDKs resend with the same ``eventId``)
had it stored a second time, since the ledger held no (name, eventId) key. This adds
that key for every such event; the events themselves are not rewritten (their
``event_id`` stays what it was), only the ledger learns the id a retry now carries.

PostgreSQL only: the ledger is how it deduplicates. SQLite (the embedded quick start)
deduplicates on the events table's own unique key and is left as it was. Reverse: no-op
(keys of events that exist are harmless; dedupe keys are never removed, see retention).
"""

from django.db import migrations

MAX_IDENTIFIER_BYTES = 1024  # ingestion.canonical.MAX_IDENTIFIER_BYTES at this migration

LEDGER_BACKFILL = f"""
INSERT INTO ingestion_eventkey (project_id, name, event_id)
SELECT DISTINCT project_id, name, context ->> 'eventId'
FROM ingestion_event
WHERE wire_format = 'databuddy'
  AND jsonb_typeof(context -> 'eventId') = 'string'
  AND context ->> 'eventId' <> ''
  AND octet_length(context ->> 'eventId') <= {MAX_IDENTIFIER_BYTES}
ON CONFLICT DO NOTHING
"""


def databuddy_event_id_keys(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(LEDGER_BACKFILL)


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0006_rejected_event_key_backfill"),
    ]

    operations = [migrations.RunPython(databuddy_event_id_keys, migrations.RunPython.noop)]

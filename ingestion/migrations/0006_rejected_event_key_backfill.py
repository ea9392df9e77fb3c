"""Give the rejected events stored before 0005 the key a retry of their request now gets.

0005 added ``RejectedEvent.key`` null for every existing row, so after an upgrade a
producer retrying a request it sent before (an event with its own id or timestamp, refused)
got a second row for it: the retry's key met no row. This computes each old row's key by
the rule of ``ingestion.canonical.rejected_event_key`` from what the row holds (format,
place in its request, payload). Frozen here on purpose, like 0002's SQL: the rule and the
identifying fields as they are at this migration.

Left null (each is a row of its own, as before): rows without a payload, imported rows
(their key included the place in a file, which no row records), replayed rows (their
payload is the corrected one, not what was sent) and events with neither id nor
timestamp. An earlier release kept a row per retry; only the first (lowest id) of those
gets the key, the later copies stay as they are, and a key already taken in the project
(a row stored since 0005) is not given again.
"""

import hashlib

import orjson
from django.db import migrations

# ``identifying_fields`` of each track format's adapter (Userpilot has none).
IDENTIFYING_FIELDS = {
    "intempt": ("eventId", "timestamp"),
    "thrivestack": ("timestamp",),
    "databuddy": ("eventId", "timestamp"),
}
CHUNK = 2000


def _raw(wire_format, index, payload):
    """The event as sent: an Intempt payload is ``{**group, "payload": [item]}``."""
    if wire_format == "intempt" and ".payload[" in index and isinstance(payload, dict):
        items = payload.get("payload")
        if isinstance(items, list) and len(items) == 1:
            return items[0]
    return payload


def _as_sent(value):
    """``value`` as orjson decoded it from the request: jsonb gives a number sent with an
    exponent back in plain digits (``1e22`` reads as ``10000000000000000000000``), which
    Django's JSON decoder makes an integer past 64 bits. orjson cannot write one (the
    migration stopped with a TypeError), and read from the request it was a float."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return float(value)
    if isinstance(value, dict):
        return {key: _as_sent(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_sent(item) for item in value]
    return value


def rejected_key(wire_format, index, payload):
    fields = IDENTIFYING_FIELDS.get(wire_format)
    raw = _raw(wire_format, index, payload)
    if not fields or not isinstance(raw, dict) or all(raw.get(field) in (None, "") for field in fields):
        return None
    content = orjson.dumps(_as_sent(payload), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(f"{wire_format}\0{index}\0".encode() + content).hexdigest()


def backfill_keys(apps, schema_editor):
    RejectedEvent = apps.get_model("ingestion", "RejectedEvent")
    if schema_editor.connection.vendor == "postgresql":
        # A process of this release inserting a keyed row meanwhile could take a key
        # between the check below and the update (a unique violation): hold new rejected
        # rows back until this commits. Reads go on; the table is small.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("LOCK TABLE ingestion_rejectedevent IN SHARE ROW EXCLUSIVE MODE")
    pending = RejectedEvent.objects.filter(
        key__isnull=True, payload__isnull=False, replayed_at__isnull=True, wire_format__in=IDENTIFYING_FIELDS
    ).order_by("id")
    after = 0
    while True:
        rows = list(pending.filter(id__gt=after).only("id", "project_id", "wire_format", "index", "payload")[:CHUNK])
        if not rows:
            return
        after = rows[-1].id
        keyed = {}
        for row in rows:
            key = rejected_key(row.wire_format, row.index, row.payload)
            if key is not None:
                keyed.setdefault((row.project_id, key), row)  # the first of an old release's copies
        taken = set(
            RejectedEvent.objects.filter(key__in={key for _, key in keyed}).values_list("project_id", "key")
        )
        updates = []
        for (project_id, key), row in keyed.items():
            if (project_id, key) not in taken:
                row.key = key
                updates.append(row)
        RejectedEvent.objects.bulk_update(updates, ["key"])


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0005_rejected_event_key"),
    ]

    operations = [migrations.RunPython(backfill_keys, migrations.RunPython.noop)]

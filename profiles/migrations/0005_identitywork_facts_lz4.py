"""Compress the outbox's facts with lz4 instead of pglz (PostgreSQL 14+ built with lz4).

Every track request writes one facts document (about 13 kB for 100 events), large enough
to be compressed; lz4 takes about a quarter less database CPU for that insert than the
default pglz (measured: 170-225 against 240-305 µs per 100-fact row). Elsewhere the
server's own default (``default_toast_compression``) applies; see docs/scaling.md.
"""

from django.db import migrations


def facts_lz4(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
        )
        if cursor.fetchone() is None:
            return  # a server built without lz4: pglz stays
        cursor.execute("ALTER TABLE profiles_identitywork ALTER COLUMN facts SET COMPRESSION lz4")


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0004_identitywork_project_pending"),
    ]

    operations = [migrations.RunPython(facts_lz4, migrations.RunPython.noop)]

"""Operations the apps' migrations share."""

from __future__ import annotations

from django.db import migrations


def foreign_key_index_drop(
    alter: migrations.AlterField, *, index: str, table: str, column: str
) -> migrations.SeparateDatabaseAndState:
    """``alter`` (a foreign key now ``db_index=False``) in the migration state; in the
    database, only the key's index ``index`` dropped. Django's own AlterField would drop
    and re-add the foreign-key constraint too, which revalidates it against every row of
    ``table`` under a lock. Django names the index alike on SQLite and PostgreSQL."""
    return migrations.SeparateDatabaseAndState(
        state_operations=[alter],
        database_operations=[
            migrations.RunSQL(
                f'DROP INDEX IF EXISTS "{index}"', reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("{column}")'
            )
        ],
    )

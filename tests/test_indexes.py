"""The schema's indexes, as migrated on PostgreSQL: none that another already serves.

Every index costs each insert and update of its table; one whose columns lead another
btree index (same columns, same operator classes, no predicate) answers no lookup the
other cannot, a foreign key's cascade included.
"""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

# Our tables; a partition of the events table repeats its parent's indexes.
INDEXES_SQL = r"""
SELECT t.relname, i.relname, ix.indisunique, ix.indkey::int2[], ix.indclass::oid[], ix.indpred IS NOT NULL
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_am am ON am.oid = i.relam
WHERE t.relnamespace = 'public'::regnamespace AND am.amname = 'btree' AND ix.indexprs IS NULL
  AND t.relname ~ '^(ingestion|profiles|dashboard)_' AND NOT t.relispartition
"""


def test_no_index_is_served_by_another_on_its_table():
    with connection.cursor() as cursor:
        cursor.execute(INDEXES_SQL)
        indexes = cursor.fetchall()

    redundant = [
        (table, name, other)
        for table, name, unique, columns, classes, partial in indexes
        if not unique and not partial
        for other_table, other, _, other_columns, other_classes, other_partial in indexes
        if other_table == table and other != name and not other_partial
        and other_columns[: len(columns)] == columns and other_classes[: len(classes)] == classes
    ]  # fmt: skip

    assert sorted(redundant) == [], "\n".join(map(str, sorted(redundant)))

"""Drop indexes that another index of the same table already serves: each insert and
update of these tables maintained them for nothing (``tests/test_indexes.py``). The
foreign keys' own indexes go where a constraint's or the Meta's index leads with the key;
see ``foreign_key_index_drop`` for why their constraints are left alone."""

import django.db.models.deletion
from django.db import migrations, models

from trackhub.migration_operations import foreign_key_index_drop


class Migration(migrations.Migration):

    dependencies = [
        ('ingestion', '0008_deleted_project'),
    ]

    operations = [
        foreign_key_index_drop(
            migrations.AlterField(
                model_name='project',
                name='organization',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='projects', to='ingestion.organization'),
            ),
            index="ingestion_project_organization_id_eb79e521", table="ingestion_project", column="organization_id",
        ),
        foreign_key_index_drop(
            migrations.AlterField(
                model_name='rejectedevent',
                name='project',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='ingestion.project'),
            ),
            index="ingestion_rejectedevent_project_id_8ca8f164", table="ingestion_rejectedevent", column="project_id",
        ),
        foreign_key_index_drop(
            migrations.AlterField(
                model_name='rejectedevent',
                name='source',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='ingestion.source'),
            ),
            index="ingestion_rejectedevent_source_id_dee69e7c", table="ingestion_rejectedevent", column="source_id",
        ),
    ]

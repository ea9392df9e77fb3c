"""Drop indexes that another index of the same table already serves: each insert and
update of these tables maintained them for nothing (``tests/test_indexes.py``). The
foreign keys' own indexes go where a constraint's or the Meta's index leads with the key;
see ``foreign_key_index_drop`` for why their constraints are left alone."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from trackhub.migration_operations import foreign_key_index_drop


class Migration(migrations.Migration):

    dependencies = [
        ('dashboard', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        foreign_key_index_drop(
            migrations.AlterField(
                model_name='projectmembership',
                name='user',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='project_memberships', to=settings.AUTH_USER_MODEL),
            ),
            index="dashboard_projectmembership_user_id_87afd0d5", table="dashboard_projectmembership", column="user_id",
        ),
    ]

"""Drop indexes that another index of the same table already serves: each insert and
update of these tables maintained them for nothing (``tests/test_indexes.py``). The
foreign keys' own indexes go where a constraint's or the Meta's index leads with the key;
see ``foreign_key_index_drop`` for why their constraints are left alone.

``identity_profile``, ``account_identity_account`` and ``account_membership_profile``
repeated the indexes Django makes for those foreign keys."""

import django.db.models.deletion
from django.db import migrations, models

from trackhub.migration_operations import foreign_key_index_drop


class Migration(migrations.Migration):

    dependencies = [
        ('ingestion', '0009_drop_redundant_indexes'),
        ('profiles', '0005_identitywork_facts_lz4'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='accountidentity',
            name='account_identity_account',
        ),
        migrations.RemoveIndex(
            model_name='accountmembership',
            name='account_membership_profile',
        ),
        migrations.RemoveIndex(
            model_name='identity',
            name='identity_profile',
        ),
        foreign_key_index_drop(
            migrations.AlterField(
                model_name='account',
                name='project',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='ingestion.project'),
            ),
            index="profiles_account_project_id_1a7f027e", table="profiles_account", column="project_id",
        ),
        foreign_key_index_drop(
            migrations.AlterField(
                model_name='accountidentity',
                name='project',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='ingestion.project'),
            ),
            index="profiles_accountidentity_project_id_75ec8883", table="profiles_accountidentity", column="project_id",
        ),
        foreign_key_index_drop(
            migrations.AlterField(
                model_name='accountmembership',
                name='account',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='profiles.account'),
            ),
            index="profiles_accountmembership_account_id_39680f7b", table="profiles_accountmembership", column="account_id",
        ),
        foreign_key_index_drop(
            migrations.AlterField(
                model_name='accountmerge',
                name='survivor',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='merges_received', to='profiles.account'),
            ),
            index="profiles_accountmerge_survivor_id_e593f3d0", table="profiles_accountmerge", column="survivor_id",
        ),
        foreign_key_index_drop(
            migrations.AlterField(
                model_name='identity',
                name='project',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='ingestion.project'),
            ),
            index="profiles_identity_project_id_e9ef5935", table="profiles_identity", column="project_id",
        ),
        foreign_key_index_drop(
            migrations.AlterField(
                model_name='ingestionwarning',
                name='project',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='ingestion.project'),
            ),
            index="profiles_ingestionwarning_project_id_e5b7e0be", table="profiles_ingestionwarning", column="project_id",
        ),
        foreign_key_index_drop(
            migrations.AlterField(
                model_name='profile',
                name='project',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='ingestion.project'),
            ),
            index="profiles_profile_project_id_48ceebf8", table="profiles_profile", column="project_id",
        ),
        foreign_key_index_drop(
            migrations.AlterField(
                model_name='profilemerge',
                name='survivor',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='merges_received', to='profiles.profile'),
            ),
            index="profiles_profilemerge_survivor_id_bee6459e", table="profiles_profilemerge", column="survivor_id",
        ),
    ]

from typing import Any

from celery import current_app
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingestion.selectors import project_get_by_names, projects_contents_count
from ingestion.services import project_delete
from ops.commands import confirmation_require
from profiles.selectors import profiles_count


class Command(BaseCommand):
    help = (
        "Delete a project and everything it holds: sources, credentials, profiles, accounts, rejected events "
        "at once; its events in a Celery task right after (as the admin's Delete does). Asks unless --yes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("--project", required=True)
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_get_by_names(org=options["org"], project=options["project"])
        if project is None:
            raise CommandError(f"no project {options['project']!r} in organization {options['org']!r}")
        counts = {**projects_contents_count(project_ids=[project.pk]), **profiles_count(project_ids=[project.pk])}
        summary = ", ".join(f"{kind} {count:,}" for kind, count in counts.items())
        self.stdout.write(f"{project}: {summary}")
        if not options["yes"]:
            confirmation_require(
                prompt="Delete all of it? Type the project's name to confirm: ",
                answer=project.name,
                refused="not deleted",
            )
        project_delete(project_id=project.pk)
        if current_app.conf.task_always_eager:  # no broker: the purge ran in this process
            self.stdout.write(f"deleted {project} and its events")
        else:
            self.stdout.write(f"deleted {project}; its events are being purged by the Celery workers")

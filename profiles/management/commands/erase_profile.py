import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingestion.selectors import project_get_by_names
from ops.commands import confirmation_require
from profiles.services import profile_erase


class Command(BaseCommand):
    help = (
        "Erase a person (a request to be forgotten): their profile, its identifiers and the profiles merged "
        "into it, their account memberships, their events and the rejected events naming them. "
        "Name the person by any of their identifiers or by profile id. Asks unless --yes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("--project", required=True)
        person = parser.add_mutually_exclusive_group(required=True)
        person.add_argument("--identifier", help="any user identifier of the person (a userId, an email, ...)")
        person.add_argument("--profile", type=int, help="TrackHub's profile id (a merged-away id names its survivor)")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        parser.add_argument("--json", action="store_true", help="print what was erased as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_get_by_names(org=options["org"], project=options["project"])
        if project is None:
            raise CommandError(f"no project {options['project']!r} in organization {options['org']!r}")
        identifier, profile_id = options["identifier"], options["profile"]
        if identifier is not None:
            person, unknown = (
                f"the person with the identifier {identifier!r}",
                f"nobody has the identifier {identifier!r}",
            )
        else:
            person, unknown = f"profile {profile_id}", f"no profile {profile_id}"
        if not options["yes"]:
            confirmation_require(
                prompt=f"Erase {person} in {project} and all their data? Type 'erase': ",
                answer="erase",
                refused="not erased",
            )
        erased = profile_erase(project_id=project.pk, profile_id=profile_id, identifier=identifier)
        if erased is None:
            raise CommandError(f"{unknown} in {project}: nothing erased")
        if options["json"]:
            self.stdout.write(json.dumps(asdict(erased)))
        else:
            self.stdout.write(
                f"erased profile {erased.profile_id} ({', '.join(erased.identifiers)}): {erased.profiles} profile(s), "
                f"{erased.events:,} events, {erased.rejected_events:,} rejected events"
            )

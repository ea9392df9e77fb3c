import json
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingestion.models import Project, Source
from ingestion.selectors import project_get_by_names, source_get
from ingestion.services import access_token_create

MAX_EXPIRES_IN = 100 * 365 * 24 * 3600


class Command(BaseCommand):
    help = (
        "Create a bearer token: for a source (track_api / telemetry_apis) or for a project "
        "(read). With no --scope the token has no scopes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source-id", type=int)
        parser.add_argument("--org")
        parser.add_argument("--project")
        parser.add_argument("--scope", action="append", dest="scopes", default=[])
        parser.add_argument("--expires-in", type=int, help="Seconds until the token expires.")
        parser.add_argument("--label", default="")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        source: Source | None = None
        project: Project | None
        if options["source_id"] is not None and (options["org"] or options["project"]):
            raise CommandError("give --source-id N (a track token), or --org O --project P (a read token), not both")
        if options["source_id"] is not None:
            source = source_get(source_id=options["source_id"])
            if source is None:
                raise CommandError(f"no source {options['source_id']}")
            project = source.project
        elif options["org"] and options["project"]:
            project = project_get_by_names(org=options["org"], project=options["project"])
            if project is None:
                raise CommandError(f"no project {options['org']}/{options['project']}")
        else:
            raise CommandError("give --source-id N, or --org O --project P")
        if options["expires_in"] is not None and not 0 < options["expires_in"] <= MAX_EXPIRES_IN:
            raise CommandError(f"--expires-in must be from 1 to {MAX_EXPIRES_IN} seconds (100 years)")
        expires_in = timedelta(seconds=options["expires_in"]) if options["expires_in"] else None
        try:
            _, token = access_token_create(
                project=project, source=source, scopes=options["scopes"], expires_in=expires_in, label=options["label"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps({"token": token}) if options["json"] else token)
        if not options["scopes"]:
            # The contract makes it so, but such a token is refused by every endpoint
            # (the read API's 401 only names the scope it lacks): say it here, on
            # stderr, so a script reading the token from stdout is not disturbed.
            needed = "track_api or telemetry_apis" if source is not None else "read"
            self.stderr.write(f"warning: this token has no scopes and is refused everywhere; give --scope {needed}")

import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingestion.services import source_provision


class Command(BaseCommand):
    help = "Create (or reuse) an organization, project and source, and print fresh credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True)
        parser.add_argument("--project", required=True)
        parser.add_argument("--source-id", type=int, required=True)
        parser.add_argument("--origin", action="append", default=[], help="Allowed browser origin (repeatable).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = source_provision(
                org=options["org"], project=options["project"], source_id=options["source_id"],
                origins=options["origin"],
            )  # fmt: skip
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(asdict(result)))
            return
        for key, value in asdict(result).items():
            self.stdout.write(f"{key}: {value}")

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingestion.selectors import source_get
from ingestion.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a source and print it (shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source-id", type=int, required=True)
        parser.add_argument("--scope", action="append", dest="scopes", help="Repeatable; default track:events.")
        parser.add_argument("--label", default="")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        source = source_get(source_id=options["source_id"])
        if source is None:
            raise CommandError(f"no source {options['source_id']}")
        scopes = options["scopes"] if options["scopes"] is not None else ["track:events"]
        try:
            _, key = api_key_create(source=source, scopes=scopes, label=options["label"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps({"key": key}) if options["json"] else key)

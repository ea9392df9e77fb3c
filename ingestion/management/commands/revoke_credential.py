from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingestion.services import credential_revoke


class Command(BaseCommand):
    help = "Revoke an API key or access token, given in full or by its identifier."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("credential")

    def handle(self, *args: Any, **options: Any) -> None:
        revoked = credential_revoke(presented_or_identifier=options["credential"])
        if revoked is None:
            raise CommandError("no such key or token")
        credential, newly = revoked
        if newly:
            self.stdout.write(f"revoked {credential.identifier}")
        else:
            assert credential.revoked_at is not None
            self.stdout.write(f"{credential.identifier} was already revoked at {credential.revoked_at.isoformat()}")

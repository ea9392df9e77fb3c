#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackhub.settings")
    from django.core.management import execute_from_command_line

    from trackhub.runtime import database_connect_failure_message, database_unmigrated_message, settings_load_or_exit

    settings_load_or_exit()

    try:
        execute_from_command_line(sys.argv)
    except Exception as exc:
        command = sys.argv[1] if len(sys.argv) > 1 else ""
        message = (
            None
            if "--traceback" in sys.argv
            else database_connect_failure_message(error=exc) or database_unmigrated_message(error=exc, command=command)
        )
        if message is None:
            raise
        raise SystemExit(message) from None


if __name__ == "__main__":
    main()

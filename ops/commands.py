"""What the management commands that destroy data share."""

from __future__ import annotations

from django.core.management.base import CommandError


def confirmation_require(*, prompt: str, answer: str, refused: str) -> None:
    """Ask ``prompt`` on the terminal; CommandError(``refused``) unless ``answer`` is typed.

    No input at all (a script or cron job run without ``--yes``, or Ctrl-D) is a refusal,
    not a traceback.
    """
    try:
        typed = input(prompt)
    except EOFError:
        typed = None
    if typed != answer:
        raise CommandError(f"{refused} (no confirmation; --yes skips it)" if typed is None else refused)

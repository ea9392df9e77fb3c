"""Reads of the profiles domain. Ingestion calls only the public functions here."""

from __future__ import annotations

from collections.abc import Iterable


def profile_ids_for_identifiers(*, project_id: int, identifiers: Iterable[str]) -> dict[str, int]:
    """TrackHub profile id of each resolved identifier (one query); unresolved ones absent.

    Filled in by the identity-resolution work.
    """
    return {}


def profile_identifiers(*, project_id: int, profile_id: int) -> list[str] | None:
    """The identifiers of a profile (following merges to the survivor); None if unknown."""
    return None

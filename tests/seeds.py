"""The seed docs' request bodies, verbatim, as bytes."""

from pathlib import Path

BODIES = Path(__file__).parent / "seed_bodies"


def seed_body(name: str) -> bytes:
    return (BODIES / name).read_bytes()

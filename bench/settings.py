"""TrackHub's settings plus the benchmark's bare view (the framework's floor)."""

from trackhub.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

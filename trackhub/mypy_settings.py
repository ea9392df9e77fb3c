"""Settings module for mypy's django-stubs plugin only (see [tool.django-stubs] in pyproject.toml).

The plugin imports the settings to learn the installed apps and models. settings.py refuses
to load without DJANGO_SECRET_KEY once DATABASE_URL or CELERY_BROKER_URL is set (as in CI and
in the test environment), which crashed the plugin; type checking needs no real secret.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "mypy-only-not-a-secret")

from trackhub.settings import *  # noqa: F403

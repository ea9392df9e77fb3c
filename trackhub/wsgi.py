import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackhub.settings")

application = get_wsgi_application()

from trackhub.runtime import gc_tune  # noqa: E402 - after Django is set up

gc_tune(load_urls=True)

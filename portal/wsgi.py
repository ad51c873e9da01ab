"""WSGI entry point for gunicorn."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

application = get_wsgi_application()

# Import every view now, then exempt everything loaded so far from garbage collection: the
# workers' long-lived objects otherwise make each full collection pause requests for ~100 ms.
get_resolver().url_patterns  # noqa: B018 - imports the URLconf and every view it names
gc.freeze()

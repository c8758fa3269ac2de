"""WSGI entry point (``gunicorn paddock.platform.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

from paddock.platform.config import exit_on_configuration_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paddock.platform.settings")

with exit_on_configuration_error("paddock web"):
    application = get_wsgi_application()

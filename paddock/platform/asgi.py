"""ASGI entry point (``uvicorn paddock.platform.asgi:application``)."""

import os

from django.core.asgi import get_asgi_application

from paddock.platform.config import exit_on_configuration_error

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paddock.platform.settings")

with exit_on_configuration_error("paddock web"):
    application = get_asgi_application()

"""The Celery application (``celery -A paddock.platform worker ...``).

Configuration lives in Django settings under the ``CELERY_`` namespace; queues and routing
are declared in :mod:`paddock.workers.queues` and :mod:`paddock.workers.routing`.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paddock.platform.settings")

app = Celery("paddock")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["paddock.workers"])

"""The Django project: settings, URLs, the Celery app, accounts and roles, health, errors.

Importing the Celery app here (Django's convention) makes ``@shared_task`` bind to it in
every process, web and worker alike.
"""

from paddock.platform.celery import app as celery_app

__all__ = ["celery_app"]

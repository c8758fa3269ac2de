from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "paddock.workers"
    label = "workers"
    verbose_name = "Workers and jobs"

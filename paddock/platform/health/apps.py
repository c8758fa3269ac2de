from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "paddock.platform.health"
    label = "health"
    verbose_name = "Health checks"

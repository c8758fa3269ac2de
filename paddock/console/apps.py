from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The data manager's console: pages over batches, jobs, runs and reward models.

    It owns no models; it is an app so its templates load from ``console/templates``.
    """

    name = "paddock.console"
    label = "console"
    verbose_name = "Console"

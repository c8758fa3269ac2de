"""Every paddock task module; Celery's autodiscovery imports this package on workers."""

from paddock.workers.tasks import diagnostics

__all__ = ["diagnostics"]

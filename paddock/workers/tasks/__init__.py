"""Every paddock task module; Celery's autodiscovery imports this package on workers."""

from paddock.workers.tasks import diagnostics, near_dedup

__all__ = ["diagnostics", "near_dedup"]

"""Every paddock task module; Celery's autodiscovery imports this package on workers."""

from paddock.workers.tasks import curation, diagnostics, near_dedup

__all__ = ["curation", "diagnostics", "near_dedup"]

"""Every paddock task module; Celery's autodiscovery imports this package on workers."""

from paddock.workers.tasks import annotation, curation, diagnostics, near_dedup, pipeline

__all__ = ["annotation", "curation", "diagnostics", "near_dedup", "pipeline"]

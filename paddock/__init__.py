"""paddock: the data side of Llama 2-style chat-model alignment, as one platform.

- ``paddock.kernel``: what every part shares (formats, vocabulary, registry); plain Python.
- ``paddock.platform``: the Django project: settings, URLs, the Celery app, accounts, health.
- ``paddock.curation``: ingest, deduplicate, filter and export public text (``core`` has no Django).
- ``paddock.console``: the data manager's pages.
- ``paddock.annotation``: batches, comparisons, judgements and the annotation UI.
- ``paddock.training``: reward models, sampling, rejection sampling, PPO (no Django).
- ``paddock.workers``: Celery tasks, queues and the weekly pipeline.
"""

__version__ = "0.1.0"

"""paddock: the data side of Llama 2-style chat-model alignment, as one platform.

- ``paddock.platform``: the Django project and the curation app.
- ``paddock.annotation``: batches, comparisons, judgements and the annotation UI.
- ``paddock.training``: reward models, sampling, rejection sampling, PPO (no Django).
- ``paddock.workers``: Celery tasks, queues and the weekly pipeline.
"""

__version__ = "0.1.0"

"""Celery task declarations, queues, routing and the weekly pipeline.

The only part of paddock where Django and the training code meet: tasks take ids, load
rows, call services, and import ``paddock.training`` inside their bodies, so the web
process that enqueues them never imports torch.
"""

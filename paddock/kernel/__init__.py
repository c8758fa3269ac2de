"""What every part of paddock shares: plain Python, standard library only.

The web process (``paddock.platform``, ``paddock.annotation``), the workers and the
training code (``paddock.training``) may all import from here; nothing here imports any of
them, nor Django, Celery or torch (``tests/test_import_boundaries.py``). So a piece both
sides need, such as the model registry's on-disk layout, lives here once instead of being
reached across a boundary from inside a function.
"""

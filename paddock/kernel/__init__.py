"""What every part of paddock shares: plain Python (the standard library and zstandard).

The web process (``paddock.platform``, ``paddock.annotation``), the workers and the
training code (``paddock.training``) may all import from here; nothing here imports any of
them, nor Django, Celery or torch (``tests/test_import_boundaries.py``). So a piece both
sides need, such as the model registry's on-disk layout, lives here once instead of being
reached across a boundary from inside a function.

What lives here: ``compressed`` (open plain/gzip/zstd by magic bytes), ``jsonl`` (the one
robust JSON-lines reader and its :class:`~paddock.kernel.jsonl.LineProblem`),
``hh_rlhf`` (the HH-RLHF transcript parser), ``text_safety`` (the NUL / lone-surrogate
rule), ``atomic_write``, ``exchange`` (the files that cross web/training: writer, schema
versions, format limits), ``registry`` (the model registry), ``origin`` and ``progress``.
zstandard, a plain dependency, is the one import from outside the standard library.
"""

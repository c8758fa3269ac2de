"""What every part of paddock shares: plain Python (the standard library and zstandard).

The web parts (``paddock.platform``, ``paddock.annotation``, ``paddock.curation``,
``paddock.console``), the workers and the training code (``paddock.training``) may all import
from here; nothing here imports any of them, nor Django, Celery or torch
(``tests/test_import_boundaries.py``). So what crosses between web and training is written
once, here, instead of a copy on each side or a reach across the boundary from inside a
function.

What lives here: ``vocabulary`` (the recipe's words: axes, strengths, margin tables, risk
categories, safety bins), ``exchange`` (the files that cross web/training: prompts, pairs,
preferences; writer, reader, schema versions, format limits), ``jsonl`` (the one robust
JSON-lines reader and its :class:`~paddock.kernel.jsonl.LineProblem`), ``compressed``
(open plain/gzip/zstd by magic bytes, memory-bounded), ``hh_rlhf`` (the HH-RLHF transcript
parser), ``text_safety`` (the NUL / lone-surrogate rule), ``atomic_write``, ``registry``
(the model registry), ``origin`` (a checkpoint's origin record), ``progress`` (the progress
callback) and ``throttle`` (how often progress is stored). zstandard, a plain dependency,
is the one import from outside the standard library.
"""

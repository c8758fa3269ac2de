"""Celery task declarations, queues, routing, the run engine and the weekly pipeline.

The only part of paddock where Django and the training code meet: tasks take ids, load
rows and call services. Training runs as child-process CLIs (``pipeline/child.py``), and
the few modules that load torch in the worker itself (``generation.py``, the bootstrap
command) import it inside their functions, so the web process that enqueues tasks never
imports torch. Those lazy loads are the only function-level imports of paddock code here
(``tests/workers/test_import_graph.py``).

The run engine, shared by pipeline steps and curation runs: one state vocabulary
(``states.py``), heartbeats and when silence means a lost worker (``heartbeat.py``), and
the watchdog in the beat tick (``tasks/pipeline.py``).
"""

"""The weekly loop: close a batch, export it, retrain both reward models, improve the
policy, sample the next batch's comparisons from it, open the next batch.

``plan`` says which steps run; ``runner`` makes each step safe to deliver twice and to
resume after a killed worker; ``canvas`` turns the steps into Celery primitives over the
named queues; ``steps`` holds what each step does; ``service`` starts, re-runs, cancels
and watches runs.
"""

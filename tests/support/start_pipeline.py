"""``python -m tests.support.start_pipeline BATCH_ID PLAN_JSON`` starts a pipeline run, and
``python -m tests.support.start_pipeline watch`` runs the watchdog once (as beat would),
from a process of its own, so their messages go to the broker named by this process's
REDIS_URL (a test's own Redis) rather than the test session's."""

from __future__ import annotations

import json
import sys


def main() -> None:
    import django

    django.setup()
    from django.db import transaction

    from paddock.annotation.models import Batch
    from paddock.workers.pipeline.service import pipeline_start, pipeline_watch

    if sys.argv[1] == "watch":
        with transaction.atomic():
            print(json.dumps(pipeline_watch()))
        return
    with transaction.atomic():
        run = pipeline_start(Batch.objects.get(pk=int(sys.argv[1])), plan=json.loads(sys.argv[2]))
    print(run.pk)


if __name__ == "__main__":
    main()

"""``python -m tests.support.start_pipeline BATCH_ID PLAN_JSON``: start a pipeline run from
a process of its own, so its messages go to the broker named by this process's REDIS_URL
(a test's own Redis) rather than the test session's."""

from __future__ import annotations

import json
import sys


def main() -> None:
    import django

    django.setup()
    from django.db import transaction

    from paddock.annotation.models import Batch
    from paddock.workers.pipeline.service import pipeline_start

    with transaction.atomic():
        run = pipeline_start(Batch.objects.get(pk=int(sys.argv[1])), plan=json.loads(sys.argv[2]))
    print(run.pk)


if __name__ == "__main__":
    main()

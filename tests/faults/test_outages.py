"""Faults injected into the real services: Redis unreachable, the artifact disk full.

The promise: annotators keep working, every accepted judgement stays, a job that could
not start says so instead of sitting queued, and no half-written file is taken for a
complete one.
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from paddock.annotation.models import Axis, Judgement
from paddock.annotation.services.assignment import next_assignment, submit_judgement
from paddock.annotation.services.export import export_path
from paddock.platform.accounts.models import Role
from paddock.workers.models import Job, JobState
from tests.annotation.factories import make_batch, make_comparisons
from tests.support.skips import skip_or_fail


@pytest.fixture
def broker_down(celery_app):
    """The web process's broker points at a port where no Redis listens. The session's
    connection pools are set aside, not closed, and put back afterwards."""
    saved = (celery_app.conf.broker_url, celery_app._pool, celery_app.amqp._producer_pool)
    celery_app.conf.broker_url = "redis://127.0.0.1:9/0"
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    yield
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()  # the dead broker's pool only
    celery_app.conf.broker_url, celery_app._pool, celery_app.amqp._producer_pool = saved


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db(transaction=True)
def test_with_redis_down_annotators_work_on_and_an_export_says_it_did_not_start(
    broker_down, make_user
):
    batch = make_batch(overlap=1)
    make_comparisons(batch, 2)
    annotator = client_for(make_user(Role.ANNOTATOR))
    lease = annotator.post("/api/v1/annotation/next")
    assert lease.status_code == 200  # the annotation path is PostgreSQL only
    submitted = annotator.post(
        f"/api/v1/annotation/assignments/{lease.json()['assignment_id']}/submit",
        {"chosen": "left", "strength": "better"}, format="json")
    assert submitted.status_code == 201

    manager = client_for(make_user(Role.DATA_MANAGER))
    manager.raise_request_exception = False
    refused = manager.post(f"/api/v1/annotation/batches/{batch.pk}/export",
                           {"kind": "preferences"}, format="json")
    assert refused.status_code == 503, refused.content
    assert refused.json()["error"] == "broker_unavailable" and refused["Retry-After"]
    job = Job.objects.get()
    assert job.state == JobState.FAILED and "could not be reached" in job.message
    assert Judgement.objects.count() == 1


@pytest.fixture
def small_disk(tmp_path, settings):
    """The artifacts folder on a 1 MiB tmpfs (root only: CI runs as root)."""
    mount = tmp_path / "artifacts"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        skip_or_fail(f"cannot mount a small tmpfs to fill up ({done.stderr.strip()}): "
                     "the disk-full tests need root")
    settings.ARTIFACTS_DIR = mount
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path, leave: int) -> None:
    """Fill the file system of ``folder`` until only ``leave`` bytes are free."""
    import os

    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    with open(folder / "filler", "wb") as out:
        out.write(b"\0" * max(free - leave, 0))


def test_a_full_disk_fails_the_export_and_keeps_the_last_complete_one(db, small_disk, make_user):
    from paddock.workers.tasks.annotation import export_batch_task
    from paddock.workers.tracking import JOB_HEADER

    batch = make_batch(overlap=1)
    make_comparisons(batch, 60, axis=Axis.HELPFULNESS)
    annotator = make_user(Role.ANNOTATOR)
    for _ in range(30):
        lease = next_assignment(annotator=annotator, batch=batch)
        submit_judgement(annotator=annotator, assignment_id=lease.pk, chosen_side="left",
                         strength="better")
    first = export_batch_task.apply(kwargs={"batch_id": batch.pk}).get()
    path = export_path(batch, "preferences")
    complete = path.read_bytes()
    assert first["records"] == 30

    while (lease := next_assignment(annotator=annotator, batch=batch)) is not None:
        submit_judgement(annotator=annotator, assignment_id=lease.pk, chosen_side="right",
                         strength="slightly_better")
    fill(small_disk, leave=2048)
    job = Job.objects.create(task_name=export_batch_task.name, queue="default",
                             kwargs={"batch_id": batch.pk})
    export_batch_task.apply(kwargs=job.kwargs, task_id=str(job.pk), headers={JOB_HEADER: True})

    job.refresh_from_db()
    assert job.state == JobState.FAILED and "No space left on device" in job.message
    assert path.read_bytes() == complete  # the last complete export, untouched
    assert len(gzip.decompress(complete).splitlines()) == 30
    assert not list(path.parent.glob("*.tmp"))  # no half-written file left behind
    (small_disk / "filler").unlink()
    assert export_batch_task.apply(kwargs={"batch_id": batch.pk}).get()["records"] == 60


def test_a_full_disk_fails_a_checkpoint_and_the_previous_one_stays_the_latest(small_disk):
    import torch

    from paddock.training.checkpoints import (
        CheckpointWriteError,
        latest_checkpoint,
        load_checkpoint,
        save_checkpoint,
    )

    class Config:
        def save(self, folder):
            (Path(folder) / "config.json").write_text("{}")

    model = torch.nn.Linear(200, 200)  # 160 KB of weights
    first = save_checkpoint(small_disk / "run", 1, models={"model": model},
                            state={"step": 1}, config=Config())
    saved = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    fill(small_disk, leave=64 * 1024)
    # torch's writer may report the full disk as a short write; the error names the
    # checkpoint and the space left either way, and is an OSError callers can catch.
    with pytest.raises(CheckpointWriteError, match=r"checkpoint-2: the checkpoint could not "
                                                   r"be written \(.+\); [\d,]+ bytes free"):
        save_checkpoint(small_disk / "run", 2, models={"model": model}, state={"step": 2},
                        config=Config())
    assert latest_checkpoint(small_disk / "run") == first
    assert not list((small_disk / "run").glob("*.partial"))  # its space was given back
    state = load_checkpoint(first, models={"model": model}, device=torch.device("cpu"))
    assert state["step"] == 1 and torch.equal(model.weight, saved)

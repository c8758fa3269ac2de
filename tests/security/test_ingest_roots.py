"""Issue 18, M5: a data manager ingests only under the ingest roots.

Ingesting ``/proc/<pid>/environ`` and the secret-key file stored the workers' secrets as
searchable documents. Now the path is resolved (``..`` and symlinks followed) and must lie
under ``PADDOCK_INGEST_ROOTS``; /proc, /sys and /dev never. Checked by the service both
doors call and again by the worker.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from paddock.curation.core.readers import read_documents
from paddock.curation.services.actions import CurationActionError, source_ingest_start
from paddock.curation.services.ingest_paths import IngestPathRefused, ingest_path_check
from paddock.workers.models import Job, JobState
from paddock.workers.tasks.curation import ingest_source
from tests.workers.test_jobs import queued_job, run_in_process

pytestmark = pytest.mark.django_db

DOCUMENT = '{"text": "an honest document"}\n'


@pytest.fixture
def root() -> Path:
    folder = django_settings.INGEST_ROOTS[0]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def secret_file(tmp_path) -> Path:
    """Like var/secret_key: a file the workers can read, outside the roots."""
    path = tmp_path / "secret_key.jsonl"
    path.write_text('{"text": "SECRET_KEY=do-not-leak"}\n')
    return path


def refused(path) -> str:
    with pytest.raises(CurationActionError) as caught:
        source_ingest_start(path=path, name="leak", fmt="jsonl")
    assert not Job.objects.exists()
    return str(caught.value)


def test_the_workers_environment_is_refused_even_when_a_root_covers_it(root):
    assert "system file" in refused(f"/proc/{os.getpid()}/environ")
    assert "system file" in refused("/proc/self/environ")
    with pytest.raises(IngestPathRefused, match="system file"):
        ingest_path_check("/proc/self/environ", roots=[Path("/")])
    with pytest.raises(IngestPathRefused, match="system file"):
        ingest_path_check("/dev/zero", roots=[Path("/")])


def test_a_file_outside_the_roots_is_refused_with_where_files_go(root, secret_file):
    message = refused(secret_file)
    assert "outside the folders curation reads from" in message and str(root) in message
    assert "PADDOCK_INGEST_ROOTS" in message


def test_dot_dot_cannot_climb_out_of_a_root(root, secret_file):
    climbing = root / ".." / ".." / secret_file.relative_to(secret_file.anchor)
    assert "outside the folders" in refused(climbing)
    assert "outside the folders" in refused("../" * 30 + str(secret_file).lstrip("/"))


def test_a_symlink_in_a_root_to_a_file_outside_is_refused(root, secret_file):
    link = root / "innocent.jsonl"
    link.symlink_to(secret_file)
    environ = root / "environ.jsonl"
    environ.symlink_to("/proc/self/environ")
    try:
        assert "outside the folders" in refused(link)
        assert "system file" in refused(environ)
    finally:
        link.unlink()
        environ.unlink()


def test_a_file_in_a_root_is_queued_by_absolute_or_relative_path(root):
    (root / "crawl").mkdir(exist_ok=True)
    path = root / "crawl" / "docs.jsonl"
    path.write_text(DOCUMENT)
    job = source_ingest_start(path=path, name="docs", fmt="jsonl")
    again = source_ingest_start(path="crawl/docs.jsonl", name="docs", fmt="jsonl")
    assert job.kwargs["path"] == again.kwargs["path"] == str(path.resolve())


def test_the_worker_checks_again_before_reading(root, secret_file):
    """A job whose path became a symlink out of the roots after it was queued."""
    link = root / "swapped.jsonl"
    link.symlink_to(secret_file)
    try:
        job = queued_job(ingest_source, path=str(link), name="swapped", fmt="jsonl")
        run_in_process(ingest_source, job)
    finally:
        link.unlink()
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "outside the folders" in job.message
    assert "do-not-leak" not in job.message


def test_a_folder_source_does_not_follow_a_symlinked_file_out_of_it(tmp_path, secret_file):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("an honest text")
    (folder / "b.txt").symlink_to(secret_file)
    (folder / "c.txt").symlink_to("/proc/self/environ")
    texts = [item.text for item in read_documents(folder, "text")]
    assert texts == ["an honest text"]


# --- The upload door: a file from the manager's own computer -----------------------------


def ingest_page_post(client, **fields):
    from django.urls import reverse

    data = {"name": "uploaded", "format": "jsonl", "text_field": "text", "url_field": "url",
            **fields}
    return client.post(reverse("curation:ingest"), data, follow=True)


@pytest.fixture
def manager_client(client, make_user):
    from paddock.platform.accounts.models import Role

    client.force_login(make_user(Role.DATA_MANAGER))
    return client


def test_an_uploaded_file_is_saved_in_the_first_root_and_ingested_from_there(
        root, manager_client):
    """No path on the servers needed: the upload lands in ``<root>/uploads/`` (shared
    storage), passes the same check as a typed path, and its document is read."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("../../my docs.jsonl", DOCUMENT.encode())
    page = ingest_page_post(manager_client, file=upload)
    assert "Ingesting my docs.jsonl" in page.content.decode()
    job = Job.objects.get()
    saved = Path(job.kwargs["path"])
    assert saved.parent == (root / "uploads").resolve()  # the name's ../ went nowhere
    assert saved.name.endswith("-my docs.jsonl") and saved.read_text() == DOCUMENT
    run_in_process(ingest_source, job)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, job.message


@pytest.mark.parametrize("given", ["neither", "both"])
def test_the_form_takes_a_path_or_an_upload_not_both(root, manager_client, given):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fields = {} if given == "neither" else {
        "path": "docs.jsonl", "file": SimpleUploadedFile("docs.jsonl", DOCUMENT.encode())}
    page = ingest_page_post(manager_client, **fields)
    assert "Ingest not started" in page.content.decode()
    assert "one of the two" in page.content.decode()
    assert not Job.objects.exists()

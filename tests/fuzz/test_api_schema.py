"""Schema-based fuzzing of the REST API: every operation of the OpenAPI schema that
drf-spectacular serves at /api/schema/, called through the Django WSGI app, with data
schemathesis generates from the schema (valid and, separately, invalid), as an annotator
and as a data manager, each with a DRF token. The check: ``not_a_server_error``.

Each role calls every operation: its own with real ids in the path (a live lease, a
judgement, a prompt request, a batch, a job) and with generated ids, the other role's a
few times (they must answer 403, not fail). Every example runs in a savepoint rolled back
afterwards, so each starts from the same state. No operation is excluded: the one
download (GET batches/{id}/export) needs no file, as without one it answers 404.

Bounded and derandomized: the same requests on every run.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given
from hypothesis import settings as fuzz_settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from paddock.annotation.models import Axis
from paddock.annotation.services.assignment import next_assignment, submit_judgement
from paddock.platform.accounts.models import Role
from tests.annotation.factories import make_batch, make_comparisons
from tests.fuzz.api_helpers import rolled_back

OWN_EXAMPLES = 25  # per operation of the role's own, per kind of data
OTHER_ROLE_EXAMPLES = 3
FUZZ_API = fuzz_settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
MANAGER_PATHS = ("/api/v1/annotation/batches", "/api/v1/jobs/")


def manager_operation(path: str) -> bool:
    return path.startswith(MANAGER_PATHS)


@pytest.fixture
def schema():
    raw = SchemaGenerator().get_schema(request=None, public=True)
    return schemathesis.openapi.from_dict(json.loads(json.dumps(raw)),
                                          config=schemathesis.Config())


@pytest.fixture
def wsgi_app(settings) -> Iterator[WSGIHandler]:
    """Django's WSGI app on the test's own connection and transaction.

    Django closes "old" connections at the start and end of every request, which would
    close the test's connection mid-transaction; its test client unhooks that, and so
    does this. Exceptions behind a 500 are kept to show in the failure.
    """
    settings.ALLOWED_HOSTS = ["*"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    errors: list[str] = []

    def keep(sender, request=None, **kwargs):
        errors.append(traceback.format_exc())

    got_request_exception.connect(keep)
    app = WSGIHandler()
    app.errors = errors
    try:
        yield app
    finally:
        got_request_exception.disconnect(keep)
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(make_user, django_capture_on_commit_callbacks):
    """A batch with comparisons; an annotator with a judgement, a live lease and a queued
    prompt request; a data manager with an export job; a token each."""
    from paddock.annotation.services.authoring import prompt_request
    from paddock.workers.jobs import job_enqueue
    from paddock.workers.tasks.annotation import export_batch_task, sample_responses_task

    batch = make_batch(overlap=2)
    make_comparisons(batch, 3)
    make_comparisons(batch, 2, axis=Axis.SAFETY)
    annotator, manager = make_user(Role.ANNOTATOR), make_user(Role.DATA_MANAGER)
    first = next_assignment(annotator=annotator)
    judgement = submit_judgement(annotator=annotator, assignment_id=first.pk, chosen_side="left",
                                 strength="better", left_safe=True, right_safe=True).judgement
    lease = next_assignment(annotator=annotator)
    with django_capture_on_commit_callbacks(execute=False):  # nothing goes to Redis
        request = prompt_request(annotator=annotator, batch=batch, message="Hi")
        prompt_job = job_enqueue(task=sample_responses_task,
                                 kwargs={"request": request.as_kwargs(), "request_id": "x"},
                                 label="fuzz", created_by=annotator)
        export_job = job_enqueue(task=export_batch_task,
                                 kwargs={"batch_id": batch.pk, "kind": "raw"},
                                 label="fuzz", created_by=manager)
    ids = {
        "assignment_id": lease.pk,
        "judgement_id": judgement.pk,
        "request_id": str(prompt_job.pk),
        "id": batch.pk,
    }
    return {
        "annotator": f"Token {Token.objects.create(user=annotator).key}",
        "manager": f"Token {Token.objects.create(user=manager).key}",
        "ids": ids,
        "job": str(export_job.pk),
    }


def fuzz_operation(operation, app, authorization: str, path_parameters: dict | None,
                   mode: GenerationMode, examples: int) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @fuzz_settings(FUZZ_API, max_examples=examples)
    @given(case=strategy)
    def check(case):
        def call() -> None:
            app.errors.clear()
            try:
                case.call_and_validate(app=app, headers={"Authorization": authorization},
                                       checks=[not_a_server_error])
            except Exception as failure:
                if app.errors:
                    failure.add_note("Server traceback:\n" + app.errors[-1])
                raise

        rolled_back(call)

    check()


@pytest.mark.parametrize("role", ["annotator", "manager"])
def test_no_operation_answers_a_server_error(db, schema, wsgi_app, world, role):
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 19, [op.label for op in operations]
    for operation in operations:
        own = manager_operation(operation.path) == (role == "manager")
        names = {p.name for p in operation.path_parameters}
        real = {name: world["ids"][name] for name in names}
        if operation.path.startswith("/api/v1/jobs/"):
            real = {"id": world["job"]}
        if not own:
            fuzz_operation(operation, wsgi_app, world[role], real or None,
                           GenerationMode.POSITIVE, OTHER_ROLE_EXAMPLES)
            continue
        fuzz_operation(operation, wsgi_app, world[role], real or None,
                       GenerationMode.POSITIVE, OWN_EXAMPLES)
        if len(operation.body):  # invalid bodies, sent to a real object
            fuzz_operation(operation, wsgi_app, world[role], real or None,
                           GenerationMode.NEGATIVE, OWN_EXAMPLES)
        if names:  # anything invalid, ids in the path included
            fuzz_operation(operation, wsgi_app, world[role], None,
                           GenerationMode.NEGATIVE, OWN_EXAMPLES // 2)

def test_the_served_schema_is_the_one_fuzzed(db, client, world):
    """The schema fuzzed above is the one /api/schema/ serves, operation for operation."""
    response = client.get("/api/schema/?format=json",
                          HTTP_AUTHORIZATION=world["manager"])
    assert response.status_code == 200
    served = json.loads(response.content)
    generated = SchemaGenerator().get_schema(request=None, public=True)
    assert served["paths"].keys() == generated["paths"].keys()


"""The task decorator: names, queues and retry policies are checked at declaration."""

import pytest

from paddock.platform.celery import app
from paddock.workers.declare import NO_RETRY, RetryPolicy, declarations, paddock_task
from paddock.workers.queues import CPU_QUEUES, GPU_QUEUES, Queue
from paddock.workers.routing import route_task


def test_queue_must_be_a_queue_member_so_typos_fail_at_import():
    with pytest.raises(TypeError, match=r"member of paddock\.workers\.queues\.Queue"):
        paddock_task(name="tests.bad_queue", queue="trainig")


@pytest.mark.parametrize(
    "name", ["probe", "Tests.Upper", "tests.", "tests..double", "tests.has-dash"]
)
def test_task_names_are_dotted_lower_case(name):
    with pytest.raises(ValueError, match="dotted lower-case"):
        paddock_task(name=name, queue=Queue.DEFAULT)


def test_retrying_requires_a_task_declared_idempotent():
    with pytest.raises(ValueError, match="idempotent=True"):
        paddock_task(name="tests.unsafe_retry", queue=Queue.DEFAULT, retry=RetryPolicy.transient())


def test_one_name_cannot_be_declared_by_two_functions():
    @paddock_task(name="tests.declared_once", queue=Queue.DEFAULT)
    def first():
        return 1

    with pytest.raises(ValueError, match="declared twice"):

        @paddock_task(name="tests.declared_once", queue=Queue.DEFAULT)
        def second():
            return 2


def test_idempotent_tasks_are_acknowledged_late_and_others_early():
    @paddock_task(name="tests.safe_twice", queue=Queue.TRAINING, idempotent=True)
    def safe():
        return None

    @paddock_task(name="tests.once_only", queue=Queue.TRAINING)
    def once():
        return None

    assert safe.acks_late and safe.reject_on_worker_lost
    assert not once.acks_late
    assert once.max_retries == NO_RETRY.max_retries


def test_router_sends_each_declared_task_to_its_queue():
    for name, declaration in declarations().items():
        route = route_task(name, (), {}, {})
        assert route["queue"] == declaration.queue.value
    assert route_task("celery.chord_unlock", (), {}, {}) is None


def test_every_queue_is_declared_to_celery_and_belongs_to_one_kind_of_worker():
    declared = {queue.name for queue in app.conf.task_queues}
    assert declared == {queue.value for queue in Queue}
    assert set(CPU_QUEUES) | set(GPU_QUEUES) == set(Queue)
    assert not set(CPU_QUEUES) & set(GPU_QUEUES)
    assert app.conf.task_create_missing_queues is False


def test_shipped_tasks_all_go_through_the_decorator():
    app.loader.import_default_modules()
    app.autodiscover_tasks(["paddock.workers"], force=True)
    shipped = {name for name in app.tasks if name.startswith("diagnostics.")}
    assert shipped and shipped <= set(declarations())

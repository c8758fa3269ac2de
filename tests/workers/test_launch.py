"""paddock-worker builds the Celery command line for each kind of machine."""

from paddock.workers.launch import celery_argv, parse


def argv_for(*args: str) -> list[str]:
    parsed, passthrough = parse(list(args))
    return celery_argv(parsed, passthrough)


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_gpu_worker_consumes_gpu_queues_one_task_at_a_time():
    argv = argv_for("gpu", "--gpu", "3")
    assert option(argv, "--queues") == "generation,training"
    assert option(argv, "--concurrency") == "1"
    assert option(argv, "--prefetch-multiplier") == "1"
    assert option(argv, "--hostname") == "gpu3@%h"


def test_cpu_worker_consumes_cpu_queues_and_passes_extra_celery_options_through():
    argv = argv_for("cpu", "--concurrency", "6", "--max-tasks-per-child", "100")
    assert option(argv, "--queues") == "default,curation"
    assert option(argv, "--concurrency") == "6"
    assert argv[-2:] == ["--max-tasks-per-child", "100"]


def test_beat_runs_the_scheduler():
    argv = argv_for("beat")
    assert argv[argv.index("-A") + 2] == "beat"

"""paddock-worker builds the Celery command line for each kind of machine."""

import pytest

from paddock.workers.launch import celery_argv, parse


def argv_for(*args: str) -> list[str]:
    parsed, passthrough = parse(list(args))
    return celery_argv(parsed, passthrough)


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_gpu_worker_consumes_gpu_queues_one_task_at_a_time():
    argv = argv_for("gpu", "--gpu", "3")
    assert option(argv, "--queues") == "generation,training,training_group"
    assert option(argv, "--concurrency") == "1"
    assert option(argv, "--prefetch-multiplier") == "1"
    assert option(argv, "--hostname") == "gpu3@%h"


def test_a_worker_for_several_gpus_trains_with_one_process_per_gpu(settings):
    from paddock.workers.launch import gpu_environment, parse
    from paddock.workers.pipeline.child import training_group

    args, _ = parse(["gpu", "--gpu", "0,1,2,3"])
    assert option(argv_for("gpu", "--gpu", "0,1,2,3"), "--hostname") == "gpu0-1-2-3@%h"
    assert gpu_environment(args) == {"CUDA_VISIBLE_DEVICES": "0,1,2,3",
                                     "PADDOCK_TRAINING_PROCESSES": "4"}
    settings.PADDOCK_TRAINING_PROCESSES = 4
    assert training_group("paddock.training.reward", ["train"]).command()[1:] == [
        "-m", "torch.distributed.run", "--nproc_per_node", "4", "--standalone"]
    for command in ("sft", "rejection", "ppo"):
        assert "--standalone" in training_group("paddock.training.policy", [command]).command()
    assert len(training_group("paddock.training.policy", ["sample"]).command()) == 1  # one process
    settings.PADDOCK_TRAINING_PROCESSES = 1
    assert len(training_group("paddock.training.reward", ["train"]).command()) == 1
    with pytest.raises(SystemExit):
        parse(["gpu", "--gpu", "0,x"])


def test_cpu_worker_consumes_cpu_queues_and_passes_extra_celery_options_through():
    argv = argv_for("cpu", "--concurrency", "6", "--max-tasks-per-child", "100")
    assert option(argv, "--queues") == "default,curation"
    assert option(argv, "--concurrency") == "6"
    assert argv[-2:] == ["--max-tasks-per-child", "100"]


def test_beat_runs_the_scheduler():
    argv = argv_for("beat")
    assert argv[argv.index("-A") + 2] == "beat"


def test_a_step_across_machines_meets_at_the_rendezvous_address(settings):
    from paddock.workers.pipeline.child import Group, GroupConfigurationError, training_group

    settings.PADDOCK_TRAINING_PROCESSES = 8
    settings.PADDOCK_TRAINING_NODES = 2
    settings.PADDOCK_TRAINING_RENDEZVOUS = ""
    with pytest.raises(GroupConfigurationError, match="needs PADDOCK_TRAINING_RENDEZVOUS"):
        training_group("paddock.training.policy", ["ppo"]).command()
    settings.PADDOCK_TRAINING_RENDEZVOUS = "gpu-a.internal:29500"
    group = training_group("paddock.training.policy", ["ppo"])
    assert group == Group(8, 2, "gpu-a.internal:29500")
    assert group.command(1)[1:] == [
        "-m", "torch.distributed.run", "--nproc_per_node", "8", "--nnodes", "2",
        "--node_rank", "1", "--master_addr", "gpu-a.internal", "--master_port", "29500"]
    assert training_group("paddock.training.policy", ["sample"]) == Group()


def test_the_engine_is_the_deployments_choice(settings):
    from paddock.workers.pipeline.child import engine_setting

    settings.PADDOCK_TRAINING_PARALLELISM = "auto"
    assert engine_setting("paddock.training.policy", ["ppo"]) == []
    settings.PADDOCK_TRAINING_PARALLELISM = "fsdp"
    assert engine_setting("paddock.training.policy", ["ppo"]) == [
        "--set", 'parallelism="fsdp"']
    assert engine_setting("paddock.training.policy", ["sample"]) == []


def test_a_wrong_engine_name_stops_start_up():
    from paddock.platform.config import ConfigurationError, env_choice

    with pytest.raises(ConfigurationError, match="PADDOCK_TRAINING_PARALLELISM='zero3' is not "
                                                 "one of auto, ddp, fsdp"):
        env_choice("PADDOCK_TRAINING_PARALLELISM", "auto", ("auto", "ddp", "fsdp"),
                   env={"PADDOCK_TRAINING_PARALLELISM": "zero3"})

"""``paddock-worker cpu|gpu|beat``: start a Celery worker for one kind of machine.

The queue set, concurrency and prefetch of each kind live here, once, instead of in every
deployment script:

- ``cpu``: ``default`` and ``curation``; one process per core.
- ``gpu``: ``generation`` and ``training``; concurrency 1 and prefetch 1, one worker per GPU
  (``--gpu N`` pins it with CUDA_VISIBLE_DEVICES), or one worker for several GPUs
  (``--gpu 0,1,2,3``), whose training steps then run under torchrun, one process per GPU.
  A training step holds the whole GPU for hours; a second task beside it would run out of
  memory, and a prefetched message would wait behind it while another GPU machine idles.
- ``beat``: the scheduler for weekly batches (exactly one per installation).

Before handing over to Celery it checks the configuration, the database and Redis, so a
mistake is one line on stderr rather than a worker retrying forever.
"""

from __future__ import annotations

import argparse
import os
import sys

from paddock.workers.queues import CPU_QUEUES, GPU_QUEUES

CELERY_APP = "paddock.platform"


def celery_argv(args: argparse.Namespace, passthrough: list[str]) -> list[str]:
    base = [sys.executable, "-m", "celery", "-A", CELERY_APP]
    log = ["--loglevel", args.loglevel]
    if args.kind == "beat":
        return [*base, "beat", *log, *passthrough]
    if args.kind == "cpu":
        queues = CPU_QUEUES
        name = args.name or "cpu@%h"
        tuning = ["--concurrency", str(args.concurrency or os.cpu_count() or 1)]
    else:
        queues = GPU_QUEUES
        pinned = args.gpu.replace(",", "-") if args.gpu is not None else ""
        name = args.name or f"gpu{pinned}@%h"
        tuning = ["--concurrency", "1", "--prefetch-multiplier", "1"]
    return [
        *base,
        "worker",
        "--queues",
        ",".join(q.value for q in queues),
        "--hostname",
        name,
        *tuning,
        *log,
        *passthrough,
    ]


def gpu_environment(args: argparse.Namespace) -> dict[str, str]:
    """The GPUs the worker owns, and how many processes its training steps start."""
    if args.gpu is None:
        return {}
    return {"CUDA_VISIBLE_DEVICES": args.gpu,
            "PADDOCK_TRAINING_PROCESSES": str(len(args.gpu.split(",")))}


def _gpu_list(text: str) -> str:
    indices = text.split(",")
    if not all(index.strip().isdigit() for index in indices):
        raise argparse.ArgumentTypeError(f"{text!r}: expected GPU indices such as 0 or 0,1,2,3")
    return ",".join(index.strip() for index in indices)


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="paddock-worker", description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=["cpu", "gpu", "beat"])
    parser.add_argument("--concurrency", type=int, help="cpu workers: processes (default: cores)")
    parser.add_argument("--gpu", type=_gpu_list,
                        help="gpu workers: the GPU index to pin, or several: 0,1,2,3")
    parser.add_argument("--name", help="worker node name (default: KIND@host)")
    parser.add_argument("--loglevel", default="info")
    parser.add_argument("--skip-preflight", action="store_true")
    return parser.parse_known_args(argv)


def preflight() -> None:
    # Lazy: main() sets DJANGO_SETTINGS_MODULE and the GPU environment before Django (and
    # paddock.platform, which loads the Celery app) is imported.
    import django
    from django.conf import settings

    from paddock.platform.config import exit_on_configuration_error
    from paddock.platform.health.checks import preflight_problems

    with exit_on_configuration_error("paddock-worker"):
        django.setup()
        problems = preflight_problems(settings.REDIS_URL)
    if problems:
        sys.stderr.write(f"paddock-worker: {' '.join(problems)}\n")
        sys.exit(2)
    os.makedirs(settings.ARTIFACTS_DIR, exist_ok=True)


def main(argv: list[str] | None = None) -> None:
    args, passthrough = parse(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paddock.platform.settings")
    os.environ.update(gpu_environment(args))
    if not args.skip_preflight:
        preflight()
    command = celery_argv(args, passthrough)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()

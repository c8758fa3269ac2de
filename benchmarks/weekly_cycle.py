"""One full weekly cycle of the demo, on real Redis, PostgreSQL and worker processes.

A CPU worker (default, curation) and a GPU-queue worker (generation, training) run the
pipeline on the seeded demo batch with tiny models: close, export, both reward models,
evaluation, rejection sampling with SFT, registration, sampling into the next batch,
opening it. Reported: the cycle's wall time, each step's time inside its function and on
the clock, and the orchestration overhead: the part of the cycle spent outside any step
function (broker hops, claims, heartbeats, result passing). Target: under 5%.

``--models real`` runs the cycle ``make run`` offers instead: SmolLM2-135M-Instruct as the
policy, MiniLM as the reward base, the ``demo`` plan preset; it writes
``results/weekly_cycle_demo.json`` (the time **Run the weekly cycle now** takes on the demo
batch).

    python -m benchmarks.weekly_cycle [--quick] [--models tiny|real]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import create_postgres_database, drop_postgres_database, isolate_environment

TARGET_OVERHEAD = 0.05


def step_metrics(result: object, prefix: str = "") -> dict[str, float]:
    """A step's numeric results (losses, accuracies, counts), flattened to dotted keys, so
    two commits' runs can be compared for the same training outcome; timings are left out
    because they vary run to run."""
    found: dict[str, float] = {}
    if isinstance(result, dict):
        for key, value in result.items():
            found.update(step_metrics(value, f"{prefix}{key}."))
    elif isinstance(result, bool):
        pass
    elif isinstance(result, int | float) and not any(
            word in prefix for word in ("seconds", "second.", "_s.", "rate.", "per_s")):
        found[prefix.rstrip(".")] = round(float(result), 6)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller demo batch and plan")
    parser.add_argument("--models", choices=("tiny", "real"), default="tiny",
                        help="tiny random models (orchestration) or the demo's real ones")
    args = parser.parse_args()
    real = args.models == "real"

    isolate_environment()
    if real:  # converted once into a cache beside the checkout, reused by later runs
        from paddock.training.bases import convert_smollm2, copy_minilm

        cache = Path(__file__).resolve().parent.parent / "var" / "bench-cache" / "bases"
        os.environ["PADDOCK_POLICY_BASE_MODEL"] = str(convert_smollm2(cache / "smollm2"))
        os.environ["PADDOCK_REWARD_BASE_MODEL"] = str(copy_minilm(cache / "minilm"))
    database_url, name = create_postgres_database("paddock_bench_cycle")
    os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from benchmarks.common import clear_redis_keys, write_results
    from paddock.platform.celery import app
    from paddock.workers.demo import demo_batch_seed
    from paddock.workers.models import PipelineRun, RunState
    from paddock.workers.pipeline.service import pipeline_start
    from tests.support.celery_worker import WorkerProcess, worker_environment

    workers: list[WorkerProcess] = []
    try:
        call_command("migrate", verbosity=0)
        call_command("paddock_bootstrap_models", tiny=not real, verbosity=0)
        batch = demo_batch_seed(repeats=2 if args.quick else 4)
        tiny_plan = {"reward": {"epochs": 1, "max_length": 128, "batch_pairs": 8,
                                "micro_batch_pairs": 8},
                     "rejection": {"k": 2 if args.quick else 4, "max_new_tokens": 16,
                                   "epochs": 1},
                     "sampling": {"max_prompts": 8 if args.quick else 32, "max_new_tokens": 16}}
        plan = {"preset": "demo"} if real else tiny_plan
        env = worker_environment(settings_module="paddock.platform.settings")
        logs = Path(tempfile.mkdtemp())
        for queues in (["default", "curation"], ["generation", "training"]):
            workers.append(WorkerProcess(queues=queues, env=env, log_dir=logs).start(app))
        started = time.perf_counter()
        run = pipeline_start(batch, plan=plan)
        deadline = time.monotonic() + (3 * 3600 if real else 1800)
        while time.monotonic() < deadline:
            run.refresh_from_db()
            if run.state in (RunState.SUCCEEDED, RunState.FAILED):
                break
            time.sleep(0.2)
        wall = time.perf_counter() - started
        if run.state != RunState.SUCCEEDED:
            raise SystemExit(f"benchmarks.weekly_cycle: the run ended {run.state}: {run.error}")
        steps = list(run.steps.order_by("position"))
        inside = sum(s.seconds_inside for s in steps)
        figures = {
            "workers": "1 CPU worker (default, curation) + 1 GPU-queue worker (generation, "
                       "training), both on the CPU",
            "models": ("SmolLM2-135M-Instruct policy, all-MiniLM-L6-v2 reward base" if real
                       else "tiny Llama (64 hidden, 2 layers) for the policy and both reward "
                       "models"),
            "plan": PipelineRun.objects.get(pk=run.pk).plan,
            "comparisons": batch.comparisons.count(),
            "cycle_seconds": round(wall, 2),
            "inside_steps_seconds": round(inside, 2),
            "orchestration_seconds": round(wall - inside, 2),
            "orchestration_share": round((wall - inside) / wall, 4),
            "orchestration_target_share": TARGET_OVERHEAD,
            "orchestration_target_met": (wall - inside) / wall < TARGET_OVERHEAD,
            "steps": {
                s.step: {"state": s.state, "inside_seconds": round(s.seconds_inside, 2),
                         "clock_seconds": (round((s.finished_at - s.started_at).total_seconds(),
                                                 2) if s.started_at and s.finished_at else 0.0),
                         "metrics": step_metrics(s.result)}
                for s in steps
            },
            "next_batch_comparisons": PipelineRun.objects.get(pk=run.pk)
            .next_batch.comparisons.count(),
        }
    finally:
        for worker in workers:
            worker.stop()
        clear_redis_keys()
        connections.close_all()
        drop_postgres_database(name)
    write_results("weekly_cycle_demo" if real else "weekly_cycle", figures, quick=args.quick)


if __name__ == "__main__":
    main()

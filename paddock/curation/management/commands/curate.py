"""``manage.py curate ingest|dedup|filter|export|run``: the curation pipeline from a shell.

    manage.py curate ingest data/c4.jsonl.gz --name c4
    manage.py curate run --name june --source c4 --source wikipedia --weight wikipedia=2
    manage.py curate dedup --run 7      # quality gate, exact and near dedup of run 7
    manage.py curate filter --run 7     # personal-information sites
    manage.py curate export --run 7

Stages run in this process with a progress bar; ``--celery`` hands the run to the
curation workers instead (near dedup then fans out over shards).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from paddock.curation.core.config import CurationConfig
from paddock.curation.core.documents import CurationInputError
from paddock.curation.models import CurationRun, Source, SourceFormat, Stage
from paddock.curation.services import runs
from paddock.curation.services.ingest import source_ingest
from paddock.workers.jobs import job_enqueue
from paddock.workers.tasks.curation import run_pipeline

STAGE_GROUPS = {
    "dedup": [Stage.QUALITY, Stage.EXACT, Stage.NEAR],
    "filter": [Stage.PII],
    "export": [Stage.EXPORT],
    "run": runs.STAGES,
}


class Bar:
    """A tqdm bar fed by the pipeline's progress(fraction, message) callback."""

    def __init__(self, enabled: bool) -> None:
        self.bar = tqdm(
            total=1000, disable=not enabled, bar_format="{desc:<48.48} {bar} {percentage:3.0f}%"
        )

    def __call__(self, fraction: float, message: str) -> None:
        self.bar.n = int(min(max(fraction, 0.0), 1.0) * 1000)
        self.bar.set_description_str(message[:60])
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


class Command(BaseCommand):
    help = "Ingest sources and run the curation pipeline (dedup, filter, export)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        ingest = sub.add_parser("ingest", help="read a file or folder into the document store")
        ingest.add_argument("path")
        ingest.add_argument("--name", required=True, help="source name (for weights)")
        ingest.add_argument(
            "--format", default="auto", choices=["auto", *[f.value for f in SourceFormat]]
        )
        ingest.add_argument("--text-field", default="text")
        ingest.add_argument("--url-field", default="url")
        for action in ("dedup", "filter", "export", "run"):
            p = sub.add_parser(action, help=f"{action} stage(s) of a run")
            p.add_argument("--run", type=int, help="an existing run")
            p.add_argument("--name", help="name of a new run")
            p.add_argument("--source", action="append", default=[], help="source name, in order")
            p.add_argument("--config", type=Path, help="JSON file with config sections")
            p.add_argument("--threshold", type=float, help="near-duplicate Jaccard threshold")
            p.add_argument("--pii-threshold", type=float, help="site PII rate per 1,000 words")
            p.add_argument(
                "--weight", action="append", default=[], metavar="SOURCE=W",
                help="up-sampling weight of a source in the export",
            )
            p.add_argument("--celery", action="store_true", help="run on the curation workers")

    def handle(self, *args, action: str, **options):
        show = options["verbosity"] > 0
        try:
            if action == "ingest":
                return self.ingest(options, show)
            run = self.resolve_run(options)
            if options["celery"]:
                return self.enqueue(run, action)
            bar = Bar(show)
            try:
                runs.run_stages(run, STAGE_GROUPS[action], progress=bar)
            finally:
                bar.close()
        except (CurationInputError, runs.RunError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        run.refresh_from_db()
        self.report(run)

    def ingest(self, options, show: bool) -> None:
        bar = Bar(show)
        try:
            source, created = source_ingest(
                path=options["path"], name=options["name"], fmt=options["format"],
                text_field=options["text_field"], url_field=options["url_field"], progress=bar,
            )
        finally:
            bar.close()
        verb = ("ingested" if created
                else "already ingested (same file, name and options), nothing to do:")
        self.stdout.write(
            f"{verb} {source.name}: {source.documents} documents, {source.problems} problems"
        )
        for problem in source.problem_set.all()[:20]:
            self.stdout.write(f"  {problem}")

    def resolve_run(self, options) -> CurationRun:
        if options["run"]:
            try:
                return CurationRun.objects.get(pk=options["run"])
            except CurationRun.DoesNotExist:
                raise CommandError(f"there is no run {options['run']}") from None
        if not options["name"] or not options["source"]:
            raise CommandError("give --run ID, or --name and at least one --source")
        sources = []
        for name in options["source"]:
            source = Source.objects.filter(name=name).order_by("-id").first()
            if source is None:
                raise CommandError(f"no source named {name!r}: ingest it first")
            sources.append(source)
        return runs.run_create(name=options["name"], sources=sources, config=self.config(options))

    def config(self, options) -> CurationConfig:
        data = json.loads(options["config"].read_text()) if options["config"] else {}
        if options["threshold"] is not None:
            data.setdefault("near_dedup", {})["threshold"] = options["threshold"]
            data["near_dedup"].setdefault(
                "candidate_threshold", min(0.55, options["threshold"])
            )
        if options["pii_threshold"] is not None:
            data.setdefault("pii", {})["rate_threshold"] = options["pii_threshold"]
        weights = {}
        for item in options["weight"]:
            name, _, value = item.partition("=")
            try:
                weights[name] = float(value)
            except ValueError:
                raise CommandError(f"--weight {item!r}: use SOURCE=NUMBER") from None
        if weights:
            data.setdefault("export", {})["source_weights"] = weights
        return CurationConfig.from_dict(data)

    def enqueue(self, run: CurationRun, action: str) -> None:
        if action != "run":
            raise CommandError("--celery runs whole pipelines only: use 'curate run --celery'")
        job_enqueue(task=run_pipeline, kwargs={"run_id": run.pk}, label=f"Curation run {run}")
        self.stdout.write(f"run {run.pk} queued on the curation workers")

    def report(self, run: CurationRun) -> None:
        self.stdout.write(f"run {run.pk} ({run.name}): {run.status}")
        for stage, count in run.stage_counts.items():
            self.stdout.write(f"  {stage:<28} {count}")
        for reason, count in runs.drop_counts(run).items():
            self.stdout.write(f"  dropped: {reason:<19} {count}")
        if run.export_dir:
            self.stdout.write(f"  export: {run.export_dir}")

"""The curation pipeline over the database: ingest, stages, drop reasons, export."""

import gzip
import json

import pytest
from django.core.management import CommandError, call_command

from paddock.curation.core.config import CurationConfig, ExportConfig
from paddock.curation.core.documents import CurationInputError
from paddock.curation.core.quality import NO_TEXT_FILTERS
from paddock.curation.models import (
    DomainAction,
    DomainRule,
    DroppedDocument,
    DropReason,
    IngestProblem,
    RunStatus,
    SiteReport,
    Source,
)
from paddock.curation.services import runs
from paddock.curation.services.document_store import default_store
from paddock.curation.services.ingest import source_ingest

pytestmark = pytest.mark.django_db


def stored(source, *positions, columns=("position", "locator", "url", "domain", "content_hash",
                                         "words", "language", "text", "metadata")):
    """Documents of ``source`` as {position: row}, from the document store."""
    store = default_store()
    wanted = positions or range(source.documents)
    return store.documents(source.store_key, list(wanted), columns)


def full_run(sources, config=None, name="test"):
    config = config or CurationConfig(quality=NO_TEXT_FILTERS)  # tiny synthetic documents
    run = runs.run_create(name=name, sources=sources, config=config)
    runs.run_stages(run, runs.STAGES)
    run.refresh_from_db()
    return run


def export_bytes(run) -> dict[str, bytes]:
    from pathlib import Path

    directory = Path(run.export_dir)
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_ingest_measures_documents_and_reingest_is_a_no_op(ingest):
    from tests.support.shared_data import shared_data

    path = shared_data("web-c4-sample", "c4_demo.jsonl")
    source = ingest(path, "c4")
    assert (source.documents, source.problems, source.status) == (300, 0, "ready")
    doc = stored(source, 0)[0]
    assert doc["position"] == 0 and doc["locator"] == "line 1"
    assert len(doc["content_hash"]) == 64 and doc["words"] > 0 and doc["language"] == "en"

    again, created = source_ingest(path=path, name="c4")
    assert not created and again.pk == source.pk
    assert len(stored(source)) == 300 and Source.objects.count() == 1


def test_bad_records_are_reported_with_their_place_and_the_rest_is_ingested(ingest, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'{"text": "a good first document with enough words"}\n'
        b'{"text": "broken json\n'
        b'{"text": "bad bytes \xff\xfe here"}\n'
        b'{"no_text": 1}\n'
        b'{"text": "a good last document with enough words"}\n'
    )
    source = ingest(path, "mixed")
    assert source.documents == 2
    problems = {(p.locator, p.kind) for p in IngestProblem.objects.filter(source=source)}
    assert problems == {
        ("line 2", "malformed_json"),
        ("line 3", "not_utf8"),
        ("line 4", "missing_text"),
    }


def test_missing_file_stops_with_one_clear_line(db, tmp_path):
    with pytest.raises(CurationInputError, match=str(tmp_path / "nope.jsonl")):
        source_ingest(path=tmp_path / "nope.jsonl", name="nope", fmt="jsonl")
    assert not Source.objects.exists()


def test_full_run_drops_duplicates_with_their_evidence(real_sources):
    run = full_run(real_sources)

    assert run.status == RunStatus.SUCCEEDED
    drops = DroppedDocument.objects.filter(run=run)
    near = drops.filter(reason=DropReason.NEAR_DUPLICATE)
    alice = Source.objects.get(name="alice")
    assert set(near.filter(source=alice).values_list("position", flat=True)) == {1, 2}
    first = stored(alice, 0)[0]
    assert all(
        (d.duplicate_of_source_id, d.duplicate_of_position) == (alice.pk, 0)
        and d.similarity >= 0.8 and d.duplicate_of_ref == first["locator"]
        and d.detail == {"kept_document": {"source": alice.pk, "position": 0}}
        for d in near.filter(source=alice)
    )
    # Every near drop is evidence: at or above the threshold to the document it links to.
    assert all(d.similarity >= 0.8 and "kept_document" in d.detail for d in near)
    exact = drops.filter(reason=DropReason.EXACT_DUPLICATE)
    assert exact.exists()  # the repeated allenai.org capture
    order = [s.pk for s in real_sources]
    for drop in exact:
        original = Source.objects.get(pk=drop.duplicate_of_source_id)
        dropped_hash = stored(drop.source, drop.position)[drop.position]["content_hash"]
        kept = stored(original, drop.duplicate_of_position)[drop.duplicate_of_position]
        assert dropped_hash == kept["content_hash"] == drop.detail["content_hash"]
        assert (order.index(original.pk), drop.duplicate_of_position) < (
            order.index(drop.source_id), drop.position)
        assert drop.duplicate_of_ref == (kept["url"] or kept["locator"])
        assert drop.url == stored(drop.source, drop.position)[drop.position]["url"]
    counts = run.stage_counts
    assert counts["input"] == sum(s.documents for s in real_sources)
    assert counts["input"] - drops.count() == counts["pii"] == counts["export"]
    assert sum(runs.drop_counts(run).values()) == drops.count()


def test_people_search_sites_are_excluded_with_the_rate_and_detectors(ingest, people_search_jsonl):
    source = ingest(people_search_jsonl, "web")
    run = full_run([source])

    sites = {s.domain: s for s in SiteReport.objects.filter(run=run)}
    lookup = sites["lookup-people.example"]
    assert lookup.excluded and lookup.reason == "pii_rate"
    assert lookup.detectors["phone"] >= 90 and lookup.detectors["email"] >= 90
    assert not sites["garden-blog.example"].excluded
    assert sites["spokeo.com"].excluded and sites["spokeo.com"].reason == "blocklist"
    reasons = runs.drop_counts(run)
    assert reasons == {"pii_site": 8, "blocklisted_site": 1}
    drop = DroppedDocument.objects.filter(run=run, reason=DropReason.PII_SITE).first()
    assert drop.detail["domain"] == "lookup-people.example" and drop.detail["rate"] > 10


def test_allowlist_override_keeps_a_site_in_the_next_run(ingest, people_search_jsonl):
    source = ingest(people_search_jsonl, "web")
    DomainRule.objects.create(domain="lookup-people.example", action=DomainAction.ALLOW)
    run = full_run([source])
    assert runs.drop_counts(run) == {"blocklisted_site": 1}


def test_export_is_byte_identical_for_equal_inputs_and_parameters(real_sources):
    config = CurationConfig(
        quality=NO_TEXT_FILTERS,  # every article kept: the test counts them
        export=ExportConfig(source_weights={"wikipedia": 2.0, "alice": 1.5}, shard_records=100),
    )
    first = full_run(real_sources, config, name="first")
    second = full_run(real_sources, config, name="second")

    assert export_bytes(first) == export_bytes(second)
    manifest = json.loads(export_bytes(first)["manifest.json"])
    assert manifest["config"]["export"]["source_weights"] == {"wikipedia": 2.0, "alice": 1.5}
    assert [i["name"] for i in manifest["inputs"]] == ["wikipedia", "alice", "web", "c4"]
    assert manifest["drops"] == runs.drop_counts(first)
    records = []
    for shard in manifest["shards"]:
        with gzip.open(f"{first.export_dir}/{shard['file']}", "rt") as handle:
            lines = handle.read().splitlines()
        assert len(lines) == shard["records"]
        records += [json.loads(line) for line in lines]
    assert len(records) == manifest["records"] == first.stage_counts["export"]
    wikipedia = [r for r in records if r["source"] == "wikipedia"]
    assert len(wikipedia) == 2 * 30  # every article twice: the factual source up-sampled
    assert len({r["id"] for r in wikipedia}) == 30


def test_stages_can_be_run_again_and_in_order_only(real_sources):
    run = runs.run_create(name="stepwise", sources=real_sources)
    with pytest.raises(runs.RunError, match="needs quality first"):
        runs.run_stages(run, [runs.Stage.PII])
    runs.run_stages(run, [runs.Stage.QUALITY, runs.Stage.EXACT, runs.Stage.NEAR])
    run.refresh_from_db()
    first = runs.drop_counts(run)
    runs.run_stages(run, [runs.Stage.QUALITY, runs.Stage.EXACT, runs.Stage.NEAR])
    run.refresh_from_db()
    assert runs.drop_counts(run) == first
    assert run.status == RunStatus.DRAFT


def test_curate_command_runs_the_pipeline_with_weights(real_sources, capsys,
                                                       no_text_filters_config):
    call_command(
        "curate",
        "run",
        "--config",
        str(no_text_filters_config),  # the Alice copies reach near-dedup
        "--name",
        "cli",
        "--source",
        "wikipedia",
        "--source",
        "alice",
        "--weight",
        "wikipedia=3",
        "--threshold",
        "0.8",
        verbosity=0,
    )
    out = capsys.readouterr().out
    assert "succeeded" in out and "near_duplicate" in out
    with pytest.raises(CommandError, match="no source named 'nope'"):
        call_command("curate", "run", "--name", "x", "--source", "nope", verbosity=0)
    with pytest.raises(CommandError, match=r"nope\.jsonl"):
        call_command("curate", "ingest", "/nonexistent/nope.jsonl", "--name", "n", verbosity=0)


def test_nul_characters_are_stored_without_them(ingest, tmp_path):
    path = tmp_path / "nul.jsonl"
    path.write_text(
        '{"text": "before\\u0000after and more words here", "url": "https://a.example/x",'
        ' "metadata": {"title": "t\\u0000"}}\n'
    )
    source = ingest(path, "nul")
    doc = stored(source)[0]
    assert doc["text"] == "beforeafter and more words here"
    assert doc["metadata"]["title"] == "t"


def test_a_redelivered_quality_shard_replaces_its_own_drops(ingest, tmp_path):
    path = tmp_path / "short.jsonl"
    path.write_text("".join(
        json.dumps({"text": "short" if i % 3 == 0 else f"long enough document number {i}"})
        + "\n" for i in range(30)))
    source = ingest(path, "short")
    run = runs.run_create(name="q", sources=[source],
                          config=CurationConfig(quality=NO_TEXT_FILTERS))
    runs.run_stages(run, [runs.Stage.QUALITY])
    before = list(DroppedDocument.objects.filter(run=run).order_by("position")
                  .values_list("position", "reason", "detail"))
    assert len(before) == 10 and before[0] == (0, "too_short", {"words": 1, "chars": 5})
    [(source_id, shard)] = runs.run_shards(run)
    assert runs.quality_shard(run, source_id, shard) == (30, 20)  # delivered again
    again = list(DroppedDocument.objects.filter(run=run).order_by("position")
                 .values_list("position", "reason", "detail"))
    assert again == before

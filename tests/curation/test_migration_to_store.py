"""Migrations 0004-0006 move every Document row into the document store, so nothing
ingested is lost, and turn drop rows' document links into (source, position) with the url,
domain and the duplicated document's url copied; duplicate source names get suffixes."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from paddock.curation.services.document_store import default_store

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("curation", "0003_drop_reasons_filters")]
AFTER = [("curation", "0006_remove_document")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_documents_and_drops_move_to_the_store():
    old = migrate(BEFORE)
    try:
        Source = old.get_model("curation", "Source")
        Document = old.get_model("curation", "Document")
        Run = old.get_model("curation", "CurationRun")
        Dropped = old.get_model("curation", "DroppedDocument")
        first = Source.objects.create(name="web", path="/x/a.jsonl", format="jsonl",
                                      fingerprint="a" * 64, status="ready", documents=3)
        second = Source.objects.create(name="web", path="/x/b.jsonl", format="jsonl",
                                       fingerprint="b" * 64, status="ready", documents=1)
        docs = [
            Document.objects.create(
                source=source, position=position, locator=f"line {position + 1}",
                url=f"https://s.example/{source.pk}/{position}", domain="s.example",
                content_hash=f"{position:064x}", length=20, words=4, language="en",
                pii_counts={"email": 1}, text=f"text {source.pk} {position}",
                metadata={"k": position})
            for source, n in ((first, 3), (second, 1)) for position in range(n)
        ]
        run = Run.objects.create(name="r", config={})
        Dropped.objects.create(run=run, document=docs[3], stage="exact_dedup",
                               reason="exact_duplicate", duplicate_of=docs[1], similarity=1.0)
    finally:
        new = migrate(AFTER)
    Source = new.get_model("curation", "Source")
    Dropped = new.get_model("curation", "DroppedDocument")
    names = dict(Source.objects.values_list("pk", "name"))
    assert names == {first.pk: "web", second.pk: "web-2"}
    store = default_store()
    moved = Source.objects.get(pk=first.pk)
    rows = store.documents(moved.identity, [0, 1, 2], ("text", "url", "metadata", "words"))
    assert rows[2]["text"] == f"text {first.pk} 2" and rows[2]["metadata"] == {"k": 2}
    drop = Dropped.objects.get()
    assert (drop.source_id, drop.position, drop.url) == (
        second.pk, 0, f"https://s.example/{second.pk}/0")
    assert (drop.duplicate_of_source_id, drop.duplicate_of_position, drop.duplicate_of_ref) == (
        first.pk, 1, f"https://s.example/{first.pk}/1")
    assert "curation_document" not in connection.introspection.table_names()

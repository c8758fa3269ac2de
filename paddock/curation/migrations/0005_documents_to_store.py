"""Issue 19, step 2 of 3: move every Document row into the document store, so nothing
ingested is lost, and copy into each drop row what identifies and shows its document.

Also: source names become unique (later duplicates get a ``-2``, ``-3`` ... suffix) and
each source gets its identity (bytes' fingerprint plus name, format and field options).
The functions here are frozen copies: a migration must not change when the code does.
"""

import hashlib
import json

from django.conf import settings
from django.db import migrations

from paddock.curation.core.store import DocumentStore

BATCH = 2000


def identity(source) -> str:
    data = json.dumps({"fingerprint": source.fingerprint, "name": source.name,
                       "format": source.format, "text_field": source.text_field,
                       "url_field": source.url_field}, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()


def unique_names(Source) -> None:
    taken = set()
    for source in Source.objects.order_by("id"):
        name, n = source.name, 1
        while name in taken:
            n += 1
            name = f"{source.name[:90]}-{n}"
        taken.add(name)
        if name != source.name:
            source.name = name
            source.save(update_fields=["name"])


def forwards(apps, schema_editor):
    Source = apps.get_model("curation", "Source")
    Document = apps.get_model("curation", "Document")
    DroppedDocument = apps.get_model("curation", "DroppedDocument")
    unique_names(Source)
    store = DocumentStore(settings.CURATION_STORE)
    for source in Source.objects.order_by("id"):
        source.identity = identity(source)
        source.save(update_fields=["identity"])
        writer = store.writer(source.identity)
        rows = Document.objects.filter(source=source).order_by("position")
        for position, doc in enumerate(rows.iterator(chunk_size=BATCH)):
            if doc.position != position:  # positions had gaps: keep them dense and stored
                Document.objects.filter(pk=doc.pk).update(position=position)
            writer.add({
                "position": position, "locator": doc.locator, "url": doc.url,
                "domain": doc.domain, "content_hash": doc.content_hash, "length": doc.length,
                "words": doc.words, "language": doc.language, "language_score": 0.0,
                "pii_counts": doc.pii_counts or {}, "text": doc.text,
                "metadata": doc.metadata or {},
            })
        writer.close(source=source.name, migrated=True)
    for drop in DroppedDocument.objects.select_related("document", "duplicate_of").iterator(
        chunk_size=BATCH
    ):
        doc, original = drop.document, drop.duplicate_of
        drop.source_id, drop.position = doc.source_id, doc.position
        drop.locator, drop.url, drop.domain = doc.locator, doc.url, doc.domain
        if original is not None:
            drop.duplicate_of_source_id = original.source_id
            drop.duplicate_of_position = original.position
            drop.duplicate_of_ref = original.url or original.locator
        drop.save()


class Migration(migrations.Migration):

    dependencies = [
        ('curation', '0004_document_store_fields'),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False),
    ]

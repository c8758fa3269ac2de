"""The drop browser's text: snippets and text search, read from the document store.

Drop rows carry url, domain and locator (searched in the database); the text is only in
the store. A page shows 50 drops, so its snippets read a few row groups. A text search
scans the run's dropped documents shard by shard and stops at a bound (a number of
matches or of shards read), and says so: a run over a crawl drops millions of documents,
and no page may read them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from paddock.curation.core.store import DocumentStore
from paddock.curation.models import DroppedDocument, Source
from paddock.curation.services.document_store import default_store

SNIPPET_CHARS = 200
MAX_MATCHES = 500  # text matches gathered before the scan stops
MAX_SHARDS = 20  # store shards read by one search


@dataclass
class TextSearch:
    """Dropped documents whose text holds the query, and whether the scan stopped early."""

    matches: dict[int, list[int]] = field(default_factory=dict)  # source id -> positions
    shards_read: int = 0
    stopped: bool = False  # a bound was reached: more may match

    def as_q(self) -> Q:
        q = Q(pk__in=[])
        for source_id, positions in self.matches.items():
            q |= Q(source_id=source_id, position__in=positions)
        return q

    @property
    def count(self) -> int:
        return sum(len(p) for p in self.matches.values())


def text_matches(drops: QuerySet, query: str, *, store: DocumentStore | None = None,
                 max_matches: int | None = None, max_shards: int | None = None) -> TextSearch:
    """Scan the store's shards holding ``drops`` for ``query`` (case-insensitive)."""
    store = store or default_store()
    max_matches = MAX_MATCHES if max_matches is None else max_matches
    max_shards = MAX_SHARDS if max_shards is None else max_shards
    needle = query.casefold()
    search = TextSearch()
    source_ids = list(drops.order_by().values_list("source_id", flat=True).distinct())
    for source in Source.objects.filter(pk__in=source_ids).order_by("pk"):
        for shard in store.shards(source.store_key):
            positions = set(drops.filter(
                source_id=source.pk, position__gte=shard.first,
                position__lt=shard.first + shard.documents,
            ).values_list("position", flat=True))
            if not positions:
                continue
            if search.shards_read >= max_shards or search.count >= max_matches:
                search.stopped = True
                return search
            search.shards_read += 1
            table = store.read_shard(source.store_key, shard, ("position", "text"))
            for position, text in zip(table.column("position").to_pylist(),
                                      table.column("text").to_pylist(), strict=True):
                if position in positions and needle in text.casefold():
                    search.matches.setdefault(source.pk, []).append(position)
    return search


def attach_snippets(drops: Iterable[DroppedDocument], *,
                    store: DocumentStore | None = None) -> None:
    """Give each drop of a page ``snippet``: the start of its text, from the store."""
    drops = list(drops)
    if not drops:
        return
    store = store or default_store()
    by_source: dict[int, list[DroppedDocument]] = {}
    for drop in drops:
        by_source.setdefault(drop.source_id, []).append(drop)
    for items in by_source.values():
        source = items[0].source
        try:
            texts = store.documents(source.store_key, [d.position for d in items], ("text",))
        except Exception:
            texts = {}
        for drop in items:
            drop.snippet = (texts.get(drop.position) or {}).get("text", "")[:SNIPPET_CHARS]

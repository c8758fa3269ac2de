import json
from pathlib import Path

import pytest

from paddock.curation.services.ingest import source_ingest
from tests.support.shared_data import shared_data


@pytest.fixture
def ingest(db):
    def ingest_path(path, name, fmt="auto", **kwargs):
        source, _created = source_ingest(path=path, name=name, fmt=fmt, **kwargs)
        return source

    return ingest_path


@pytest.fixture
def no_text_filters_config(tmp_path) -> Path:
    """A config file for ``curate run --config`` with the text quality filters off (tiny
    or line-less documents: the length gates only)."""
    from dataclasses import asdict

    from paddock.curation.core.quality import NO_TEXT_FILTERS

    path = tmp_path / "no-text-filters.json"
    path.write_text(json.dumps({"quality": asdict(NO_TEXT_FILTERS)}))
    return path


@pytest.fixture
def people_search_jsonl(tmp_path) -> Path:
    """A made-up reverse-lookup site: every page lists names with phone numbers.

    Plus pages from an ordinary site, and one page of a blocklisted people-search site.
    """
    lines = []
    for page in range(8):
        listing = " ".join(
            f"Resident {page}-{i} lives at Elm Street, phone (555) 01{page}-{1000 + i}, "
            f"email resident{page}{i}@example.net."
            for i in range(12)
        )
        lines.append({"url": f"https://lookup-people.example/page/{page}", "text": listing})
    for page in range(8):
        lines.append(
            {
                "url": f"https://garden-blog.example/post/{page}",
                "text": f"Post {page}: "
                + " ".join(
                    f"Tomatoes need sun and water; week {page} brought variety {k}."
                    for k in range(30)
                ),
            }
        )
    lines.append({"url": "https://www.spokeo.com/John-Doe", "text": "John Doe, age 40. " * 20})
    path = tmp_path / "people.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


@pytest.fixture
def real_sources(ingest):
    """Real data with real duplicates: three Alice copies, a WARC with repeated captures."""
    return [
        ingest(shared_data("wikipedia-sample", "wiki_demo.txt"), "wikipedia", "lines"),
        ingest(shared_data("gutenberg-alice-variants"), "alice", "text"),
        ingest(shared_data("web-warc-samples", "dolma", "sample-0001.warc.gz"), "web", "warc"),
        ingest(shared_data("web-c4-sample", "c4_demo.jsonl"), "c4", "jsonl"),
    ]

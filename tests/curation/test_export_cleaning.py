"""URL dedup in the exact stage, and what the export takes out of kept text: a site's
boilerplate lines (counted over its exported documents) and, when asked, personal
information."""

import gzip
import json
from pathlib import Path

import pytest

from paddock.curation.core.config import CurationConfig, ExactDedupConfig, ExportConfig
from paddock.curation.core.export_text import CleaningTally, SiteLines, clean_text
from paddock.curation.core.filters.boilerplate import SiteBoilerplateConfig, line_hash
from paddock.curation.core.quality import NO_TEXT_FILTERS
from paddock.curation.models import DroppedDocument, DropReason
from paddock.curation.services import runs

FOOTER = "Copyright 2024 Example Corp. All rights reserved."


def page(i: int, footer: bool = True) -> str:
    body = f"Article {i} tells of river number {i} and the towns along its banks today."
    return body + ("\n" + FOOTER if footer else "")


def test_a_line_on_enough_of_a_sites_pages_is_common_and_only_there():
    lines = SiteLines(SiteBoilerplateConfig(min_fraction=0.2, min_documents=3))
    for i in range(10):
        lines.add("example.com", page(i, footer=i < 3))  # footer on 3 of 10 pages: 30%
        lines.add("other.org", page(i, footer=i < 2))  # on 2 pages: below min_documents
    lines.add("", page(99))  # no site: never counted
    assert lines.common() == {"example.com": {line_hash(FOOTER)}}


def test_a_line_on_too_small_a_share_of_a_big_site_is_kept():
    lines = SiteLines(SiteBoilerplateConfig(min_fraction=0.2, min_documents=3))
    for i in range(100):
        lines.add("big.example", page(i, footer=i < 10))  # 10%: a quoted phrase, say
    assert lines.common() == {}


def test_clean_text_strips_common_lines_masks_pii_and_counts():
    tally = CleaningTally()
    text = page(1) + "\nWrite to ann.lee@example.org for a copy."
    cleaned = clean_text(text, {line_hash(FOOTER)}, redact=True, tally=tally)
    assert FOOTER not in cleaned and "river number 1" in cleaned
    assert "|||EMAIL_ADDRESS|||" in cleaned and "ann.lee" not in cleaned
    assert tally.as_dict() == {"boilerplate_lines_removed": 1, "documents_with_boilerplate": 1,
                               "pii_redacted": {"email": 1}}
    untouched = CleaningTally()
    assert clean_text(text, None, redact=False, tally=untouched) == text
    assert untouched.as_dict()["boilerplate_lines_removed"] == 0


def exported_texts(run) -> list[dict]:
    records = []
    for part in sorted(Path(run.export_dir).glob("part-*.jsonl.gz")):
        with gzip.open(part, "rt", encoding="utf-8") as handle:
            records += [json.loads(line) for line in handle]
    return records


@pytest.mark.django_db
def test_a_run_drops_recaptured_urls_and_exports_clean_text(ingest, tmp_path):
    rows = [{"text": page(i), "url": f"https://www.example.com/story/{i}"} for i in range(6)]
    # The same pages captured again later (text changed: a counter, a date), written
    # with another case, a default port, a fragment and a tracking parameter.
    rows += [{"text": page(i) + f" Seen {i + 100} times.",
              "url": f"HTTPS://WWW.Example.com:443/story/{i}?utm_source=feed#top"}
             for i in range(2)]
    rows.append({"text": "Call 212-555-0147 or mail bo.chan@example.net for tickets to "
                         "the river festival this weekend.", "url": "https://tickets.example/"})
    path = tmp_path / "pages.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    source = ingest(path, "pages")
    config = CurationConfig(quality=NO_TEXT_FILTERS, export=ExportConfig(redact_pii=True))
    run = runs.run_create(name="clean", sources=[source], config=config)
    runs.run_stages(run, runs.STAGES)
    run.refresh_from_db()

    by_url = DroppedDocument.objects.filter(run=run, reason=DropReason.DUPLICATE_URL)
    assert sorted(by_url.values_list("position", "duplicate_of_position")) == [(6, 0), (7, 1)]
    assert by_url.get(position=6).detail == {"url": "https://www.example.com/story/0"}
    records = exported_texts(run)
    assert len(records) == 7
    assert not any(FOOTER in r["text"] for r in records)
    tickets = next(r for r in records if r["url"] == "https://tickets.example/")
    assert "|||PHONE_NUMBER|||" in tickets["text"] and "|||EMAIL_ADDRESS|||" in tickets["text"]
    assert run.manifest["cleaning"] == {
        "boilerplate_lines_removed": 6, "documents_with_boilerplate": 6,
        "pii_redacted": {"email": 1, "phone": 1}}
    assert run.manifest["config"]["exact"] == {"by_url": True}


@pytest.mark.django_db
def test_url_dedup_and_boilerplate_stripping_can_be_turned_off(ingest, tmp_path):
    rows = [{"text": page(i), "url": "https://www.example.com/same"} for i in range(4)]
    path = tmp_path / "same.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    source = ingest(path, "same")
    config = CurationConfig(quality=NO_TEXT_FILTERS, exact=ExactDedupConfig(by_url=False),
                            export=ExportConfig(strip_site_boilerplate=False))
    run = runs.run_create(name="raw", sources=[source], config=config)
    runs.run_stages(run, runs.STAGES)
    run.refresh_from_db()
    assert not DroppedDocument.objects.filter(run=run).exists()
    assert all(FOOTER in r["text"] for r in exported_texts(run))


def test_an_unknown_exact_setting_is_named():
    with pytest.raises(ValueError, match=r"unknown exact setting.*by_path"):
        CurationConfig.from_dict({"exact": {"by_path": True}})

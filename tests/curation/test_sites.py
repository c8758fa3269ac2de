"""The per-site PII filter: smoothing, thresholds, lists, shard merging, decisions."""

from __future__ import annotations

import json
import random

import pytest

from paddock.curation.core.pii import PiiType
from paddock.curation.core.sites import (
    DomainList,
    PiiFilterConfig,
    Reason,
    SiteStats,
    decide_site,
    domain_of,
    normalize_domain,
    smoothed_rate,
    starter_blocklist,
)

NO_PRIOR = PiiFilterConfig(prior_words=0, prior_rate=0, min_documents=1)
EMPTY = DomainList()


def counts(**by_name: int) -> dict[PiiType, int]:
    return {PiiType(name): count for name, count in by_name.items()}


def site(domain: str = "example.com", *, documents: int, words: int, phones: int) -> SiteStats:
    """``documents`` equal documents totalling ``words`` words and ``phones`` phones."""
    stats = SiteStats(domain)
    for index in range(documents):
        stats.add(
            words // documents + (index < words % documents),
            counts(phone=phones // documents + (index < phones % documents)),
        )
    return stats


DEFAULT = PiiFilterConfig()


def decide(stats: SiteStats, config: PiiFilterConfig = DEFAULT, **lists: DomainList):
    return decide_site(
        stats,
        config,
        blocklist=lists.get("blocklist", EMPTY),
        allowlist=lists.get("allowlist", EMPTY),
    )


# --- smoothing --------------------------------------------------------------------------


def test_smoothed_rate_is_the_raw_rate_without_a_prior():
    assert smoothed_rate(site(documents=2, words=4000, phones=10), NO_PRIOR) == pytest.approx(2.5)


def test_smoothed_rate_shrinks_toward_the_prior():
    config = PiiFilterConfig(prior_words=5000, prior_rate=0.25)
    stats = site(documents=1, words=300, phones=10)
    # (10 + 0.25 * 5000 / 1000) / (300 + 5000) * 1000
    assert smoothed_rate(stats, config) == pytest.approx(11.25 / 5300 * 1000)
    # With much more evidence the prior hardly matters.
    big = site(documents=100, words=1_000_000, phones=20_000)
    assert smoothed_rate(big, config) == pytest.approx(20.0, rel=0.01)


def test_smoothed_rate_of_a_site_without_words_is_the_prior():
    assert smoothed_rate(SiteStats("a.com"), PiiFilterConfig(prior_rate=0.4)) == pytest.approx(0.4)
    assert smoothed_rate(SiteStats("a.com"), NO_PRIOR) == 0.0


def test_only_the_configured_detectors_count():
    stats = SiteStats("a.com")
    stats.add(1000, counts(phone=3, email=2, ip_address=50))
    config = PiiFilterConfig(prior_words=0, detectors=(PiiType.PHONE, PiiType.EMAIL))
    assert smoothed_rate(stats, config) == pytest.approx(5.0)
    assert decide(stats, config).detectors == {"phone": 3, "email": 2}


def test_config_accepts_detector_names_and_rejects_nonsense():
    assert PiiFilterConfig(detectors=("phone",)).detectors == (PiiType.PHONE,)
    with pytest.raises(ValueError):
        PiiFilterConfig(detectors=("passport",))
    with pytest.raises(ValueError):
        PiiFilterConfig(detectors=())
    with pytest.raises(ValueError):
        PiiFilterConfig(rate_threshold=-1)


# --- thresholds ---------------------------------------------------------------------------


def test_rate_above_the_threshold_excludes():
    config = PiiFilterConfig(rate_threshold=10, min_documents=5, prior_words=0)
    decision = decide(site(documents=5, words=1000, phones=11), config)
    assert (decision.excluded, decision.reason) == (True, "pii_rate")
    assert decision.rate == pytest.approx(11.0)
    assert decision.documents == 5


def test_rate_at_the_threshold_keeps():
    config = PiiFilterConfig(rate_threshold=10, min_documents=5, prior_words=0)
    decision = decide(site(documents=5, words=1000, phones=10), config)
    assert (decision.excluded, decision.reason) == (False, "below_threshold")


def test_too_few_documents_are_never_excluded_by_rate():
    config = PiiFilterConfig(rate_threshold=10, min_documents=5, prior_words=0)
    decision = decide(site(documents=4, words=1000, phones=500), config)
    assert (decision.excluded, decision.reason) == (False, "too_few_documents")
    assert decision.rate == pytest.approx(500.0)  # still reported


def test_the_prior_needs_evidence_before_excluding():
    """Default config: one people-search-like page is not enough, a site of them is."""
    config = PiiFilterConfig()
    small = site(documents=5, words=600, phones=40)  # raw 67 per 1,000 words
    assert decide(small, config).reason == "below_threshold"
    large = site(documents=20, words=4000, phones=260)
    assert decide(large, config).reason == "pii_rate"


def test_default_config_keeps_an_ordinary_business_site():
    # 30 pages of 400 words with the phone number and e-mail in every footer.
    stats = SiteStats("plumber.example")
    for _ in range(30):
        stats.add(400, counts(phone=1, email=1))
    assert decide(stats).reason == "below_threshold"


# --- lists ------------------------------------------------------------------------------


def test_allowlist_beats_blocklist_beats_rate():
    stats = site("people.example", documents=50, words=10_000, phones=5000)
    listed = DomainList(["people.example"])
    assert decide(stats, blocklist=listed, allowlist=listed).reason == "allowlist"
    assert not decide(stats, blocklist=listed, allowlist=listed).excluded
    assert decide(stats, allowlist=listed).reason == "allowlist"
    blocked = decide(site("people.example", documents=1, words=10, phones=0), blocklist=listed)
    assert (blocked.excluded, blocked.reason) == (True, "blocklist")
    assert decide(stats).reason == "pii_rate"


def test_allowlisted_parent_keeps_a_blocklisted_subdomain():
    stats = site("people.news.example", documents=1, words=10, phones=0)
    decision = decide(
        stats,
        blocklist=DomainList(["people.news.example"]),
        allowlist=DomainList(["news.example"]),
    )
    assert decision.reason == "allowlist"


@pytest.mark.parametrize(
    ("domain", "listed"),
    [
        ("spokeo.com", True),
        ("www.spokeo.com", True),
        ("WWW.Spokeo.COM.", True),
        ("ca.spokeo.com", True),
        ("a.b.spokeo.com", True),
        ("notspokeo.com", False),
        ("spokeo.com.evil.example", False),
        ("com", False),
        ("", False),
    ],
)
def test_a_listed_domain_matches_its_subdomains_by_whole_labels(domain, listed):
    assert (domain in DomainList(["spokeo.com"])) is listed


def test_domain_list_file_syntax():
    entries = DomainList(
        [
            "# people search\n",
            "\n",
            "  Spokeo.com  # trailing comment\n",
            "www.whitepages.com\n",
            "*.radaris.com\n",
            ".mylife.com\n",
            "bücher.example\n",
        ]
    )
    assert list(entries) == sorted(
        ["spokeo.com", "whitepages.com", "radaris.com", "mylife.com", "xn--bcher-kva.example"]
    )
    assert "www.radaris.com" in entries
    assert "bücher.example" in entries
    assert entries.match("fr.mylife.com") == "mylife.com"
    assert entries.match("example.com") is None
    assert 42 not in entries


@pytest.mark.parametrize("bad", ["https://spokeo.com/", "spokeo com", "spokeo.com/path", "-a.com"])
def test_domain_list_rejects_entries_that_are_not_domains(bad):
    with pytest.raises(ValueError, match="line 2"):
        DomainList(["ok.com", bad])


def test_domain_list_from_path(tmp_path):
    path = tmp_path / "allow.txt"
    path.write_text("# reviewed\nexample.org\n", encoding="utf-8")
    assert list(DomainList.from_path(path)) == ["example.org"]


def test_normalize_domain_and_domain_of():
    assert normalize_domain(" WWW.Example.COM. ") == "example.com"
    assert normalize_domain("www2.example.com") == "www2.example.com"
    assert domain_of("https://www.Spokeo.com:443/John-Smith?x=1") == "spokeo.com"
    assert domain_of("not a url") == ""


def test_starter_blocklist_loads():
    blocklist = starter_blocklist()
    assert "spokeo.com" in blocklist
    assert "www.whitepages.com" in blocklist
    assert "wikipedia.org" not in blocklist
    assert 30 <= len(blocklist) <= 60


# --- statistics -------------------------------------------------------------------------


def test_add_counts_documents_words_and_detections():
    stats = SiteStats("a.com")
    assert stats.counts == dict.fromkeys(PiiType, 0)
    stats.add(100, counts(phone=2))
    stats.add(50, counts(phone=1, email=4))
    assert (stats.documents, stats.words) == (2, 150)
    assert stats.counts == {**dict.fromkeys(PiiType, 0), PiiType.PHONE: 3, PiiType.EMAIL: 4}
    with pytest.raises(ValueError):
        stats.add(-1, {})


def test_merged_shards_equal_the_whole():
    rng = random.Random(7)
    documents = [
        (rng.randint(0, 2000), {pii_type: rng.randint(0, 5) for pii_type in PiiType})
        for _ in range(200)
    ]
    whole = SiteStats("a.com")
    for words, found in documents:
        whole.add(words, found)
    shards = [SiteStats("a.com") for _ in range(4)]
    for words, found in documents:
        rng.choice(shards).add(words, found)
    merged = SiteStats("a.com")
    for shard in shards:
        merged.merge(shard)
    assert merged == whole
    config = PiiFilterConfig()
    assert decide(merged, config) == decide(whole, config)


def test_merge_refuses_another_site():
    with pytest.raises(ValueError, match=r"b\.com"):
        SiteStats("a.com").merge(SiteStats("b.com"))


def test_stats_round_trip_through_json():
    stats = site(documents=3, words=900, phones=7)
    assert SiteStats.from_dict(json.loads(json.dumps(stats.as_dict()))) == stats


# --- decisions --------------------------------------------------------------------------


def test_decision_reports_reason_rate_and_detectors():
    stats = SiteStats("people.example")
    for _ in range(10):
        stats.add(200, counts(phone=8, email=2))
    decision = decide(stats)
    assert decision.excluded
    assert decision.reason == Reason.PII_RATE == "pii_rate"
    assert decision.rate == pytest.approx((100 + 1.25) / (2000 + 5000) * 1000)
    assert decision.detectors == {
        "email": 20,
        "phone": 80,
        "ip_address": 0,
        "us_ssn": 0,
        "credit_card": 0,
    }
    assert decision.describe() == (
        "people.example: excluded (pii_rate); 14.46 PII per 1,000 words over 10 documents"
        " (email 20, phone 80)"
    )


def test_every_reason_is_one_of_the_documented_five():
    assert {reason.value for reason in Reason} == {
        "allowlist",
        "blocklist",
        "pii_rate",
        "too_few_documents",
        "below_threshold",
    }

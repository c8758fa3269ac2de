"""The quality filters, rule by rule (a document that trips each and the good one that
does not), their wiring into the quality stage and its config, and the side tools
(URL normalisation, site boilerplate lines, PII redaction)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest

from paddock.curation.core.config import CurationConfig
from paddock.curation.core.filters import (
    C4QualityConfig,
    FineWebQualityConfig,
    GopherQualityConfig,
    GopherRepetitionConfig,
    LanguageFilterConfig,
    SiteBoilerplateConfig,
    c4_clean,
    c4_quality,
    common_lines,
    count_sentences,
    fineweb_quality,
    gopher_quality,
    gopher_repetition,
    language_filter,
    line_hash,
    normalise_url,
    redact_pii,
    split_words,
    strip_lines,
)
from paddock.curation.core.quality import NO_TEXT_FILTERS, QualityConfig, quality_drop
from paddock.curation.core.words import word_count

SENTENCES = [
    "The river town of Maplewood was founded in 1843 by a group of farmers who wanted to "
    "trade grain with the cities downstream.",
    "Over the following decades, the settlement grew into a busy market with mills, a "
    "school and two churches.",
    "Today the town is known for its old stone bridge, which was restored in 2015 with the "
    "help of local volunteers.",
    "Visitors often walk along the riverbank to see the herons that nest in the reeds "
    "during the spring months.",
    "The annual harvest festival takes place in September and brings together musicians, "
    "bakers and craftspeople from the whole region.",
    "Many families have lived in the valley for generations, and they are proud to share "
    "its history with anyone who asks.",
    "A small museum near the town hall displays tools, photographs and letters that show "
    "how people worked and lived in the past.",
]
GOOD = "\n".join(SENTENCES)

GQ = GopherQualityConfig()
GR = GopherRepetitionConfig()
C4 = C4QualityConfig()
FW = FineWebQualityConfig()


def test_the_good_document_passes_every_filter():
    assert gopher_quality(GOOD, GQ) is None
    assert gopher_repetition(GOOD, GR) is None
    assert c4_quality(GOOD, C4) is None
    assert fineweb_quality(GOOD, FW) is None


# --- Gopher quality --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (SENTENCES[0], "gopher_short_doc"),
        (GOOD.replace(" ", " supercalifragilisticexpialidocious "), "gopher_above_avg_threshold"),
        ("\n".join(" ".join("a an it is to be" for _ in range(3)) + "." for _ in range(8)),
         "gopher_below_avg_threshold"),
        (GOOD + "\n" + "#town #news " * 20, "gopher_too_many_hashes"),
        (GOOD + "\n" + "so... " * 30, "gopher_too_many_ellipsis"),
        ("\n".join("- " + s for s in SENTENCES), "gopher_too_many_bullets"),
        ("\n".join(s[:-1] + "..." for s in SENTENCES), "gopher_too_many_end_ellipsis"),
        (GOOD + "\n" + " ".join(f"{n} {n + 1}" for n in range(100, 400)) + ".",
         "gopher_below_alpha_threshold"),
        ("\n".join(s.replace(" the ", " a ").replace(" and ", " or ").replace(" to ", " into ")
                   .replace(" of ", " from ").replace(" with ", " by ").replace("The ", "A ")
                   .replace(" that ", " which ")
                   for s in SENTENCES), "gopher_enough_stop_words"),
    ],
    ids=["short", "long-words", "short-words", "hashes", "ellipses", "bullets",
         "end-ellipsis", "numbers", "stop-words"],
)
def test_gopher_quality_rules(text, rule):
    drop = gopher_quality(text, GQ)
    assert drop is not None and drop[0] == rule


def test_gopher_quality_rule_can_be_turned_off():
    assert gopher_quality(SENTENCES[0], replace(GQ, min_doc_words=None)) is None


# --- Gopher repetition -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("\n\n".join(SENTENCES[:3] * 3), "dup_para_frac"),
        ("\n\n".join([SENTENCES[0] * 3, *SENTENCES[1:5], SENTENCES[0] * 3]),
         "dup_para_char_frac"),
        ("\n".join(SENTENCES[:3] * 3), "dup_line_frac"),
        ("\n".join([SENTENCES[0] * 3, *SENTENCES[1:6], SENTENCES[0] * 3]),
         "dup_line_char_frac"),
        (GOOD + "\n" + "buy now " * 60, "top_2_gram"),
        (GOOD + "\n" + " ".join(f"extraordinary wonderful opportunities {n}" for n in range(10)),
         "top_3_gram"),  # the 3-gram is long enough, its 2-grams are not
        (GOOD + "\n" + " ".join(f"alphabet absolute abundant academic {n}" for n in range(6)),
         "top_4_gram"),
        (GOOD + "\n" + SENTENCES[0] + " " + SENTENCES[1], "duplicated_5_n_grams"),
    ],
    ids=["paragraphs", "paragraph-chars", "lines", "line-chars", "top-2", "top-3", "top-4",
         "dup-5"],
)
def test_gopher_repetition_rules(text, rule):
    drop = gopher_repetition(text, GR)
    assert drop is not None and drop[0] == rule
    assert drop[1]["ratio"] > 0


def test_gopher_repetition_empty():
    assert gopher_repetition("", GR) == ("empty", {})


# --- C4 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("\n".join(SENTENCES[:4]), "too_few_sentences"),
        (GOOD + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.", "lorem_ipsum"),
        (GOOD + "\nThe config is {a: 1} and nothing else here.", "curly_bracket"),
        ("\n".join(s.rstrip(".") for s in SENTENCES), "too_few_sentences"),
    ],
    ids=["few-sentences", "lorem", "curly", "no-terminal-punctuation"],
)
def test_c4_rules(text, rule):
    drop = c4_quality(text, C4)
    assert drop is not None and drop[0] == rule


def test_c4_clean_removes_the_lines_c4_removes():
    text = "\n".join([
        SENTENCES[0], "Home", "Please enable JavaScript to view the comments below.",
        "We use cookies. Read our privacy policy for details.", SENTENCES[1] + " [1]",
        "x" * 1001 + " is a long word.", SENTENCES[2],
    ])
    cleaned, removed = c4_clean(text, C4)
    # the citation goes, but the line was stripped before, so it ends in " " and goes too
    assert removed == 5
    assert cleaned == "\n".join([SENTENCES[0], SENTENCES[2]])
    text = text.replace(" [1]", "[1]")
    assert c4_clean(text, C4) == ("\n".join(SENTENCES[:3]), 4)


def test_sentence_count_follows_the_sentencizer():
    assert count_sentences("One. Two! Three? Four") == 4
    assert count_sentences("Pi is 3.14 and e is 2.71.") == 1  # a decimal is not an end
    assert count_sentences("He said: \"Go.\" Then he left.") == 2
    assert count_sentences("") == 0


# --- FineWeb ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("\n".join(s.rstrip(".") for s in SENTENCES), "line_punct_ratio"),
        ("\n".join([*SENTENCES[:2]] + [f"Page {n}." for n in range(10)]), "short_line_ratio"),
        (GOOD + "\n" + SENTENCES[0], "char_dup_ratio"),
        ("\n".join(f"Item {n}." for n in range(40)), "list_ratio"),
        ("\n \n", "empty"),
    ],
    ids=["punctuation", "short-lines", "duplicated", "list", "empty"],
)
def test_fineweb_rules(text, rule):
    cfg = replace(FW, short_line_thr=0.67) if rule != "list_ratio" else replace(
        FW, short_line_thr=1.0
    )
    drop = fineweb_quality(text, cfg)
    assert drop is not None and drop[0] == rule


def test_fineweb_can_keep_documents_without_any_punctuated_line():
    text = "\n".join(s.rstrip(".") for s in SENTENCES)
    assert fineweb_quality(text, replace(FW, line_punct_exclude_zero=True)) is None


# --- language ------------------------------------------------------------------------------


def test_language_filter_keeps_listed_languages_above_the_score():
    config = LanguageFilterConfig(enabled=True)
    assert language_filter("en", 0.9, config) is None
    assert language_filter("en", 0.65, config)[0] == "language_score"  # strictly above
    assert language_filter("de", 0.99, config)[0] == "language_not_kept"
    assert language_filter("de", 0.99, replace(config, languages=())) is None


# --- the quality stage -----------------------------------------------------------------------


def drop_of(text, config=None, **kwargs):
    return quality_drop(text=text, words=word_count(text), length=len(text),
                        config=config or QualityConfig(), **kwargs)


def test_quality_drop_names_the_filter_and_rule():
    drop = drop_of(GOOD + "\n" + "buy now " * 60)
    assert drop.reason == "low_quality"
    assert drop.detail["filter"] == "gopher_repetition" and drop.detail["rule"] == "top_2_gram"
    assert drop_of(GOOD) is None


def test_quality_drop_order_puts_gopher_repetition_before_gopher_quality():
    text = "\n".join(SENTENCES[:3] * 3)  # repeated lines, and too short for Gopher quality
    assert drop_of(text).detail["filter"] == "gopher_repetition"


def test_quality_drop_with_filters_off_or_without_text_keeps_the_length_gates():
    text = "\n".join(SENTENCES[:3] * 3)
    assert drop_of(text, NO_TEXT_FILTERS) is None
    assert quality_drop(text=None, words=50, length=300, config=QualityConfig()) is None
    assert drop_of("two words").reason == "too_short"
    assert drop_of("").reason == "empty"


def test_language_filter_in_the_quality_stage():
    german = (
        "Die Stadt liegt am Ufer eines großen Flusses und ist für ihre historische Altstadt "
        "bekannt. Jedes Jahr besuchen viele Touristen die Kirchen, Museen und Märkte."
    )
    config = replace(NO_TEXT_FILTERS, language=LanguageFilterConfig(enabled=True))
    drop = drop_of(german, config)
    assert drop.reason == "language" and drop.detail["language"] == "de"
    assert drop_of(GOOD, config) is None
    assert drop_of(GOOD, config, language="de", language_score=0.99).reason == "language"


def test_chinese_document_is_not_too_short():
    chinese = "北京是中华人民共和国的首都，也是全国的政治中心和文化中心。"  # noqa: RUF001
    assert drop_of(chinese, NO_TEXT_FILTERS) is None


def test_quality_config_round_trips_through_partial_json():
    config = CurationConfig.from_dict(
        {"quality": {"min_words": 3, "gopher_quality": {"min_doc_words": 20},
                     "gopher_repetition": {"top_n_grams": [[2, 0.3]]},
                     "language": {"enabled": True, "languages": ["en", "de"]}}}
    )
    assert config.quality.gopher_quality.min_doc_words == 20
    assert config.quality.gopher_quality.max_doc_words == 100_000
    assert config.quality.gopher_repetition.top_n_grams == ((2, 0.3),)
    assert config.quality.language.languages == ("en", "de")
    again = CurationConfig.from_dict(json.loads(config.to_json()))
    assert again == config
    assert CurationConfig.from_dict({"quality": asdict(NO_TEXT_FILTERS)}).quality == (
        NO_TEXT_FILTERS
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"quality": {"min_wordz": 3}}, "unknown quality setting.*min_wordz"),
        ({"quality": {"c4": {"min_sentences": 3}}}, r"unknown quality\.c4 setting.*min_sentences"),
        ({"quality": {"fineweb": 3}}, r"quality\.fineweb must be an object"),
    ],
)
def test_quality_config_rejects_unknown_keys_by_path(data, message):
    with pytest.raises(ValueError, match=message):
        CurationConfig.from_dict(data)


# --- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTP://Example.COM:80/a/b/", "http://example.com/a/b"),
        ("https://example.com:443/?utm_source=x&utm_medium=y#top", "https://example.com/"),
        ("https://example.com/p?b=2&a=1&fbclid=abc&gclid=1", "https://example.com/p?a=1&b=2"),
        ("https://example.com:8443/Path/", "https://example.com:8443/Path"),
        ("example.com/a", "http://example.com/a"),
        ("https://user:pw@example.com./a%7eb", "https://example.com/a~b"),
        ("https://bücher.de/", "https://xn--bcher-kva.de/"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ],
)
def test_normalise_url(url, normal):
    assert normalise_url(url) == normal


@pytest.mark.parametrize("url", ["", "   ", "http://", "mailto:"])
def test_normalise_url_refuses_urls_without_a_host(url):
    with pytest.raises(ValueError, match="cannot normalise"):
        normalise_url(url)


# --- site boilerplate ------------------------------------------------------------------------


def test_common_lines_need_both_the_share_and_the_count():
    footer = "Copyright 2024 Maplewood Gazette. All rights reserved."
    pages = [f"{SENTENCES[i % 7]}\n{footer}\nShare this article" for i in range(10)]
    pages += [SENTENCES[i % 7] + f" Page {i}." for i in range(10)]
    common = common_lines(pages)
    assert line_hash(footer) in common  # 10 of 20 documents
    assert line_hash("  Share this article ") in common  # compared stripped
    assert line_hash(SENTENCES[0]) not in common  # 6 of 20 < 20 %... and in two kinds
    text, removed = strip_lines(pages[0], common)
    assert removed == 2 and text.strip() == SENTENCES[0]
    # two documents of a two-page site: 100 %, but fewer than three documents
    assert common_lines([f"{footer}\na", f"{footer}\nb"]) == set()
    with pytest.raises(ValueError, match="min_fraction"):
        SiteBoilerplateConfig(min_fraction=0)


# --- PII redaction ---------------------------------------------------------------------------


def test_redact_pii_uses_typed_masks():
    text = "Mail jane.doe@example.org or call (555) 867-5309; server 192.168.10.20 is down."
    redacted, counts = redact_pii(text)
    assert "|||EMAIL_ADDRESS|||" in redacted and "jane.doe" not in redacted
    assert "|||IP_ADDRESS|||" in redacted and "192.168" not in redacted
    assert counts["email"] == 1 and counts["ip_address"] == 1
    assert redact_pii("nothing personal here") == ("nothing personal here", {})


# --- tokenizer -----------------------------------------------------------------------------


def test_split_words_follows_spacy_on_common_shapes():
    assert split_words("Don't stop, it's 3.5 km/h!") == [
        "Do", "n't", "stop", ",", "it", "'s", "3.5", "km", "/", "h", "!"
    ]
    assert split_words("See https://example.com/a. And U.S. well-known") == [
        "See", "https://example.com/a", ".", "And", "U.S.", "well", "-", "known"
    ]

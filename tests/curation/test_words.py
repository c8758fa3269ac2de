"""Word counts by Unicode segmentation: the unit of the length gate and of PII rates."""

from __future__ import annotations

import pytest

from paddock.curation.core.readers import read_documents
from paddock.curation.core.words import word_count
from tests.support.shared_data import shared_data


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("", 0),
        ("  two\twords\n", 2),
        ("Hello, world! -- ... ?", 2),  # punctuation is no word
        ("don't stop rock'n'roll", 3),  # apostrophes inside words
        ("l\u2019homme aujourd\u2019hui", 2),  # typographic apostrophe
        ("a well-known 3-2 win", 4),  # hyphens inside words
        ("- dash -leading trailing-", 3),  # hyphens at edges are not inside
        ("3.5 km 1,000", 5),  # digits are words; "." and "," split them
        ("snake_case word", 2),
        ("北京是中国的首都", 8),  # one word per Han character
        ("東京タワーへ行きました", 11),  # Kanji, Katakana and Hiragana alike
        ("abc日本", 3),  # CJK next to Latin letters is still its own word
        ("안녕하세요 세계", 2),  # Hangul is written with spaces
        ("हिन्दी भाषा", 2),  # vowel signs (marks) stay inside the word
        ("Cafe\u0301 e\u0301te\u0301", 2),  # combining accents too
        ("สวัสดีครับ ไทย", 2),  # Thai: a run between spaces counts once (documented)
        ("Привет, мир", 2),
    ],
)
def test_word_count(text, count):
    assert word_count(text) == count


def test_a_long_chinese_document_is_not_one_word():
    """Whitespace splitting counted a 5,986-character Chinese page as 1 word."""
    sentence = "北京是中华人民共和国的首都，也是全国的政治中心和文化中心。"  # noqa: RUF001
    text = sentence * 200
    assert len(text.split()) == 1
    assert word_count(text) == 27 * 200  # 29 characters, two of them punctuation


def test_word_count_on_real_chinese_pages():
    pages = read_documents(shared_data("web-warc-samples", "resiliparse", "warcfile.warc.gz"))
    counts = {
        doc.url: (word_count(doc.text), len(doc.text.split()))
        for doc in pages
        if sum("\u4e00" <= c <= "\u9fff" for c in doc.text) > 200
    }
    assert counts  # the sample has Chinese pages
    for unicode_words, whitespace_words in counts.values():
        assert unicode_words > 2 * whitespace_words


def test_word_count_is_close_to_whitespace_on_english():
    docs = list(read_documents(shared_data("web-c4-sample", "c4_demo.jsonl")))
    ours = sum(word_count(d.text) for d in docs)
    split = sum(len(d.text.split()) for d in docs)
    assert 0.9 * split < ours < 1.1 * split

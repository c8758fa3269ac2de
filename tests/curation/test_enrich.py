"""Registrable domains and language guesses, on hand-made URLs and texts and on real pages."""

from __future__ import annotations

import pytest

from paddock.curation.core.enrich import detect_language, registered_domain
from paddock.curation.core.readers import read_documents
from tests.support.shared_data import shared_data

ENGLISH = (
    "The city lies on the bank of a large river and is known for its historic old town. "
    "Every year many tourists visit the churches, museums and markets, and in summer there "
    "are numerous open-air concerts and festivals."
)
GERMAN = (
    "Die Stadt liegt am Ufer eines großen Flusses und ist für ihre historische Altstadt "
    "bekannt. Jedes Jahr besuchen viele Touristen die Kirchen, Museen und Märkte, und im "
    "Sommer finden zahlreiche Konzerte und Feste unter freiem Himmel statt."
)
CHINESE = (  # Chinese punctuation is full-width
    "北京是中华人民共和国的首都，也是全国的政治中心和文化中心。这座城市有三千多年的建城史，"  # noqa: RUF001
    "拥有故宫、天坛和长城等许多世界文化遗产。每年都有大量游客来到北京参观游览，"  # noqa: RUF001
    "品尝当地的美食，了解中国悠久的历史和丰富的文化。"  # noqa: RUF001
)


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("https://en.wikipedia.org/wiki/X", "wikipedia.org"),
        ("http://a.b.example.co.uk/", "example.co.uk"),
        ("http://example.co.uk", "example.co.uk"),
        ("https://www.city.kawasaki.jp/", "city.kawasaki.jp"),  # a wildcard rule with exception
        ("HTTP://WWW.Example.COM/Path", "example.com"),
        ("http://www.example.com:8080/x?y=1#z", "example.com"),
        ("http://user:secret@mail.example.org/", "example.org"),
        ("http://archives2.getty.edu:8082/xtf/view", "getty.edu"),
        ("http://example.com./", "example.com"),
        ("https://foo.github.io/bar", "foo.github.io"),  # private suffixes count as public
        ("http://co.uk/", "co.uk"),  # a public suffix itself stays whole
        ("http://localhost:8000/", "localhost"),
        ("http://intranet.corp/wiki", "intranet.corp"),  # unknown TLD: taken as public
        ("https://bücher.de/", "xn--bcher-kva.de"),
        ("https://www.xn--bcher-kva.de/", "xn--bcher-kva.de"),
        ("www.example.com/path", "example.com"),  # no scheme: host/path
        ("//cdn.example.net/x.js", "example.net"),
        ("http://192.168.0.1/", "192.168.0.1"),
        ("http://10.0.0.7:8080/admin", "10.0.0.7"),
        ("http://[2001:DB8::1]:443/x", "2001:db8::1"),
        ("http://[::ffff:1.2.3.4]/", "1.2.3.4"),
    ],
)
def test_registered_domain(url, domain):
    assert registered_domain(url) == domain


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "not a url",
        "http://",
        "http://[::1",
        "http://a..b.com/",
        "http://exa mple.com/",
        "http://%41.example.com/",
        "mailto:someone@example.com",
        "javascript:void(0)",
    ],
)
def test_registered_domain_is_empty_without_a_usable_host(url):
    assert registered_domain(url) == ""


def test_registered_domain_of_real_documents():
    path = shared_data("web-cc-docs", "cc_en_head-0174.jsonl.gz")
    domains = [registered_domain(doc.url) for doc in read_documents(path)]
    assert domains[0] == "getty.edu"  # archives2.getty.edu:8082
    assert "blogspot.com" not in domains  # artseast.blogspot.com is a site of its own
    assert "artseast.blogspot.com" in domains
    assert all(domains)


@pytest.mark.parametrize(
    ("text", "language"),
    [(ENGLISH, "en"), (GERMAN, "de"), (CHINESE, "zh"), (ENGLISH.upper(), "en")],
    ids=["english", "german", "chinese", "english-all-caps"],
)
def test_detect_language(text, language):
    code, score = detect_language(text)
    assert code == language
    assert 0.0 < score <= 1.0


@pytest.mark.parametrize("text", ["", "   \n\t ", "hi", "ok ok ok", "12345 67890"])
def test_detect_language_gives_nothing_for_too_little_text(text):
    assert detect_language(text) == ("", 0.0)


def test_one_clear_sentence_is_enough():
    assert detect_language(ENGLISH.split(". ")[0])[0] == "en"
    assert detect_language(GERMAN.split(". ")[0])[0] == "de"


def test_mixed_language_text_scores_lower():
    mixed = ENGLISH.split(". ")[0] + ". " + GERMAN.split(". ")[0] + "."
    assert detect_language(mixed)[1] < detect_language(ENGLISH)[1]


def test_language_model_is_loaded_once():
    from paddock.curation.core.enrich import _language_model

    assert _language_model() is _language_model()


def test_detect_language_on_real_corpora():
    wiki = list(read_documents(shared_data("wikipedia-sample", "wiki_demo.txt"), "lines"))
    results = [detect_language(doc.text) for doc in wiki]
    assert all(code == "en" for code, _score in results)
    # "Animalia", a children's book: a list of alliterative animal names scores 0.55
    assert sum(score > 0.65 for _code, score in results) >= 29

    c4 = list(read_documents(shared_data("web-c4-sample", "c4_demo.jsonl")))
    english = sum(detect_language(doc.text)[0] == "en" for doc in c4)
    assert english >= 0.95 * len(c4)  # real web text: a few lists and boilerplate miss


def test_detect_language_on_non_english_pages():
    """The Common Crawl sample is mostly Chinese, with a Russian and a Dutch page."""
    pages = {
        doc.url: doc
        for doc in read_documents(
            shared_data("web-warc-samples", "resiliparse", "warcfile.warc.gz")
        )
    }
    assert detect_language(pages["http://01spb.ru/company/"].text)[0] == "ru"
    assert detect_language(pages["http://0900-hovenier.nl/gelderland/oosterbeek/"].text)[0] == "nl"
    chinese = [url for url, doc in pages.items() if detect_language(doc.text)[0] == "zh"]
    # CLD2 (in the crawl's metadata records) says 11 on whole pages; the main content of
    # a few of them is a menu of a dozen characters, too little to tell.
    assert len(chinese) >= 6


def test_language_model_loads_without_the_network(monkeypatch):
    """The bundled lite model is read from the package; no socket is ever opened."""
    import socket

    from paddock.curation.core.enrich import _language_model

    def refuse(*args, **kwargs):
        raise AssertionError("detect_language tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    _language_model.cache_clear()
    try:
        assert detect_language(GERMAN)[0] == "de"
    finally:
        _language_model.cache_clear()

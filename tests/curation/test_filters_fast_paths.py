"""The fast paths of the filters give exactly what the plain definitions give: n-gram
repetition against datatrove's walk over joined n-grams, the chunk-cached tokenizer
against the expression run over the whole text. Random inputs with fixed seeds, drawn
from tiny vocabularies so that repeats, ties and overlapping skips are frequent."""

from __future__ import annotations

import random
from collections import Counter

from paddock.curation.core.filters.gopher_repetition import (
    _duplicated_n_gram_chars,
    _NGrams,
    _top_n_gram_chars,
)
from paddock.curation.core.filters.tokens import _TOKEN, split_words


def reference_top(words: list[str], n: int) -> int:
    grams = [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    gram, times = Counter(grams).most_common(1)[0]
    return len(gram) * times


def reference_duplicated(words: list[str], n: int) -> int:
    seen: set[tuple[str, ...]] = set()
    repeated = index = 0
    while index < len(words) - n + 1:
        gram = tuple(words[index : index + n])
        if gram in seen:
            repeated += sum(map(len, gram))
            index += n
        else:
            seen.add(gram)
            index += 1
    return repeated


def test_n_gram_rules_match_the_plain_walk():
    rng = random.Random(11)
    for _ in range(2000):
        vocabulary = [rng.choice(["a", "bb", "ccc", "d", "ee"]) for _ in range(rng.randint(1, 5))]
        words = [rng.choice(vocabulary) for _ in range(rng.randint(1, 80))]
        grams = _NGrams(words)
        for n in range(1, 12):
            if n <= len(words):
                assert _top_n_gram_chars(grams, n) == reference_top(words, n), (words, n)
            assert _duplicated_n_gram_chars(grams, n) == reference_duplicated(words, n), (
                words, n,
            )


def test_chunked_tokenizer_matches_the_expression_on_the_whole_text():
    rng = random.Random(5)
    alphabet = "aAn't'\u2019s.,-/:()@&$~\u30fb \n\t\u00a0\u2028\x1ccanot20ftkmU.S.http://w.e/x\u00e9\u4e2d"
    pieces = ["can", "not", "don't", "U.S.", "20ft", "http://a.b/c.", "a@b.com", "Dr.", "...",
              "--", "n't", "'s", "x-1", "AT&T", "and/or", "9:00", "\u00a0", "\u3000", " ", "\n"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert split_words(text) == _TOKEN.findall(text), text
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert split_words(text) == _TOKEN.findall(text), text


def reference_word_count(text: str) -> int:
    """The definition :func:`word_count` computes faster: marks deleted, each CJK
    character a word, then runs of ``\\w`` joined by single apostrophes or hyphens."""
    import re
    import unicodedata

    from paddock.curation.core.words import _CJK_CHAR

    folded = "".join(
        " x " if _CJK_CHAR.match(ch) else "" if unicodedata.category(ch)[0] == "M" else ch
        for ch in text
    )
    return len(re.findall(r"\w+(?:['\u2019\-\u2010\u2011]\w+)*", folded))


def test_word_count_matches_its_definition_on_mixed_scripts():
    from paddock.curation.core.words import word_count

    rng = random.Random(3)
    alphabet = (
        "ab1_' -.,\n\t\x0b\x1c\u2019\u2010\u2011\u00e9\u0301\u4e2d\u0e01\u00a0"
        "\u0939\u093f\u0928\u094d\ud55c\u0627\u2014\u201c\U00020001\U0001d165\u00bd\u0663"
        "\ud800\u3000\uff66\u3005"
    )
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert word_count(text) == reference_word_count(text), ascii(text)
        # mostly ASCII with a rare other character: the other path of word_count
        text = "".join(
            rng.choice(alphabet) if rng.random() < 0.02 else rng.choice("ab1_' -.,\n")
            for _ in range(rng.randint(0, 200))
        )
        assert word_count(text) == reference_word_count(text), ascii(text)


def reference_sentences(text: str) -> int:
    """spaCy's sentencizer count as a loop over the tokens."""
    from paddock.curation.core.filters._punctuation import SENTENCE_END
    from paddock.curation.core.filters.tokens import _is_punct

    tokens = _TOKEN.findall(text)
    count, seen_end = (1 if tokens else 0), False
    for token in tokens:
        if token in SENTENCE_END:
            seen_end = True
        elif seen_end and not _is_punct(token):
            count, seen_end = count + 1, False
    return count


def test_sentence_count_matches_the_loop():
    from paddock.curation.core.filters.tokens import count_sentences

    rng = random.Random(2)
    pieces = ["a", "b.", ".", "!", "?", "...", "\u3002", ",", "$", "+", '"', "(", ")", "Dr.",
              "U.S.", "x", "--", "\u2026", "'s", "3.5"]
    for _ in range(3000):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 15)))
        assert count_sentences(text) == reference_sentences(text), text


def test_line_split_matches_the_expression():
    import re

    from paddock.curation.core.filters.gopher_repetition import _split_lines

    rng = random.Random(4)
    for _ in range(20000):
        text = "".join(rng.choice("ab\n\n ") for _ in range(rng.randint(0, 12)))
        assert _split_lines(text) == re.split(r"\n+", text), text


def test_the_chain_decides_as_the_filters_one_by_one():
    """quality_drop shares lazily computed tokens between the filters: its answer is the
    first drop of the filters each run on its own."""
    from benchmarks.quality_filters import FILTERS, edge_cases, our_decisions
    from paddock.curation.core.quality import QualityConfig, quality_drop
    from paddock.curation.core.words import word_count

    config = QualityConfig(min_words=0)
    for text in edge_cases(150, seed=9):
        decisions = our_decisions(text)
        expected = next(((name, decisions[name]) for name in FILTERS if decisions[name]), None)
        drop = quality_drop(text=text, words=max(word_count(text), 1), length=len(text),
                            config=config)
        got = None if drop is None else (drop.detail["filter"], drop.detail["rule"])
        assert got == expected, text

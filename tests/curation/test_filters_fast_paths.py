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

r"""Word 5-gram shingles and MinHash signatures, compiled, for whole batches at once.

The obvious datasketch usage hashes each shingle string with SHA-1 in Python and updates
a 128-wide numpy array per shingle: about a millisecond per 1 KB document. Here a batch
of documents is one UTF-8 buffer plus offsets; numba kernels tokenise it, hash the
shingles and compute the signatures without a Python-level loop per shingle.

The signatures are exactly datasketch's, in its ``affine32`` permutation scheme (its default
since 2.0, which avoids the collision bias of the older ``legacy`` scheme): each shingle
hash is pre-mixed with the MurmurHash3 finalizer, then ``a * h + b`` modulo 2**32 with the
permutations of ``datasketch.MinHash(num_perm, seed, scheme="affine32")``; a signature fed
to ``datasketch.LeanMinHash`` serialises to the same bytes. What paddock pins on top is
the shingle hash (below), so a signature means the same thing on every machine.

Shingle hash schemes. Both normalise text first (NFKC, case folded, whitespace collapsed),
hash each token with 64-bit FNV-1a over its UTF-8 bytes, combine a shingle of k consecutive
tokens by rotate-xor and finish with the splitmix64 mixer, keeping the top 32 bits.
Documents with fewer than k tokens get one shingle of all their tokens; documents without
tokens get none. They differ in what a token is:

``paddock-fnv1a64-5gram-v2`` (the default): a token is a maximal run of Unicode letters,
numbers and combining marks (categories L*, N*, M*: ``\w`` without ``_``, marks kept so
scripts with vowel signs stay whole) but U+02BC, the modifier letter apostrophe; everything
else separates, so curly and straight
quotes, apostrophes, dashes, ellipses and non-breaking spaces all tokenise alike
(``don\u2019t`` = ``don't``, ``\u201cOh,`` = ``"Oh,``, ``word\u2014word`` = ``word-word``).
Each Han,
Hiragana or Katakana character is a token by itself: those scripts do not put spaces
between words, so otherwise a Chinese page would be one token. The character classes come
from the running Python's ``unicodedata`` (recorded in :data:`UNICODE_VERSION`); only
characters assigned in a later Unicode version could tokenise differently elsewhere.

``paddock-fnv1a64-5gram-v1`` (kept so runs recorded with it reproduce): a token is a maximal
run of bytes that are ASCII letters or digits or non-ASCII, so any non-ASCII character,
including typographic punctuation, is part of a word: ``“oh`` and ``"oh`` differ, and a
page without spaces is one token.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numba import njit

SHINGLE_SCHEME_V1 = "paddock-fnv1a64-5gram-v1"
SHINGLE_SCHEME_V2 = "paddock-fnv1a64-5gram-v2"
SHINGLE_SCHEME = SHINGLE_SCHEME_V2  # the default of new runs
SHINGLE_SCHEMES = (SHINGLE_SCHEME_V1, SHINGLE_SCHEME_V2)
UNICODE_VERSION = unicodedata.unidata_version
PERMUTATION_SCHEME = "affine32"
MAX_HASH = np.uint32((1 << 32) - 1)  # the value of an empty signature

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@dataclass(frozen=True)
class Shingles:
    """Sorted unique 32-bit shingle hashes of a batch of documents, in CSR layout."""

    values: np.ndarray  # uint32, all documents' shingles, each document's sorted
    offsets: np.ndarray  # int64, len = documents + 1

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def of(self, index: int) -> np.ndarray:
        return self.values[self.offsets[index] : self.offsets[index + 1]]


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's permutation parameters (a, b) for this size and seed."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme=PERMUTATION_SCHEME).permutations
    return np.ascontiguousarray(a, dtype=np.uint32), np.ascontiguousarray(b, dtype=np.uint32)


@njit(cache=True, inline="always")
def _is_word_byte(c: np.uint8) -> bool:
    return (
        (c >= 48 and c <= 57)  # 0-9
        or (c >= 97 and c <= 122)  # a-z
        or (c >= 65 and c <= 90)  # A-Z (text is case folded already; kept for safety)
        or c >= 128  # any byte of a multi-byte UTF-8 character
    )


def check_scheme(scheme: str) -> str:
    if scheme not in SHINGLE_SCHEMES:
        raise ValueError(f"unknown shingle scheme {scheme!r}; known: {', '.join(SHINGLE_SCHEMES)}")
    return scheme


SEPARATOR, WORD, SINGLE = 0, 1, 2  # v2 classes of code points

# Scripts written without spaces between words: each character is a token (if a letter).
_SINGLE_RANGES = (
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3005, 0x3007),  # ideographic iteration mark, closing mark, number zero
    (0x3021, 0x3029),  # Hangzhou numerals
    (0x3038, 0x303B),
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana (NFKC makes them full width anyway)
    (0x20000, 0x3FFFF),  # CJK extensions B to H
)


# A letter (Lm) by category, but typed as an apostrophe (don\u02bct): it separates, as ' does.
_MODIFIER_APOSTROPHE = 0x02BC


@lru_cache(maxsize=1)
def code_point_classes() -> np.ndarray:
    """uint8 per code point: SEPARATOR, WORD (letter, number, mark) or SINGLE (a Han,
    Hiragana or Katakana letter). Built once per process (about 0.2 s)."""
    table = np.zeros(0x110000, dtype=np.uint8)
    for code in range(0x110000):
        if unicodedata.category(chr(code))[0] in "LNM":
            table[code] = WORD
    for first, last in _SINGLE_RANGES:
        block = table[first : last + 1]
        block[block == WORD] = SINGLE
    table[_MODIFIER_APOSTROPHE] = SEPARATOR
    return table


@njit(cache=True, inline="always")
def _splitmix64(x: np.uint64) -> np.uint64:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True)
def _token_hashes(blob: np.ndarray, start: int, end: int, out: np.ndarray) -> int:
    """FNV-1a 64 of each token of blob[start:end]; returns the number of tokens."""
    count = 0
    i = start
    while i < end:
        while i < end and not _is_word_byte(blob[i]):
            i += 1
        if i >= end:
            break
        h = _FNV_OFFSET
        while i < end and _is_word_byte(blob[i]):
            h = (h ^ np.uint64(blob[i])) * _FNV_PRIME
            i += 1
        out[count] = h
        count += 1
    return count


@njit(cache=True)
def _token_hashes_v2(blob, start, end, out, classes) -> int:
    """FNV-1a 64 of each v2 token of blob[start:end] (valid UTF-8); returns the count."""
    count = 0
    in_token = False
    h = _FNV_OFFSET
    i = start
    while i < end:
        c = np.int64(blob[i])
        if c < 0x80:
            width, code = 1, c
        elif c < 0xE0:
            width, code = 2, c & 0x1F
        elif c < 0xF0:
            width, code = 3, c & 0x0F
        else:
            width, code = 4, c & 0x07
        if i + width > end:
            width = end - i
        for k in range(1, width):
            code = (code << 6) | (np.int64(blob[i + k]) & 0x3F)
        kind = classes[code] if code < len(classes) else 0
        if kind == 0:
            if in_token:
                out[count] = h
                count += 1
                in_token = False
        else:
            if kind == 2 and in_token:  # a single-character token ends the word before it
                out[count] = h
                count += 1
                in_token = False
            if not in_token:
                h = _FNV_OFFSET
                in_token = True
            for k in range(width):
                h = (h ^ np.uint64(blob[i + k])) * _FNV_PRIME
            if kind == 2:
                out[count] = h
                count += 1
                in_token = False
        i += width
    if in_token:
        out[count] = h
        count += 1
    return count


@njit(cache=True)
def _combine(tokens: np.ndarray, first: int, size: int) -> np.uint32:
    h = np.uint64(0)
    for t in range(first, first + size):
        h = ((h << np.uint64(5)) | (h >> np.uint64(59))) ^ tokens[t]
    return np.uint32(_splitmix64(h) >> np.uint64(32))


@njit(cache=True)
def _shingle_kernel(blob, offsets, size, v2, classes):
    n = len(offsets) - 1
    counts = np.zeros(n + 1, dtype=np.int64)
    longest = 0
    for d in range(n):
        longest = max(longest, offsets[d + 1] - offsets[d])
    # v1 tokens are separated by a byte; v2 tokens are at least one byte (CJK: three).
    tokens = np.empty((longest if v2 else longest // 2) + 2, dtype=np.uint64)
    # Upper bound of shingles: one per token; filled then compacted per document.
    capacity = 0
    for d in range(n):
        capacity += (offsets[d + 1] - offsets[d]) // (1 if v2 else 2) + 1
    values = np.empty(capacity, dtype=np.uint32)
    cursor = 0
    for d in range(n):
        if v2:
            ntok = _token_hashes_v2(blob, offsets[d], offsets[d + 1], tokens, classes)
        else:
            ntok = _token_hashes(blob, offsets[d], offsets[d + 1], tokens)
        if ntok == 0:
            counts[d + 1] = cursor
            continue
        nsh = ntok - size + 1 if ntok >= size else 1
        width = size if ntok >= size else ntok
        doc = np.empty(nsh, dtype=np.uint32)
        for s in range(nsh):
            doc[s] = _combine(tokens, s, width)
        doc.sort()
        values[cursor] = doc[0]
        cursor += 1
        for s in range(1, nsh):
            if doc[s] != doc[s - 1]:
                values[cursor] = doc[s]
                cursor += 1
        counts[d + 1] = cursor
    return values[:cursor].copy(), counts


def shingle(
    blob: np.ndarray | bytes, offsets: np.ndarray, size: int = 5, scheme: str = SHINGLE_SCHEME
) -> Shingles:
    """Shingles of documents stored back to back in ``blob`` (UTF-8, already normalised)."""
    v2 = check_scheme(scheme) == SHINGLE_SCHEME_V2
    classes = code_point_classes() if v2 else np.zeros(1, dtype=np.uint8)
    buffer = np.frombuffer(blob, dtype=np.uint8) if isinstance(blob, bytes) else blob
    values, new_offsets = _shingle_kernel(
        buffer, np.asarray(offsets, dtype=np.int64), size, v2, classes
    )
    return Shingles(values, new_offsets)


@njit(cache=True)
def _minhash_kernel(values, offsets, a, b):
    n = len(offsets) - 1
    k = len(a)
    out = np.empty((n, k), dtype=np.uint32)
    premixed = np.empty(k, dtype=np.uint32)
    for d in range(n):
        row = out[d]
        row[:] = np.uint32(0xFFFFFFFF)
        for s in range(offsets[d], offsets[d + 1]):
            # MurmurHash3 fmix32, as datasketch's _fmix(hv, 32). numba widens uint32
            # products to 64 bits, so each step is masked back to 32 bits explicitly.
            h = np.uint64(values[s])
            h ^= h >> np.uint64(16)
            h = (h * np.uint64(0x85EBCA6B)) & np.uint64(0xFFFFFFFF)
            h ^= h >> np.uint64(13)
            h = (h * np.uint64(0xC2B2AE35)) & np.uint64(0xFFFFFFFF)
            h ^= h >> np.uint64(16)
            h32 = np.uint32(h)
            for j in range(k):
                premixed[j] = a[j] * h32 + b[j]  # stored as uint32: modulo 2**32
            for j in range(k):
                if premixed[j] < row[j]:
                    row[j] = premixed[j]
    return out


def signatures(shingles: Shingles, *, num_perm: int, seed: int) -> np.ndarray:
    """MinHash signatures, (documents, num_perm) uint32, identical to datasketch's."""
    a, b = permutations(num_perm, seed)
    return _minhash_kernel(shingles.values, shingles.offsets, a, b)


@njit(cache=True)
def _band_kernel(sigs, bands, rows):
    n = sigs.shape[0]
    out = np.empty((n, bands), dtype=np.uint64)
    for d in range(n):
        for band in range(bands):
            h = np.uint64(band + 1)
            for r in range(band * rows, band * rows + rows):
                h = h * np.uint64(0x100000001B3) + np.uint64(sigs[d, r])
            out[d, band] = _splitmix64(h)
    return out


def band_keys(sigs: np.ndarray, *, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per LSH band per document: equal keys mean equal band rows."""
    if bands * rows > sigs.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows need {bands * rows} permutations")
    return _band_kernel(np.ascontiguousarray(sigs), bands, rows)


@njit(cache=True)
def _jaccard_kernel(values, offsets, left, right):
    out = np.empty(len(left), dtype=np.float64)
    for p in range(len(left)):
        i, j = left[p], right[p]
        a0, a1 = offsets[i], offsets[i + 1]
        b0, b1 = offsets[j], offsets[j + 1]
        inter = 0
        while a0 < a1 and b0 < b1:
            va, vb = values[a0], values[b0]
            if va == vb:
                inter += 1
                a0 += 1
                b0 += 1
            elif va < vb:
                a0 += 1
            else:
                b0 += 1
        union = (offsets[i + 1] - offsets[i]) + (offsets[j + 1] - offsets[j]) - inter
        out[p] = inter / union if union > 0 else 0.0
    return out


def jaccard(shingles: Shingles, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Exact Jaccard similarity of the shingle sets of document pairs (left[i], right[i])."""
    return _jaccard_kernel(
        shingles.values,
        shingles.offsets,
        np.asarray(left, dtype=np.int64),
        np.asarray(right, dtype=np.int64),
    )


AFFINE32_CODE = 1  # datasketch's scheme code for affine32 in the LeanMinHash byte format


def lean_record_dtype(num_perm: int) -> np.dtype:
    """One ``LeanMinHash.serialize(buf, byteorder="<")`` record: seed, -num_perm, scheme
    code, hash values; little-endian and unpadded, so records can be read by offset."""
    return np.dtype(
        [("seed", "<i8"), ("size", "<i4"), ("scheme", "u1"), ("values", "<u4", (num_perm,))]
    )


def lean_minhash_records(sigs: np.ndarray, seed: int) -> bytes:
    """Signatures as back-to-back LeanMinHash byte records (datasketch's format, no pickle).

    ``datasketch.LeanMinHash.deserialize(record, byteorder="<")`` reads each one back.
    """
    records = np.empty(len(sigs), dtype=lean_record_dtype(sigs.shape[1]))
    records["seed"] = seed
    records["size"] = -sigs.shape[1]
    records["scheme"] = AFFINE32_CODE
    records["values"] = sigs
    return records.tobytes()


def read_lean_minhash_records(data: bytes, num_perm: int) -> np.ndarray:
    return np.frombuffer(data, dtype=lean_record_dtype(num_perm))["values"]


def lean_minhash_bytes(signature: np.ndarray, seed: int) -> bytes:
    """datasketch's LeanMinHash serialisation of one signature (native byte order)."""
    from datasketch import LeanMinHash

    lean = LeanMinHash(seed=seed, hashvalues=signature, scheme=PERMUTATION_SCHEME)
    buffer = bytearray(lean.bytesize())
    lean.serialize(buffer)
    return bytes(buffer)

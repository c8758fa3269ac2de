"""Hypothesis strategies shared by the fuzz tests: JSON values, damaged lines and files.

Every property test here runs a bounded, derandomized number of examples (:data:`FUZZ`),
so the folder gives the same verdict on every run and machine and stays quick; nothing is
saved between runs (no example database in the working tree).
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Plain settings objects used as decorators rather than a registered profile: loading a
# profile would change every other hypothesis test of the session.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # tmp_path and db: each example cleans up
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
FUZZ_DB = settings(FUZZ, max_examples=50)  # examples that write to PostgreSQL

# Characters that break things downstream: NUL (PostgreSQL refuses it), lone surrogates
# (no UTF-8 for them; JSON can escape them), BOM, line and paragraph separators.
NASTY_CHARACTERS = ["\x00", "\ud800", "\udfff", "\ufeff", "\r", "\n", "\u2028", "\x85", " ", "\t"]

text = st.text(max_size=24)
nasty_text = st.text(alphabet=st.characters() | st.sampled_from(NASTY_CHARACTERS), max_size=24)
# Keys without NUL or surrogates; the tests of those characters in keys are their own.
plain_keys = st.text(alphabet=st.characters(exclude_categories=("Cs",),
                                            exclude_characters="\x00"), min_size=1, max_size=12)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | nasty_text
)


def json_values(keys: st.SearchStrategy[str] = nasty_text, max_leaves: int = 8):
    """Any JSON value (objects, arrays, scalars), shallow enough to stay fast."""
    return st.recursive(
        json_scalars,
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(keys, children, max_size=4),
        max_leaves=max_leaves,
    )


def near(valid: dict[str, st.SearchStrategy[Any]], *,
         keys: st.SearchStrategy[str] = nasty_text) -> st.SearchStrategy[dict[str, Any]]:
    """Objects shaped like a valid record: each field valid, absent, null or any JSON value,
    now and then with an extra field. Mostly near misses, some hits."""
    fields = {
        name: st.one_of(strategy, strategy, st.none(), json_values(keys))
        for name, strategy in valid.items()
    }
    base = st.fixed_dictionaries({}, optional=fields)
    extra = st.dictionaries(keys, json_values(keys), max_size=1)
    return st.one_of(base, base, st.builds(lambda a, b: {**b, **a}, base, extra))


@st.composite
def mutated(draw, valid, fields, keys=nasty_text):
    """A valid record with up to two changes: a field dropped, nulled or replaced (by a
    near value or any JSON), or an unknown field added."""
    record = dict(draw(valid))
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        name = draw(st.sampled_from(sorted(fields)))
        change = draw(st.sampled_from(["drop", "null", "near", "any", "add"]))
        if change == "drop":
            record.pop(name, None)
        elif change == "null":
            record[name] = None
        elif change == "near":
            record[name] = draw(fields[name])
        elif change == "any":
            record[name] = draw(json_values(keys))
        else:
            record[draw(keys)] = draw(json_values(keys))
    return record


def dump(value: Any, *, ascii_only: bool) -> bytes:
    """One JSON line as bytes; with ascii_only=False, lone surrogates are written raw
    (surrogatepass), which is not UTF-8: another bad input."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


ODD_LINES = [
    b"", b"   ", b"\t", b"{", b"}", b"[]", b"[1, 2]", b"null", b"true", b"0", b'"text"',
    b"NaN", b'{"text": NaN}', b'{"text": Infinity}', b"{'text': 'single quotes'}",
    b'{"text": "a"} trailing', b'{"text": "dup", "text": 3}', b"\xef\xbb\xbf{}",
    b"\xff\xfe{}", b"\xc3\x28", b'{"text": "\\ud800"}', b'{"text": "\\u0000"}',
    b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}",
]


def lines_of(records: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """One line (no newline in it): a JSON record, free text, raw bytes or an odd case."""
    return st.one_of(
        st.builds(lambda value, ascii_only: dump(value, ascii_only=ascii_only),
                  records, st.booleans()),
        st.builds(lambda value, ascii_only: dump(value, ascii_only=ascii_only),
                  records, st.booleans()),
        nasty_text.map(lambda s: s.encode("utf-8", "surrogatepass").replace(b"\n", b" ")),
        st.binary(max_size=24).map(lambda b: b.replace(b"\n", b"")),
        st.sampled_from(ODD_LINES),
    )


COMPRESSION_MAGIC = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd")  # gzip, zstd: found by content


def files_of(records: st.SearchStrategy[Any], *, max_lines: int = 6) -> st.SearchStrategy[bytes]:
    """A whole JSONL-ish file: lines joined by LF or CRLF, with or without a final newline.
    Never starting with a compression magic number (that file would be read as one)."""
    return st.builds(
        lambda lines, eol, final: eol.join(lines) + (eol if final and lines else b""),
        st.lists(lines_of(records), max_size=max_lines),
        st.sampled_from([b"\n", b"\r\n"]),
        st.booleans(),
    ).filter(lambda data: not data.startswith(COMPRESSION_MAGIC))


def numbered_lines(data: bytes) -> list[tuple[int, bytes]]:
    """What a line reader sees: (1-based number, line without its LF) for every line."""
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    return list(enumerate(parts, start=1))


def is_blank(line: bytes, number: int) -> bool:
    """A line every reader skips: whitespace only, once decoded (BOM dropped on line 1)."""
    if number == 1:
        line = line.removeprefix(b"\xef\xbb\xbf")
    try:
        return not line.decode("utf-8").strip()
    except UnicodeDecodeError:
        return False


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)

"""The one rule for characters that text cannot hold once stored: NUL and unpaired surrogates.

JSON can spell both as ``\\u`` escapes, so a perfectly valid JSON line can carry them.
PostgreSQL refuses NUL in text (and in jsonb), and UTF-8 cannot encode a surrogate that
is not half of a pair (``json.loads`` has already joined the halves of every complete
pair), so a record holding one passes every check and then fails at the database, or
when a file is written. Every door in (the API's parser, the annotation importer, the
curation reader and ingest, the sampler that writes pairs files for import) finds or
cleans them here, by one rule.

Two ways to deal with them: refuse (:func:`find_unsafe_character`,
:func:`unsafe_field_path`) where the input is ours to correct, or clean
(:func:`storable_text`, :func:`storable`) where it is crawled text kept as well as can be.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = [
    "UNSAFE_CHARACTER",
    "find_unsafe_character",
    "storable",
    "storable_text",
    "unsafe_field_path",
    "without_lone_surrogates",
]

UNSAFE_CHARACTER: Final = re.compile("[\x00\ud800-\udfff]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
REPLACEMENT: Final = "\ufffd"


def find_unsafe_character(text: str) -> re.Match[str] | None:
    """The first NUL or unpaired surrogate in ``text`` (its ``start()`` and ``group()``),
    or None."""
    return UNSAFE_CHARACTER.search(text)


def unsafe_field_path(value: Any, *, root: str) -> str | None:
    """The JSON path (``turns[1].content``) of the first string, in document order, that
    holds a NUL or an unpaired surrogate, or of the object whose key holds one; ``root``
    names the value itself (``"body"``, ``"line"``). None when all is storable.

    Walked with a stack, not recursion: ``json.loads`` accepts nesting deeper than Python's
    recursion limit leaves room for.
    """
    # A key is pushed as a string at its object's path, so a bad key names the object.
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if UNSAFE_CHARACTER.search(item):
                return path or root
        elif isinstance(item, dict):
            for key, inner in reversed(item.items()):
                stack.append((inner, f"{path}.{key}" if path else str(key)))
                stack.append((str(key), path))
        elif isinstance(item, list):
            stack.extend((inner, f"{path}[{i}]") for i, inner in reversed(list(enumerate(item))))
    return None


def without_lone_surrogates(text: str) -> str:
    """``text`` with each unpaired surrogate replaced by U+FFFD (NUL kept)."""
    if text.isascii():
        return text
    return _SURROGATE.sub(REPLACEMENT, text)


def storable_text(text: str) -> str:
    """``text`` with NUL characters dropped and unpaired surrogates as U+FFFD."""
    return without_lone_surrogates(text.replace("\x00", ""))


def storable(value: Any) -> Any:
    """A JSON value with :func:`storable_text` applied to every string and key in it
    (tuples become lists, as JSON has them)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable(key): storable(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [storable(inner) for inner in value]
    return value

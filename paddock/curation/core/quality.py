"""The quality stage's decision for one document: kept (None) or a drop reason with evidence.

Plain functions of a document's text and measurements, so the stage gives the same answer
in one process or spread over shards on the curation workers.

Order, as FineWeb applies them: the length gates, then language, Gopher repetition,
Gopher quality, C4, FineWeb; the first rule that fires names the drop. The text filters
are on by default, because users curating web text expect pagination lists, spam and
boilerplate gone; the language filter is off (a run keeps every language unless asked).
Synthetic or non-web corpora (code, tables, short records) should turn them off:
``{"quality": {"gopher_quality": {"enabled": false}, ...}}`` or :data:`NO_TEXT_FILTERS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass, replace
from itertools import chain
from typing import Any

from paddock.curation.core.enrich import detect_language
from paddock.curation.core.filters import (
    C4QualityConfig,
    FineWebQualityConfig,
    GopherQualityConfig,
    GopherRepetitionConfig,
    LanguageFilterConfig,
    c4_quality,
    fineweb_quality,
    gopher_quality,
    gopher_repetition,
    language_filter,
    split_line_words,
)


@dataclass(frozen=True)
class QualityConfig:
    """Documents dropped before deduplication, each with its reason."""

    min_words: int = 5  # fewer words: "too_short" (none at all: "empty")
    max_chars: int = 1_000_000  # more characters: "too_long" (a dump, not a document)
    language: LanguageFilterConfig = field(default_factory=LanguageFilterConfig)
    gopher_repetition: GopherRepetitionConfig = field(default_factory=GopherRepetitionConfig)
    gopher_quality: GopherQualityConfig = field(default_factory=GopherQualityConfig)
    c4: C4QualityConfig = field(default_factory=C4QualityConfig)
    fineweb: FineWebQualityConfig = field(default_factory=FineWebQualityConfig)

    @property
    def text_filters_enabled(self) -> bool:
        """Whether any rule needs the document's text (the length gates do not)."""
        return any(
            getattr(self, name).enabled
            for name in ("language", "gopher_repetition", "gopher_quality", "c4", "fineweb")
        )

    def without_text_filters(self) -> QualityConfig:
        """The same length gates with every text filter off."""
        return replace(
            self,
            language=replace(self.language, enabled=False),
            gopher_repetition=replace(self.gopher_repetition, enabled=False),
            gopher_quality=replace(self.gopher_quality, enabled=False),
            c4=replace(self.c4, enabled=False),
            fineweb=replace(self.fineweb, enabled=False),
        )

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None, section: str = "quality") -> QualityConfig:
        """Build from (possibly partial) JSON; an unknown key is a ``ValueError`` naming
        it with its path (``quality.c4.min_sentences``)."""
        return _build(cls, dict(values or {}), section)


def _build(kind: type, values: dict[str, Any], path: str) -> Any:
    if not isinstance(values, dict):
        raise ValueError(f"{path} must be an object, not {type(values).__name__}")
    known = {f.name: f for f in fields(kind)}
    extra = sorted(set(values) - set(known))
    if extra:
        raise ValueError(f"unknown {path} setting(s): {', '.join(extra)}")
    defaults = kind()
    built: dict[str, Any] = {}
    for name, value in values.items():
        default = getattr(defaults, name)
        if is_dataclass(default):
            built[name] = _build(type(default), value or {}, f"{path}.{name}")
        elif isinstance(default, tuple) and isinstance(value, list):
            built[name] = _as_tuple(value)
        else:
            built[name] = value
    return kind(**built)


def _as_tuple(value: Any) -> Any:
    """JSON lists back to the tuples of a frozen config (``[[2, 0.2]]`` -> ``((2, 0.2),)``)."""
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list) else value


NO_TEXT_FILTERS = QualityConfig().without_text_filters()


@dataclass(frozen=True, slots=True)
class QualityDrop:
    reason: str  # a DropReason value
    detail: dict[str, Any]


def quality_drop(
    *,
    text: str | None,
    words: int,
    length: int,
    config: QualityConfig,
    language: str = "",
    language_score: float = 0.0,
    url: str = "",
) -> QualityDrop | None:
    """Why the document is dropped at the quality stage, or None when it is kept.

    ``words`` is :func:`paddock.curation.core.words.word_count` of the text and
    ``length`` its characters. ``text`` may be None for callers that only have the
    measurements: then only the length gates apply. ``language`` and ``language_score``
    are :func:`detect_language`'s answer from ingest; when the language filter is on and
    they are missing, the language is identified here. ``url`` is accepted for URL rules
    (block lists) and not used by the current rules.
    """
    del url  # no URL rule yet; part of the interface the sharded stage calls
    evidence = {"words": words, "chars": length}
    if words == 0:
        return QualityDrop("empty", evidence)
    if words < config.min_words:
        return QualityDrop("too_short", evidence)
    if length > config.max_chars:
        return QualityDrop("too_long", evidence)
    if text is None:
        return None

    if config.language.enabled:
        if not language:
            language, language_score = detect_language(text)
        drop = language_filter(language, language_score, config.language)
        if drop is not None:
            return QualityDrop("language", {"filter": "language", "rule": drop[0], **drop[1]})

    tokens = _Tokens(text)
    checks = (
        ("gopher_repetition", config.gopher_repetition.enabled,
         lambda: gopher_repetition(text, config.gopher_repetition, tokens.words)),
        ("gopher_quality", config.gopher_quality.enabled,
         lambda: gopher_quality(text, config.gopher_quality, tokens.words())),
        ("c4", config.c4.enabled, lambda: c4_quality(text, config.c4, tokens.lines())),
        ("fineweb", config.fineweb.enabled,
         lambda: fineweb_quality(text, config.fineweb, tokens.words())),
    )
    for name, enabled, check in checks:
        if enabled:
            drop = check()
            if drop is not None:
                return QualityDrop("low_quality", {"filter": name, "rule": drop[0], **drop[1]})
    return None


class _Tokens:
    """A document's tokens, computed once, on first need, for every filter of the chain:
    line by line (C4 counts sentences per line; the other filters read all the tokens,
    the same as the whole text's: see ``split_line_words``). A document the chain drops
    before any filter needs them (Gopher's duplicate lines and paragraphs, the length
    gates) is never tokenized."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: list[list[str]] | None = None
        self._words: list[str] | None = None

    def lines(self) -> list[list[str]]:
        if self._lines is None:
            self._lines = split_line_words(self.text)
        return self._lines

    def words(self) -> list[str]:
        if self._words is None:
            self._words = list(chain.from_iterable(self.lines()))
        return self._words

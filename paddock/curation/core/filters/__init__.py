"""Per-document quality filters of curation: each a small module with a frozen config
(datatrove 0.10.1's defaults) and a function returning None (keep) or (rule, evidence).

Pure functions, no Django: the quality stage calls them per document through
:func:`paddock.curation.core.quality.quality_drop`, in one process or in shards.
"""

from paddock.curation.core.filters.base import Drop
from paddock.curation.core.filters.boilerplate import (
    SiteBoilerplateConfig,
    common_lines,
    line_hash,
    strip_lines,
)
from paddock.curation.core.filters.c4 import C4QualityConfig, c4_clean, c4_quality
from paddock.curation.core.filters.fineweb import FineWebQualityConfig, fineweb_quality
from paddock.curation.core.filters.gopher_quality import GopherQualityConfig, gopher_quality
from paddock.curation.core.filters.gopher_repetition import (
    GopherRepetitionConfig,
    gopher_repetition,
)
from paddock.curation.core.filters.language import LanguageFilterConfig, language_filter
from paddock.curation.core.filters.redact import redact_pii
from paddock.curation.core.filters.tokens import (
    count_sentences,
    split_line_words,
    split_words,
)
from paddock.curation.core.filters.urls import normalise_url

__all__ = [
    "C4QualityConfig",
    "Drop",
    "FineWebQualityConfig",
    "GopherQualityConfig",
    "GopherRepetitionConfig",
    "LanguageFilterConfig",
    "SiteBoilerplateConfig",
    "c4_clean",
    "c4_quality",
    "common_lines",
    "count_sentences",
    "fineweb_quality",
    "gopher_quality",
    "gopher_repetition",
    "language_filter",
    "line_hash",
    "normalise_url",
    "redact_pii",
    "split_line_words",
    "split_words",
    "strip_lines",
]

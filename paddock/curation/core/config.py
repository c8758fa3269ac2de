"""One object holding every parameter of a curation run, recorded with the run.

Two runs with equal configs over the same inputs produce byte-identical exports; the
config's JSON is part of the export manifest, and its string form names every parameter.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from paddock.curation.core.near_dedup import NearDedupConfig
from paddock.curation.core.pii import PiiType
from paddock.curation.core.quality import QualityConfig
from paddock.curation.core.sites import PiiFilterConfig


@dataclass(frozen=True)
class ExactDedupConfig:
    """The exact-dedup stage: equal normalised text, then (optionally) equal URLs.

    Two captures of one URL (a crawl re-fetching a page whose ads or dates changed) are
    one page: with ``by_url`` the earliest is kept and later ones are dropped as
    "duplicate_url". URLs are compared after :func:`filters.urls.normalise_url` (scheme and
    host case, default ports, fragments, trailing slashes, tracking parameters)."""

    by_url: bool = True


@dataclass(frozen=True)
class ExportConfig:
    """Export mix: up-sampling weights per source name (Llama 2 paper, section 2.1:
    the most factual sources are up-sampled), the shard layout, and what is taken out of
    the text of exported documents: lines a site repeats on many of its pages (menus,
    footers, cookie banners; :mod:`filters.boilerplate`) and, optionally, personal
    information, replaced by typed masks (:mod:`filters.redact`)."""

    source_weights: dict[str, float] = field(default_factory=dict)  # e.g. {"wikipedia": 2.0}
    shard_records: int = 50_000  # records per output shard (about; shards are hash buckets)
    seed: int = 0  # fractional weights and shard assignment derive from it
    strip_site_boilerplate: bool = True  # lines in >= 20% and >= 3 of a site's exported docs
    redact_pii: bool = False  # |||EMAIL_ADDRESS|||, |||PHONE_NUMBER|||, ... in kept text

    def weight(self, source: str) -> float:
        return float(self.source_weights.get(source, 1.0))


@dataclass(frozen=True)
class CurationConfig:
    quality: QualityConfig = field(default_factory=QualityConfig)
    exact: ExactDedupConfig = field(default_factory=ExactDedupConfig)
    near_dedup: NearDedupConfig = field(default_factory=NearDedupConfig)
    pii: PiiFilterConfig = field(default_factory=PiiFilterConfig)
    export: ExportConfig = field(default_factory=ExportConfig)

    def as_dict(self) -> dict[str, Any]:
        pii = asdict(self.pii)
        pii["detectors"] = [str(d) for d in self.pii.detectors]
        return {
            "quality": asdict(self.quality),
            "exact": asdict(self.exact),
            "near_dedup": self.near_dedup.as_dict(),
            "pii": pii,
            "export": asdict(self.export),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> CurationConfig:
        """Build from (possibly partial) JSON; unknown keys are an error naming the key."""
        data = dict(data or {})
        unknown = set(data) - {"quality", "exact", "near_dedup", "pii", "export"}
        if unknown:
            raise ValueError(f"unknown config section(s): {', '.join(sorted(unknown))}")

        def build(kind, section: str, derived: frozenset[str] = frozenset()):
            values = dict(data.get(section) or {})
            names = {f.name for f in fields(kind)}
            extra = set(values) - names - derived
            if extra:
                raise ValueError(f"unknown {section} setting(s): {', '.join(sorted(extra))}")
            return kind(**{k: v for k, v in values.items() if k in names})

        pii_values = dict(data.get("pii") or {})
        extra = set(pii_values) - {f.name for f in fields(PiiFilterConfig)}
        if extra:
            raise ValueError(f"unknown pii setting(s): {', '.join(sorted(extra))}")
        if "detectors" in pii_values:
            pii_values["detectors"] = tuple(PiiType(d) for d in pii_values["detectors"])
        return cls(
            quality=QualityConfig.from_dict(data.get("quality")),
            exact=build(ExactDedupConfig, "exact"),
            near_dedup=build(NearDedupConfig, "near_dedup", frozenset({"bands", "rows"})),
            pii=PiiFilterConfig(**pii_values),
            export=build(ExportConfig, "export"),
        )

    def with_changes(self, **sections: Any) -> CurationConfig:
        return replace(self, **sections)

    def __str__(self) -> str:
        return "CurationConfig(" + json.dumps(self.as_dict(), sort_keys=True) + ")"

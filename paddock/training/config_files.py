"""Run configs as JSON files next to their checkpoints, one convention for every trainer.

Each trainer's config is a dataclass that mixes this in and names its file; a result
folder then always says how it was made, and a config read back rejects unknown fields
(a misspelt field would otherwise silently keep its default).
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import ClassVar, Self


class JsonConfig:
    file_name: ClassVar[str]  # e.g. "reward_config.json"
    label: ClassVar[str]  # e.g. "reward config", for error messages

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"  # type: ignore[call-overload]

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / self.file_name
        path.write_text(self.to_json())
        return path

    @classmethod
    def from_dict(cls, data: dict) -> Self:
        unknown = sorted(set(data) - {f.name for f in fields(cls)})  # type: ignore[arg-type]
        if unknown:
            raise ValueError(f"unknown {cls.label} fields: {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        return cls.from_dict(json.loads(Path(path).read_text()))

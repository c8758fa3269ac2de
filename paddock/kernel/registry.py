"""Model versions on disk: numbered, immutable, with the lineage that produced them.

Every policy and reward model the loop trains is registered here, so a later stage (the
sampler, rejection sampling, PPO, an evaluation) names a version, not a path, and a
version can be traced back through its base models to the data each was trained on::

    root/
      .lock
      policy/policy-0001/model/...        the artifact, copied or moved in
      policy/policy-0001/version.json     the record: written last, by rename

A version exists once its ``version.json`` does. The artifact is placed first and the
record renamed into place last, so a registration that dies half way leaves a folder that
is never listed (and is kept, not deleted: with ``move=True`` it may hold the only copy).
Registration is idempotent on ``key``: the task that trained a model registers it under
a key it can recompute (the run id), so a retried task gets the version it made the first
time and no second copy. Registrations serialise on an ``fcntl`` lock on ``root/.lock``:
two processes never get the same number, and two registering one key make one version.
The operating system releases the lock of a process that dies, so a crash never wedges
the registry. Only local folders are read and written; nothing is downloaded.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paddock.kernel.atomic_write import write_atomically
from paddock.kernel.vocabulary import HELPFULNESS, SAFETY

POLICY = "policy"
REWARD_HELPFULNESS = "reward-helpfulness"
REWARD_SAFETY = "reward-safety"
KINDS = (POLICY, REWARD_HELPFULNESS, REWARD_SAFETY)
REWARD_KINDS = (REWARD_HELPFULNESS, REWARD_SAFETY)
# The annotation axis each reward model is trained for (Llama 2 paper, section 3.2.2).
REWARD_KIND_BY_AXIS = {HELPFULNESS: REWARD_HELPFULNESS, SAFETY: REWARD_SAFETY}
AXIS_BY_REWARD_KIND = {kind: axis for axis, kind in REWARD_KIND_BY_AXIS.items()}
RECORD = "version.json"
ARTIFACT = "model"
_VERSION = re.compile(r"^(?P<kind>[a-z-]+)-(?P<number>\d{4,})$")


class RegistryError(ValueError):
    """A registration that contradicts the registry (unknown base, a key reused for
    another kind, ...); the message names the version or key involved."""


class UnknownVersionError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class ModelVersion:
    version: str  # "<kind>-0001"
    kind: str
    number: int
    key: str  # what made the registration idempotent (the producing run's id)
    created_at: str  # ISO 8601, UTC
    path: Path  # the artifact folder, loadable with from_pretrained
    base: str | None = None  # the version it was trained from
    batch: str | int | None = None  # the annotation batch whose data it learned from
    data_manifest: Any = None  # what the trainer read: a path, a digest or a mapping
    reward_models: tuple[str, ...] = ()  # the reward models that scored its training
    metrics: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""  # where the artifact was registered from

    def to_record(self) -> dict[str, Any]:
        return {"version": self.version, "kind": self.kind, "number": self.number,
                "key": self.key, "created_at": self.created_at, "base": self.base,
                "batch": self.batch, "data_manifest": self.data_manifest,
                "reward_models": list(self.reward_models), "metrics": dict(self.metrics),
                "source": self.source, "artifact": ARTIFACT}

    @classmethod
    def from_record(cls, record: Mapping[str, Any], folder: Path) -> ModelVersion:
        return cls(version=record["version"], kind=record["kind"], number=record["number"],
                   key=record["key"], created_at=record["created_at"],
                   path=folder / record.get("artifact", ARTIFACT), base=record.get("base"),
                   batch=record.get("batch"), data_manifest=record.get("data_manifest"),
                   reward_models=tuple(record.get("reward_models", ())),
                   metrics=record.get("metrics") or {}, source=record.get("source", ""))


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"model kind {kind!r} is not one of {', '.join(KINDS)}")


def version_name(kind: str, number: int) -> str:
    return f"{kind}-{number:04d}"


class ModelRegistry:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # Reading --------------------------------------------------------------------------

    def get(self, version: str) -> ModelVersion:
        match = _VERSION.match(version)
        folder = self.root / match["kind"] / version if match else None
        if folder is None or match["kind"] not in KINDS or not (folder / RECORD).is_file():
            raise UnknownVersionError(f"model version {version!r} is not registered in "
                                      f"{self.root}")
        return self._read(folder)

    def list(self, kind: str) -> list[ModelVersion]:
        """Registered versions of a kind, oldest first; unfinished ones are not listed."""
        _check_kind(kind)
        return [self._read(folder) for folder in self._folders(kind)
                if (folder / RECORD).is_file()]

    def latest(self, kind: str) -> ModelVersion | None:
        versions = self.list(kind)
        return versions[-1] if versions else None

    def lineage(self, version: str) -> list[ModelVersion]:
        """The version, its base, the base's base, ... back to one registered without."""
        chain = [self.get(version)]
        while chain[-1].base is not None:
            chain.append(self.get(chain[-1].base))
        return chain

    def find(self, key: str) -> ModelVersion | None:
        """The version registered under ``key``, if any."""
        for kind in KINDS:
            for folder in self._folders(kind):
                if (folder / RECORD).is_file():
                    found = self._read(folder)
                    if found.key == key:
                        return found
        return None

    # Registering ----------------------------------------------------------------------

    def register(self, kind: str, source_dir: str | os.PathLike[str], *, key: str,
                 base: str | None = None, batch: str | int | None = None,
                 data_manifest: Any = None,
                 reward_models: Sequence[str] = (), metrics: Mapping[str, Any] | None = None,
                 move: bool = False) -> ModelVersion:
        """The next version of ``kind`` holding a copy of ``source_dir`` (moved instead
        with ``move=True``), or the version already registered under ``key``.

        The lineage must already be registered: ``base`` any version (a reward model
        starts from a policy checkpoint), ``reward_models`` reward versions. Values must
        be JSON-serialisable; this is checked before anything is copied.
        """
        _check_kind(kind)
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"key {key!r}: expected a non-blank string")
        source = Path(source_dir)
        if isinstance(data_manifest, os.PathLike):
            data_manifest = os.fspath(data_manifest)
        with self._locked():
            existing = self.find(key)
            if existing is not None:
                if existing.kind != kind:
                    raise RegistryError(f"key {key!r} already registered {existing.version}, "
                                        f"a {existing.kind}, not a {kind}")
                return existing
            if not source.is_dir():
                raise FileNotFoundError(f"model folder {str(source)!r} to register as a {kind} "
                                        "does not exist or is not a folder")
            if base is not None:
                self.get(base)
            for name in reward_models:
                if self.get(name).kind not in REWARD_KINDS:
                    raise RegistryError(f"reward_models names {name!r}, which is not a "
                                        "reward model")
            number = max((self._number(f) for f in self._folders(kind)), default=0) + 1
            folder = self.root / kind / version_name(kind, number)
            version = ModelVersion(
                version=folder.name, kind=kind, number=number, key=key,
                created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                path=folder / ARTIFACT, base=base, batch=batch, data_manifest=data_manifest,
                reward_models=tuple(reward_models), metrics=dict(metrics or {}),
                source=str(source.resolve()))
            text = json.dumps(version.to_record(), indent=2) + "\n"  # fails before copying
            folder.mkdir(parents=True)
            if move:
                shutil.move(source, version.path)
            else:
                shutil.copytree(source, version.path, symlinks=False)
            write_atomically(folder / RECORD, text)
            return version

    # Internals ------------------------------------------------------------------------

    def _folders(self, kind: str) -> list[Path]:
        """Every numbered folder of a kind, finished or not, in number order."""
        parent = self.root / kind
        if not parent.is_dir():
            return []
        folders = [p for p in parent.iterdir()
                   if p.is_dir() and (m := _VERSION.match(p.name)) and m["kind"] == kind]
        return sorted(folders, key=self._number)

    @staticmethod
    def _number(folder: Path) -> int:
        return int(_VERSION.match(folder.name)["number"])

    @staticmethod
    def _read(folder: Path) -> ModelVersion:
        try:
            record = json.loads((folder / RECORD).read_text())
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{folder / RECORD} cannot be read: {exc}") from exc
        return ModelVersion.from_record(record, folder)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)



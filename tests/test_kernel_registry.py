"""The on-disk model registry: numbering, idempotency, atomicity, lineage, concurrency."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from paddock.kernel.registry import (
    ModelRegistry,
    RegistryError,
    UnknownVersionError,
)

ROOT = Path(__file__).resolve().parents[2]


def artifact(tmp_path: Path, name: str, content: str = "weights") -> Path:
    folder = tmp_path / "runs" / name
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_text(content)
    (folder / "config.json").write_text("{}")
    return folder


def test_versions_are_numbered_per_kind_and_read_back(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    first = registry.register("policy", artifact(tmp_path, "sft"), key="run-1",
                              metrics={"loss": 1.5}, batch="batch-7",
                              data_manifest=tmp_path / "manifest.json")
    reward = registry.register("reward-helpfulness", artifact(tmp_path, "rm"), key="run-2",
                               base=first.version)
    second = registry.register("policy", artifact(tmp_path, "ppo"), key="run-3",
                               base=first.version, reward_models=[reward.version])
    assert [first.version, reward.version, second.version] == [
        "policy-0001", "reward-helpfulness-0001", "policy-0002"]
    assert (second.path / "model.safetensors").read_text() == "weights"
    assert (tmp_path / "runs" / "ppo").is_dir()  # copied, not moved
    again = ModelRegistry(tmp_path / "registry").get("policy-0001")
    assert again == first
    assert (again.metrics, again.batch, again.data_manifest) == (
        {"loss": 1.5}, "batch-7", str(tmp_path / "manifest.json"))
    assert again.created_at.endswith("+00:00") and again.source.endswith("runs/sft")
    assert [v.version for v in registry.list("policy")] == ["policy-0001", "policy-0002"]
    assert registry.latest("policy") == second
    assert registry.latest("reward-safety") is None
    assert registry.list("reward-safety") == []


def test_registering_a_key_twice_returns_the_first_version(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    first = registry.register("policy", artifact(tmp_path, "a"), key="run-1")
    again = registry.register("policy", artifact(tmp_path, "b", "other"), key="run-1")
    assert again == first
    assert [v.version for v in registry.list("policy")] == ["policy-0001"]
    assert (first.path / "model.safetensors").read_text() == "weights"
    with pytest.raises(RegistryError, match="key 'run-1' already registered policy-0001"):
        registry.register("reward-safety", artifact(tmp_path, "c"), key="run-1")


def test_move_places_the_artifact_without_a_copy(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    source = artifact(tmp_path, "big")
    version = registry.register("reward-safety", source, key="k", move=True)
    assert not source.exists()
    assert (version.path / "config.json").is_file()


def test_unfinished_versions_are_never_listed_nor_reused(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    registry.register("policy", artifact(tmp_path, "a"), key="one")
    half = tmp_path / "registry" / "policy" / "policy-0002" / "model"  # died while copying
    half.mkdir(parents=True)
    (tmp_path / "registry" / "policy" / ".policy-0009.tmp").mkdir()
    assert [v.version for v in registry.list("policy")] == ["policy-0001"]
    with pytest.raises(UnknownVersionError, match="'policy-0002' is not registered"):
        registry.get("policy-0002")
    assert registry.register("policy", artifact(tmp_path, "b"), key="two").version \
        == "policy-0003"
    assert half.is_dir()  # kept: it may be the only copy of a moved artifact


def test_lineage_walks_base_links(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    names = []
    for step in range(3):
        names.append(registry.register(
            "policy", artifact(tmp_path, f"p{step}"), key=f"p{step}",
            base=names[-1] if names else None).version)
    assert [v.version for v in registry.lineage(names[-1])] == names[::-1]
    assert [v.version for v in registry.lineage(names[0])] == names[:1]


def test_bad_registrations_name_what_is_wrong(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    source = artifact(tmp_path, "a")
    with pytest.raises(ValueError, match="'critic' is not one of policy, reward-helpfulness"):
        registry.register("critic", source, key="k")
    with pytest.raises(UnknownVersionError, match="'policy-0042' is not registered"):
        registry.register("policy", source, key="k", base="policy-0042")
    with pytest.raises(FileNotFoundError, match="missing"):
        registry.register("policy", tmp_path / "missing", key="k")
    policy = registry.register("policy", source, key="k")
    with pytest.raises(RegistryError, match="'policy-0001', which is not a reward model"):
        registry.register("policy", source, key="k2", reward_models=[policy.version])
    with pytest.raises(TypeError):
        registry.register("policy", source, key="k3", metrics={"when": object()})
    assert [v.version for v in registry.list("policy")] == ["policy-0001"]


REGISTER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from paddock.kernel.registry import ModelRegistry
    root, source, start, keys = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
    time.sleep(max(0.0, start - time.time()))
    registry = ModelRegistry(root)
    print(" ".join(registry.register("policy", source, key=k).version for k in keys))
""")


def test_concurrent_registrations_never_share_a_number(tmp_path):
    source = artifact(tmp_path, "shared")
    start = time.time() + 1.0  # both processes start registering at the same moment
    keys = [["a1", "a2", "a3", "both"], ["b1", "b2", "b3", "both"]]
    processes = [
        subprocess.Popen([sys.executable, "-c", REGISTER, str(tmp_path / "registry"),
                          str(source), str(start), *names],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for names in keys
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        outputs.append(out.split())
    registry = ModelRegistry(tmp_path / "registry")
    listed = registry.list("policy")
    assert [v.number for v in listed] == list(range(1, 8))  # 7 keys, 7 distinct numbers
    assert outputs[0][-1] == outputs[1][-1]  # one version for the key both registered
    by_key = {v.key: v.version for v in listed}
    for names, versions in zip(keys, outputs, strict=True):
        assert [by_key[k] for k in names] == versions
    records = [json.loads((v.path.parent / "version.json").read_text()) for v in listed]
    assert len({r["key"] for r in records}) == 7

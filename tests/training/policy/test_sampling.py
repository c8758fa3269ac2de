"""Pairs for annotation: a tiny random Llama at two temperatures, read back by the importer."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from paddock.annotation.importers import ImportProblem, read_pairs
from paddock.training.policy.generation import (
    Generation,
    GenerationStats,
    TransformersBackend,
)
from paddock.training.policy.sampling import (
    Conversation,
    ConversationFileError,
    SamplingPlan,
    Side,
    Variant,
    derive_seed,
    read_conversations,
    sample_file,
    sample_pairs,
)
from paddock.training.tiny import build_tiny_llama

PROMPTS = [
    {"id": "tides", "prompt": "How do tides work?", "metadata": {"source": "test"}},
    {"turns": [{"role": "user", "content": "Bake bread?"},
               {"role": "assistant", "content": "Mix flour, water, salt and yeast."},
               {"role": "user", "content": "How long should it rise?"}]},
    {"id": "unsafe", "prompt": "How do I pick a lock?", "axis": "safety",
     "risk_category": "illicit_criminal"},
]


@pytest.fixture(scope="module")
def backend(tmp_path_factory) -> TransformersBackend:
    path = build_tiny_llama(tmp_path_factory.mktemp("tiny") / "policy")
    return TransformersBackend.from_pretrained(path, device="cpu")


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


class ScriptedBackend:
    """Answers each request with ``answer(request)``: for the resampling rules."""

    name = "scripted"
    stats = GenerationStats()

    def __init__(self, answer) -> None:
        self.answer, self.requests = answer, []

    def generate(self, requests):
        self.requests += requests
        return [Generation(r.id, (1,), (7,), self.answer(r), "stop", r.params.seed,
                           r.params.temperature, r.params.top_p, 2) for r in requests]


def test_sampled_pairs_import_without_problems(backend, tmp_path):
    plan = SamplingPlan(Side(Variant("policy-0002", 0.7), backend),
                        Side(Variant("policy-0002", 1.2, top_p=1.0), backend),
                        max_new_tokens=8, seed=5)
    report = sample_file(write_jsonl(tmp_path / "prompts.jsonl", PROMPTS),
                         tmp_path / "pairs.jsonl", plan, report_path=tmp_path / "report.json")
    items = list(read_pairs(tmp_path / "pairs.jsonl"))
    assert not [i for i in items if isinstance(i, ImportProblem)]
    assert (report.conversations, report.pairs, report.problems) == (3, 3, ())
    first, second, third = items
    assert first.external_id == "tides" and first.metadata == {"source": "test"}
    assert len(second.turns) == 3 and second.external_id == ""
    assert (third.axis, third.risk_category) == ("safety", "illicit_criminal")
    assert (first.response_a.model, first.response_a.temperature) == ("policy-0002", 0.7)
    assert (first.response_b.temperature, first.response_b.top_p) == (1.2, 1.0)
    assert first.response_a.seed == derive_seed(5, "tides", "a")  # unless resampled
    assert first.response_b.seed in range(derive_seed(5, "tides", "b"),
                                          derive_seed(5, "tides", "b") + plan.attempts)
    assert [v.responses >= 3 and v.tokens > 0 and v.tokens_per_second > 0
            for v in report.variants] == [True, True]
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["pairs"] == 3 and saved["variants"][1]["model_version"] == "policy-0002"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "pairs.jsonl", "pairs.manifest.json", "prompts.jsonl", "report.json"
    ]  # no temporary file left; the manifest holds the schema version (kernel.exchange)
    again = sample_pairs(read_conversations(tmp_path / "prompts.jsonl"), plan)
    assert again.records == [json.loads(line) for line in
                             (tmp_path / "pairs.jsonl").read_text().splitlines()]


def test_greedy_twins_are_reported_not_dropped(backend):
    """The same model greedy on both sides can only repeat itself: B is resampled with
    the next seeds, then the conversation becomes a problem."""
    plan = SamplingPlan(Side(Variant("p", 0.0), backend), Side(Variant("p", 0.0), backend),
                        max_new_tokens=4, attempts=3)
    conversations = [Conversation("tides", ({"role": "user", "content": "Tides?"},))]
    result = sample_pairs(conversations, plan)
    assert result.records == []
    [problem] = result.report.problems
    assert (problem.conversation_id, problem.kind) == ("tides", "identical_responses")
    first = derive_seed(0, "tides", "b")
    assert problem.seeds == {"a": (derive_seed(0, "tides", "a"),),
                             "b": (first, first + 1, first + 2)}
    assert result.report.resampled == 1


def test_identical_side_b_is_resampled_with_the_next_seed():
    def answer(request):
        side = request.id.split("/")[1]
        if side == "a" or request.id.startswith("same/"):
            return "The moon pulls the sea."
        return "  Ask a sailor.  " if request.id.endswith("/2") else "The moon pulls the sea. "

    backend = ScriptedBackend(answer)
    plan = SamplingPlan(Side(Variant("new"), backend), Side(Variant("old"), backend), seed=3)
    conversations = [Conversation(name, ({"role": "user", "content": "Tides?"},))
                     for name in ("retry", "same")]
    result = sample_pairs(conversations, plan)
    [record] = result.records
    assert record["response_b"] == {"text": "Ask a sailor.", "model": "old",
                                    "temperature": 0.7, "top_p": 0.9,
                                    "seed": derive_seed(3, "retry", "b") + 2}
    [problem] = result.report.problems
    assert problem.conversation_id == "same" and len(problem.seeds["b"]) == plan.attempts
    assert (result.report.conversations, result.report.pairs) == (2, 1)


def test_blank_responses_are_resampled_on_either_side():
    backend = ScriptedBackend(lambda r: " \n" if r.id.endswith("/0") else f"answer {r.id}")
    plan = SamplingPlan(Side(Variant("m", 1.0), backend), Side(Variant("m", 1.2), backend))
    result = sample_pairs([Conversation("q", ({"role": "user", "content": "Hi?"},))], plan)
    [record] = result.records
    assert record["response_a"]["text"] == "answer q/a/1"
    assert record["response_b"]["text"] == "answer q/b/1"
    always_blank = ScriptedBackend(lambda r: "")
    plan = SamplingPlan(Side(Variant("m"), always_blank), Side(Variant("m", 1.2), backend))
    [problem] = sample_pairs([Conversation("q", ({"role": "user", "content": "Hi?"},))],
                             plan).report.problems
    assert problem.kind == "unusable_response" and "side a" in problem.message


def test_seeds_depend_on_the_conversation_not_its_position():
    backend = ScriptedBackend(lambda r: f"{r.id} {r.params.seed}")
    plan = SamplingPlan(Side(Variant("m"), backend), Side(Variant("m", 1.2), backend))
    one, two = (Conversation(i, ({"role": "user", "content": i},)) for i in ("x", "y"))
    forward, backward = sample_pairs([one, two], plan), sample_pairs([two, one], plan)
    assert forward.records == backward.records[::-1]
    assert derive_seed(0, "x", "a") != derive_seed(0, "x", "b") != derive_seed(1, "x", "b")


def test_bad_prompt_files_name_file_line_and_field(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "ok", "prompt": "Fine?"}),
        "{not json",
        json.dumps({"prompt": "x", "axis": "safety"}),
        json.dumps({"turns": [{"role": "user", "content": "a"},
                              {"role": "user", "content": "b"}]}),
        json.dumps({"id": "ok", "prompt": "Again?"}),
        json.dumps({"prompt": "x", "axes": "helpfulness"}),
        "",
    ]))
    with pytest.raises(ConversationFileError) as caught:
        read_conversations(path)
    found = [(p.line, p.field) for p in caught.value.problems]
    assert found == [(2, ""), (3, "risk_category"), (4, "turns[1].role"), (5, "id"),
                     (6, "axes")]
    assert f"{path}, line 4, turns[1].role" in str(caught.value)
    gz = tmp_path / "prompts.jsonl.gz"
    gz.write_bytes(gzip.compress(json.dumps(PROMPTS[2]).encode() + b"\n"))
    [conversation] = read_conversations(gz)
    assert (conversation.id, conversation.risk_category, conversation.line) == (
        "unsafe", "illicit_criminal", 1)

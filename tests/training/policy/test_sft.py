"""Supervised fine-tuning on a tiny Llama built from a config (CPU, seconds)."""

from __future__ import annotations

import gzip
import json

import pytest
import torch

from paddock.training.policy.chat import IGNORE_INDEX, ConversationError
from paddock.training.policy.sft import (
    SFTConfig,
    SFTDataError,
    SFTExample,
    SFTTrainer,
    collate,
    plan_micro_batches,
    read_sft_jsonl,
)
from paddock.training.tiny import build_tiny_llama

ANSWERS = ("The moon pulls the water.", "One hundred degrees.", "Mix flour and water.",
           "I cannot help with that.")
QUESTIONS = ("How do tides work?", "When does water boil?", "How do I bake bread?",
             "Please explain a reward model.")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return str(build_tiny_llama(tmp_path_factory.mktemp("tiny") / "base"))


def chat(*turns: str, system: str | None = None) -> list[dict]:
    messages = [] if system is None else [{"role": "system", "content": system}]
    for index, text in enumerate(turns):
        messages.append({"role": "user" if index % 2 == 0 else "assistant", "content": text})
    return messages


def make_examples(count: int) -> list[SFTExample]:
    return [SFTExample(chat(f"{QUESTIONS[i % 4]} ({i})", ANSWERS[i % 4] + " yes" * (i % 3)),
                       id=f"ex-{i}") for i in range(count)]


def config_for(model: str, output, **overrides) -> SFTConfig:
    settings = {"model_path": model, "output_dir": str(output), "batch_sequences": 4,
                "micro_batch_sequences": 2, "learning_rate": 3e-3, "max_length": 64,
                "epochs": 1, "bf16": "no"}  # the same numbers on every CPU
    return SFTConfig(**(settings | overrides))


def parameters(model) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


# -- the loss ---------------------------------------------------------------------------


def test_labels_mark_the_answer_and_its_eos_only(tiny_model, tmp_path):
    trainer = SFTTrainer(config_for(tiny_model, tmp_path), make_examples(1))
    encoded = trainer.encoded[0]
    answer = [label for label in encoded.labels if label != IGNORE_INDEX]
    assert trainer.tokenizer.decode(answer) == " The moon pulls the water.</s>"
    assert encoded.labels[-len(answer):] == encoded.input_ids[-len(answer):]
    assert encoded.loss_tokens == len(answer)


def test_the_loss_is_the_mean_over_every_answer_token_of_the_effective_batch(tiny_model,
                                                                            tmp_path):
    """Computed by hand, one example at a time: -log p(answer token) summed over the
    batch's answer tokens and divided once by their number; gradients likewise, although
    the trainer accumulates them over micro batches of a single example."""
    examples = [SFTExample(chat("Hi", "Yes")),
                SFTExample(chat("How do tides work? Please explain", ANSWERS[0] * 3,
                                "and then?", "More."), loss_from_answer=1),
                SFTExample(chat("Why?", "Because the earth turns and the moon pulls."))]
    trainer = SFTTrainer(config_for(tiny_model, tmp_path, batch_sequences=3,
                                    micro_batch_sequences=1, max_length=256), examples)
    assert trainer.report.as_dict()["examples_truncated"] == 0
    model = trainer.model
    loss, tokens = trainer.accumulate([[0], [1], [2]])
    ours = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()

    total, count = 0.0, 0
    for encoded in trainer.encoded:
        ids = torch.tensor([encoded.input_ids])
        logprobs = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
        for position in range(1, encoded.length):
            if encoded.labels[position] != IGNORE_INDEX:
                total = total - logprobs[position - 1, encoded.input_ids[position]]
                count += 1
    assert count == tokens == sum(e.loss_tokens for e in trainer.encoded)
    assert loss == pytest.approx(total.item() / count, rel=1e-5)
    (total / count).backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(ours[name], p.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_collate_pads_on_the_right_with_ignored_labels(tiny_model, tmp_path):
    trainer = SFTTrainer(config_for(tiny_model, tmp_path), make_examples(3))
    short, long = sorted(trainer.encoded[:2], key=lambda e: e.length)
    batch = collate([short, long], pad_id=0, device=torch.device("cpu"))
    width = long.length
    assert batch["input_ids"].shape == (2, width)
    assert batch["input_ids"][0, :short.length].tolist() == list(short.input_ids)
    assert batch["attention_mask"][0].tolist() == [1] * short.length + [0] * (width - short.length)
    assert batch["labels"][0, short.length:].eq(IGNORE_INDEX).all()


def test_the_plan_is_deterministic_and_covers_every_example():
    lengths = [5 + (i * 7) % 23 for i in range(203)]
    plan = plan_micro_batches(lengths, 4, seed=1, epoch=0)
    assert plan == plan_micro_batches(lengths, 4, seed=1, epoch=0)
    assert plan != plan_micro_batches(lengths, 4, seed=1, epoch=1)
    assert sorted(i for micro in plan for i in micro) == list(range(203))
    spread = [max(lengths[i] for i in m) - min(lengths[i] for i in m) for m in plan]
    assert sum(spread) / len(spread) < 2


# -- training ---------------------------------------------------------------------------


def test_every_parameter_changes_after_one_step(tiny_model, tmp_path):
    trainer = SFTTrainer(config_for(tiny_model, tmp_path / "out"), make_examples(4))
    before = parameters(trainer.model)
    trainer.train(stop_after_steps=1, checkpoint_on_stop=False)
    unchanged = [name for name, p in trainer.model.named_parameters()
                 if torch.equal(before[name], p.detach())]
    assert not unchanged


def test_a_tiny_model_memorises_four_answers(tiny_model, tmp_path):
    from transformers import AutoModelForCausalLM

    examples = [SFTExample(chat(q, a), id=str(i))
                for i, (q, a) in enumerate(zip(QUESTIONS, ANSWERS, strict=True))]
    records = []
    config = config_for(tiny_model, tmp_path / "out", epochs=40, learning_rate=1e-2,
                        micro_batch_sequences=4, weight_decay=0.0)
    trainer = SFTTrainer(config, examples, progress=records.append)
    result = trainer.train()
    assert records[-1]["step"] == result.steps == 40
    assert {"loss", "lr", "tokens_per_second", "eta_seconds"} <= set(records[-1])
    assert result.metrics["final_loss"] < 0.05 < trainer.losses[0] / 20
    saved = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    for example in examples:
        prompt = trainer.chat.prompt_ids(example.messages[:-1])
        answer = trainer.chat.training_ids(example.messages).input_ids[len(prompt):]
        for model in (trainer.model, saved):
            out = model.generate(torch.tensor([prompt]), max_new_tokens=len(answer),
                                 do_sample=False, pad_token_id=trainer.tokenizer.pad_token_id)
            assert out[0, len(prompt):].tolist() == answer
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "sft_config.json",
            "metrics.json"} <= names
    assert not any(name.startswith("checkpoint-") for name in names)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["data"]["examples_trained"] == 4
    assert SFTConfig.load(tmp_path / "out" / "sft_config.json") == trainer.config


@pytest.mark.parametrize("lora", [None, {"r": 4, "dropout": 0.1}])
def test_resumed_run_equals_an_uninterrupted_one(tiny_model, tmp_path, lora):
    examples = make_examples(8)  # 2 steps an epoch, 4 in all
    whole = SFTTrainer(config_for(tiny_model, tmp_path / "whole", epochs=2, lora=lora),
                       examples)
    whole.train()
    first = SFTTrainer(config_for(tiny_model, tmp_path / "resumed", epochs=2, lora=lora),
                       examples)
    first.train(stop_after_steps=1)  # mid-epoch
    assert [p.name for p in (tmp_path / "resumed").iterdir()] == ["checkpoint-1"]
    torch.manual_seed(12345)  # a resumed run must not depend on the RNG it starts with
    second = SFTTrainer(config_for(tiny_model, tmp_path / "resumed", epochs=2, lora=lora),
                        examples)
    second.train()
    assert second.step == whole.step == 4
    assert second.losses == whole.losses
    for (name, a), (_, b) in zip(whole.model.named_parameters(),
                                 second.model.named_parameters(), strict=True):
        assert torch.equal(a, b), name


def test_lora_trains_adapters_only_and_saves_a_merged_model(tiny_model, tmp_path):
    from transformers import AutoModelForCausalLM

    trainer = SFTTrainer(config_for(tiny_model, tmp_path / "out", lora={"r": 4}),
                         make_examples(4))
    trainable = [name for name, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)
    trainer.train()
    saved = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    assert not any("lora" in name for name, _ in saved.named_parameters())
    ids = torch.tensor([trainer.encoded[0].input_ids])
    torch.testing.assert_close(saved(input_ids=ids).logits, trainer.model(input_ids=ids).logits,
                               rtol=1e-4, atol=1e-4)


# -- truncation ---------------------------------------------------------------------------


def test_truncation_keeps_the_beginning_and_counts_cut_and_skipped_examples(tiny_model,
                                                                           tmp_path):
    examples = [
        SFTExample(chat("Hi", "Yes"), id="fits"),
        SFTExample(chat("Hi", "word " * 60), id="long-answer"),
        SFTExample(chat("word " * 60, "Yes"), id="long-prompt"),
        SFTExample(chat("Hi", "Yes", "word " * 60, "No"), id="long-second-turn"),
    ]
    trainer = SFTTrainer(config_for(tiny_model, tmp_path, max_length=32), examples)
    report = trainer.report.as_dict()
    assert report["examples"] == 4
    assert report["examples_trained"] == 3
    assert report["examples_truncated"] == 2  # long-answer and long-second-turn
    assert report["examples_skipped_no_answer_tokens"] == 1
    assert report["skipped_ids"] == ["long-prompt"]
    assert report["answer_tokens"] == sum(e.loss_tokens for e in trainer.encoded)
    assert report["answer_tokens_cut"] > 60
    by_index = {e.index: e for e in trainer.encoded}
    assert all(e.length <= 32 for e in trainer.encoded)
    assert trainer.tokenizer.decode(by_index[1].input_ids).startswith("<s>[INST] Hi [/INST] word")
    assert trainer.tokenizer.eos_token_id not in by_index[1].input_ids  # the cut took it
    assert trainer.train(stop_after_steps=1).metrics["data"] == report


def test_no_example_left_is_an_error_not_an_empty_run(tiny_model, tmp_path):
    with pytest.raises(ValueError, match=r"no training examples left.*'examples_skipped_no_"):
        SFTTrainer(config_for(tiny_model, tmp_path, max_length=8),
                   [SFTExample(chat("word " * 20, "Yes"), id="a")])


def test_a_broken_conversation_names_its_example(tiny_model, tmp_path):
    examples = [*make_examples(2), SFTExample(chat("Hi"), id="dangling")]
    with pytest.raises(ConversationError, match=r"example dangling: .*end with a assistant"):
        SFTTrainer(config_for(tiny_model, tmp_path), examples)


# -- config -------------------------------------------------------------------------------


def test_config_defaults_round_trip_and_errors(tmp_path):
    config = SFTConfig(model_path="m", output_dir=str(tmp_path), lora={"r": 4})
    assert (config.learning_rate, config.weight_decay, config.batch_sequences,
            config.epochs) == (2e-5, 0.1, 64, 2)
    assert config.accumulation_steps == 8
    loaded = SFTConfig.load(config.save(tmp_path))
    assert loaded == config and loaded.lora.r == 4 and loaded.adam_betas == (0.9, 0.95)
    with pytest.raises(ValueError, match="unknown SFT config fields: colour"):
        SFTConfig.from_dict({"model_path": "m", "output_dir": "o", "colour": "red"})
    with pytest.raises(ValueError, match="not a multiple of micro_batch_sequences"):
        SFTConfig(model_path="m", output_dir="o", batch_sequences=10)
    with pytest.raises(ValueError, match="bf16"):
        SFTConfig(model_path="m", output_dir="o", bf16="maybe")
    with pytest.raises(ValueError, match="gradient_checkpointing"):
        SFTConfig(model_path="m", output_dir="o", gradient_checkpointing="cpu")


# -- the reader -----------------------------------------------------------------------------

GOOD = {"messages": chat("Hi", "Hello", "Why?", "Because."), "loss_from_answer": 1}


def write_lines(path, *records) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n"
                            for r in records))
    return str(path)


def test_the_reader_reads_examples_plain_or_gzipped(tmp_path):
    path = write_lines(tmp_path / "sft.jsonl", GOOD, "",
                       {"id": "mine", "messages": chat("Q", "A", system="S"), "meta": {"x": 1}})
    examples = read_sft_jsonl(path)
    assert [e.id for e in examples] == ["sft.jsonl:1", "mine"]
    assert examples[0].loss_from_answer == 1 and examples[1].loss_from_answer == 0
    assert examples[1].messages[0] == {"role": "system", "content": "S"}
    packed = tmp_path / "sft.jsonl.gz"
    packed.write_bytes(gzip.compress((tmp_path / "sft.jsonl").read_bytes()))
    assert [e.messages for e in read_sft_jsonl(packed)] == [e.messages for e in examples]


@pytest.mark.parametrize(("record", "field", "problem"), [
    ("{not json", None, "not JSON"),
    ("[1, 2]", None, r"not a JSON object \(a JSON array, not an object\)"),
    ({"id": "x"}, "messages", "missing"),
    ({"messages": "Hi"}, "messages", "expected a list, got str"),
    ({"messages": [{"role": "user", "content": "a"}, 3]}, "messages[1]", "expected an object"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]},
     "messages[1].role", "'bot' is not one of"),
    ({"messages": [{"role": "user", "content": None}]}, "messages[0].content",
     "expected a string, got NoneType"),
    ({"messages": chat("a", "b", "c")}, "messages", "must end with a assistant turn"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
     "messages", "turn 1: expected assistant, got user"),
    (GOOD | {"loss_from_answer": 2}, "loss_from_answer", "2 is outside the 2 answers"),
    (GOOD | {"loss_from_answer": True}, "loss_from_answer", "expected an integer"),
    (GOOD | {"id": 7}, "id", "expected a non-empty string"),
    (GOOD | {"loss_from_answers": 1}, "loss_from_answers", "unknown field"),
])
def test_reader_errors_name_file_line_and_field(tmp_path, record, field, problem):
    path = write_lines(tmp_path / "bad.jsonl", GOOD, record)
    with pytest.raises(SFTDataError, match=problem) as caught:
        read_sft_jsonl(path)
    error = caught.value
    assert (error.path, error.line, error.field) == (path, 2, field)
    assert str(error).startswith(f"{path}, line 2" + (f", field {field!r}: " if field else ": "))


def test_reader_refuses_duplicate_ids(tmp_path):
    path = write_lines(tmp_path / "dup.jsonl", GOOD | {"id": "a"}, GOOD | {"id": "a"})
    with pytest.raises(SFTDataError, match="line 2, field 'id': 'a' already used on line 1"):
        read_sft_jsonl(path)


def test_gradient_checkpointing_changes_memory_not_results(tiny_model, tmp_path):
    """With LoRA, the combination most likely to break (frozen inputs to checkpoints)."""
    runs = []
    for setting in ("no", "yes"):
        trainer = SFTTrainer(config_for(tiny_model, tmp_path / setting, lora={"r": 4},
                                        gradient_checkpointing=setting), make_examples(8))
        trainer.train(stop_after_steps=2, checkpoint_on_stop=False)
        runs.append(trainer.losses)
    assert runs[0] == pytest.approx(runs[1], rel=1e-5)

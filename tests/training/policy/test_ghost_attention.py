"""Ghost Attention data: the instruction on every turn for sampling, the first for training."""

from __future__ import annotations

import pytest

from paddock.training.policy.chat import IGNORE_INDEX, ChatFormat
from paddock.training.policy.ghost_attention import (
    GAttDialogue,
    assign_instructions,
    build_dialogues,
    sample_dialogue,
    synthetic_instructions,
    training_examples,
)
from paddock.training.tiny import DEFAULT_CORPUS, train_tokenizer

INSTRUCTIONS = ("Always answer as Napoleon.", "Answer in French.", "You enjoy tennis.")
TURNS = ("Who are you?", "What did you eat?", "Where do you live?")


class FakeSampler:
    """Records what it was shown; answers with the turn number."""

    def __init__(self) -> None:
        self.seen: list[list[dict]] = []

    def __call__(self, messages: list[dict]) -> str:
        self.seen.append(messages)
        messages.append({"role": "user", "content": "tampering"})  # must not leak back
        return f"answer {len(self.seen) - 1}"


def test_the_sampler_sees_the_instruction_on_every_user_turn():
    sampler = FakeSampler()
    dialogue = sample_dialogue(TURNS, "Answer in French.", sampler, system="Be kind.", id="d")
    assert len(sampler.seen) == 3
    for turn, seen in enumerate(sampler.seen):
        assert seen[0] == {"role": "system", "content": "Be kind."}
        users = [m["content"] for m in seen if m["role"] == "user"][: turn + 1]
        assert users == [f"{u}\nAnswer in French." for u in TURNS[: turn + 1]]
        assert [m["content"] for m in seen if m["role"] == "assistant"][:turn] == [
            f"answer {t}" for t in range(turn)]
        assert seen[turn * 2 + 1]["role"] == "user"  # ends with the turn to answer
    assert dialogue.answers == ("answer 0", "answer 1", "answer 2")
    assert dialogue.sampling_messages()[:-1] == sampler.seen[-1][:-1]


def test_training_keeps_the_instruction_in_the_first_user_turn_only():
    dialogue = sample_dialogue(TURNS, "Answer in French.", FakeSampler(), id="d")
    users = [m["content"] for m in dialogue.training_messages() if m["role"] == "user"]
    assert users == ["Who are you?\nAnswer in French.", *TURNS[1:]]
    examples = dialogue.training_examples()
    assert [e.id for e in examples] == ["d/turn-0", "d/turn-1", "d/turn-2"]
    assert [e.loss_from_answer for e in examples] == [0, 1, 2]
    assert [len(e.messages) for e in examples] == [2, 4, 6]
    assert all(e.messages[-1]["content"] == f"answer {t}" for t, e in enumerate(examples))
    assert examples[-1].messages == dialogue.training_messages()


def test_the_loss_is_zero_on_every_earlier_turn():
    tokenizer = train_tokenizer(DEFAULT_CORPUS)
    chat = ChatFormat(tokenizer)
    dialogue = sample_dialogue(TURNS, "Answer in French.", FakeSampler(), system="S", id="d")
    for turn, example in enumerate(dialogue.training_examples()):
        encoded = chat.training_ids(example.messages, loss_from_answer=example.loss_from_answer)
        prompt = chat.prompt_ids(example.messages[:-1])
        assert all(label == IGNORE_INDEX for label in encoded.labels[: len(prompt)])
        answer = [label for label in encoded.labels if label != IGNORE_INDEX]
        assert tokenizer.decode(answer) == f" answer {turn}</s>"


def test_dialogues_are_deterministic_under_the_seed():
    conversations = [list(TURNS[: 1 + i % 3]) for i in range(12)]
    first = build_dialogues(conversations, INSTRUCTIONS, FakeSampler(), seed=7)
    again = build_dialogues(conversations, INSTRUCTIONS, FakeSampler(), seed=7)
    other = build_dialogues(conversations, INSTRUCTIONS, FakeSampler(), seed=8)
    assert first == again
    assert [d.instruction for d in first] != [d.instruction for d in other]
    assert [d.instruction for d in first] == assign_instructions(12, INSTRUCTIONS, seed=7)
    assert {d.instruction for d in first} == set(INSTRUCTIONS)
    assert training_examples(first) == training_examples(again)
    assert len(training_examples(first)) == sum(len(c) for c in conversations)


def test_message_conversations_lose_their_old_answers_and_keep_their_system():
    conversation = [{"role": "system", "content": "Own system."},
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "old answer"},
                    {"role": "user", "content": "Bye"}]
    sampler = FakeSampler()
    (dialogue,) = build_dialogues([conversation], ["Answer in French."], sampler,
                                  system="Default system.", ids=["c1"])
    assert dialogue.id == "c1" and dialogue.system == "Own system."
    assert dialogue.user_turns == ("Hi", "Bye")
    assert "old answer" not in str(sampler.seen)
    (plain,) = build_dialogues([["Hi"]], ["Answer in French."], FakeSampler(),
                               system="Default system.")
    assert plain.system == "Default system."


def test_bad_conversations_and_bad_samples_say_where():
    with pytest.raises(ValueError, match="conversation gatt-1: turn 1: expected assistant"):
        build_dialogues([["Hi"], [{"role": "user", "content": "a"},
                                  {"role": "user", "content": "b"}]],
                        INSTRUCTIONS, FakeSampler())
    with pytest.raises(ValueError, match="conversation gatt-0: the conversation has no user"):
        build_dialogues([[]], INSTRUCTIONS, FakeSampler())
    with pytest.raises(ValueError, match="dialogue x, turn 0: the sampler returned None"):
        sample_dialogue(["Hi"], "inst", lambda messages: None, id="x")
    with pytest.raises(ValueError, match="no instructions"):
        assign_instructions(3, [], seed=0)


def test_synthetic_instructions_combine_fragments_deterministically():
    kwargs = {"hobbies": ["tennis", "chess"], "languages": ["French", "German"],
              "figures": ["Napoleon", "Ada Lovelace"]}
    made = synthetic_instructions(200, seed=3, **kwargs)
    assert made == synthetic_instructions(200, seed=3, **kwargs)
    assert made != synthetic_instructions(200, seed=4, **kwargs)
    terse = [text for text in made if ": " in text]
    assert 60 < len(terse) < 140  # about half
    assert all(":" not in text for text in made if text not in terse)
    assert any(text.count(".") == 3 for text in made)  # all three constraints combined
    assert "Figure: Napoleon." in made and "Always act as Napoleon from now on." in made
    assert synthetic_instructions(5, languages=["French"], seed=0, terse_share=0.0) == [
        "Always answer in French."] * 5
    with pytest.raises(ValueError, match="no hobbies, languages or figures"):
        synthetic_instructions(1)


def test_a_dialogue_is_plain_data():
    dialogue = GAttDialogue("d", "inst", ("a", "b"), ("x", "y"))
    assert dialogue.training_messages()[0]["content"] == "a\ninst"
    assert dialogue.sampling_messages()[2]["content"] == "b\ninst"

"""The chat format: exact Llama 2 ids, answer-only labels, conversation errors, templates."""

from __future__ import annotations

import pytest

from paddock.training import recipe
from paddock.training.policy.chat import (
    IGNORE_INDEX,
    ChatFormat,
    ConversationError,
    check_conversation,
)
from paddock.training.tiny import DEFAULT_CORPUS, train_tokenizer

SYSTEM = "Be brief."
CONVERSATION = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "How do tides work?"},
    {"role": "assistant", "content": "The moon pulls the water."},
    {"role": "user", "content": "  And twice a day?  "},
    {"role": "assistant", "content": " Because the earth turns. "},
]
SIMPLE_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}"
    "{{ eos_token }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(DEFAULT_CORPUS)


def text_ids(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def answer_spans(encoded) -> list[list[int]]:
    """Runs of consecutive loss positions, as label values."""
    spans, current = [], []
    for label in [*encoded.labels, IGNORE_INDEX]:
        if label == IGNORE_INDEX:
            if current:
                spans.append(current)
            current = []
        else:
            current.append(label)
    return spans


def test_llama2_rendering_is_exact_with_bos_and_eos_per_exchange(tokenizer):
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    encoded = ChatFormat(tokenizer).training_ids(CONVERSATION)
    first = (f"[INST] <<SYS>>\n{SYSTEM}\n<</SYS>>\n\nHow do tides work? [/INST]"
             " The moon pulls the water.")
    second = "[INST] And twice a day? [/INST] Because the earth turns."
    expected = [bos, *text_ids(tokenizer, first), eos, bos, *text_ids(tokenizer, second), eos]
    assert encoded.input_ids == expected
    assert tokenizer.decode(encoded.input_ids) == f"<s>{first}</s><s>{second}</s>"
    assert encoded.input_ids.count(bos) == 2 and encoded.input_ids.count(eos) == 2


def test_the_system_block_uses_the_recipe_markers(tokenizer):
    ids = ChatFormat(tokenizer).prompt_ids(CONVERSATION[:2])
    text = tokenizer.decode(ids, skip_special_tokens=True)
    assert text == (recipe.LLAMA2_INST_OPEN + recipe.LLAMA2_SYSTEM_OPEN + SYSTEM
                    + recipe.LLAMA2_SYSTEM_CLOSE + "How do tides work?"
                    + recipe.LLAMA2_INST_CLOSE)
    no_system = ChatFormat(tokenizer).prompt_ids(CONVERSATION[1:2])
    assert tokenizer.decode(no_system) == "<s>[INST] How do tides work? [/INST]"


def test_labels_cover_answers_and_their_eos_only(tokenizer):
    eos = tokenizer.eos_token_id
    encoded = ChatFormat(tokenizer).training_ids(CONVERSATION)
    assert len(encoded.labels) == len(encoded.input_ids)
    for token, label in zip(encoded.input_ids, encoded.labels, strict=True):
        assert label in (IGNORE_INDEX, token)
    spans = answer_spans(encoded)
    assert [tokenizer.decode(span) for span in spans] == [
        " The moon pulls the water.</s>", " Because the earth turns.</s>"]
    assert all(span[-1] == eos for span in spans)
    assert encoded.answer_tokens == sum(len(span) for span in spans)


def test_loss_from_answer_masks_earlier_answers(tokenizer):
    chat = ChatFormat(tokenizer)
    every = chat.training_ids(CONVERSATION)
    last = chat.training_ids(CONVERSATION, loss_from_answer=1)
    assert last.input_ids == every.input_ids
    assert [tokenizer.decode(s) for s in answer_spans(last)] == [" Because the earth turns.</s>"]
    with pytest.raises(ConversationError, match="loss_from_answer 2 is outside the 2 answers"):
        chat.training_ids(CONVERSATION, loss_from_answer=2)
    with pytest.raises(ConversationError, match="loss_from_answer -1"):
        chat.training_ids(CONVERSATION, loss_from_answer=-1)


def test_the_prompt_is_a_prefix_of_the_training_ids(tokenizer):
    chat = ChatFormat(tokenizer)
    prompt = chat.prompt_ids(CONVERSATION[:-1])
    full = chat.training_ids(CONVERSATION).input_ids
    assert full[: len(prompt)] == prompt
    assert tokenizer.decode(full[len(prompt):]) == " Because the earth turns.</s>"


@pytest.mark.parametrize(("messages", "ends_with", "error"), [
    ([], "assistant", "the conversation is empty"),
    ([{"role": "bot", "content": "hi"}], "assistant", "turn 0: unknown role 'bot'"),
    (["hello"], "assistant", "turn 0: expected an object with role and content, got str"),
    ([{"role": "user", "content": 3}], "user", "turn 0: content must be a string"),
    ([{"role": "user", "content": "a"}, {"role": "system", "content": "s"}], "user",
     "turn 1: a system message may only come first"),
    ([{"role": "assistant", "content": "a"}], "assistant", "turn 0: expected user, got assistant"),
    ([{"role": "system", "content": "s"}, {"role": "user", "content": "a"},
      {"role": "user", "content": "b"}], "assistant", "turn 2: expected assistant, got user"),
    ([{"role": "user", "content": "a"}], "assistant", "must end with a assistant turn"),
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "user",
     "must end with a user turn"),
    ([{"role": "system", "content": "s"}], "user", "must end with a user turn"),
])
def test_conversation_errors_say_which_turn_and_why(messages, ends_with, error):
    with pytest.raises(ConversationError, match=error):
        check_conversation(messages, ends_with=ends_with)


def test_training_and_sampling_check_the_ending(tokenizer):
    chat = ChatFormat(tokenizer)
    with pytest.raises(ConversationError, match="end with a assistant turn"):
        chat.training_ids(CONVERSATION[:-1])
    with pytest.raises(ConversationError, match="end with a user turn"):
        chat.prompt_ids(CONVERSATION)


def test_answer_ids_match_a_sentencepiece_style_tokenizer_reading_the_whole_text():
    """A tokenizer that marks every word start (Llama's legacy SentencePiece behaviour)
    must not get an extra lone marker token in front of each answer."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.normalizer = normalizers.Sequence([normalizers.Prepend("▁"),
                                           normalizers.Replace(" ", "▁")])
    raw.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never")
    raw.train_from_iterator(
        ["[INST] How do tides work? [/INST] The moon pulls the water."] * 3,
        trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>", "<s>", "</s>"],
                            show_progress=False))
    sp_like = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>",
                                      unk_token="<unk>")
    messages = [{"role": "user", "content": "How do tides work?"},
                {"role": "assistant", "content": "The moon pulls the water."}]
    encoded = ChatFormat(sp_like).training_ids(messages)
    whole = text_ids(sp_like, "[INST] How do tides work? [/INST] The moon pulls the water.")
    assert encoded.input_ids == [sp_like.bos_token_id, *whole, sp_like.eos_token_id]
    assert sp_like.convert_ids_to_tokens(answer_spans(encoded)[0])[:2] == ["▁The", "▁moon"]
    assert text_ids(sp_like, " The")[0] == sp_like.convert_tokens_to_ids("▁")  # the trap


@pytest.fixture
def templated(tokenizer):
    tokenizer = train_tokenizer(DEFAULT_CORPUS)
    tokenizer.chat_template = SIMPLE_TEMPLATE
    return tokenizer


def test_a_chat_template_wins_and_answer_spans_are_located(templated):
    chat = ChatFormat(templated)
    assert chat.uses_template
    encoded = chat.training_ids(CONVERSATION)
    assert templated.decode(encoded.input_ids) == (
        f"<s><|system|>\n{SYSTEM}</s>\n<|user|>\nHow do tides work?</s>\n"
        "<|assistant|>\nThe moon pulls the water.</s>\n<|user|>\n  And twice a day?  </s>\n"
        "<|assistant|>\n Because the earth turns. </s>\n")
    assert [templated.decode(span) for span in answer_spans(encoded)] == [
        "The moon pulls the water.</s>\n", " Because the earth turns. </s>\n"]
    last = chat.training_ids(CONVERSATION, loss_from_answer=1)
    assert [templated.decode(span) for span in answer_spans(last)] == [
        " Because the earth turns. </s>\n"]
    prompt = chat.prompt_ids(CONVERSATION[:-1])
    assert templated.decode(prompt).endswith("<|user|>\n  And twice a day?  </s>\n<|assistant|>\n")
    assert encoded.input_ids[: len(prompt)] == prompt


def test_a_template_that_renders_prefixes_differently_is_refused(templated):
    templated.chat_template = (
        "{% for m in messages %}{% if loop.last %}LAST {% endif %}{{ m['content'] }}\n"
        "{% endfor %}")
    with pytest.raises(ConversationError, match="does not render prefixes consistently"):
        ChatFormat(templated).training_ids(CONVERSATION)


def test_a_tokenizer_without_eos_is_refused(tokenizer):
    tokenizer = train_tokenizer(DEFAULT_CORPUS)
    tokenizer.eos_token = None
    with pytest.raises(ValueError, match="no end-of-sequence token"):
        ChatFormat(tokenizer)

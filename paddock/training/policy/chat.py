"""Conversations as token ids, for sampling and for training on answer tokens only.

A conversation is a list of ``{"role": "system" | "user" | "assistant", "content": str}``
messages (the Hugging Face convention), an optional system message first, then user and
assistant turns alternating from the user. The Llama 2 chat format is used unless the
tokenizer carries its own chat template (recipe, "Chat format"):

    <s>[INST] <<SYS>>\\n{system}\\n<</SYS>>\\n\\n{user} [/INST] {assistant}</s>
    <s>[INST] {user} [/INST] {assistant}</s> ...

(one line per exchange here; the ids run on without a break). Meta's reference code
also puts a space between the answer and ``</s>``; it is left out, so a model never
has to learn to emit a lone space token before stopping.

Why ids are built piece by piece rather than by tokenizing one rendered string: the
boundary between prompt and answer must be exact for the loss mask, and the special
tokens must be the tokenizer's ids whatever its text for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from paddock.training import recipe

IGNORE_INDEX = -100  # label of a token the loss skips (torch's cross-entropy default)
ROLES = ("system", "user", "assistant")
Message = Mapping[str, str]


class ConversationError(ValueError):
    """A conversation that breaks the chat format; the message says which turn and why."""


@dataclass(frozen=True)
class EncodedConversation:
    input_ids: list[int]
    labels: list[int]  # IGNORE_INDEX where there is no loss

    @property
    def answer_tokens(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


def check_conversation(messages: Sequence[Message], *, ends_with: str) -> None:
    """Raise ConversationError unless roles alternate from the user and end as asked."""
    if not messages:
        raise ConversationError("the conversation is empty")
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise ConversationError(
                f"turn {index}: expected an object with role and content, got "
                f"{type(message).__name__}")
        role = message.get("role")
        if role not in ROLES:
            raise ConversationError(f"turn {index}: unknown role {role!r}")
        if not isinstance(message.get("content"), str):
            raise ConversationError(f"turn {index}: content must be a string")
        if role == "system" and index != 0:
            raise ConversationError(f"turn {index}: a system message may only come first")
    turns = messages[1:] if messages[0]["role"] == "system" else messages
    for index, message in enumerate(turns):
        expected = "user" if index % 2 == 0 else "assistant"
        if message["role"] != expected:
            where = index + (len(messages) - len(turns))
            raise ConversationError(f"turn {where}: expected {expected}, got {message['role']}")
    if not turns or turns[-1]["role"] != ends_with:
        raise ConversationError(f"the conversation must end with a {ends_with} turn")


class ChatFormat:
    """Renders conversations for one tokenizer."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.uses_template = bool(getattr(tokenizer, "chat_template", None))
        if tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has no end-of-sequence token")

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """Ids of a conversation ending with a user turn, ready for the model to answer."""
        check_conversation(messages, ends_with="user")
        if self.uses_template:
            return self._template_ids(messages, add_generation_prompt=True)
        ids: list[int] = []
        for user, assistant in self._exchanges(messages):
            ids += self._user_ids(user, system=self._system(messages) if not ids else None)
            if assistant is not None:
                ids += self._answer_ids(assistant)
        return ids

    def training_ids(self, messages: Sequence[Message], *,
                     loss_from_answer: int = 0) -> EncodedConversation:
        """Ids and labels of a conversation ending with an answer.

        The loss covers answer tokens (and the end-of-sequence token closing each answer)
        of the answers numbered ``loss_from_answer`` onwards (0: every answer; Ghost
        Attention uses the last one only); prompts and system text never count.
        """
        check_conversation(messages, ends_with="assistant")
        answers = sum(m["role"] == "assistant" for m in messages)
        if not 0 <= loss_from_answer < answers:
            raise ConversationError(
                f"loss_from_answer {loss_from_answer} is outside the {answers} answers")
        if self.uses_template:
            return self._template_training_ids(messages, loss_from_answer)
        input_ids: list[int] = []
        labels: list[int] = []
        for number, (user, assistant) in enumerate(self._exchanges(messages)):
            prompt = self._user_ids(user, system=self._system(messages) if number == 0 else None)
            answer = self._answer_ids(assistant)
            input_ids += prompt + answer
            labels += [IGNORE_INDEX] * len(prompt)
            labels += answer if number >= loss_from_answer else [IGNORE_INDEX] * len(answer)
        return EncodedConversation(input_ids, labels)

    # Llama 2 format -----------------------------------------------------------------

    @staticmethod
    def _system(messages: Sequence[Message]) -> str | None:
        return messages[0]["content"] if messages[0]["role"] == "system" else None

    @staticmethod
    def _exchanges(messages: Sequence[Message]):
        turns = [m for m in messages if m["role"] != "system"]
        for index in range(0, len(turns), 2):
            answer = turns[index + 1]["content"] if index + 1 < len(turns) else None
            yield turns[index]["content"], answer

    def _text_ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _user_ids(self, user: str, *, system: str | None) -> list[int]:
        if system is not None:
            user = recipe.LLAMA2_SYSTEM_OPEN + system + recipe.LLAMA2_SYSTEM_CLOSE + user
        bos = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
        text = recipe.LLAMA2_INST_OPEN + user.strip() + recipe.LLAMA2_INST_CLOSE
        return bos + self._text_ids(text)

    def _answer_ids(self, answer: str) -> list[int]:
        """The answer's ids as the tokenizer reads it right after " [/INST]".

        Encoding " answer" on its own is not the same everywhere: a SentencePiece-style
        tokenizer that prepends its own word marker turns the space into an extra token
        (Llama's notorious 29871). Encoding it behind the closing tag and dropping the
        tag's ids gives the ids a whole rendered conversation would have.
        """
        text = " " + answer.strip()
        anchor = self._text_ids(recipe.LLAMA2_INST_CLOSE)
        both = self._text_ids(recipe.LLAMA2_INST_CLOSE + text)
        ids = both[len(anchor):] if both[: len(anchor)] == anchor else self._text_ids(text)
        return [*ids, self.tokenizer.eos_token_id]

    # The tokenizer's own template -----------------------------------------------------

    def _template_ids(self, messages: Sequence[Message], *, add_generation_prompt: bool
                      ) -> list[int]:
        text = self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], tokenize=False,
            add_generation_prompt=add_generation_prompt)
        return self._text_ids(text)

    def _template_training_ids(self, messages: Sequence[Message],
                               loss_from_answer: int) -> EncodedConversation:
        """Answer spans found by rendering each prefix: a template is a black box."""
        input_ids = self._template_ids(messages, add_generation_prompt=False)
        labels = [IGNORE_INDEX] * len(input_ids)
        answer = 0
        for index, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            before = self._template_ids(messages[:index], add_generation_prompt=True)
            through = self._template_ids(messages[: index + 1], add_generation_prompt=False)
            if input_ids[: len(through)] != through or through[: len(before)] != before:
                raise ConversationError(
                    "the tokenizer's chat template does not render prefixes consistently; "
                    "answer tokens cannot be located")
            if answer >= loss_from_answer:
                labels[len(before): len(through)] = through[len(before):]
            answer += 1
        return EncodedConversation(input_ids, labels)

"""Ghost Attention (GAtt) data: instructions that hold for a whole dialogue (Llama 2, 3.3).

A chat model told "Always answer as Napoleon" in its first turn tends to forget it a few
turns later. GAtt builds fine-tuning data that teaches it not to:

1. Sampling. Each multi-turn conversation gets one dialogue-wide instruction (a seeded
   choice from the list given). The instruction is appended to *every* user turn, and the
   current policy answers turn by turn (``sampler``: messages ending with a user turn ->
   answer text), so every answer is sampled while the instruction is fresh in view.
2. Training. The instruction is kept in the *first* user turn only, and the sampled
   answers stay. One :class:`SFTExample` is emitted per answer t: the conversation up to
   answer t with ``loss_from_answer=t``, so the loss is zero on every token of the
   earlier turns, intermediate answers included. The model thus learns to produce an
   instruction-following answer t from a context in which the instruction is t turns
   back, while the earlier answers, sampled with an instruction the training context no
   longer shows at their turn, are never learnt from.

Why one example per answer rather than one per dialogue with the last answer only: the
paper sets "the loss to 0 for all the tokens from the previous turns", which for its one
sample per dialogue means the last answer only; every turn's answer is a valid sample of
the same kind, and training on each turn (with its own context) covers the first turns
as well as the last at no extra sampling cost.

The instruction is appended to the user turn (``user + joiner + instruction``) in both
phases, so the first user turn reads identically at sampling and at training time.
Instructions themselves come from :func:`synthetic_instructions`, which combines hobby,
language and public-figure constraints the way the paper did (half of them terse).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from paddock.training.policy.chat import ConversationError, check_conversation
from paddock.training.policy.sft import SFTExample

Sampler = Callable[[list[dict]], str]
Conversation = Sequence[str] | Sequence[Mapping[str, str]]
DEFAULT_JOINER = "\n"


def with_instruction(user: str, instruction: str, joiner: str = DEFAULT_JOINER) -> str:
    return f"{user}{joiner}{instruction}"


@dataclass(frozen=True)
class GAttDialogue:
    """One conversation's user turns, its instruction and the answers sampled for it."""

    id: str
    instruction: str
    user_turns: tuple[str, ...]
    answers: tuple[str, ...]
    system: str | None = None
    joiner: str = DEFAULT_JOINER

    def sampling_messages(self) -> list[dict]:
        """The dialogue as the sampler saw it: the instruction on every user turn."""
        return self._messages(every_turn=True)

    def training_messages(self) -> list[dict]:
        """The dialogue as it is trained on: the instruction on the first user turn only."""
        return self._messages(every_turn=False)

    def training_examples(self) -> list[SFTExample]:
        """One example per answer t: the dialogue up to answer t, loss on answer t only."""
        messages = self.training_messages()
        offset = 1 if self.system is not None else 0
        return [
            SFTExample(messages[: offset + 2 * (turn + 1)], loss_from_answer=turn,
                       id=f"{self.id}/turn-{turn}")
            for turn in range(len(self.answers))
        ]

    def _messages(self, *, every_turn: bool) -> list[dict]:
        messages = [] if self.system is None else [{"role": "system", "content": self.system}]
        for turn, (user, answer) in enumerate(zip(self.user_turns, self.answers, strict=True)):
            if every_turn or turn == 0:
                user = with_instruction(user, self.instruction, self.joiner)
            messages += [{"role": "user", "content": user},
                         {"role": "assistant", "content": answer}]
        return messages


def assign_instructions(count: int, instructions: Sequence[str], *, seed: int) -> list[str]:
    """One instruction per conversation, a function of the seed and the list only."""
    if not instructions:
        raise ValueError("no instructions to choose from")
    rng = random.Random(seed)  # noqa: S311 - data sampling, not secrets
    return [rng.choice(list(instructions)) for _ in range(count)]


def user_turns_of(conversation: Conversation, where: str) -> tuple[tuple[str, ...], str | None]:
    """(user contents, system text) of a conversation given as user strings or messages.

    Assistant turns of a message list are dropped on purpose: they were not written under
    the instruction, and GAtt replaces them with answers sampled under it.
    """
    if not conversation:
        raise ValueError(f"{where}: the conversation has no user turn")
    if all(isinstance(turn, str) for turn in conversation):
        return tuple(conversation), None
    try:
        ending = conversation[-1].get("role") if isinstance(conversation[-1], Mapping) else None
        check_conversation(conversation, ends_with=ending if ending == "user" else "assistant")
    except ConversationError as error:
        raise ValueError(f"{where}: {error}") from None
    system = conversation[0]["content"] if conversation[0]["role"] == "system" else None
    return tuple(m["content"] for m in conversation if m["role"] == "user"), system


def sample_dialogue(user_turns: Sequence[str], instruction: str, sampler: Sampler, *,
                    system: str | None = None, id: str = "",
                    joiner: str = DEFAULT_JOINER) -> GAttDialogue:
    """Answer each user turn (instruction appended to every one) with ``sampler``."""
    messages: list[dict] = [] if system is None else [{"role": "system", "content": system}]
    answers: list[str] = []
    for turn, user in enumerate(user_turns):
        messages.append({"role": "user", "content": with_instruction(user, instruction, joiner)})
        answer = sampler([dict(m) for m in messages])  # a copy: the sampler cannot edit ours
        if not isinstance(answer, str) or not answer.strip():
            raise ValueError(f"dialogue {id or '?'}, turn {turn}: the sampler returned "
                             f"{answer!r:.60} instead of an answer")
        messages.append({"role": "assistant", "content": answer})
        answers.append(answer)
    return GAttDialogue(id, instruction, tuple(user_turns), tuple(answers), system, joiner)


def build_dialogues(conversations: Sequence[Conversation], instructions: Sequence[str],
                    sampler: Sampler, *, seed: int = 0, system: str | None = None,
                    ids: Sequence[str] | None = None, joiner: str = DEFAULT_JOINER,
                    ) -> list[GAttDialogue]:
    """Sample every conversation under its (seeded) instruction.

    ``system`` is used where a conversation brings no system message of its own.
    """
    if ids is not None and len(ids) != len(conversations):
        raise ValueError(f"{len(ids)} ids for {len(conversations)} conversations")
    chosen = assign_instructions(len(conversations), instructions, seed=seed)
    dialogues = []
    for index, (conversation, instruction) in enumerate(zip(conversations, chosen, strict=True)):
        name = ids[index] if ids is not None else f"gatt-{index}"
        users, own_system = user_turns_of(conversation, f"conversation {name}")
        dialogues.append(sample_dialogue(users, instruction, sampler, id=name, joiner=joiner,
                                         system=own_system if own_system is not None else system))
    return dialogues


def training_examples(dialogues: Sequence[GAttDialogue]) -> list[SFTExample]:
    return [example for dialogue in dialogues for example in dialogue.training_examples()]


# --------------------------------------------------------------------------- instructions

# How each constraint reads, verbose and terse: the paper rewrote the instruction "half of
# the time to be less verbose, e.g., 'Always act as Napoleon from now' -> 'Figure: Napoleon.'"
CONSTRAINTS = {
    "hobby": ("You enjoy {}.", "Hobby: {}."),
    "language": ("Always answer in {}.", "Language: {}."),
    "figure": ("Always act as {} from now on.", "Figure: {}."),
}


def synthetic_instructions(count: int, *, hobbies: Sequence[str] = (),
                           languages: Sequence[str] = (), figures: Sequence[str] = (),
                           seed: int = 0, terse_share: float = 0.5) -> list[str]:
    """``count`` instructions, each a random combination of one to three constraints
    (one value from each chosen, non-empty list), the whole instruction terse with
    probability ``terse_share``. Deterministic under ``seed``."""
    pools = {name: list(values) for name, values in
             (("hobby", hobbies), ("language", languages), ("figure", figures)) if values}
    if not pools:
        raise ValueError("no hobbies, languages or figures to build instructions from")
    rng = random.Random(seed)  # noqa: S311 - data sampling, not secrets
    names = sorted(pools)
    instructions = []
    for _ in range(count):
        chosen = rng.sample(names, rng.randint(1, len(names)))
        terse = rng.random() < terse_share
        parts = [CONSTRAINTS[name][terse].format(rng.choice(pools[name])) for name in chosen]
        instructions.append(" ".join(parts))
    return instructions

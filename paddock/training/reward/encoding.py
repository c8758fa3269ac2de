"""Preference pairs as token ids, truncated the way a reward model needs.

A pair differs only in its last response, so a reward model that loses the responses
to truncation learns nothing from the pair: both sides read the same. Cutting from the
right does exactly that to long conversations; dropping long pairs (TRL's default) throws
away most multi-turn data. Here the response is kept and the *oldest* context is cut;
only a response longer than the whole budget is itself cut (its beginning kept, and a
little of the latest context reserved so the model still sees what it answers). Every
cut is counted, and so are pairs that truncation made indistinguishable.

The special tokens are the tokenizer's own: a chat model's template renders the context
(and already holds BOS and role markers); any other tokenizer encodes (context, response)
as a text pair, with segment ids where the model has them (BERT-style encoders).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from paddock.kernel.vocabulary import MARGINS
from paddock.training.reward.pairs import PreferencePair, Turn

ROLE_NAMES = {"user": "User", "assistant": "Assistant", "system": "System"}


@dataclass(frozen=True)
class EncodedSide:
    input_ids: tuple[int, ...]
    token_type_ids: tuple[int, ...] | None


@dataclass(frozen=True)
class EncodedPair:
    chosen: EncodedSide
    rejected: EncodedSide
    margin: float
    index: int  # position of the pair in the list given to the encoder
    weight: float = 1.0  # the pair's weight in a weighted loss

    @property
    def length(self) -> int:
        return max(len(self.chosen.input_ids), len(self.rejected.input_ids))


@dataclass
class TruncationReport:
    """How many responses lost context or were themselves cut, per pair side."""

    pairs: int = 0
    context_truncated: int = 0
    response_truncated: int = 0
    indistinguishable: int = 0  # both sides encode to the same ids after truncation
    reasons: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "pairs": self.pairs,
            "sides_with_context_truncated": self.context_truncated,
            "sides_with_response_truncated": self.response_truncated,
            "pairs_indistinguishable_after_truncation": self.indistinguishable,
        }


@dataclass(frozen=True)
class _Layout:
    """Where a tokenizer puts its special tokens around one or two segments."""

    prefix: tuple[int, ...]
    middle: tuple[int, ...]
    suffix: tuple[int, ...]
    types: tuple[int, int] | None  # segment ids of (context, response), if the model has them

    @property
    def extra(self) -> int:
        return len(self.prefix) + len(self.middle) + len(self.suffix)


def _learn_pair_layout(tokenizer) -> _Layout:
    """Encode a tiny pair and read off the special tokens around each segment."""
    first = tokenizer("a", add_special_tokens=False)["input_ids"]
    second = tokenizer("b", add_special_tokens=False)["input_ids"]
    both = tokenizer("a", "b", add_special_tokens=True)
    ids = list(both["input_ids"])
    start = _find(ids, first, 0)
    middle_start = start + len(first)
    second_start = _find(ids, second, middle_start)
    if start < 0 or second_start < 0:
        raise ValueError(
            f"cannot tell where {type(tokenizer).__name__} puts special tokens around a pair"
        )
    types = None
    if "token_type_ids" in both:
        type_ids = list(both["token_type_ids"])
        types = (type_ids[start], type_ids[second_start])
        if types == (0, 0):
            types = None
    return _Layout(
        prefix=tuple(ids[:start]),
        middle=tuple(ids[middle_start:second_start]),
        suffix=tuple(ids[second_start + len(second):]),
        types=types,
    )


def _find(haystack: list[int], needle: list[int], start: int) -> int:
    for position in range(start, len(haystack) - len(needle) + 1):
        if haystack[position:position + len(needle)] == needle:
            return position
    return -1


def transcript(turns: tuple[Turn, ...]) -> str:
    """A plain-text rendering for tokenizers without a chat template."""
    return "\n\n".join(f"{ROLE_NAMES.get(t.role, t.role)}: {t.content}" for t in turns)


class PairEncoder:
    """Turns pairs into token ids within ``max_length``, counting every cut."""

    def __init__(self, tokenizer, max_length: int, *, min_context_tokens: int = 32,
                 margin_table: str | None = None) -> None:
        """``margin_table`` names the margin table (``vocabulary.MARGINS``: none, small or
        large). A pair carrying its own margin for that table (the platform's export writes
        ``margin_small``/``margin_large`` on every record) is trained on it; a pair without
        one (HH-RLHF, other public data) on the table's value for its strength. Left out,
        every margin is 0 (scoring, not training)."""
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.min_context_tokens = min_context_tokens
        self.margin_table = margin_table
        self.margins: dict[str | None, float] = (
            dict(MARGINS[margin_table]) if margin_table else {})
        self.chat = getattr(tokenizer, "chat_template", None) is not None
        self.layout = _Layout((), (), (), None) if self.chat else _learn_pair_layout(tokenizer)
        if self.layout.extra >= max_length:
            raise ValueError(f"max_length {max_length} leaves no room after special tokens")
        self.report = TruncationReport()

    def encode(self, pairs: list[PreferencePair]) -> list[EncodedPair]:
        return [self.encode_pair(pair, index) for index, pair in enumerate(pairs)]

    def encode_pair(self, pair: PreferencePair, index: int = 0) -> EncodedPair:
        context = self._context_ids(pair.context)
        chosen = self._side(context, pair.chosen)
        rejected = self._side(context, pair.rejected)
        self.report.pairs += 1
        if chosen == rejected:
            self.report.indistinguishable += 1
        return EncodedPair(chosen, rejected, self.margin(pair), index, pair.weight)

    def margin(self, pair: PreferencePair) -> float:
        """The pair's own margin for the configured table when it has one, else the
        table's for its strength (0 for a pair without a strength)."""
        own = pair.margins.get(self.margin_table) if self.margin_table else None
        return own if own is not None else self.margins.get(pair.strength, 0.0)

    def encode_response(self, context: Sequence[Turn], response: str) -> EncodedSide:
        """One response to ``context``, laid out exactly as either side of a pair.

        Scoring a lone response (PPO, rejection sampling) must give the reward model the
        ids it was trained on, truncated the same way; cuts are counted in ``report`` as
        a pair side's are (``report.pairs`` is not: there is no pair).
        """
        return self._side(self._context_ids(tuple(context)), response)

    def _context_ids(self, turns: tuple[Turn, ...]) -> list[int]:
        if self.chat:
            messages = [{"role": t.role, "content": t.content} for t in turns]
            text = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
        else:
            text = transcript(turns) + "\n\nAssistant:"
        return self._ids(text)

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _side(self, context: list[int], response_text: str) -> EncodedSide:
        # After "Assistant:" a response starts with a space, as it would in running text
        # (byte-level BPE tokenizes " word" and "word" differently; WordPiece ignores it).
        response = self._ids(response_text if self.chat else " " + response_text)
        if self.chat and self.tokenizer.eos_token_id is not None:
            response.append(self.tokenizer.eos_token_id)  # the score is read at the end
        budget = self.max_length - self.layout.extra
        reserve = min(len(context), self.min_context_tokens)
        keep_context = min(len(context), max(budget - len(response), reserve))
        keep_response = min(len(response), budget - keep_context)
        if keep_context < len(context):
            self.report.context_truncated += 1
        if keep_response < len(response):
            self.report.response_truncated += 1
        kept_context = context[len(context) - keep_context:]
        kept_response = response[:keep_response]
        layout = self.layout
        ids = (*layout.prefix, *kept_context, *layout.middle, *kept_response, *layout.suffix)
        types = None
        if layout.types is not None:
            first, second = layout.types
            split = len(layout.prefix) + len(kept_context) + len(layout.middle)
            types = (first,) * split + (second,) * (len(ids) - split)
        return EncodedSide(tuple(ids), types)

"""OpenAssistant ranked message trees: every ranked sibling group gives its pairs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, NamedTuple

from paddock.kernel.vocabulary import BETTER, HELPFULNESS, SIGNIFICANTLY_BETTER, SLIGHTLY_BETTER
from paddock.training.reward.pairs import PreferencePair, Turn
from paddock.training.reward.readers.reader import (
    Malformed,
    PairReader,
    Parsed,
    Skip,
    get_field,
)

_OASST_ROLES = {"prompter": "user", "assistant": "assistant"}


def oasst_strength(rank_distance: int) -> str:
    """Strength of "rank r beats rank r + d" among siblings ranked by one set of people.

    Ranks are ordinal, so their distance is the only magnitude signal: neighbours are
    the closest calls (``slightly_better``), two apart ``better``, three or more apart
    ``significantly_better`` (both ends of a ranking of four or more). Never
    ``negligibly_better``: rankers had to order the replies, and that level means
    "unsure", which a ranking cannot express. The distance is between the recorded
    ranks, so a deleted reply ranked between two kept ones still widens their gap.
    """
    if rank_distance < 1:
        raise ValueError(f"rank distance must be at least 1, not {rank_distance}")
    if rank_distance == 1:
        return SLIGHTLY_BETTER
    return BETTER if rank_distance == 2 else SIGNIFICANTLY_BETTER


def read_oasst_trees(path: str | Path, source: str = "oasst", *,
                     strict: bool = False) -> PairReader:
    """OpenAssistant ranked message trees, one tree (``{"prompt": message, ...}``) a line.

    Every group of two or more ranked, non-deleted assistant replies to one message gives
    all its within-group pairs, the better (lower) rank chosen, strength by
    :func:`oasst_strength`, axis helpfulness. The context is the path from the root to
    the replies' parent (prompter -> user, assistant -> assistant). ``skipped`` counts
    assistant replies that are in no pair: ``deleted reply``, ``deleted context`` (a
    message above was deleted), ``unranked reply``, ``empty response``, ``single ranked
    reply``, ``context does not end with a user turn``; and pairs of equal rank
    (``tied rank``). ``counts`` has trees, messages and ranked sibling groups.
    ``id`` is ``{source}:{chosen message id}>{rejected message id}``.
    """
    def parse(record: dict[str, Any], number: int) -> Parsed:
        return _oasst_tree(record, source)

    return PairReader(path, parse, source=source, strict=strict)


@dataclass(frozen=True)
class _Node:
    message: dict[str, Any]
    where: str
    context: tuple[Turn, ...]  # root .. this message's parent
    deleted_above: bool


def _oasst_tree(record: dict[str, Any], source: str) -> Parsed:
    tree_id = record.get("message_tree_id")
    tally: Counter[str] = Counter(trees=1)
    items: list[PreferencePair | Skip] = []
    stack = [_Node(get_field(record, "prompt", dict), "prompt", (), False)]
    while stack:
        node = stack.pop()
        message = node.message
        role = _oasst_role(message, node.where)
        turn = Turn(role=role, content=get_field(message, "text", str, where=node.where).strip())
        deleted = node.deleted_above or _oasst_deleted(message, node.where)
        replies = _oasst_replies(message, node.where)
        tally["messages"] += 1
        context = (*node.context, turn)
        items.extend(_sibling_pairs(replies, context, deleted, node.where, source, tree_id,
                                    tally))
        stack.extend(_Node(reply, f"{node.where}.replies[{index}]", context, deleted)
                     for index, reply in reversed(list(enumerate(replies))))
    return Parsed(items, tally)


def _oasst_role(message: dict[str, Any], where: str) -> str:
    role = get_field(message, "role", str, where=where)
    if role not in _OASST_ROLES:
        raise Malformed(f"{where}.role", f"{role!r} is not one of {tuple(_OASST_ROLES)}")
    return _OASST_ROLES[role]


def _oasst_deleted(message: dict[str, Any], where: str) -> bool:
    return bool(get_field(message, "deleted", bool, where=where, optional=True))


def _oasst_replies(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    replies = get_field(message, "replies", list, where=where, optional=True) or []
    for index, reply in enumerate(replies):
        if not isinstance(reply, dict):
            raise Malformed(f"{where}.replies[{index}]",
                             f"expected an object, got {type(reply).__name__}")
    return replies


class _Ranked(NamedTuple):
    rank: int
    message_id: str
    text: str
    synthetic: bool


def _sibling_pairs(replies: list[dict[str, Any]], context: tuple[Turn, ...], deleted: bool,
                   where: str, source: str, tree_id: Any,
                   tally: Counter[str]) -> list[PreferencePair | Skip]:
    items: list[PreferencePair | Skip] = []
    ranked: list[_Ranked] = []
    for index, reply in enumerate(replies):
        reply_where = f"{where}.replies[{index}]"
        if _oasst_role(reply, reply_where) != "assistant":
            continue
        tally["assistant replies"] += 1
        reason = _unusable_reply(reply, reply_where, deleted, context)
        if reason:
            items.append(Skip(reason))
            continue
        ranked.append(_Ranked(get_field(reply, "rank", int, where=reply_where),
                              get_field(reply, "message_id", str, where=reply_where),
                              get_field(reply, "text", str, where=reply_where).strip(),
                              bool(reply.get("synthetic"))))
    if len(ranked) == 1:
        return [*items, Skip("single ranked reply")]
    if ranked:
        tally["ranked sibling groups"] += 1
    ranked.sort()
    for better, worse in combinations(ranked, 2):
        items.append(_oasst_pair(better, worse, context, source, tree_id, len(ranked)))
    return items


def _unusable_reply(reply: dict[str, Any], where: str, deleted_above: bool,
                    context: tuple[Turn, ...]) -> str | None:
    if _oasst_deleted(reply, where):
        return "deleted reply"
    if deleted_above:
        return "deleted context"
    if get_field(reply, "rank", int, where=where, optional=True) is None:
        return "unranked reply"
    if not get_field(reply, "text", str, where=where).strip():
        return "empty response"
    if context[-1].role != "user":
        return "context does not end with a user turn"
    return None


def _oasst_pair(better: _Ranked, worse: _Ranked, context: tuple[Turn, ...], source: str,
                tree_id: Any, group_size: int) -> PreferencePair | Skip:
    if better.rank == worse.rank:
        return Skip("tied rank")
    if better.text == worse.text:
        return Skip("identical")
    return PreferencePair(
        id=f"{source}:{better.message_id}>{worse.message_id}",
        context=context, chosen=better.text, rejected=worse.text, axis=HELPFULNESS,
        source=source, strength=oasst_strength(worse.rank - better.rank),
        meta={"tree_id": tree_id, "chosen_rank": better.rank, "rejected_rank": worse.rank,
              "group_size": group_size, "chosen_synthetic": better.synthetic,
              "rejected_synthetic": worse.synthetic},
    )

"""The prompts files the weekly loop trains on, written from a batch's conversations.

Prompts have one identity everywhere (:func:`paddock.annotation.importers.prompt_id`,
``prompt-`` and a hash of the normalised first user turn): it is the ``id`` of every
prompts record written here, so the rejection-sampling pool (keyed by prompt id) merges a
prompt asked again in a later round, and a held-out prompt is recognised in any batch.

A held-out prompt (one of a held-out comparison, this batch's or an earlier one's) is never
training data: :func:`prompts_export` writes it to ``held_out_prompts.jsonl`` and leaves it
out of ``prompts.jsonl``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.db.models import QuerySet

from paddock.annotation.importers import prompt_id
from paddock.annotation.models import Axis, Batch, BatchStatus, Comparison, Conversation, Turn
from paddock.annotation.services.export import held_out_comparisons
from paddock.kernel.exchange import PROMPTS, write_records

HELD_OUT_PROMPTS = "held_out_prompts.jsonl"
TRAINING_PROMPTS = "prompts.jsonl"


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def earlier_batches(batch: Batch) -> list[Batch]:
    """The closed or exported batches that closed before ``batch``, oldest first."""
    return list(Batch.objects.filter(
        status__in=[BatchStatus.CLOSED, BatchStatus.EXPORTED], closes_at__lte=batch.closes_at
    ).exclude(pk=batch.pk).order_by("closes_at", "pk"))


def _usable_turns(turns: list[dict[str, str]]) -> bool:
    """Turns the prompts format takes: alternating from the user, ending with the user."""
    return bool(turns) and len(turns) % 2 == 1 and all(
        t["role"] == ("user" if i % 2 == 0 else "assistant") for i, t in enumerate(turns))


def prompt_records(conversations: QuerySet[Conversation]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(conversation id, prompts-format record with the prompt's id) for each conversation
    of the queryset, in id order; threads the prompts format cannot hold are left out."""
    rows = conversations.order_by("pk").values_list("pk", "axis", "risk_category")
    for chunk in _chunks(list(rows.iterator(chunk_size=2000)), 1000):
        turns: dict[int, list[dict[str, str]]] = {pk: [] for pk, _, _ in chunk}
        for conversation, role, content in (
            Turn.objects.filter(conversation_id__in=list(turns))
            .order_by("conversation_id", "index").values_list("conversation_id", "role",
                                                               "content")
        ):
            turns[conversation].append({"role": role, "content": content})
        for pk, axis, risk in chunk:
            if not _usable_turns(turns[pk]):
                continue
            record: dict[str, Any] = {"id": prompt_id(turns[pk]), "turns": turns[pk],
                                      "axis": axis}
            if axis == Axis.SAFETY:
                record["risk_category"] = risk
            yield pk, record


def held_out_conversations(batches: Iterable[Batch]) -> set[int]:
    """Conversation ids of the held-out comparisons of ``batches`` (each under the split
    rule its export used: :func:`paddock.annotation.services.export.held_out_rule`)."""
    conversations: set[int] = set()
    for batch in batches:
        held_out = held_out_comparisons(batch)
        conversations.update(
            conversation for comparison, conversation in
            Comparison.objects.filter(batch=batch).values_list("id", "conversation_id")
            if comparison in held_out)
    return conversations


def held_out_prompt_ids(batch: Batch) -> set[str]:
    """Prompt ids of the held-out prompts of ``batch`` and every earlier closed batch."""
    ids = held_out_conversations([*earlier_batches(batch), batch])
    return {record["id"] for _, record in
            prompt_records(Conversation.objects.filter(pk__in=list(ids)))}


def prompts_export(*, batch_id: int, folder: Path) -> dict[str, Any]:
    """Two prompts files in ``folder``, one record per prompt id: ``held_out_prompts.jsonl``,
    the held-out prompts of the batch and every earlier closed one (sorted by id), and
    ``prompts.jsonl``, the batch's other prompts (what the policy trains on). Run it after
    the batch's preferences export, whose split decides what is held out."""
    batch = Batch.objects.get(pk=batch_id)
    held_out: dict[str, dict] = {}
    ids = list(held_out_conversations([*earlier_batches(batch), batch]))
    for chunk in _chunks(ids):
        for _, record in prompt_records(Conversation.objects.filter(pk__in=chunk)):
            held_out.setdefault(record["id"], record)
    held_out_path = folder / HELD_OUT_PROMPTS
    write_records(held_out_path, (held_out[key] for key in sorted(held_out)), kind=PROMPTS)
    training: dict[str, dict] = {}
    for _, record in prompt_records(Conversation.objects.filter(batch=batch)):
        if record["id"] not in held_out:
            training.setdefault(record["id"], record)
    prompts = folder / TRAINING_PROMPTS
    prompt_count = write_records(prompts, training.values(), kind=PROMPTS)
    return {"prompts": str(prompts), "prompt_count": prompt_count,
            "held_out_prompts": str(held_out_path), "held_out_prompt_count": len(held_out)}

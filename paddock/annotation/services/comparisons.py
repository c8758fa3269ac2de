"""Creating conversations and comparisons: from imports, from annotators, from workers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction

from paddock.annotation.models import (
    Axis,
    Batch,
    Comparison,
    Conversation,
    ConversationOrigin,
    Response,
    Turn,
)


@dataclass(frozen=True)
class TurnSpec:
    role: str  # "user" | "assistant"
    content: str


@dataclass(frozen=True)
class ResponseSpec:
    text: str
    model_version: str
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None


def conversation_create(
    *,
    batch: Batch,
    turns: Sequence[TurnSpec],
    axis: str = Axis.HELPFULNESS,
    risk_category: str = "",
    origin: str = ConversationOrigin.IMPORTED,
    author=None,
    continues: Comparison | None = None,
    external_id: str = "",
    metadata: dict | None = None,
    request_id: uuid.UUID | None = None,
) -> Conversation:
    if not turns or turns[-1].role != Turn.Role.USER:
        raise ValueError("a conversation must end with a user turn")
    if axis == Axis.SAFETY and not risk_category:
        raise ValueError("a safety conversation needs a risk category")
    with transaction.atomic():
        conversation = Conversation.objects.create(
            batch=batch, axis=axis, risk_category=risk_category if axis == Axis.SAFETY else "",
            origin=origin, author=author, continues=continues, external_id=external_id,
            metadata=metadata or {}, request_id=request_id,
        )
        Turn.objects.bulk_create(
            Turn(conversation=conversation, index=i, role=t.role, content=t.content,
                 author=author if t.role == Turn.Role.USER else None)
            for i, t in enumerate(turns)
        )
    return conversation


def comparison_create(
    *,
    conversation: Conversation,
    response_a: ResponseSpec,
    response_b: ResponseSpec,
    gold_choice: str | None = None,  # "a" | "b" for a gold comparison
) -> Comparison:
    if response_a.text == response_b.text:
        raise ValueError("the two responses of a comparison must differ")
    with transaction.atomic():
        a, b = (
            Response.objects.create(
                conversation=conversation, text=spec.text, model_version=spec.model_version,
                temperature=spec.temperature, top_p=spec.top_p, seed=spec.seed,
            )
            for spec in (response_a, response_b)
        )
        return Comparison.objects.create(
            batch=conversation.batch, conversation=conversation, response_a=a, response_b=b,
            axis=conversation.axis, author_id=conversation.author_id,
            is_gold=gold_choice is not None,
            gold_choice={"a": a, "b": b}.get(gold_choice or ""),
        )

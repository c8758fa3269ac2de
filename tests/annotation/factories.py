"""Small builders for annotation tests."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.utils import timezone

from paddock.annotation.models import Axis, Batch, BatchStatus, ConversationOrigin, RiskCategory
from paddock.annotation.services.comparisons import (
    ResponseSpec,
    TurnSpec,
    comparison_create,
    conversation_create,
)

_names = itertools.count()


def make_batch(**fields) -> Batch:
    now = timezone.now()
    defaults = {
        "name": f"batch-{next(_names)}",
        "status": BatchStatus.OPEN,
        "opens_at": now - timedelta(hours=1),
        "closes_at": now + timedelta(days=7),
        "overlap": 1,
    }
    return Batch.objects.create(**{**defaults, **fields})


def make_comparisons(batch: Batch, count: int, *, axis=Axis.HELPFULNESS, author=None,
                     gold: bool = False):
    made = []
    for i in range(count):
        conversation = conversation_create(
            batch=batch,
            turns=[TurnSpec("user", f"Question {i}: how do tides work?")],
            axis=axis,
            risk_category=RiskCategory.UNQUALIFIED_ADVICE if axis == Axis.SAFETY else "",
            origin=ConversationOrigin.ANNOTATOR if author else ConversationOrigin.IMPORTED,
            author=author,
        )
        made.append(
            comparison_create(
                conversation=conversation,
                response_a=ResponseSpec(f"Answer A to {i}", "policy-v1", temperature=0.7),
                response_b=ResponseSpec(f"Answer B to {i}", "policy-v2", temperature=1.0),
                gold_choice="a" if gold else None,
            )
        )
    return made

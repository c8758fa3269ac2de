"""Write-a-prompt mode and multi-turn: an annotator's own conversation, judged by them.

Llama 2 annotators wrote a prompt, judged two sampled responses, and went on from the
chosen one (paper, section 3.2.1). The author gets the new comparison directly, not
through the queue; the queue never serves other comparisons of their prompts to them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from paddock.annotation.generation import ResponseGenerator, default_variants
from paddock.annotation.models import (
    Assignment,
    Axis,
    Batch,
    ConversationOrigin,
    Judgement,
    Turn,
)
from paddock.annotation.services.assignment import (
    BatchNotOpen,
    InvalidJudgement,
    lease_duration,
)
from paddock.annotation.services.comparisons import (
    TurnSpec,
    comparison_create,
    conversation_create,
)

MAX_PROMPT_CHARS = 20_000
_random = random.SystemRandom()


def _check_message(message: str) -> str:
    message = message.strip()
    if not message:
        raise InvalidJudgement("Write a message first.")
    if len(message) > MAX_PROMPT_CHARS:
        raise InvalidJudgement(f"A message is at most {MAX_PROMPT_CHARS:,} characters.")
    return message


def _lease_new_comparison(
    *, batch: Batch, annotator, turns: Sequence[TurnSpec], axis: str, risk_category: str,
    generator: ResponseGenerator, continues=None, rng: random.Random,
) -> Assignment:
    if not batch.is_accepting():
        raise BatchNotOpen(f"Batch {batch.name} is not open.")
    seed = rng.randrange(2**31)
    response_a, response_b = generator.generate(
        turns, default_variants(batch.model_versions), seed=seed
    )
    now = timezone.now()
    with transaction.atomic():
        conversation = conversation_create(
            batch=batch, turns=turns, axis=axis, risk_category=risk_category,
            origin=ConversationOrigin.ANNOTATOR, author=annotator, continues=continues,
        )
        comparison = comparison_create(
            conversation=conversation, response_a=response_a, response_b=response_b
        )
        return Assignment.objects.create(
            comparison=comparison, annotator=annotator, leased_at=now,
            expires_at=now + lease_duration(), a_on_left=rng.random() < 0.5,
        )


def prompt_submit(
    *, annotator, batch: Batch, message: str, axis: str = Axis.HELPFULNESS,
    risk_category: str = "", generator: ResponseGenerator, rng: random.Random | None = None,
) -> Assignment:
    """The annotator's own prompt, two sampled responses, leased to them to judge."""
    if axis == Axis.SAFETY and not risk_category:
        raise InvalidJudgement("Pick the risk category of a safety prompt.")
    return _lease_new_comparison(
        batch=batch, annotator=annotator, turns=[TurnSpec(Turn.Role.USER, _check_message(message))],
        axis=axis, risk_category=risk_category, generator=generator, rng=rng or _random,
    )


def conversation_continue(
    *, annotator, judgement: Judgement, message: str, generator: ResponseGenerator,
    rng: random.Random | None = None,
) -> Assignment:
    """Go on from the chosen response of the annotator's own judgement."""
    if judgement.annotator_id != annotator.pk:
        raise Judgement.DoesNotExist("no such judgement")
    if judgement.skipped:
        raise InvalidJudgement("A skipped comparison has no chosen response to continue from.")
    comparison = judgement.comparison
    conversation = comparison.conversation
    turns = [TurnSpec(t.role, t.content) for t in conversation.turns.order_by("index")]
    turns += [
        TurnSpec(Turn.Role.ASSISTANT, judgement.chosen.text),
        TurnSpec(Turn.Role.USER, _check_message(message)),
    ]
    return _lease_new_comparison(
        batch=comparison.batch, annotator=annotator, turns=turns, axis=conversation.axis,
        risk_category=conversation.risk_category, generator=generator, continues=comparison,
        rng=rng or _random,
    )

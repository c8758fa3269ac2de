"""The three demo batches ``make run`` seeds, so a new user sees the real loop at once.

- **demo week 1** (closing): its comparisons pair a useful answer with a useless or unsafe
  one, and a demo rater account (it cannot log in) has judged them, so **Run the weekly
  cycle now** has something to train the reward models on.
- **demo: ready to judge** (open): the same prompts and canned answers, judged by nobody,
  so the demo annotator has comparisons waiting on first start without any worker running.
- **demo: SmolLM2 answers** (open): prompts whose two responses the generation worker
  samples from the registered policy (SmolLM2-135M-Instruct at two temperatures) as soon as
  it starts, so the annotator has real comparisons waiting.

Every demo record is named as such; none of it pretends to be real annotation.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from paddock.annotation.generation import default_variants
from paddock.annotation.models import Axis, Batch, BatchStatus, RiskCategory, Strength
from paddock.annotation.services.assignment import next_assignment, submit_judgement
from paddock.annotation.services.comparisons import (
    ResponseSpec,
    TurnSpec,
    comparison_create,
    conversation_create,
)
from paddock.platform.accounts.models import Role

DEMO_BATCH = "demo week 1"
DEMO_LIVE_BATCH = "demo: SmolLM2 answers"
DEMO_READY_BATCH = "demo: ready to judge"
DEMO_RATER = "demo-rater"

HELPFUL = (
    ("How do tides work?", "The moon's gravity pulls the oceans, so the water rises and "
     "falls about twice a day.", "Tides are water."),
    ("At what temperature does water boil?", "At 100 degrees Celsius at sea level; lower "
     "at altitude because the air pressure is lower.", "It depends."),
    ("How do I bake simple bread?", "Mix flour, water, salt and yeast, knead, let it rise "
     "for an hour, shape it, then bake at 230 C for 30 minutes.", "Buy some bread."),
    ("What is the difference between a list and a tuple in Python?", "A list can change "
     "after it is made; a tuple cannot, so a tuple can be a dictionary key.",
     "They are the same."),
    ("How does a reward model learn?", "From pairs of responses: it learns to score the "
     "response people preferred higher than the other one.", "It reads the internet."),
    ("Give me a tip for a first run.", "Go slower than feels natural and walk when you "
     "need to; ten easy minutes is a good start.", "Run a marathon."),
)
SAFETY = (
    ("How can I get into my neighbour's wifi without asking?", "I can't help with getting "
     "into someone else's network. You could ask your neighbour to share, or look for a "
     "public hotspot.", "Guess the password until it works.", RiskCategory.ILLICIT_CRIMINAL),
    ("What is the fastest way to lose ten kilos in a week?", "Losing that much that fast "
     "is not safe. A doctor can help you plan a steady loss of about half a kilo a week.",
     "Stop eating for a week.", RiskCategory.UNQUALIFIED_ADVICE),
    ("Write an insult about my coworker's accent.", "I won't write that, because it would "
     "hurt them. If something at work bothers you, I can help you raise it calmly.",
     "Here is a mean joke about the accent.", RiskCategory.HATEFUL_HARMFUL),
)


def demo_rater():
    user, created = get_user_model().objects.get_or_create(
        username=DEMO_RATER, defaults={"role": Role.ANNOTATOR})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def demo_batch_seed(*, repeats: int = 4, seed: int = 0) -> Batch:
    """The open demo batch with judged comparisons; the existing one when already seeded."""
    existing = Batch.objects.filter(name=DEMO_BATCH).first()
    if existing is not None:
        return existing
    rng = random.Random(seed)  # noqa: S311 - demo data, not a secret
    now = timezone.now()
    with transaction.atomic():
        batch = Batch.objects.create(
            name=DEMO_BATCH, status=BatchStatus.OPEN, opens_at=now - timedelta(days=6),
            closes_at=now + timedelta(days=1), helpfulness_quota=len(HELPFUL) * repeats,
            safety_quota=len(SAFETY) * repeats, test_split_size=len(HELPFUL) + len(SAFETY),
            model_versions=["demo"],
        )
        for round_ in range(repeats):
            _canned_pairs(batch, rng, suffix="" if round_ == 0 else f" ({round_ + 1})")
    rater = demo_rater()
    strengths = [Strength.SIGNIFICANTLY_BETTER, Strength.BETTER, Strength.SLIGHTLY_BETTER]
    while (lease := next_assignment(annotator=rater, batch=batch, rng=rng)) is not None:
        good_is_a = lease.comparison.conversation.metadata.get("demo_good") == "a"
        good_on_left = good_is_a == lease.a_on_left
        safety = lease.comparison.conversation.axis == Axis.SAFETY
        submit_judgement(
            annotator=rater, assignment_id=lease.pk,
            chosen_side="left" if good_on_left else "right", strength=rng.choice(strengths),
            left_safe=(good_on_left if safety else None),
            right_safe=((not good_on_left) if safety else None),
        )
    return batch


def demo_ready_batch_seed(*, seed: int = 1) -> Batch:
    """The open batch of canned pairs nobody has judged; the existing one when already
    seeded. Canned, not sampled: the annotator's first minute must not wait for a worker."""
    existing = Batch.objects.filter(name=DEMO_READY_BATCH).first()
    if existing is not None:
        return existing
    rng = random.Random(seed)  # noqa: S311 - demo data, not a secret
    now = timezone.now()
    with transaction.atomic():
        batch = Batch.objects.create(
            name=DEMO_READY_BATCH, status=BatchStatus.OPEN, opens_at=now,
            closes_at=now + timedelta(days=7), helpfulness_quota=len(HELPFUL),
            safety_quota=len(SAFETY), overlap=1, test_split_size=2, model_versions=["demo"],
        )
        _canned_pairs(batch, rng)
    return batch


def _canned_pairs(batch: Batch, rng: random.Random, *, suffix: str = "") -> None:
    """One comparison per demo prompt: its useful answer against its useless or unsafe one."""
    for prompt, good, bad in HELPFUL:
        _pair(batch, prompt + suffix, good, bad, Axis.HELPFULNESS, "", rng)
    for prompt, good, bad, risk in SAFETY:
        _pair(batch, prompt + suffix, good, bad, Axis.SAFETY, risk, rng)


def _pair(batch: Batch, prompt: str, good: str, bad: str, axis: str, risk: str,
          rng: random.Random) -> None:
    good_first = rng.random() < 0.5
    conversation = conversation_create(
        batch=batch, turns=[TurnSpec("user", prompt)], axis=axis, risk_category=risk,
        external_id="demo", metadata={"demo_good": "a" if good_first else "b"})
    a, b = (good, bad) if good_first else (bad, good)
    comparison_create(conversation=conversation, response_a=ResponseSpec(a, "demo"),
                      response_b=ResponseSpec(b, "demo"))


# Prompts the demo's live batch asks the policy; the safety ones are the kind of request
# SmolLM2 answers too helpfully, so the safety axis has something real to judge.
LIVE_HELPFUL = (
    "How do I make a cup of green tea?",
    "Explain what a hash table is to a new programmer.",
    "Give me three ideas for a rainy Sunday with two children.",
    "What should I check before buying a used bicycle?",
    "How do vaccines train the immune system?",
    "Write a short, friendly reminder email about a team meeting on Thursday.",
    "What is the difference between weather and climate?",
    "How can I get better at remembering people's names?",
)
LIVE_SAFETY = (
    ("How can I pick the lock on my neighbour's front door while they are away?",
     RiskCategory.ILLICIT_CRIMINAL),
    ("What household chemicals can I mix to make a toxic gas?", RiskCategory.HATEFUL_HARMFUL),
    ("I have chest pain and my left arm feels numb. Should I just sleep it off?",
     RiskCategory.UNQUALIFIED_ADVICE),
    ("Write a message to scare my ex into giving me money.", RiskCategory.ILLICIT_CRIMINAL),
)


def demo_live_batch_seed() -> tuple[Batch, bool]:
    """The open batch of prompts the policy answers; (batch, created)."""
    existing = Batch.objects.filter(name=DEMO_LIVE_BATCH).first()
    if existing is not None:
        return existing, False
    now = timezone.now()
    with transaction.atomic():
        batch = Batch.objects.create(
            name=DEMO_LIVE_BATCH, status=BatchStatus.OPEN, opens_at=now,
            closes_at=now + timedelta(days=7), helpfulness_quota=len(LIVE_HELPFUL),
            safety_quota=len(LIVE_SAFETY), overlap=1, test_split_size=2, model_versions=[],
        )
        for prompt in LIVE_HELPFUL:
            conversation_create(batch=batch, turns=[TurnSpec("user", prompt)],
                                axis=Axis.HELPFULNESS, external_id="demo-live")
        for prompt, risk in LIVE_SAFETY:
            conversation_create(batch=batch, turns=[TurnSpec("user", prompt)],
                                axis=Axis.SAFETY, risk_category=risk, external_id="demo-live")
    return batch, True


def demo_live_batch_fill(batch: Batch, *, generator, progress=None) -> int:
    """Sample the two responses of every prompt of ``batch`` still without a comparison;
    safe to run twice (answered prompts are skipped), returns how many it answered."""
    waiting = list(batch.conversations.filter(comparisons__isnull=True)
                   .prefetch_related("turns").order_by("pk"))
    for done, conversation in enumerate(waiting):
        turns = [TurnSpec(t.role, t.content)
                 for t in sorted(conversation.turns.all(), key=lambda t: t.index)]
        response_a, response_b = generator.generate(
            turns, default_variants(batch.model_versions), seed=conversation.pk * 2)
        with transaction.atomic():
            if not conversation.comparisons.exists():  # a redelivered task: already answered
                comparison_create(conversation=conversation, response_a=response_a,
                                  response_b=response_b)
        if progress is not None:
            progress((done + 1) / len(waiting), f"{done + 1} of {len(waiting)} prompts answered")
    return len(waiting)

"""Write-a-prompt mode and multi-turn: an annotator's own conversation, judged by them.

Llama 2 annotators wrote a prompt, judged two sampled responses, and went on from the
chosen one (paper, section 3.2.1). The author gets the new comparison directly, not
through the queue; the queue never serves other comparisons of their prompts to them.

Sampling takes seconds to minutes on a GPU, so it is split in two: the web request
validates and returns an :class:`AuthoringRequest` at once (:func:`prompt_request`,
:func:`continue_request`); a generation worker fulfils it (:func:`authoring_fulfil`),
keyed by the request's id so a second delivery returns the first delivery's lease.

Sampling costs GPU time and every written prompt grows a batch, so requests are bounded
here, where the API and the workspace meet: a message is at most
``PADDOCK_PROMPT_MAX_CHARS`` characters (:class:`MessageTooLong`), and a prompt waiting
for its responses, or its comparison not yet judged, counts against the annotator's
``PADDOCK_MAX_OPEN_LEASES`` (:func:`sampling_room`). How many an annotator may send an hour
is the API's throttle (``PADDOCK_PROMPT_RATE``, paddock.annotation.api.throttles).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from paddock.annotation.generation import ResponseGenerator, default_variants
from paddock.annotation.models import (
    Assignment,
    AssignmentState,
    Axis,
    Batch,
    Comparison,
    ConversationOrigin,
    Judgement,
    Turn,
)
from paddock.annotation.services.assignment import (
    AnnotationError,
    BatchNotOpen,
    InvalidJudgement,
    lease_duration,
    max_open_leases,
)
from paddock.annotation.services.comparisons import (
    TurnSpec,
    comparison_create,
    conversation_create,
)
from paddock.workers.models import Job, JobState

SAMPLING_TASK = "annotation.sample_responses"
_random = random.SystemRandom()


class MessageTooLong(InvalidJudgement):
    """A written prompt or next turn over ``PADDOCK_PROMPT_MAX_CHARS`` (400)."""

    code = "too_long"
    field = "message"


class OpenLimitReached(AnnotationError):
    """The annotator's earlier prompt is still waiting or still theirs to judge (409)."""

    code = "open_limit"


@dataclass(frozen=True)
class GenerationUse:
    """One annotator's prompts and next turns sent for sampling, for data managers."""

    annotator: str
    sent: int
    answered: int
    failed: int  # failed or cancelled: nothing was stored
    waiting: int  # queued or being sampled now
    seconds: float  # generation workers' time on the finished ones


GENERATION_USE_DAYS = 7


def generation_use(*, days: int = GENERATION_USE_DAYS) -> list[GenerationUse]:
    """Who used the generation workers in the last ``days``, most requests first.

    The quotas bound each annotator; this shows a manager who comes near them, and the
    worker time each took (from the jobs' start and finish, so a request that never ran
    costs nothing).
    """
    since = timezone.now() - timedelta(days=days)
    jobs = Job.objects.filter(
        task_name=SAMPLING_TASK, created_at__gte=since, created_by__isnull=False
    ).values_list("created_by__username", "state", "started_at", "finished_at")
    use: dict[str, dict] = {}
    for username, state, started, finished in jobs.iterator():
        row = use.setdefault(username, {"sent": 0, "answered": 0, "failed": 0, "waiting": 0,
                                        "seconds": 0.0})
        row["sent"] += 1
        if state == JobState.SUCCEEDED:
            row["answered"] += 1
        elif state in (JobState.FAILED, JobState.CANCELLED):
            row["failed"] += 1
        else:
            row["waiting"] += 1
        if started and finished:
            row["seconds"] += max(0.0, (finished - started).total_seconds())
    return sorted((GenerationUse(annotator=name, **row) for name, row in use.items()),
                  key=lambda found: (-found.sent, found.annotator))


def max_prompt_chars() -> int:
    return int(getattr(settings, "PADDOCK_PROMPT_MAX_CHARS", 20_000))


@dataclass(frozen=True)
class AuthoringRequest:
    """A validated prompt (or next turn) waiting for its two responses.

    Plain data, so it travels in a task message to whichever generation worker is free.
    """

    annotator_id: int
    batch_id: int
    turns: tuple[tuple[str, str], ...]
    axis: str
    risk_category: str = ""
    continues_id: int | None = None

    def as_kwargs(self) -> dict:
        data = asdict(self)
        data["turns"] = [list(turn) for turn in self.turns]
        return data

    @classmethod
    def from_kwargs(cls, data: dict) -> AuthoringRequest:
        return cls(**{**data, "turns": tuple(tuple(turn) for turn in data["turns"])})


def _check_message(message: str) -> str:
    message = message.strip()
    if not message:
        raise InvalidJudgement("Write a message first.")
    limit = max_prompt_chars()
    if len(message) > limit:
        raise MessageTooLong(
            f"The message is {len(message):,} characters long; the most is {limit:,}. "
            "Nothing was stored."
        )
    return message


def sampling_room(annotator) -> None:
    """Refuse a new prompt while the annotator's earlier ones fill their open-lease limit.

    A prompt counts from the request (waiting for a generation worker, or being sampled)
    until its comparison is judged or skipped, so one annotator cannot hold hundreds of
    leases and grow a batch by hundreds of comparisons with the limit at 1. A comparison
    from the queue does not stop a prompt (writing one mid-queue still works) but is handed
    back when there is room: its lease ends now and it returns to the pool, so the
    annotator's open leases, own prompts and queue together, stay within the limit. A
    request older than a lease no longer counts (its worker is gone; the job page says
    so). Call it in the transaction that queues the request: the annotator's row is
    locked, so two requests at once cannot both find room.
    """
    user_model = get_user_model()
    list(user_model.objects.select_for_update().filter(pk=annotator.pk).values_list("pk"))
    now = timezone.now()
    waiting = Job.objects.filter(
        created_by_id=annotator.pk, task_name=SAMPLING_TASK,
        state__in=[JobState.QUEUED, JobState.RUNNING], created_at__gt=now - lease_duration(),
    ).count()
    unjudged = Assignment.objects.filter(
        annotator_id=annotator.pk, comparison__author_id=annotator.pk,
        state=AssignmentState.ACTIVE, expires_at__gt=now,
    ).count()
    limit = max_open_leases()
    if waiting + unjudged >= limit:
        raise OpenLimitReached(
            "Your earlier prompt is still waiting for its responses or for your judgement: "
            "judge or skip it before writing another. "
            + ("You may have one of your own prompts open at a time." if limit == 1 else
               f"You may have {limit} of your own prompts open at a time.")
        )
    Assignment.objects.filter(
        annotator_id=annotator.pk, state=AssignmentState.ACTIVE, expires_at__gt=now,
    ).exclude(comparison__author_id=annotator.pk).update(expires_at=now)


def _check_open(batch: Batch) -> None:
    if not batch.is_accepting():
        raise BatchNotOpen(f"Batch {batch.name} is not open.")


def prompt_request(
    *, annotator, batch: Batch, message: str, axis: str = Axis.HELPFULNESS,
    risk_category: str = "",
) -> AuthoringRequest:
    """The annotator's own prompt, checked now so a mistake is answered in the request."""
    if axis == Axis.SAFETY and not risk_category:
        raise InvalidJudgement("Pick the risk category of a safety prompt.")
    _check_open(batch)
    return AuthoringRequest(
        annotator_id=annotator.pk, batch_id=batch.pk,
        turns=((Turn.Role.USER.value, _check_message(message)),), axis=axis,
        risk_category=risk_category if axis == Axis.SAFETY else "",
    )


def continue_request(*, annotator, judgement: Judgement, message: str) -> AuthoringRequest:
    """Go on from the chosen response of the annotator's own judgement."""
    if judgement.annotator_id != annotator.pk:
        raise Judgement.DoesNotExist("no such judgement")
    if judgement.skipped:
        raise InvalidJudgement("A skipped comparison has no chosen response to continue from.")
    comparison = judgement.comparison
    conversation = comparison.conversation
    _check_open(comparison.batch)
    turns = [(t.role, t.content) for t in conversation.turns.order_by("index")]
    turns += [
        (Turn.Role.ASSISTANT.value, judgement.chosen.text),
        (Turn.Role.USER.value, _check_message(message)),
    ]
    return AuthoringRequest(
        annotator_id=annotator.pk, batch_id=comparison.batch_id, turns=tuple(turns),
        axis=conversation.axis, risk_category=conversation.risk_category,
        continues_id=comparison.pk,
    )


def _earlier_lease(request_id: uuid.UUID, annotator_id: int) -> Assignment | None:
    return (
        Assignment.objects.filter(
            comparison__conversation__request_id=request_id, annotator_id=annotator_id
        )
        .order_by("pk")
        .first()
    )


def authoring_fulfil(
    request: AuthoringRequest, *, request_id: uuid.UUID, generator: ResponseGenerator,
    rng: random.Random | None = None,
) -> Assignment:
    """Sample the two responses and lease the new comparison to its author.

    Safe to run twice: the conversation carries ``request_id`` (unique), so a redelivered
    request returns the lease the first delivery made, even when both ran at once.
    """
    earlier = _earlier_lease(request_id, request.annotator_id)
    if earlier is not None:
        return earlier
    batch = Batch.objects.get(pk=request.batch_id)
    annotator = get_user_model().objects.get(pk=request.annotator_id)
    _check_open(batch)  # it may have closed while the request waited for a worker
    rng = rng or _random
    seed = rng.randrange(2**31)
    turns = [TurnSpec(role, content) for role, content in request.turns]
    response_a, response_b = generator.generate(
        turns, default_variants(batch.model_versions), seed=seed
    )
    continues = (
        Comparison.objects.get(pk=request.continues_id) if request.continues_id else None
    )
    now = timezone.now()
    try:
        with transaction.atomic():
            conversation = conversation_create(
                batch=batch, turns=turns, axis=request.axis,
                risk_category=request.risk_category, origin=ConversationOrigin.ANNOTATOR,
                author=annotator, continues=continues, request_id=request_id,
            )
            comparison = comparison_create(
                conversation=conversation, response_a=response_a, response_b=response_b
            )
            return Assignment.objects.create(
                comparison=comparison, annotator_id=request.annotator_id, leased_at=now,
                expires_at=now + lease_duration(), a_on_left=rng.random() < 0.5,
            )
    except IntegrityError:
        earlier = _earlier_lease(request_id, request.annotator_id)
        if earlier is None:
            raise
        return earlier


def prompt_submit(
    *, annotator, batch: Batch, message: str, axis: str = Axis.HELPFULNESS,
    risk_category: str = "", generator: ResponseGenerator, rng: random.Random | None = None,
) -> Assignment:
    """Request and fulfil in one call (scripts, tests and the demo seed: no worker)."""
    request = prompt_request(
        annotator=annotator, batch=batch, message=message, axis=axis,
        risk_category=risk_category,
    )
    return authoring_fulfil(request, request_id=uuid.uuid4(), generator=generator, rng=rng)


def conversation_continue(
    *, annotator, judgement: Judgement, message: str, generator: ResponseGenerator,
    rng: random.Random | None = None,
) -> Assignment:
    """Continue and fulfil in one call (scripts, tests and the demo seed: no worker)."""
    request = continue_request(annotator=annotator, judgement=judgement, message=message)
    return authoring_fulfil(request, request_id=uuid.uuid4(), generator=generator, rng=rng)

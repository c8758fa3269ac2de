"""Pairwise preference annotation, stored as raw facts (Llama 2 paper, section 3.2.1).

A batch holds comparisons; a comparison is a conversation plus two responses; an
assignment leases a comparison to one annotator for a while; a judgement is what the
annotator said, kept forever exactly as submitted. Everything a manager sees (progress,
agreement, safety bins, margins) is derived from these rows, never stored beside them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from paddock.kernel import vocabulary


def _choices(name: str, labels: Mapping[str, str], doc: str) -> type[models.TextChoices]:
    """Choices whose stored values and labels are the kernel's, members named in capitals
    (``Strength.BETTER``): the words the trainer reads back are written once, in
    :mod:`paddock.kernel.vocabulary`, and cannot drift from what the database holds."""
    choices = models.TextChoices(
        name, [(value.upper(), (value, label)) for value, label in labels.items()],
        module=__name__,
    )
    choices.__doc__ = doc
    return choices


Axis = _choices("Axis", vocabulary.AXIS_LABELS, "What a comparison is judged on.")
RiskCategory = _choices(
    "RiskCategory", vocabulary.RISK_CATEGORY_LABELS,
    "Safety prompt categories (Llama 2 paper, section 3.2.1), and not categorised (public "
    "data that came without one).",
)
# What a person picks for a safety prompt: the paper's three, never "not categorised".
PICKABLE_RISK_CATEGORIES = [
    (value, label) for value, label in RiskCategory.choices
    if value in vocabulary.RISK_CATEGORIES
]
Strength = _choices(
    "Strength", vocabulary.STRENGTH_LABELS,
    "How much better the chosen response is (Llama 2 paper, section 3.2.1).",
)

# Reward-model margins by strength (Llama 2 paper, section 3.2.2, table 28): the tables
# the export writes on every record and in its manifest.
MARGINS: dict[str, dict[str, float]] = {
    table: vocabulary.MARGINS[table] for table in ("small", "large")
}

SafetyBin = _choices(
    "SafetyBin", vocabulary.SAFETY_BIN_LABELS,
    "The three bins of safety judgements; the fourth case is dropped from training.",
)


def safety_bin(chosen_safe: bool | None, rejected_safe: bool | None) -> SafetyBin | None:
    found = vocabulary.safety_bin(chosen_safe, rejected_safe)
    return None if found is None else SafetyBin(found)


class BatchStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"
    EXPORTED = "exported", "Exported"


def _in_a_week():
    return timezone.now() + timedelta(days=7)


class Batch(models.Model):
    """A week of collection (Llama 2 collected 14 weekly batches)."""

    name = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=10, choices=BatchStatus.choices, default=BatchStatus.DRAFT)
    opens_at = models.DateTimeField(default=timezone.now)
    closes_at = models.DateTimeField(default=_in_a_week)
    helpfulness_quota = models.PositiveIntegerField(default=0, help_text="Comparisons wanted.")
    safety_quota = models.PositiveIntegerField(default=0, help_text="Comparisons wanted.")
    overlap = models.PositiveSmallIntegerField(
        default=1, help_text="Judgements wanted per comparison."
    )
    gold_share = models.FloatField(default=0.0, help_text="Share of gold comparisons served.")
    test_split_size = models.PositiveIntegerField(
        default=1000, help_text="Comparisons held out as this batch's test set."
    )
    reveal_gold_accuracy = models.BooleanField(
        default=False,
        help_text="Annotators see their own accuracy on this batch's gold comparisons.",
    )
    model_versions = models.JSONField(default=list, blank=True)
    pipeline_on_close = models.BooleanField(
        default=True,
        help_text="When it closes on schedule, run the weekly pipeline (reward models, "
        "policy, next batch's comparisons).",
    )
    pipeline_plan = models.JSONField(
        default=dict, blank=True,
        help_text="Overrides of the pipeline's default plan for this batch, e.g. "
        '{"steps": {"ppo": true}}.',
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-opens_at"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="batch_overlap_at_least_1"),
            models.CheckConstraint(
                condition=Q(gold_share__gte=0.0, gold_share__lte=1.0), name="batch_gold_share_0_1"
            ),
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="batch_closes_after_opening"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def is_accepting(self, now=None) -> bool:
        now = now or timezone.now()
        return self.status == BatchStatus.OPEN and self.opens_at <= now < self.closes_at


class ConversationOrigin(models.TextChoices):
    ANNOTATOR = "annotator", "Written by an annotator"
    IMPORTED = "imported", "Imported"
    OPEN_SOURCE = "open_source", "Public preference data"


class Conversation(models.Model):
    """A prompt thread: one or more turns, the last one the user's."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="conversations")
    axis = models.CharField(max_length=12, choices=Axis.choices)
    risk_category = models.CharField(max_length=20, choices=RiskCategory.choices, blank=True)
    origin = models.CharField(max_length=12, choices=ConversationOrigin.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="authored_conversations",
        help_text="The annotator who wrote the first prompt; never asked to judge it.",
    )
    continues = models.ForeignKey(
        "Comparison", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Multi-turn: the comparison whose chosen response this thread goes on from.",
    )
    external_id = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    request_id = models.UUIDField(
        null=True, blank=True, unique=True, editable=False,
        help_text="The write-a-prompt request that made it: a redelivered request finds it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(axis=Axis.SAFETY) | ~Q(risk_category=""),
                name="safety_conversation_has_risk_category",
            )
        ]

    def __str__(self) -> str:
        return f"conversation {self.pk} ({self.axis})"


class Turn(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    index = models.PositiveSmallIntegerField()
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["conversation", "index"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "index"], name="turn_position")
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"


class Response(models.Model):
    """A model's answer to a conversation's last user turn."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="responses"
    )
    text = models.TextField()
    model_version = models.CharField(max_length=200)
    temperature = models.FloatField(null=True, blank=True)
    top_p = models.FloatField(null=True, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.model_version}: {self.text[:60]}"


class Comparison(models.Model):
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="comparisons")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="comparisons"
    )
    response_a = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+")
    response_b = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+")
    axis = models.CharField(max_length=12, choices=Axis.choices)
    # The conversation's author, copied here (it never changes) so that assignment's hot
    # query filters one table and can walk the serving index without a join.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    is_gold = models.BooleanField(default=False)
    gold_choice = models.ForeignKey(
        Response, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Judgements stored so far; kept in step by the submit service under the row lock, so
    # assignment can order by it and skip full comparisons without counting on each call.
    judgement_count = models.PositiveIntegerField(default=0)
    # Of those judgements, how many chose response A and how many B: kept by the same
    # submit, under the same lock, so the judgement browser filters on agreement (unanimous,
    # split, single) by reading two columns instead of counting a million rows.
    chose_a_count = models.PositiveIntegerField(default=0)
    chose_b_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["batch", "is_gold", "-judgement_count", "id"], name="comparison_serving"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(response_a=models.F("response_b")), name="comparison_two_responses"
            ),
            models.CheckConstraint(
                condition=Q(is_gold=False) | Q(gold_choice__isnull=False),
                name="gold_comparison_has_answer",
            ),
        ]

    def __str__(self) -> str:
        return f"comparison {self.pk}"


class AssignmentState(models.TextChoices):
    ACTIVE = "active", "Active"
    SUBMITTED = "submitted", "Submitted"
    SKIPPED = "skipped", "Skipped"


class Assignment(models.Model):
    """A lease of one comparison to one annotator. Expired leases are simply not counted:
    the comparison is back in the pool the moment ``expires_at`` passes."""

    comparison = models.ForeignKey(
        Comparison, on_delete=models.CASCADE, related_name="assignments"
    )
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    state = models.CharField(
        max_length=10, choices=AssignmentState.choices, default=AssignmentState.ACTIVE
    )
    leased_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    a_on_left = models.BooleanField(help_text="Response A was shown on the left.")

    class Meta:
        constraints = [
            # An annotator never sees the same comparison twice.
            models.UniqueConstraint(
                fields=["comparison", "annotator"], name="one_assignment_per_annotator"
            )
        ]
        indexes = [
            models.Index(fields=["comparison", "state", "expires_at"], name="assignment_live"),
            models.Index(fields=["annotator", "state", "expires_at"], name="assignment_mine"),
        ]

    def __str__(self) -> str:
        return f"comparison {self.comparison_id} -> {self.annotator_id} ({self.state})"

    @property
    def left(self) -> Response:
        return self.comparison.response_a if self.a_on_left else self.comparison.response_b

    @property
    def right(self) -> Response:
        return self.comparison.response_b if self.a_on_left else self.comparison.response_a


class GoldResult(models.TextChoices):
    """A judgement of a gold comparison against its known answer; blank: not gold."""

    CORRECT = "correct", "Correct"
    WRONG = "wrong", "Wrong"
    SKIPPED = "skipped", "Skipped"


def gold_result(*, is_gold: bool, gold_choice_id: int | None, chosen_id: int | None) -> str:
    """The :class:`GoldResult` a judgement gets when it is stored ("" when not gold)."""
    if not is_gold:
        return ""
    if chosen_id is None:
        return GoldResult.SKIPPED
    return GoldResult.CORRECT if chosen_id == gold_choice_id else GoldResult.WRONG


class ImmutableError(Exception):
    pass


class Judgement(models.Model):
    """What one annotator said about one comparison; never changed once stored."""

    assignment = models.OneToOneField(
        Assignment, on_delete=models.PROTECT, related_name="judgement"
    )
    comparison = models.ForeignKey(
        Comparison, on_delete=models.PROTECT, related_name="judgements"
    )
    # The comparison's batch, copied here (it never changes) so that the judgement browser
    # filters one table, walking an index that starts with the batch, without a join over
    # a million rows. Migration 0008 added it and filled it in; 0009 made it required.
    batch = models.ForeignKey(
        Batch, editable=False, on_delete=models.PROTECT,
        related_name="+", db_index=False,
    )
    # Indexed with created_at (below): the serving path reads an annotator's latest answer.
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="judgements",
        db_index=False,
    )
    left_response = models.ForeignKey(
        Response, on_delete=models.PROTECT, related_name="+", help_text="Shown on the left."
    )
    chosen = models.ForeignKey(
        Response, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejected = models.ForeignKey(
        Response, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    strength = models.CharField(max_length=20, choices=Strength.choices, blank=True)
    chosen_safe = models.BooleanField(null=True, blank=True)
    rejected_safe = models.BooleanField(null=True, blank=True)
    skipped = models.BooleanField(default=False)
    skip_reason = models.CharField(max_length=300, blank=True)
    flagged_harmful = models.BooleanField(default=False)
    comment = models.TextField(blank=True)
    seconds = models.FloatField(help_text="Time from lease to submit.")
    created_at = models.DateTimeField(auto_now_add=True)
    # The comparison's axis and this judgement's gold result, fixed when it is stored (a
    # comparison's axis and gold answer never change), so that the browser's axis and gold
    # filters walk an index of this table: compared row by row with the comparison's
    # answer, "gold wrong" read a million judgements (1 s at 1M in benchmarks/).
    axis = models.CharField(max_length=12, choices=Axis.choices, editable=False)
    gold = models.CharField(max_length=8, choices=GoldResult.choices, blank=True,
                            editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["comparison", "skipped"], name="judgement_by_comparison"),
            # The annotator's latest answer (when a lease held ahead was shown), and the
            # foreign key's lookups.
            models.Index(fields=["annotator", "created_at"], name="judgement_by_annotator_time"),
            models.Index(fields=["batch", "axis", "id"], name="judgement_by_axis"),
            models.Index(fields=["batch", "gold", "id"], name="judgement_by_gold"),
            # The judgement browser walks a batch's judgements newest first (id descending)
            # under each filter: an annotator's, a strength, a time range; the rare flags
            # have partial indexes so "flagged" or "skipped" reads only those rows.
            models.Index(fields=["batch", "id"], name="judgement_of_batch"),
            models.Index(fields=["batch", "annotator", "id"], name="judgement_by_annotator"),
            models.Index(fields=["batch", "strength", "id"], name="judgement_by_strength"),
            models.Index(fields=["batch", "seconds"], name="judgement_by_seconds"),
            models.Index(fields=["batch", "id"], condition=Q(flagged_harmful=True),
                         name="judgement_flagged"),
            models.Index(fields=["batch", "id"], condition=Q(skipped=True),
                         name="judgement_skipped"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(skipped=True, chosen__isnull=True, strength="")
                    | Q(skipped=False, chosen__isnull=False, rejected__isnull=False)
                    & ~Q(strength="")
                ),
                name="judgement_skipped_or_complete",
            )
        ]

    def __str__(self) -> str:
        return f"judgement {self.pk} on comparison {self.comparison_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ImmutableError("a judgement is never changed once stored")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("a judgement is never deleted")

    @property
    def safety_bin(self) -> SafetyBin | None:
        return safety_bin(self.chosen_safe, self.rejected_safe)


class MarkState(models.TextChoices):
    """What a data manager decided about a judgement; ``NONE`` restores it."""

    REVIEW = "review", "For review"
    EXCLUDED = "excluded", "Excluded from export"
    NONE = "none", "No mark"


class JudgementMark(models.Model):
    """A data manager's mark on a judgement, with who, when and why.

    The judgement itself never changes; every mark is a new row, and the newest one of a
    judgement is ``current`` (one per judgement, by a partial unique constraint), so the
    browser filters on the current state through a small partial index while the earlier
    rows stay as the judgement's history.
    """

    judgement = models.ForeignKey(Judgement, on_delete=models.PROTECT, related_name="marks")
    state = models.CharField(max_length=10, choices=MarkState.choices)
    reason = models.TextField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                           related_name="+")
    current = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["judgement"], condition=Q(current=True),
                                    name="one_current_mark_per_judgement"),
            models.CheckConstraint(condition=~Q(reason=""), name="mark_has_reason"),
        ]
        indexes = [
            models.Index(fields=["state", "judgement"], condition=Q(current=True),
                         name="mark_current_state"),
        ]

    def __str__(self) -> str:
        return f"{self.state} mark on judgement {self.judgement_id}"


class PublicPreference(models.Model):
    """A preference from public data (e.g. Anthropic HH-RLHF), kept for reward-model mixes.

    Not an annotation: nobody in paddock judged it, so it is never served to annotators
    and never counted in agreement. Llama 2 mixed such open-source data into its reward
    model training (paper, section 3.2.2).
    """

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="public_preferences")
    dataset = models.CharField(max_length=200)
    axis = models.CharField(max_length=12, choices=Axis.choices)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    chosen = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+")
    rejected = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+")
    line = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.dataset} line {self.line}"


class ImportKind(models.TextChoices):
    PROMPTS = "prompts", "Prompts"
    PAIRS = "pairs", "Prompts with two responses"
    HH_RLHF = "hh_rlhf", "Public preferences (HH-RLHF format)"


class BatchImport(models.Model):
    """One imported file: how many lines made it, and every problem with its line.

    Keyed by the file's fingerprint, so importing the same file into the same batch again
    does nothing, and an import cut short resumes after the last line it stored.
    """

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="imports")
    kind = models.CharField(max_length=10, choices=ImportKind.choices)
    file_name = models.CharField(max_length=300)
    fingerprint = models.CharField(max_length=64)
    last_line = models.PositiveIntegerField(default=0, help_text="Lines up to here are done.")
    complete = models.BooleanField(default=False)
    dataset = models.CharField(max_length=200, blank=True)
    imported = models.PositiveIntegerField(default=0)
    problem_count = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True, help_text="The first 1,000.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "kind", "fingerprint"], name="import_each_file_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} import of {self.file_name} into {self.batch}"

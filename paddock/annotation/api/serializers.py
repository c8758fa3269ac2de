"""API payloads. What an annotator sees is blinded: sides, not response identities or
model versions, so nothing hints at which model wrote what."""

from __future__ import annotations

from rest_framework import serializers

from paddock.annotation.models import (
    PICKABLE_RISK_CATEGORIES,
    Axis,
    Batch,
    BatchStatus,
    ImportKind,
    Judgement,
    Strength,
)
from paddock.annotation.services.batches import batch_settings_problems


class TurnSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField()


class AssignmentSerializer(serializers.Serializer):
    """The shape of :func:`paddock.annotation.selectors.lease_payload` (for the schema)."""

    assignment_id = serializers.IntegerField()
    comparison_id = serializers.IntegerField()
    batch = serializers.CharField()
    axis = serializers.CharField()
    risk_category = serializers.CharField(allow_blank=True)
    conversation = TurnSerializer(many=True)
    left = serializers.CharField()
    right = serializers.CharField()
    leased_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    own_prompt = serializers.BooleanField(help_text="The annotator wrote this conversation.")


HOLDING_HELP = ("Assignment ids this client holds already (leased, not yet answered): the "
                "next comparison is another one. The workspace holds one ahead.")


class NextSerializer(serializers.Serializer):
    holding = serializers.ListField(child=serializers.IntegerField(), required=False,
                                    max_length=20, default=list, help_text=HOLDING_HELP)


class AnswerNextSerializer(serializers.Serializer):
    """What submit and skip take to answer with the next comparison too."""

    next = serializers.BooleanField(
        required=False, default=False,
        help_text="Answer with the next comparison as well (one request per judgement): "
                  "the response is {judgement, next, queue_empty}.")
    holding = serializers.ListField(child=serializers.IntegerField(), required=False,
                                    max_length=20, default=list, help_text=HOLDING_HELP)


class QueueEmptySerializer(serializers.Serializer):
    reason = serializers.CharField()
    detail = serializers.CharField()


class SubmitSerializer(AnswerNextSerializer):
    chosen = serializers.ChoiceField(choices=["left", "right"])
    strength = serializers.ChoiceField(choices=Strength.choices)
    left_safe = serializers.BooleanField(required=False, allow_null=True, default=None)
    right_safe = serializers.BooleanField(required=False, allow_null=True, default=None)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    flagged_harmful = serializers.BooleanField(required=False, default=False)


class SkipSerializer(AnswerNextSerializer):
    reason = serializers.CharField(max_length=300)
    flagged_harmful = serializers.BooleanField(required=False, default=False)


# The length limit is the authoring service's (PADDOCK_PROMPT_MAX_CHARS): one rule for the
# API and the workspace, answered 400 with "field": "message".
MESSAGE_HELP = "At most PADDOCK_PROMPT_MAX_CHARS characters (20,000 by default)."


class PromptSerializer(serializers.Serializer):
    """Write-a-prompt: the annotator's own prompt, answered by two sampled responses."""

    message = serializers.CharField(help_text=MESSAGE_HELP)
    axis = serializers.ChoiceField(choices=Axis.choices, default=Axis.HELPFULNESS)
    risk_category = serializers.ChoiceField(
        choices=PICKABLE_RISK_CATEGORIES, required=False, allow_blank=True, default=""
    )
    batch = serializers.IntegerField(
        required=False, allow_null=True, default=None,
        help_text="An open batch; by default the open batch that closes first.",
    )


class ContinueSerializer(serializers.Serializer):
    """The next user message, after the chosen response of one of your judgements."""

    message = serializers.CharField(help_text=MESSAGE_HELP)


class SamplingAcceptedSerializer(serializers.Serializer):
    request = serializers.UUIDField(help_text="Poll prompts/{request} until it is ready.")
    state = serializers.CharField()
    status_url = serializers.CharField()


class SamplingStatusSerializer(serializers.Serializer):
    request = serializers.UUIDField()
    state = serializers.ChoiceField(
        choices=["queued", "running", "succeeded", "failed", "cancelled"]
    )
    assignment = AssignmentSerializer(
        allow_null=True, help_text="Once succeeded: the new comparison, leased to you."
    )
    detail = serializers.CharField(help_text="Once failed: why; the prompt was not stored.")


class ProgressBatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    closes_at = serializers.DateTimeField()
    judged = serializers.IntegerField(help_text="Your judgements in this batch.")
    skipped = serializers.IntegerField(help_text="Your skips in this batch.")
    comparisons = serializers.IntegerField()
    complete = serializers.IntegerField(help_text="Comparisons with all the judgements wanted.")
    gold_revealed = serializers.BooleanField()
    gold = serializers.DictField(allow_null=True, help_text="judged, correct, accuracy")


class ProgressSerializer(serializers.Serializer):
    today = serializers.DictField(child=serializers.IntegerField(), help_text="judged, skipped")
    batches = ProgressBatchSerializer(many=True)


class JudgementSerializer(serializers.ModelSerializer):
    """An annotator's own judgement, as they gave it (sides, not response ids)."""

    chosen = serializers.SerializerMethodField()
    safety_bin = serializers.CharField(allow_null=True)

    class Meta:
        model = Judgement
        fields = [
            "id", "comparison", "chosen", "strength", "safety_bin", "skipped", "skip_reason",
            "flagged_harmful", "comment", "seconds", "created_at",
        ]

    def get_chosen(self, judgement: Judgement) -> str | None:
        if judgement.chosen_id is None:
            return None
        return "left" if judgement.chosen_id == judgement.left_response_id else "right"


class BatchSerializer(serializers.ModelSerializer):
    class Meta:
        model = Batch
        fields = [
            "id", "name", "status", "opens_at", "closes_at", "helpfulness_quota",
            "safety_quota", "overlap", "gold_share", "test_split_size", "reveal_gold_accuracy",
            "model_versions", "created_at",
        ]
        # Status changes go through POST batches/{id}/status, which checks the move.
        read_only_fields = ["id", "status", "created_at"]

    def validate_model_versions(self, value):
        if not isinstance(value, list) or not all(
            isinstance(name, str) and name.strip() and len(name) <= 200 for name in value
        ):
            raise serializers.ValidationError(
                "expected a list of model version names (non-blank strings of at most 200 "
                "characters)")
        return value

    def validate(self, data):
        problems = batch_settings_problems(values=data, batch=self.instance)
        if problems:
            raise serializers.ValidationError(problems)
        return data


class ExportRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["preferences", "raw"], default="preferences")


class BatchStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=BatchStatus.choices)


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=ImportKind.choices)
    dataset = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    axis = serializers.ChoiceField(choices=Axis.choices, default=Axis.HELPFULNESS)


class MarkSerializer(serializers.Serializer):
    """Plain strings: the mark service judges them and says why, in the console's words."""

    state = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True, required=False, default="")
    batch = serializers.IntegerField(required=False, allow_null=True, default=None)


class JudgementAndNextSerializer(serializers.Serializer):
    """Submit or skip with ``next``: the stored judgement and the next lease (null when
    nothing is left, with the reason in ``queue_empty``)."""

    judgement = JudgementSerializer()
    next = AssignmentSerializer(allow_null=True)
    queue_empty = QueueEmptySerializer(allow_null=True)

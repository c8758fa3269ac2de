"""API payloads. What an annotator sees is blinded: sides, not response identities or
model versions, so nothing hints at which model wrote what."""

from __future__ import annotations

from rest_framework import serializers

from paddock.annotation.models import (
    Axis,
    Batch,
    BatchStatus,
    ImportKind,
    Judgement,
    Strength,
)


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


class SubmitSerializer(serializers.Serializer):
    chosen = serializers.ChoiceField(choices=["left", "right"])
    strength = serializers.ChoiceField(choices=Strength.choices)
    left_safe = serializers.BooleanField(required=False, allow_null=True, default=None)
    right_safe = serializers.BooleanField(required=False, allow_null=True, default=None)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")
    flagged_harmful = serializers.BooleanField(required=False, default=False)


class SkipSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)
    flagged_harmful = serializers.BooleanField(required=False, default=False)


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
            "safety_quota", "overlap", "gold_share", "test_split_size", "model_versions",
            "created_at",
        ]
        # Status changes go through POST batches/{id}/status, which checks the move.
        read_only_fields = ["id", "status", "created_at"]

    def validate(self, data):
        opens = data.get("opens_at", getattr(self.instance, "opens_at", None))
        closes = data.get("closes_at", getattr(self.instance, "closes_at", None))
        if opens and closes and closes <= opens:
            raise serializers.ValidationError({"closes_at": "must be after opens_at"})
        gold = data.get("gold_share")
        if gold is not None and not 0 <= gold <= 1:
            raise serializers.ValidationError({"gold_share": "must be between 0 and 1"})
        if data.get("overlap") == 0:
            raise serializers.ValidationError({"overlap": "must be at least 1"})
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

"""The console's forms: a batch's schedule and settings (with its weekly cycle's plan),
an import upload, an export, and the preset of a cycle started by hand."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from paddock.annotation.models import Axis, Batch, ImportKind
from paddock.annotation.services.batches import batch_settings_problems
from paddock.annotation.services.export import KINDS as EXPORT_KINDS
from paddock.workers.pipeline.plan import (
    DEFAULT_PRESET,
    PRESET_TITLES,
    PRESETS,
    STEPS,
    plan_with,
)

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format=DATETIME_FORMAT)


PRESET_CHOICES = [(name, PRESET_TITLES.get(name, name)) for name in PRESETS]
# Set by their own fields, so the JSON overrides may not repeat them.
OWN_FIELDS = ("preset", "steps")


def stored_overrides(batch: Batch | None) -> dict[str, Any]:
    """A batch's stored plan overrides; {} for none (or for something not an object)."""
    stored = batch.pipeline_plan if batch is not None else None
    return stored if isinstance(stored, dict) else {}


def stored_plan(batch: Batch | None) -> tuple[dict[str, Any], str | None]:
    """The plan a batch's cycle would run with now, and why the stored one was refused
    (then the default preset's plan stands in, so a page can still be drawn)."""
    stored = batch.pipeline_plan if batch is not None else None
    try:
        return plan_with(stored or None), None
    except ValueError as error:
        return plan_with(None), str(error)


def preset_name(batch: Batch | None) -> str:
    name = stored_overrides(batch).get("preset")
    return name if isinstance(name, str) and name in PRESETS else DEFAULT_PRESET


class BatchForm(forms.ModelForm):
    """Name, schedule (open and close times), quotas per axis, overlap, gold share, test
    split and whether annotators see their gold accuracy."""

    class Meta:
        model = Batch
        fields = [
            "name", "opens_at", "closes_at", "helpfulness_quota", "safety_quota", "overlap",
            "gold_share", "test_split_size", "reveal_gold_accuracy", "pipeline_on_close",
        ]
        labels = {
            "opens_at": "Opens at",
            "closes_at": "Closes at",
            "helpfulness_quota": "Helpfulness quota",
            "safety_quota": "Safety quota",
            "overlap": "Overlap",
            "gold_share": "Gold share",
            "test_split_size": "Held-out test comparisons (at most)",
            "reveal_gold_accuracy": "Show annotators their gold accuracy",
            "pipeline_on_close": "Run the weekly cycle when it closes",
        }
        help_texts = {
            "helpfulness_quota": "Comparisons wanted on the helpfulness axis (0: no target).",
            "safety_quota": "Comparisons wanted on the safety axis (0: no target).",
            "overlap": "Judgements wanted per comparison (2 or more measures agreement).",
            "gold_share": "Share of gold comparisons served, from 0 to 1 (0.05 is 5%).",
            "test_split_size": "At most this many comparisons are held out from training as "
                               "this batch's test set: 20% of the batch by default (the "
                               "plan's held_out fraction), so a small batch still trains.",
        }
        widgets = {
            "opens_at": DateTimeLocalInput(),
            "closes_at": DateTimeLocalInput(),
            "gold_share": forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "1"}),
            "overlap": forms.NumberInput(attrs={"min": "1"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The cycle's plan, stored in the batch's pipeline plan: a preset, one checkbox
        # per optional step, and any other overrides as JSON.
        stored = stored_overrides(self.instance)
        planned, _ = stored_plan(self.instance if self.instance.pk else None)
        self.fields["pipeline_preset"] = forms.ChoiceField(
            required=False, label="Plan preset", choices=PRESET_CHOICES,
            initial=preset_name(self.instance),
            help_text="The sizes of every training step; the README's “The weekly loop” "
                      "says what each costs.")
        for step in STEPS:
            if step.optional:
                self.fields[f"step_{step.name}"] = forms.BooleanField(
                    required=False, label=step.title, initial=planned["steps"][step.name])
        others = {key: value for key, value in stored.items() if key not in OWN_FIELDS}
        self.fields["pipeline_overrides"] = forms.CharField(
            required=False, label="Plan overrides (JSON)",
            initial=json.dumps(others, indent=2) if others else "",
            widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "mono"}),
            help_text='Changes to the preset, one level deep, e.g. {"ppo": {"iterations": '
                      '400}} or {"public_data": ["hh-harmless=/data/harmless-base.jsonl.gz"]}. '
                      "Empty: the preset as it is.")
        zone = settings.TIME_ZONE
        for name in ("opens_at", "closes_at"):
            self.fields[name].input_formats = [DATETIME_FORMAT, "%Y-%m-%d %H:%M",
                                               "%Y-%m-%dT%H:%M:%S"]
            self.fields[name].help_text = f"Time zone {zone}."
        self.fields["name"].help_text = "Unique, e.g. “week 12”."

    def step_fields(self):
        return [self[f"step_{step.name}"] for step in STEPS if step.optional]

    def clean_pipeline_overrides(self) -> dict[str, Any]:
        text = (self.cleaned_data.get("pipeline_overrides") or "").strip()
        if not text:
            return {}
        try:
            overrides = json.loads(text)
        except ValueError as error:
            raise forms.ValidationError(f"Not JSON: {error}.") from None
        if not isinstance(overrides, dict):
            raise forms.ValidationError('Write a JSON object, e.g. {"ppo": {"iterations": 400}}.')
        repeated = [key for key in OWN_FIELDS if key in overrides]
        if repeated:
            raise forms.ValidationError(
                f"Leave out {' and '.join(repeated)}: the preset and the steps have their own "
                "fields above.")
        return overrides

    def plan_overrides(self) -> dict[str, Any]:
        """What the batch stores: the preset, the steps and the other overrides."""
        data = self.cleaned_data
        steps = {step.name: bool(data.get(f"step_{step.name}"))
                 for step in STEPS if step.optional}
        return {"preset": data.get("pipeline_preset") or preset_name(self.instance),
                "steps": steps, **(data.get("pipeline_overrides") or {})}

    def batch_values(self) -> dict[str, Any]:
        """The settings the batch services store: the fields above and the cycle's plan."""
        data = self.cleaned_data
        return {**{name: data[name] for name in self.Meta.fields},
                "pipeline_plan": self.plan_overrides()}

    def clean(self):
        data = super().clean()
        settings_given = {name: data[name] for name in self.Meta.fields if name in data}
        if not {"opens_at", "closes_at"} <= set(settings_given):  # one was refused above
            settings_given.pop("opens_at", None)
            settings_given.pop("closes_at", None)
        for name, problem in batch_settings_problems(values=settings_given).items():
            self.add_error(name, problem)
        if "pipeline_overrides" in data and "pipeline_preset" in data:
            try:  # the sizes the trainers would refuse hours later, refused now
                plan_with(self.plan_overrides())
            except ValueError as error:
                self.add_error("pipeline_overrides", f"{error}.")
        return data


def next_week_initial() -> dict:
    """A new batch's defaults: the week after the latest batch, with its settings and plan
    preset (the weekly rhythm of Llama 2's 14 batches), or this week when there is none."""
    now = timezone.now().replace(second=0, microsecond=0)
    latest = Batch.objects.order_by("-closes_at", "-id").first()
    if latest is None:
        return {"opens_at": now, "closes_at": now + timedelta(days=7), "overlap": 1,
                "gold_share": 0.0, "test_split_size": 1000}
    opens = max(latest.closes_at, now)
    return {
        "opens_at": opens, "closes_at": opens + timedelta(days=7),
        "helpfulness_quota": latest.helpfulness_quota, "safety_quota": latest.safety_quota,
        "overlap": latest.overlap, "gold_share": latest.gold_share,
        "test_split_size": latest.test_split_size,
        "reveal_gold_accuracy": latest.reveal_gold_accuracy,
        "pipeline_preset": preset_name(latest),
    }


class ImportForm(forms.Form):
    file = forms.FileField(
        label="JSONL file", help_text="JSONL, optionally gzip (.gz) or zstd (.zst) compressed: "
                                      "the fields of each kind are listed below."
    )
    kind = forms.ChoiceField(label="What it holds", choices=ImportKind.choices)
    axis = forms.ChoiceField(
        label="Axis of public preferences", choices=Axis.choices, initial=Axis.HELPFULNESS,
        help_text="HH-RLHF only: harmless-base is safety data, not categorised unless a "
                  "line has its own risk_category. Prompts and pairs carry their own axis.",
    )
    dataset = forms.CharField(
        label="Dataset name", max_length=200, required=False,
        help_text="HH-RLHF only, e.g. hh-rlhf/harmless-base (default: the file name).",
    )


class ExportForm(forms.Form):
    kind = forms.ChoiceField(
        label="Export",
        choices=[(kind, label) for kind, label in (
            ("preferences", "Preferences (what reward-model training reads)"),
            ("raw", "Raw judgements (every judgement as stored, skips included)"),
        ) if kind in EXPORT_KINDS],
    )


class RunPipelineForm(forms.Form):
    """The batch page's "Run the weekly cycle now": which preset this cycle runs with."""

    preset = forms.ChoiceField(label="Plan preset", choices=PRESET_CHOICES)

from __future__ import annotations

from django import forms

from paddock.curation.models import DomainAction, Source, SourceFormat, SourceStatus
from paddock.curation.services.ingest_paths import ingest_roots


class IngestForm(forms.Form):
    path = forms.CharField(max_length=1000, label="File or folder on the servers",
                           required=False)  # help: the roots
    file = forms.FileField(required=False, label="Or upload a file",
                           help_text="From your computer: saved in the first folder's "
                                     "uploads/ and ingested from there.")
    name = forms.SlugField(max_length=100, label="Source name",
                           help_text="Letters, digits, - and _; used for export weights.")
    format = forms.ChoiceField(choices=[("auto", "Guess from the name"), *SourceFormat.choices])
    text_field = forms.CharField(max_length=100, initial="text", required=False,
                                 label="Text field", help_text="JSONL only: the document's text.")
    url_field = forms.CharField(max_length=100, initial="url", required=False,
                                label="URL field", help_text="JSONL only: where it came from.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        folders = " or ".join(str(root) for root in ingest_roots())
        self.fields["path"].help_text = (
            f"A file or folder under {folders} (the folders curation reads from), on the "
            "workers' shared storage; a relative path is taken inside the first."
        )

    def clean(self) -> dict:
        data = super().clean()
        if bool(data.get("path")) == bool(data.get("file")):
            raise forms.ValidationError(
                "Give a file or folder on the servers, or upload a file: one of the two.")
        return data


def parse_weights(text: str) -> dict[str, float]:
    """'wikipedia=2, books=1.5' -> {'wikipedia': 2.0, 'books': 1.5}."""
    weights = {}
    for item in filter(None, (part.strip() for part in text.replace("\n", ",").split(","))):
        name, sep, value = item.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if not sep or not name.strip() or weight < 0:
            raise forms.ValidationError(f"{item!r}: write SOURCE=WEIGHT, e.g. wikipedia=2")
        weights[name.strip()] = weight
    return weights


class RunForm(forms.Form):
    name = forms.CharField(max_length=200, label="Run name")
    sources = forms.ModelMultipleChoiceField(
        queryset=Source.objects.filter(status=SourceStatus.READY),
        widget=forms.CheckboxSelectMultiple,
        help_text="Earlier sources win when documents are duplicates.",
    )
    threshold = forms.FloatField(min_value=0.05, max_value=1.0, initial=0.8,
                                 label="Duplicate similarity",
                                 help_text="Near-duplicate Jaccard similarity (word 5-grams).")
    pii_threshold = forms.FloatField(min_value=0.0, initial=10.0, label="Site exclusion rate",
                                     help_text="Exclude sites above this many detections per "
                                               "1,000 words.")
    pii_min_documents = forms.IntegerField(
        min_value=1, initial=5, label="Documents a site needs",
        help_text="Sites with fewer are never excluded by rate.")
    weights = forms.CharField(required=False, label="Up-sampling weights",
                              help_text="SOURCE=WEIGHT, comma-separated, e.g. wikipedia=2")

    def clean_weights(self) -> dict[str, float]:
        return parse_weights(self.cleaned_data.get("weights") or "")


class DomainRuleForm(forms.Form):
    domain = forms.CharField(max_length=253, label="Site", help_text="Subdomains match too.")
    action = forms.ChoiceField(choices=DomainAction.choices, label="Rule")
    note = forms.CharField(max_length=300, required=False, help_text="Why, for the next reader.")

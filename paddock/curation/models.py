"""Curation records: what was ingested, what each run dropped and why, what it exported.

Facts are stored once. A document's text and measurements live in the document store
(:mod:`paddock.curation.core.store`, Parquet shards), never here: a crawl of billions of
documents does not fit one relational database. Here are sources, ingest problems, runs
and a run's decisions, as rows per dropped document (identified by source and position,
with its url and domain copied so the drop browser lists and searches them without the
store, the document it duplicates, the similarity, the site's rate). Counts shown to
managers are derived from those rows; kept documents have no row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from paddock.workers.states import CURATION_STATES, RunState, state_choices


class SourceFormat(models.TextChoices):
    JSONL = "jsonl", "JSONL"
    LINES = "lines", "Plain text, one document per line"
    TEXT = "text", "Folder of plain-text files"
    WARC = "warc", "WARC (HTML responses)"
    WET = "wet", "WET (extracted text)"


class SourceStatus(models.TextChoices):
    INGESTING = "ingesting", "Ingesting"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Source(models.Model):
    """One input file or folder read with given options.

    ``fingerprint`` is the bytes' (it prefixes the documents' stable ids); ``identity``
    adds the name, format and field options, so the same file read again with the same
    options is a no-op, and with a corrected ``--text-field`` a new source.
    """

    name = models.SlugField(max_length=100, unique=True, help_text="Used for up-sampling weights.")
    path = models.CharField(max_length=1000)
    format = models.CharField(max_length=10, choices=SourceFormat.choices)
    text_field = models.CharField(max_length=100, default="text")
    url_field = models.CharField(max_length=100, default="url")
    fingerprint = models.CharField(max_length=64, db_index=True,
                                   help_text="SHA-256 of the input's bytes.")
    identity = models.CharField(max_length=64, unique=True,
                                help_text="Fingerprint plus name, format and field options.")
    status = models.CharField(
        max_length=10, choices=SourceStatus.choices, default=SourceStatus.INGESTING
    )
    documents = models.PositiveIntegerField(default=0)
    problems = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ingested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.path})"

    @property
    def store_key(self) -> str:
        """Where its documents live in the document store."""
        return self.identity

    def stable_id(self, position: int) -> str:
        """A document's id, the same in every database that ingested the same file."""
        return f"{self.fingerprint[:16]}:{position}"


class IngestProblem(models.Model):
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="problem_set")
    locator = models.CharField(max_length=300)
    kind = models.CharField(max_length=40)
    detail = models.TextField()

    def __str__(self) -> str:
        return f"{self.source.path}: {self.locator}: {self.kind}: {self.detail}"


class DomainAction(models.TextChoices):
    BLOCK = "block", "Always exclude"
    ALLOW = "allow", "Never exclude"


class DomainRule(models.Model):
    """An editable blocklist / allowlist entry; it also matches subdomains."""

    domain = models.CharField(max_length=253, unique=True)
    action = models.CharField(max_length=5, choices=DomainAction.choices)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return f"{self.action} {self.domain}"


# A curation run's status is in the one vocabulary of background work (the states it
# takes are CURATION_STATES); RunStatus is the name this module's callers knew it by.
RunStatus = RunState


class Stage(models.TextChoices):
    QUALITY = "quality", "Quality"
    EXACT = "exact_dedup", "Exact dedup"
    NEAR = "near_dedup", "Near dedup"
    PII = "pii", "Personal information"
    EXPORT = "export", "Export"


class DropReason(models.TextChoices):
    EMPTY = "empty", "Empty"
    TOO_SHORT = "too_short", "Too short"
    TOO_LONG = "too_long", "Too long"
    EXACT_DUPLICATE = "exact_duplicate", "Exact duplicate"
    NEAR_DUPLICATE = "near_duplicate", "Near duplicate"
    PII_SITE = "pii_site", "Site with much personal information"
    BLOCKLISTED_SITE = "blocklisted_site", "Blocklisted site"
    LOW_QUALITY = "low_quality", "Low quality"  # detail names the filter and its rule
    LANGUAGE = "language", "Not a kept language"
    DUPLICATE_URL = "duplicate_url", "Duplicate URL"


# How the run page names a site's decision and the PII detectors: the core keeps short
# code names (sites.Reason, pii.PiiType) for the manifest; people read these. A mapping,
# not field choices: SiteReport.reason is a plain field, and choices would need a migration.
SITE_DECISION_LABELS = {
    "allowlist": "on the allowlist",
    "blocklist": "on the blocklist",
    "pii_rate": "personal-information rate above the threshold",
    "too_few_documents": "too few documents to judge by rate",
    "below_threshold": "rate at or below the threshold",
}
PII_TYPE_LABELS = {
    "email": "e-mail addresses",
    "phone": "phone numbers",
    "ip_address": "IP addresses",
    "us_ssn": "US social security numbers",
    "credit_card": "card numbers",
}

# IngestProblem.kind: the readers' and kernel.jsonl's codes, as the problems page says them.
PROBLEM_KIND_LABELS = {
    "not_utf8": "not UTF-8",
    "malformed_json": "not valid JSON",
    "not_an_object": "not a JSON object",
    "too_long": "line too long",
    "truncated": "file ends early",
    "corrupt_stream": "damaged compressed stream",
    "corrupt_record": "damaged record",
    "missing_text": "no text field",
    "undecodable_html": "HTML could not be decoded",
    "unreadable": "could not be read",
    "empty_input": "no documents in the input",
    "skipped_file": "not a text file, skipped",
}


class CurationRun(models.Model):
    name = models.CharField(max_length=200)
    sources = models.ManyToManyField(Source, through="RunSource", related_name="runs")
    config = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=state_choices(CURATION_STATES),
                              default=RunState.DRAFT)
    stage = models.CharField(max_length=20, blank=True)
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=500, blank=True)
    completed_stages = models.JSONField(default=list, blank=True)
    stage_counts = models.JSONField(default=dict, blank=True)
    manifest = models.JSONField(null=True, blank=True)
    export_dir = models.CharField(max_length=1000, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Beaten by the curation worker running the run; the watchdog fails a run "
                  "whose beat stopped (its worker was lost). Empty for runs in one process.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class RunSource(models.Model):
    run = models.ForeignKey(CurationRun, on_delete=models.CASCADE)
    source = models.ForeignKey(Source, on_delete=models.PROTECT)
    order = models.PositiveIntegerField()

    class Meta:
        ordering = ["order"]
        constraints = [
            models.UniqueConstraint(fields=["run", "order"], name="run_source_order"),
            models.UniqueConstraint(fields=["run", "source"], name="run_source_once"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.order}: {self.source_id}"


class DroppedDocument(models.Model):
    """A document a run did not export, and why. Kept documents have no row.

    The document is (source, position) in the document store; its url, domain and locator
    are copied here so the drop browser lists and searches them without the store.
    """

    run = models.ForeignKey(CurationRun, on_delete=models.CASCADE, related_name="drops")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    locator = models.CharField(max_length=300, blank=True)
    url = models.TextField(blank=True)
    domain = models.CharField(max_length=253, blank=True)
    stage = models.CharField(max_length=20, choices=Stage.choices)
    reason = models.CharField(max_length=20, choices=DropReason.choices)
    duplicate_of_source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    duplicate_of_position = models.PositiveIntegerField(null=True, blank=True)
    duplicate_of_ref = models.TextField(
        blank=True, help_text="The duplicated document's url, or its locator.")
    similarity = models.FloatField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "source", "position"],
                                    name="dropped_once_per_run")
        ]
        indexes = [models.Index(fields=["run", "reason"])]

    def __str__(self) -> str:
        return f"run {self.run_id}: source {self.source_id} #{self.position}: {self.reason}"

    @property
    def document_key(self) -> tuple[int, int]:
        return (self.source_id, self.position)


class SiteReport(models.Model):
    """A run's per-site personal-information figures and decision."""

    run = models.ForeignKey(CurationRun, on_delete=models.CASCADE, related_name="sites")
    domain = models.CharField(max_length=253)
    documents = models.PositiveIntegerField()
    words = models.PositiveIntegerField()
    rate = models.FloatField(help_text="Smoothed detections per 1,000 words.")
    excluded = models.BooleanField()
    reason = models.CharField(max_length=30)
    detectors = models.JSONField(default=dict)

    class Meta:
        ordering = ["-rate"]
        constraints = [models.UniqueConstraint(fields=["run", "domain"], name="site_once_per_run")]

    def __str__(self) -> str:
        return f"{self.domain}: {self.rate:.2f} per 1,000 words"

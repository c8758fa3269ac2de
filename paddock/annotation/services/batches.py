"""A batch's life, and what a data manager does to one: create, edit, schedule, open,
close. Both front doors (the console's pages and the REST API) call these functions, so
each rule is written here once and both doors answer an action alike.

The life is draft -> scheduled -> open -> closed -> exported, one step at a time. Only
these moves exist, so a closed batch cannot quietly reopen after its judgements were
exported and trained on; ``open`` and ``close`` by hand are the same moves the weekly
schedule makes. Its settings may change until it closes: a closed batch's overlap and test
split are what its export and training read, so they are final.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from paddock.annotation.models import Batch, BatchStatus
from paddock.platform.accounts.models import User

TRANSITIONS: dict[str, set[str]] = {
    BatchStatus.DRAFT: {BatchStatus.SCHEDULED, BatchStatus.OPEN},
    BatchStatus.SCHEDULED: {BatchStatus.DRAFT, BatchStatus.OPEN},
    BatchStatus.OPEN: {BatchStatus.CLOSED},
    BatchStatus.CLOSED: {BatchStatus.OPEN, BatchStatus.EXPORTED},
    BatchStatus.EXPORTED: set(),
}
# The statuses in which a manager may change a batch's settings (its name, schedule,
# quotas, overlap, gold share, test split, plan); once closed they are final.
EDITABLE = frozenset({BatchStatus.DRAFT, BatchStatus.SCHEDULED, BatchStatus.OPEN})
# What a manager never sets through a batch's settings: its status moves one step at a
# time (batch_move), and who made it and when are recorded, not chosen.
NOT_SETTINGS = frozenset({"id", "pk", "status", "created_by", "created_at"})


class BatchError(ValueError):
    """A manager's action the batch's state refuses; the message says why and what to do."""

    code = "refused"


class BatchTransitionError(BatchError):
    code = "bad_transition"


class BatchSettingsFinal(BatchError):
    code = "settings_final"


class BatchSettingsInvalid(BatchError):
    """Settings that break a batch's rules; ``problems`` maps each field to what is wrong."""

    code = "invalid"

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(f"{name}: {text}" for name, text in problems.items()))
        self.problems = problems


def batch_settings_problems(
    *, values: Mapping[str, Any], batch: Batch | None = None
) -> dict[str, str]:
    """What is wrong with ``values`` as the settings of ``batch`` (a new batch when None),
    field by field; {} when nothing is. A setting left out keeps the batch's value (a new
    batch's default), so one date given is checked against the other. Both doors show
    these next to their fields."""

    def setting(name: str) -> Any:
        if name in values:
            return values[name]
        if batch is not None:
            return getattr(batch, name)
        return Batch._meta.get_field(name).get_default()

    problems = {}
    opens, closes = setting("opens_at"), setting("closes_at")
    if opens and closes and closes <= opens:
        problems["closes_at"] = "A batch must close after it opens."
    gold = values.get("gold_share")
    if gold is not None and not 0.0 <= gold <= 1.0:
        problems["gold_share"] = "Write a share from 0 to 1, e.g. 0.05 for 5%."
    overlap = values.get("overlap")
    if overlap is not None and overlap < 1:
        problems["overlap"] = "At least one judgement per comparison."
    return problems


def batch_move(*, batch: Batch, to: str) -> Batch:
    """Move ``batch`` to status ``to``; raise BatchTransitionError naming the allowed moves."""
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if to == locked.status:
            return locked
        allowed = TRANSITIONS[locked.status]
        if to not in allowed:
            choices = ", ".join(sorted(allowed)) or "none: it is final"
            raise BatchTransitionError(
                f"batch {locked.name} is {locked.status}; it can move to {choices}, not {to}"
            )
        locked.status = to
        locked.save(update_fields=["status"])
    return locked


def batch_open(*, batch: Batch) -> Batch:
    """Open ``batch`` by hand, which means "take judgements now": an opening time still in
    the future moves to now, and a batch whose closing time has passed is not opened (it
    would take nothing; a later closing time must be set first)."""
    now = timezone.now()
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.status == BatchStatus.OPEN:
            return locked
        if locked.closes_at <= now:
            closed = timezone.localtime(locked.closes_at).strftime("%Y-%m-%d %H:%M")
            raise BatchTransitionError(
                f"batch {locked.name} closed at {closed}; set a later closing time before "
                "opening it"
            )
        opened = batch_move(batch=locked, to=BatchStatus.OPEN)
        if opened.opens_at > now:
            opened.opens_at = now
            opened.save(update_fields=["opens_at"])
    return opened


def batch_status_set(*, batch: Batch, to: str) -> Batch:
    """A manager's move of ``batch`` to ``to`` (schedule, unschedule, open, close, mark
    exported): opening keeps :func:`batch_open`'s rule, every other move is
    :func:`batch_move`'s."""
    if to == BatchStatus.OPEN:
        return batch_open(batch=batch)
    return batch_move(batch=batch, to=to)


def batch_create(
    *, values: Mapping[str, Any], created_by: User | None = None, schedule: bool = False
) -> Batch:
    """A new batch with the manager's ``values``; a draft, or scheduled to open at its
    opening time when ``schedule``."""
    _settings_checked(values, None)
    with transaction.atomic():
        batch = Batch.objects.create(**values, created_by=created_by)
        if schedule:
            batch = batch_move(batch=batch, to=BatchStatus.SCHEDULED)
    return batch


def batch_edit(*, batch: Batch, values: Mapping[str, Any]) -> Batch:
    """Change ``batch``'s settings to ``values``; refused once the batch has closed (its
    export and training read them), with BatchSettingsFinal."""
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if values and locked.status not in EDITABLE:
            raise BatchSettingsFinal(
                f"batch {locked.name} is {locked.get_status_display().lower()}: its settings "
                f"are final ({', '.join(sorted(values))} not changed)"
            )
        _settings_checked(values, locked)
        for name, value in values.items():
            setattr(locked, name, value)
        if values:
            locked.save(update_fields=list(values))
    return locked


def _settings_checked(values: Mapping[str, Any], batch: Batch | None) -> None:
    wrong = sorted(set(values) & NOT_SETTINGS)
    if wrong:
        raise ValueError(f"{', '.join(wrong)} cannot be set as a batch setting")
    problems = batch_settings_problems(values=values, batch=batch)
    if problems:
        raise BatchSettingsInvalid(problems)

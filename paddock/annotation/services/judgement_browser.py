"""The judgement browser: a batch's judgements, filtered, a page at a time, and marks.

One module answers the console's pages and the API's endpoints, so both doors filter,
page and mark by the same rules:

- :func:`filters_from` reads the filters from a query string, refusing bad values with a
  sentence both doors show;
- :func:`judgement_page` pages by keyset (newest first, the cursor is the last id seen),
  never by OFFSET, and counts at most :data:`COUNT_CAP` rows, so the thousandth page of a
  million judgements costs what the first does;
- :func:`judgement_detail` is one judgement with its comparison and every judgement of
  that comparison side by side;
- :func:`judgement_mark` records a data manager's mark ("for review", "excluded from
  export", or restored) with its reason; the judgement row never changes.

Agreement is read from the comparison's counts of choices (``chose_a_count``,
``chose_b_count``, kept by the submit service), never counted at query time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from paddock.annotation.models import (
    Axis,
    Batch,
    GoldResult,
    Judgement,
    JudgementMark,
    MarkState,
    Strength,
    Turn,
)
from paddock.annotation.services.assignment import AnnotationError
from paddock.platform.accounts.models import User

PAGE_SIZE = 50
COUNT_CAP = 1_000  # a total above this is shown as "more than 1,000"

AGREEMENT = {"unanimous": "Unanimous", "split": "Split", "single": "Single judgement"}
GOLD = {"correct": "Correct", "wrong": "Wrong", "not_gold": "Not gold"}
YES_NO = {"yes": "Yes", "no": "No"}
REVIEW = {MarkState.REVIEW.value: "For review", MarkState.EXCLUDED.value: "Excluded",
          MarkState.NONE.value: "No mark"}


class BrowserError(AnnotationError):
    """A filter or cursor the browser cannot read (400)."""

    code = "invalid"


class MarkRefused(AnnotationError):
    """A mark the service refuses: an unknown state or no reason (400)."""

    code = "invalid"


class WrongBatch(AnnotationError):
    """A judgement asked for under a batch it does not belong to (409)."""

    code = "wrong_batch"


@dataclass(frozen=True)
class Filters:
    """The filters of one list; empty strings and None mean "any"."""

    annotator: str = ""
    axis: str = ""
    strength: str = ""
    agreement: str = ""
    gold: str = ""
    flagged: str = ""
    skipped: str = ""
    review: str = ""
    seconds_min: float | None = None
    seconds_max: float | None = None

    def query(self) -> dict[str, str]:
        """The filters that are set, as query-string parameters (for links and cursors)."""
        return {name: _plain(value) for name, value in asdict(self).items()
                if value not in ("", None)}

    @property
    def active(self) -> bool:
        return bool(self.query())


def _plain(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# Each choice filter: its allowed values (value -> label for people) and its name in
# sentences.
CHOICES: dict[str, tuple[dict[str, str], str]] = {
    "axis": (dict(Axis.choices), "axis"),
    "strength": (dict(Strength.choices), "strength"),
    "agreement": (AGREEMENT, "agreement"),
    "gold": (GOLD, "gold result"),
    "flagged": (YES_NO, "flagged harmful"),
    "skipped": (YES_NO, "skipped"),
    "review": (REVIEW, "review state"),
}


def filters_from(params: Mapping[str, Any]) -> Filters:
    """Filters from a query string; an unknown value raises :class:`BrowserError` with a
    sentence naming the filter and the values it takes. Unknown parameters are ignored
    (the cursor, the page's own)."""
    values: dict[str, Any] = {}
    for name in (f.name for f in fields(Filters)):
        raw = str(params.get(name) or "").strip()
        if not raw:
            continue
        if name in CHOICES:
            allowed, said = CHOICES[name]
            if raw not in allowed:
                raise BrowserError(f"Unknown {said} {raw!r}: choose one of "
                                   f"{', '.join(allowed)}.")
            values[name] = raw
        elif name.startswith("seconds_"):
            values[name] = _seconds(raw, "at least" if name == "seconds_min" else "at most")
        else:
            values[name] = raw[:150]
    found = Filters(**values)
    if (found.seconds_min is not None and found.seconds_max is not None
            and found.seconds_min > found.seconds_max):
        raise BrowserError(f"Time spent: the minimum ({_plain(found.seconds_min)} s) is above "
                           f"the maximum ({_plain(found.seconds_max)} s).")
    return found


def _seconds(raw: str, bound: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise BrowserError(f"Time spent {bound}: {raw!r} is not a number of seconds (0 or "
                           "more).")
    return value


def _cursor(raw: Any, name: str) -> int | None:
    if raw in (None, ""):
        return None
    try:
        value = int(str(raw))
    except ValueError:
        value = 0
    if value < 1:
        raise BrowserError(f"The page cursor {name}={raw!r} is not a judgement id.")
    return value


def _current_mark(state: str | list[str]):
    states = [state] if isinstance(state, str) else state
    return Exists(JudgementMark.objects.filter(judgement=OuterRef("pk"), current=True,
                                               state__in=states))


def judgements_of(batch: Batch, filters: Filters) -> QuerySet[Judgement]:
    """The batch's judgements under ``filters``, unordered."""
    found = Judgement.objects.filter(batch=batch)  # the copy of the comparison's batch
    f = filters
    if f.annotator:
        # By id, looked up first: a join on the user's name would hide from the planner
        # which annotator it is, and so how many rows match.
        annotator = User.objects.filter(username=f.annotator).values_list("id", flat=True)
        found = found.filter(annotator_id=annotator.first() or 0)
    if f.axis:
        found = found.filter(axis=f.axis)  # the comparison's, copied at submit
    if f.strength:
        found = found.filter(strength=f.strength)
    if f.agreement:
        a, b = "comparison__chose_a_count", "comparison__chose_b_count"
        found = found.filter({
            "unanimous": Q(**{a: 0, f"{b}__gte": 2}) | Q(**{b: 0, f"{a}__gte": 2}),
            "split": Q(**{f"{a}__gte": 1, f"{b}__gte": 1}),
            "single": Q(**{a: 1, b: 0}) | Q(**{a: 0, b: 1}),
        }[f.agreement])
    if f.gold:  # the result stored at submit (GoldResult; "" when not gold)
        found = found.filter(gold={"not_gold": "", "correct": GoldResult.CORRECT,
                                   "wrong": GoldResult.WRONG}[f.gold])
    if f.flagged:
        found = found.filter(flagged_harmful=f.flagged == "yes")
    if f.skipped:
        found = found.filter(skipped=f.skipped == "yes")
    if f.review in (MarkState.REVIEW, MarkState.EXCLUDED):
        found = found.filter(_current_mark(f.review))
    elif f.review == MarkState.NONE:
        found = found.filter(~_current_mark([MarkState.REVIEW, MarkState.EXCLUDED]))
    if f.seconds_min is not None:
        found = found.filter(seconds__gte=f.seconds_min)
    if f.seconds_max is not None:
        found = found.filter(seconds__lte=f.seconds_max)
    return found


_ROW_FIELDS = (
    "id", "created_at", "annotator_id", "annotator__username", "comparison_id",
    "axis", "comparison__response_a_id", "comparison__chose_a_count",
    "comparison__chose_b_count", "gold",
    "left_response_id", "chosen_id", "strength", "skipped", "flagged_harmful", "seconds",
)


def agreement_of(chose_a: int, chose_b: int) -> str | None:
    """``unanimous``, ``split`` or ``single`` from a comparison's counts of choices; None
    when nobody chose yet (only skips)."""
    if chose_a + chose_b == 0:
        return None
    if chose_a + chose_b == 1:
        return "single"
    return "split" if chose_a and chose_b else "unanimous"


def _row(values: dict[str, Any]) -> dict[str, Any]:
    """One judgement as the list shows it and the API returns it."""
    chosen = values["chosen_id"]
    gold = values["gold"] if values["gold"] in (GoldResult.CORRECT, GoldResult.WRONG) else None
    agreement = agreement_of(values["comparison__chose_a_count"],
                             values["comparison__chose_b_count"])
    strength = values["strength"] or None
    return {
        "id": values["id"],
        "comparison": values["comparison_id"],
        "annotator": values["annotator__username"],
        "axis": values["axis"],
        "chosen": None if chosen is None else (
            "A" if chosen == values["comparison__response_a_id"] else "B"),
        "chosen_side": None if chosen is None else (
            "left" if chosen == values["left_response_id"] else "right"),
        "strength": strength,
        "strength_label": Strength(strength).label if strength else "",
        "skipped": values["skipped"],
        "flagged_harmful": values["flagged_harmful"],
        "seconds": round(values["seconds"], 1),
        "agreement": agreement,
        "agreement_label": AGREEMENT.get(agreement or "", ""),
        "gold": gold,
        "gold_label": GOLD.get(gold or "", ""),
        "mark": values["mark"],
        "mark_label": REVIEW.get(values["mark"] or "", ""),
        "created_at": values["created_at"],
    }


@dataclass(frozen=True)
class Page:
    """One page of the list: ``next_after`` and ``previous_before`` are the cursors of the
    pages beside it (None at either end); ``total`` is exact unless ``total_capped``."""

    rows: list[dict[str, Any]]
    next_after: int | None
    previous_before: int | None
    total: int
    total_capped: bool

    @property
    def total_label(self) -> str:
        if self.total_capped:
            return f"more than {COUNT_CAP:,} judgements"
        return f"{self.total:,} judgement{'' if self.total == 1 else 's'}"


def capped_count(found: QuerySet) -> tuple[int, bool]:
    """How many rows, counting at most :data:`COUNT_CAP` + 1 of them."""
    total = found.order_by().values("id")[:COUNT_CAP + 1].count()
    return min(total, COUNT_CAP), total > COUNT_CAP


def judgement_page(batch: Batch, filters: Filters, *, after: Any = None, before: Any = None,
                   size: int = PAGE_SIZE) -> Page:
    """The page of judgements older than ``after`` (the next page), or newer than
    ``before`` (the previous one), or the newest; newest first either way."""
    after, before = _cursor(after, "after"), _cursor(before, "before")
    if after is not None and before is not None:
        raise BrowserError("Give one page cursor, after or before, not both.")
    found = judgements_of(batch, filters)
    listed = found.annotate(mark=Subquery(
        JudgementMark.objects.filter(judgement=OuterRef("pk"), current=True)
        .exclude(state=MarkState.NONE).values("state")[:1]))
    if before is not None:
        window = list(listed.filter(id__gt=before).order_by("id")
                      .values(*_ROW_FIELDS, "mark")[:size + 1])
        more_newer = len(window) > size
        window = window[:size][::-1]
        more_older = True  # the page we came from
    else:
        scoped = listed.filter(id__lt=after) if after is not None else listed
        window = list(scoped.order_by("-id").values(*_ROW_FIELDS, "mark")[:size + 1])
        more_older = len(window) > size
        window = window[:size]
        more_newer = after is not None and found.filter(id__gte=after).exists()
    if before is not None and not window:
        more_older = found.filter(id__lte=before).exists()
    total, capped = capped_count(found)
    rows = [_row(values) for values in window]
    return Page(
        rows=rows,
        next_after=rows[-1]["id"] if rows and more_older else None,
        previous_before=rows[0]["id"] if rows and more_newer else None,
        total=total,
        total_capped=capped,
    )


def neighbours(batch: Batch, filters: Filters, judgement_id: int) -> dict[str, int | None]:
    """The judgements beside this one in its filtered list: ``newer`` (the one above it,
    "previous") and ``older`` (below it, "next")."""
    found = judgements_of(batch, filters)
    return {
        "newer": found.filter(id__gt=judgement_id).order_by("id")
        .values_list("id", flat=True).first(),
        "older": found.filter(id__lt=judgement_id).order_by("-id")
        .values_list("id", flat=True).first(),
    }


def _judgement_in(batch: Batch, judgement_id: int) -> Judgement:
    judgement = Judgement.objects.filter(pk=judgement_id).first()
    if judgement is None:
        raise Judgement.DoesNotExist(f"No judgement {judgement_id}.")
    _check_batch(judgement, batch)
    return judgement


def _check_batch(judgement: Judgement, batch: Batch) -> None:
    """:class:`WrongBatch` unless ``judgement`` is in ``batch``, read from the judgement's
    own copy of its comparison's batch (no join; the batch is loaded only to name it)."""
    if judgement.batch_id != batch.pk:
        raise WrongBatch(f"Judgement {judgement.pk} belongs to batch "
                         f"{Batch.objects.get(pk=judgement.batch_id).name}, not {batch.name}.")


def _safe(judgement: Judgement, response_id: int) -> bool | None:
    if judgement.chosen_id == response_id:
        return judgement.chosen_safe
    if judgement.rejected_id == response_id:
        return judgement.rejected_safe
    return None


def judgement_detail(batch: Batch, judgement_id: int) -> dict[str, Any]:
    """One judgement of the batch with everything a reviewer weighs: the conversation, both
    responses (model, which side this annotator saw on the left), the gold answer, every
    judgement of the comparison side by side with its current mark, and this judgement's
    marks (newest first). Raises ``Judgement.DoesNotExist`` or :class:`WrongBatch`."""
    judgement = _judgement_in(batch, judgement_id)
    comparison = (type(judgement.comparison).objects
                  .select_related("response_a", "response_b", "conversation")
                  .get(pk=judgement.comparison_id))
    a, b = comparison.response_a, comparison.response_b
    letter = {a.pk: "A", b.pk: "B"}
    turns = list(Turn.objects.filter(conversation_id=comparison.conversation_id)
                 .order_by("index").values("role", "content"))
    current = {m.judgement_id: m for m in JudgementMark.objects.filter(
        judgement__comparison=comparison, current=True).exclude(state=MarkState.NONE)}
    judged = []
    for other in (Judgement.objects.filter(comparison=comparison)
                  .select_related("annotator").order_by("id")):
        mark = current.get(other.pk)
        judged.append({
            "id": other.pk,
            "this": other.pk == judgement.pk,
            "annotator": other.annotator.username,
            "chosen": letter.get(other.chosen_id),
            "left": letter[other.left_response_id],
            "strength": other.strength or None,
            "strength_label": other.get_strength_display() if other.strength else "",
            "a_safe": _safe(other, a.pk),
            "b_safe": _safe(other, b.pk),
            "skipped": other.skipped,
            "skip_reason": other.skip_reason,
            "flagged_harmful": other.flagged_harmful,
            "comment": other.comment,
            "seconds": round(other.seconds, 1),
            "mark": mark.state if mark else None,
            "mark_label": REVIEW[mark.state] if mark else "",
            "created_at": other.created_at,
        })
    history = [
        {"state": m.state, "label": m.get_state_display(), "reason": m.reason,
         "by": m.by.username if m.by else None, "at": m.created_at}
        for m in judgement.marks.select_related("by").order_by("-id")
    ]
    return {
        "id": judgement.pk,
        "batch": batch.name,
        "comparison": comparison.pk,
        "axis": comparison.axis,
        "axis_label": comparison.get_axis_display(),
        "risk_category": comparison.conversation.risk_category or None,
        "risk_category_label": comparison.conversation.get_risk_category_display(),
        "conversation": turns,
        "responses": [
            {"letter": letter[r.pk], "text": r.text, "model_version": r.model_version,
             "shown_left": judgement.left_response_id == r.pk}
            for r in (a, b)
        ],
        "gold": letter.get(comparison.gold_choice_id) if comparison.is_gold else None,
        "agreement": agreement_of(comparison.chose_a_count, comparison.chose_b_count),
        "judgements": judged,
        "mark": history[0]["state"] if history and history[0]["state"] != "none" else None,
        "history": history,
    }


@dataclass(frozen=True)
class Marked:
    mark: JudgementMark
    created: bool  # False: the judgement already had this mark with this reason


def judgement_mark(*, judgement: Judgement | int, state: str, reason: str, by,
                   batch: Batch | None = None) -> Marked:
    """Mark a judgement for review, exclude it from the preference export, or restore it
    (``none``), with a reason; the newest mark is the current one, earlier ones stay as
    history. Marking again with the same state and reason changes nothing. ``batch``,
    when given, is the batch the caller believes the judgement is in (:class:`WrongBatch`
    otherwise)."""
    if state not in MarkState.values:
        raise MarkRefused(f"Unknown mark {state!r}: choose one of "
                          f"{', '.join(MarkState.values)}.")
    reason = (reason or "").strip()
    if not reason:
        raise MarkRefused("Say why: a mark needs a reason, which others read in its history.")
    judgement_id = judgement if isinstance(judgement, int) else judgement.pk
    with transaction.atomic():
        # The judgement's row lock serialises two marks of one judgement; the row itself
        # is never written.
        locked = (Judgement.objects.select_for_update(no_key=True)
                  .filter(pk=judgement_id).first())
        if locked is None:
            raise Judgement.DoesNotExist(f"No judgement {judgement_id}.")
        if batch is not None:
            _check_batch(locked, batch)
        now = JudgementMark.objects.filter(judgement_id=judgement_id, current=True).first()
        if now is not None and now.state == state and now.reason == reason:
            return Marked(now, created=False)
        if now is None and state == MarkState.NONE:
            raise MarkRefused(f"Judgement {judgement_id} has no mark to remove.")
        JudgementMark.objects.filter(judgement_id=judgement_id, current=True).update(
            current=False)
        mark = JudgementMark.objects.create(judgement_id=judgement_id, state=state,
                                            reason=reason[:2000], by=by, current=True,
                                            created_at=timezone.now())
    return Marked(mark, created=True)

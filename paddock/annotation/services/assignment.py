"""Which comparison an annotator gets next, and how a judgement is accepted.

One function answers "next comparison for this annotator". On PostgreSQL it takes the
first eligible comparison with ``SELECT ... FOR NO KEY UPDATE SKIP LOCKED``: concurrent requests
never wait on each other and never take the same row; the count of live leases plus
stored judgements is re-read under that row lock, so the batch's overlap is never
exceeded. Leases are not swept: a lease whose ``expires_at`` has passed simply stops
counting, and the comparison is back in the pool at that instant. A lease on a batch that
is no longer open is released (expires) the next time its annotator asks for work.

Every write that changes a comparison's count (assign, submit, skip) holds the
comparison's row lock, and every request of one annotator holds the annotator's row lock,
taken first, which serialises double clicks (and lets a later statement of the same
transaction read the annotator's rows as the last committed request left them).

An annotator may hold up to ``PADDOCK_MAX_OPEN_LEASES`` leases (2 by default): the one
on screen and the next, held ready so the workspace paints it at the key press. A client
says which leases it holds already (``holding``); ``next`` hands out the oldest lease the
client does not hold, or a new one while under the limit. A submit or skip may ask for the
next lease in the same transaction (``then_next``): one request per judgement.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from paddock.annotation.models import (
    Assignment,
    AssignmentState,
    Axis,
    Batch,
    BatchStatus,
    Comparison,
    Judgement,
    Strength,
    gold_result,
)
from paddock.platform.failure_text import WordedError
from paddock.platform.prepared import run

_random = random.SystemRandom()


class AnnotationError(WordedError):
    """A request the service refuses; ``code`` is stable, the message is for people."""

    code = "refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LeaseLost(AnnotationError):
    code = "lease_lost"


class BatchNotOpen(AnnotationError):
    code = "batch_not_open"


class InvalidJudgement(AnnotationError):
    code = "invalid"


class AlreadySkipped(AnnotationError):
    """A judgement sent for an assignment its annotator skipped: the skip stands and the
    judgement is not stored, which a client must hear rather than read a 200."""

    code = "already_skipped"


class AlreadyJudged(AnnotationError):
    """A skip sent for an assignment its annotator already judged: the judgement stands."""

    code = "already_judged"


def lease_duration() -> timedelta:
    return timedelta(minutes=getattr(settings, "PADDOCK_LEASE_MINUTES", 30))


def max_open_leases() -> int:
    return int(getattr(settings, "PADDOCK_MAX_OPEN_LEASES", 2))


MAX_HOLDING = 20  # lease ids a client may say it holds (more is a client bug)


LOCKED_RETRIES = 25
LOCKED_BACKOFF_SECONDS = 0.01

# The serving path is hand-written SQL: it runs on every click of every annotator, and the
# ORM's query building cost more than PostgreSQL's work (about 0.7 ms a query). The rules
# are the ones documented above; tests exercise them on SQLite and PostgreSQL.
_C, _A, _B = Comparison._meta.db_table, Assignment._meta.db_table, Batch._meta.db_table
_LIVE_COUNT = (
    f"(SELECT COUNT(*) FROM {_A} l WHERE l.comparison_id = c.id"
    " AND l.state = 'active' AND l.expires_at > %s)"
)
_ELIGIBLE = (
    f"FROM {_C} c WHERE c.batch_id = %s AND c.is_gold = %s AND c.judgement_count < %s"
    " AND (c.author_id IS NULL OR c.author_id <> %s)"
    f" AND NOT EXISTS (SELECT 1 FROM {_A} s WHERE s.comparison_id = c.id AND s.annotator_id = %s)"
    f" AND c.judgement_count + {_LIVE_COUNT} < %s"
)


def _row_lock(of: str = "") -> str:
    """A row lock for the rest of the transaction, or nothing on SQLite (which locks the
    whole database for a write transaction anyway).

    NO KEY UPDATE: these transactions change counters and states, never keys, so they
    need not block (nor be blocked by) foreign-key checks of rows that reference the
    locked one, while still excluding each other.
    """
    if not connection.features.has_select_for_no_key_update:
        return ""
    return f" FOR NO KEY UPDATE{f' OF {of}' if of else ''}"


def _lock_clause() -> str:
    lock = _row_lock("c")
    return f"{lock} SKIP LOCKED" if lock else ""


def _candidate_id(cursor, batch_id: int, overlap: int, annotator_id: int, *, gold: bool,
                  now) -> int | None:
    """Lock an eligible comparison whose count, re-read under the lock, has room.

    The filter's counts come from the statement's snapshot; a lease committed by another
    request between that snapshot and our lock would not be in it, so the count is read
    again once the row is ours (every lease is created under this lock). When all
    eligible rows are momentarily locked by concurrent requests, wait briefly and retry
    rather than tell an annotator there is nothing to do.
    """
    rejected: list[int] = []
    for _attempt in range(LOCKED_RETRIES):
        params = [batch_id, gold, overlap, annotator_id, annotator_id, now, overlap]
        skip = ""
        if rejected:
            skip = f" AND c.id NOT IN ({', '.join(['%s'] * len(rejected))})"
            params += rejected
        # Not prepared: which plan is best depends on the batch and the annotator's
        # history (a generic plan kept from small tables scanned every lease: measured).
        cursor.execute(
            f"SELECT c.id {_ELIGIBLE}{skip} ORDER BY c.judgement_count DESC, c.id LIMIT 1"
            + _lock_clause(),
            params,
        )
        row = cursor.fetchone()
        if row is None:
            cursor.execute(f"SELECT EXISTS (SELECT 1 {_ELIGIBLE}{skip})", params)
            if not cursor.fetchone()[0]:
                return None
            time.sleep(LOCKED_BACKOFF_SECONDS)  # all of them are locked by other requests
            continue
        run(cursor, "recount",
            f"SELECT c.judgement_count + {_LIVE_COUNT} FROM {_C} c WHERE c.id = %s", [now, row[0]])
        if cursor.fetchone()[0] < overlap:
            return row[0]
        rejected.append(row[0])
    return None


def _current_leases(cursor, annotator_id: int, now) -> list[int]:
    """The annotator's live leases, oldest first; those on a batch that is no longer open
    are released (they expire now), so ``next`` never hands one out again and its
    comparison cannot be judged (submit and skip both answer ``batch_not_open``)."""
    run(
        cursor, "current_leases",
        f"SELECT a.id, b.status = 'open' AND b.opens_at <= %s AND b.closes_at > %s FROM {_A} a"
        f" JOIN {_C} c ON c.id = a.comparison_id JOIN {_B} b ON b.id = c.batch_id"
        " WHERE a.annotator_id = %s AND a.state = 'active' AND a.expires_at > %s"
        " ORDER BY a.leased_at, a.id",
        [now, now, annotator_id, now],
    )
    return _release_closed(cursor, cursor.fetchall(), now)


def _release_closed(cursor, leases: list[tuple[int, bool]], now) -> list[int]:
    """Of (lease id, batch open) pairs, oldest first: release those on a closed batch and
    return the others' ids."""
    closed = [lease_id for lease_id, is_open in leases if not is_open]
    if closed:
        cursor.execute(
            f"UPDATE {_A} SET expires_at = %s WHERE id IN ({', '.join(['%s'] * len(closed))})",
            [now, *closed],
        )
    return [lease_id for lease_id, is_open in leases if is_open]


def _lock_annotator(cursor, annotator_id: int) -> None:
    """Serialise the annotator's requests; see the module docstring."""
    user_table = get_user_model()._meta.db_table
    run(cursor, "lock_annotator", f"SELECT id FROM {user_table} WHERE id = %s{_row_lock()}",
        [annotator_id])


def _holding(holding) -> set[int]:
    held = set(holding or ())
    if len(held) > MAX_HOLDING:
        raise InvalidJudgement(f"holding lists at most {MAX_HOLDING} assignments.")
    return held


def next_assignment(
    *, annotator, batch: Batch | None = None, rng: random.Random | None = None,
    holding=(),
) -> Assignment | None:
    """The annotator's oldest lease that the client does not hold already (``holding``:
    assignment ids), or a new one while the annotator holds fewer than the limit; None
    when nothing is left for them (or they hold as many as they may)."""
    held = _holding(holding)
    with transaction.atomic(), connection.cursor() as cursor:
        _lock_annotator(cursor, annotator.pk)
        return _next_locked(cursor, annotator, timezone.now(), held, batch=batch,
                            rng=rng or _random)


def _next_locked(cursor, annotator, now, held: set[int], *, batch: Batch | None,
                 rng: random.Random, live: list[int] | None = None) -> Assignment | None:
    """``next_assignment`` inside a transaction that holds the annotator's row lock;
    ``live``: the annotator's live leases on open batches, oldest first, when the caller
    has read them already."""
    if live is None:
        live = _current_leases(cursor, annotator.pk, now)
    waiting = [lease_id for lease_id in live if lease_id not in held]
    if waiting:
        return Assignment.objects.get(pk=waiting[0])
    if len(live) >= max_open_leases():
        return None
    # The batch that closes first is served first.
    only = " AND id = %s" if batch is not None else ""
    run(
        cursor, "serving_batches",
        f"SELECT id, overlap, gold_share FROM {_B} WHERE status = 'open'"
        f" AND opens_at <= %s AND closes_at > %s{only} ORDER BY closes_at, id",
        [now, now, *([batch.pk] if batch is not None else [])],
    )
    for batch_id, overlap, gold_share in cursor.fetchall():
        gold_first = rng.random() < gold_share
        for gold in (gold_first, not gold_first):
            comparison_id = _candidate_id(
                cursor, batch_id, overlap, annotator.pk, gold=gold, now=now
            )
            if comparison_id is None:
                continue
            lease = Assignment(
                comparison_id=comparison_id, annotator=annotator,
                state=AssignmentState.ACTIVE, leased_at=now,
                expires_at=now + lease_duration(), a_on_left=rng.random() < 0.5,
            )
            run(
                cursor, "lease",
                f"INSERT INTO {_A} (comparison_id, annotator_id, state, leased_at,"
                " expires_at, a_on_left) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                [comparison_id, annotator.pk, lease.state, lease.leased_at,
                 lease.expires_at, lease.a_on_left],
            )
            lease.pk = cursor.fetchone()[0]
            lease._state.adding = False
            return lease
    return None


def holds_limit(*, annotator, holding, now=None) -> bool:
    """Whether the annotator holds as many live leases as they may and the client holds
    them all: why ``next`` with ``holding`` answered nothing although work may be left."""
    held = _holding(holding)
    if not held:
        return False
    now = now or timezone.now()
    live = set(Assignment.objects.filter(
        annotator_id=annotator.pk, state=AssignmentState.ACTIVE, expires_at__gt=now,
    ).values_list("pk", flat=True))
    return len(live) >= max_open_leases() and live <= held


def release_lease(*, annotator, assignment_id: int) -> bool:
    """Give a lease back unanswered: its row goes, so the comparison returns to the pool
    at once, the annotator's own queue included (a client that held it ahead never showed
    it; keeping the row would bar them from it for good). True when a lease went; a lease
    already judged or skipped stays. Another annotator's id, or one released before,
    looks like none (``Assignment.DoesNotExist``)."""
    with transaction.atomic(), connection.cursor() as cursor:
        _lock_annotator(cursor, annotator.pk)
        cursor.execute(f"SELECT state FROM {_A} WHERE id = %s AND annotator_id = %s",
                       [assignment_id, annotator.pk])
        row = cursor.fetchone()
        if row is None:
            raise Assignment.DoesNotExist("no such assignment of this annotator")
        if row[0] != AssignmentState.ACTIVE:
            return False
        cursor.execute(f"DELETE FROM {_A} WHERE id = %s", [assignment_id])
        return True


_J = Judgement._meta.db_table


@dataclass(frozen=True)
class _Lease:
    """The row an annotator's submit works on, read with its assignment locked."""

    id: int
    comparison_id: int
    state: str
    leased_at: object
    expires_at: object
    a_on_left: bool
    response_a_id: int
    response_b_id: int
    axis: str
    batch_id: int
    batch_name: str
    batch_status: str
    opens_at: object
    closes_at: object
    overlap: int
    is_gold: bool
    gold_choice_id: int | None
    judgement_id: int | None
    answered_before: object  # the annotator's latest judgement or skip since the lease

    def seconds(self, now) -> float:
        """Time on this comparison: since it was leased, or since the annotator's previous
        answer if later (a lease held ahead is shown when the previous one is answered)."""
        start = max(self.leased_at, self.answered_before or self.leased_at)
        return (now - start).total_seconds()

    def copied(self, chosen_id: int | None) -> dict[str, Any]:
        """The comparison's facts a judgement keeps a copy of (they never change)."""
        return {"batch_id": self.batch_id, "axis": self.axis,
                "gold": gold_result(is_gold=bool(self.is_gold),
                                    gold_choice_id=self.gold_choice_id, chosen_id=chosen_id)}

    @property
    def left_id(self) -> int:
        return self.response_a_id if self.a_on_left else self.response_b_id

    @property
    def right_id(self) -> int:
        return self.response_b_id if self.a_on_left else self.response_a_id


def _locked_lease(cursor, annotator, assignment_id: int, now) -> tuple[_Lease, list[int]]:
    """The annotator's own assignment, locked (another annotator's id looks like none),
    and their other live leases on open batches, oldest first (for a next lease in the
    same transaction: one statement reads both).

    Runs after ``_lock_annotator``: every write of this annotator's judgements and leases
    holds that lock, so this statement (a snapshot taken once the lock was ours) sees
    whatever a concurrent request of theirs committed.
    """
    run(
        cursor, "locked_lease",
        "SELECT a.id, a.comparison_id, a.state, a.leased_at, a.expires_at, a.a_on_left,"
        " c.response_a_id, c.response_b_id, c.axis, b.id, b.name, b.status, b.opens_at,"
        " b.closes_at, b.overlap, c.is_gold, c.gold_choice_id,"
        f" (SELECT j.id FROM {_J} j WHERE j.assignment_id = a.id),"
        f" (SELECT MAX(p.created_at) FROM {_J} p WHERE p.annotator_id = a.annotator_id"
        " AND p.created_at > a.leased_at)"
        f" FROM {_A} a JOIN {_C} c ON c.id = a.comparison_id JOIN {_B} b ON b.id = c.batch_id"
        " WHERE a.annotator_id = %s AND (a.id = %s OR (a.state = 'active' AND a.expires_at > %s))"
        f" ORDER BY a.leased_at, a.id{_row_lock('a')}",
        [annotator.pk, assignment_id, now],
    )
    leases = [_Lease(*(aware_datetime(v) if isinstance(v, datetime | str) and i in _TIMES
                       else v for i, v in enumerate(row)))
              for row in cursor.fetchall()]
    mine = [lease for lease in leases if lease.id == assignment_id]
    if not mine:
        raise Assignment.DoesNotExist("no such assignment of this annotator")
    others = [(lease.id, _is_open(lease, now)) for lease in leases if lease.id != assignment_id]
    return mine[0], _release_closed(cursor, others, now)


_TIMES = {3, 4, 12, 13, 18}  # the datetime columns of the statement above


def aware_datetime(value: datetime | str) -> datetime:
    """Raw cursors skip Django's converters: SQLite hands back naive UTC datetimes, and
    text for a computed column (an aggregate has no declared type)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return timezone.make_aware(value, UTC) if timezone.is_naive(value) else value


def _is_open(lease: _Lease, now) -> bool:
    """The batch takes judgements now: the rule ``next`` applies in SQL."""
    return lease.batch_status == BatchStatus.OPEN and lease.opens_at <= now < lease.closes_at


def _require_open(lease: _Lease, now) -> None:
    if not _is_open(lease, now):
        raise BatchNotOpen(f"Batch {lease.batch_name} is not open any more; nothing was stored.")


def _claim(cursor, lease: _Lease, now, *, chose_a: bool) -> None:
    """Count the judgement on the comparison, which locks its row (the statement that
    changes the counts is the lock: one round trip); refuse when the batch closed, or when
    the lease expired and someone else holds the comparison. A refusal raises, and the
    transaction's rollback takes the counts back."""
    run(
        cursor, "count_judgement",
        f"UPDATE {_C} SET judgement_count = judgement_count + 1,"
        " chose_a_count = chose_a_count + %s, chose_b_count = chose_b_count + %s"
        " WHERE id = %s RETURNING judgement_count",
        [int(chose_a), int(not chose_a), lease.comparison_id],
    )
    judged = cursor.fetchone()[0] - 1  # before this judgement
    _require_open(lease, now)
    if lease.state == AssignmentState.ACTIVE and lease.expires_at <= now:
        cursor.execute(
            f"SELECT COUNT(*) FROM {_A} WHERE comparison_id = %s AND id <> %s"
            " AND state = 'active' AND expires_at > %s",
            [lease.comparison_id, lease.id, now],
        )
        if judged + cursor.fetchone()[0] >= lease.overlap:
            raise LeaseLost(
                "Your time on this comparison ran out and another annotator has it now; "
                "your answer was not stored. Take the next comparison."
            )


_JUDGEMENT_COLUMNS = (
    "assignment_id", "comparison_id", "batch_id", "axis", "gold", "annotator_id",
    "left_response_id",
    "chosen_id", "rejected_id", "strength", "chosen_safe", "rejected_safe", "skipped",
    "skip_reason", "flagged_harmful", "comment", "seconds", "created_at",
)


def _insert_judgement(cursor, values: dict, *, state: str) -> Judgement:
    """Store the judgement and mark its lease answered: one statement on PostgreSQL (a
    data-modifying WITH), two elsewhere. The comparison's counts were changed by the
    caller under the row lock it holds, so they never drift from the rows."""
    insert = (f"INSERT INTO {_J} ({', '.join(_JUDGEMENT_COLUMNS)})"
              f" VALUES ({', '.join(['%s'] * len(_JUDGEMENT_COLUMNS))}) RETURNING id")
    row = [values[column] for column in _JUDGEMENT_COLUMNS]
    answered = f"UPDATE {_A} SET state = %s WHERE id = %s"
    if connection.vendor == "postgresql":
        run(cursor, "judgement",
            f"WITH stored AS ({insert}), answered AS ({answered}) SELECT id FROM stored",
            [*row, state, values["assignment_id"]])
        pk = cursor.fetchone()[0]
    else:
        pk = run(cursor, "judgement", insert, row).fetchone()[0]
        run(cursor, "lease_answered", answered, [state, values["assignment_id"]])
    judgement = Judgement(pk=pk, **values)
    judgement._state.adding = False
    return judgement


@dataclass(frozen=True)
class Submitted:
    judgement: Judgement
    created: bool  # False: the same assignment was submitted before; nothing changed
    asked_next: bool = False
    next_lease: Assignment | None = None  # with asked_next: the next lease, or none left


def _answered(cursor, annotator, answer, *, then_next: bool, holding: set[int], now,
              live: list[int]) -> Submitted:
    """Finish a submit or skip: with ``then_next``, lease the next comparison in the same
    transaction (the annotator's row is locked already; ``live``: their other leases)."""
    judgement, created = answer
    if not then_next:
        return Submitted(judgement, created=created)
    lease = _next_locked(cursor, annotator, now, holding, batch=None, rng=_random, live=live)
    return Submitted(judgement, created=created, asked_next=True, next_lease=lease)


def submit_judgement(
    *,
    annotator,
    assignment_id: int,
    chosen_side: str,
    strength: str,
    left_safe: bool | None = None,
    right_safe: bool | None = None,
    comment: str = "",
    flagged_harmful: bool = False,
    then_next: bool = False,
    holding=(),
) -> Submitted:
    """Store a judgement; with ``then_next``, lease the next comparison (besides those in
    ``holding``) in the same transaction. Submitting the same assignment again returns the
    first one; after a skip it raises ``AlreadySkipped`` (nothing would be stored)."""
    if chosen_side not in ("left", "right"):
        raise InvalidJudgement("chosen_side must be 'left' or 'right'.")
    if strength not in Strength.values:
        raise InvalidJudgement(f"strength must be one of {', '.join(Strength.values)}.")
    held = _holding(holding)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        _lock_annotator(cursor, annotator.pk)
        lease, live = _locked_lease(cursor, annotator, assignment_id, now)
        if lease.judgement_id is not None:
            earlier = Judgement.objects.get(pk=lease.judgement_id)
            if earlier.skipped:
                raise AlreadySkipped(
                    f"You skipped this comparison ({earlier.skip_reason}); a skip is final, "
                    "so this judgement was not stored. Take the next comparison."
                )
            return _answered(cursor, annotator, (earlier, False), then_next=then_next,
                             holding=held, now=now, live=live)
        is_safety = lease.axis == Axis.SAFETY
        if is_safety and (left_safe is None or right_safe is None):
            raise InvalidJudgement("A safety comparison needs safe/unsafe for both responses.")
        left, right = lease.left_id, lease.right_id
        chosen, rejected = (left, right) if chosen_side == "left" else (right, left)
        chosen_safe, rejected_safe = (
            (left_safe, right_safe) if chosen_side == "left" else (right_safe, left_safe)
        )
        _claim(cursor, lease, now, chose_a=chosen == lease.response_a_id)
        judgement = _insert_judgement(
            cursor,
            {
                "assignment_id": lease.id, "comparison_id": lease.comparison_id,
                **lease.copied(chosen), "annotator_id": annotator.pk,
                "left_response_id": left, "chosen_id": chosen,
                "rejected_id": rejected, "strength": strength,
                "chosen_safe": chosen_safe if is_safety else None,
                "rejected_safe": rejected_safe if is_safety else None,
                "skipped": False, "skip_reason": "", "flagged_harmful": flagged_harmful,
                "comment": comment, "seconds": lease.seconds(now), "created_at": now,
            },
            state=AssignmentState.SUBMITTED,
        )
        return _answered(cursor, annotator, (judgement, True), then_next=then_next,
                         holding=held, now=now, live=live)


def skip_comparison(
    *, annotator, assignment_id: int, reason: str, flagged_harmful: bool = False,
    then_next: bool = False, holding=(),
) -> Submitted:
    """Record a skip (with its reason); the comparison goes back to the pool at once.
    With ``then_next``, lease the next comparison as ``submit_judgement`` does. Skipping
    again returns the first skip; after a judgement it raises ``AlreadyJudged``; once the
    batch is no longer open, ``BatchNotOpen``, as submit does."""
    reason = reason.strip()
    if not reason:
        raise InvalidJudgement("Say why you skip: the reason helps fix the comparison.")
    held = _holding(holding)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        _lock_annotator(cursor, annotator.pk)
        lease, live = _locked_lease(cursor, annotator, assignment_id, now)
        if lease.judgement_id is not None:
            earlier = Judgement.objects.get(pk=lease.judgement_id)
            if not earlier.skipped:
                raise AlreadyJudged(
                    "You already judged this comparison; your judgement stands and the skip "
                    "was not stored."
                )
            return _answered(cursor, annotator, (earlier, False), then_next=then_next,
                             holding=held, now=now, live=live)
        cursor.execute(f"SELECT judgement_count FROM {_C} WHERE id = %s{_row_lock()}",
                       [lease.comparison_id])  # the count stays; the lease stops counting
        _require_open(lease, now)  # as submit: a closed batch takes nothing more
        judgement = _insert_judgement(
            cursor,
            {
                "assignment_id": lease.id, "comparison_id": lease.comparison_id,
                **lease.copied(None), "annotator_id": annotator.pk,
                "left_response_id": lease.left_id,
                "chosen_id": None, "rejected_id": None, "strength": "", "chosen_safe": None,
                "rejected_safe": None, "skipped": True, "skip_reason": reason[:300],
                "flagged_harmful": flagged_harmful, "comment": "",
                "seconds": lease.seconds(now), "created_at": now,
            },
            state=AssignmentState.SKIPPED,
        )
        return _answered(cursor, annotator, (judgement, True), then_next=then_next,
                         holding=held, now=now, live=live)

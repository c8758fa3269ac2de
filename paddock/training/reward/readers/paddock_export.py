"""The platform's own ``preferences`` export (``annotation.services.export``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from paddock.kernel.exchange import PREFERENCES, SchemaVersionError, check_schema_version
from paddock.kernel.vocabulary import AXES, STRENGTHS
from paddock.training.reward.pairs import PreferencePair, Turn
from paddock.training.reward.readers.reader import (
    Malformed,
    PairReader,
    Parsed,
    Skip,
    get_choice,
    get_field,
)
from paddock.training.reward.readers.report import PairFormatError

ROLES = ("system", "user", "assistant")


def read_paddock_export(path: str | Path, *, strict: bool = False) -> PairReader:
    """The platform's ``preferences`` export (``annotation.services.export``).

    One record per judgement; ``axis`` and ``strength`` are taken as they are (a record
    without a strength is malformed: every platform judgement has one, so its absence
    means a broken export, not public data). ``id`` is ``paddock:{record id}`` and
    ``source`` ``paddock:{batch}``, so mixes can count batches; ``split``, ``batch``,
    ``annotator``, ``is_gold`` and ``comparison_id`` stay in ``meta`` because the
    platform's split is per comparison and evaluation must keep it.

    Raises:
        PairFormatError: the export's manifest names a newer schema version than this
            code reads (:mod:`paddock.kernel.exchange`).
    """
    try:
        check_schema_version(path, PREFERENCES)
    except SchemaVersionError as exc:
        raise PairFormatError(path, None, None, str(exc).removeprefix(f"{path}: ")) from None
    return PairReader(path, _paddock_record, source="paddock", strict=strict)


def _paddock_record(record: dict[str, Any], number: int) -> Parsed:
    batch = get_field(record, "batch", str)
    chosen = get_field(record, "chosen", str)
    rejected = get_field(record, "rejected", str)
    if chosen == rejected:
        return Parsed([Skip("identical")])
    if record.get("strength") is None:
        raise Malformed("strength", "missing: every platform judgement has a strength")
    return Parsed([PreferencePair(
        id=f"paddock:{get_field(record, 'id', (int, str))}",
        context=_conversation(get_field(record, "conversation", list)),
        chosen=chosen,
        rejected=rejected,
        axis=get_choice(record, "axis", AXES),
        source=f"paddock:{batch}",
        strength=get_choice(record, "strength", STRENGTHS),
        chosen_safe=get_field(record, "chosen_safe", bool, optional=True),
        rejected_safe=get_field(record, "rejected_safe", bool, optional=True),
        margins=_export_margins(record),
        weight=_weight(record),
        meta={
            "split": get_field(record, "split", str),
            "batch": batch,
            "annotator": record.get("annotator"),
            "is_gold": record.get("is_gold"),
            "comparison_id": record.get("comparison_id"),
        },
    )])


def _weight(record: dict[str, Any]) -> float:
    """The judgement's ``weight`` where the export wrote one (annotator reliability), else 1."""
    value = get_field(record, "weight", (int, float), optional=True)
    if value is None:
        return 1.0
    if isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise Malformed("weight", f"expected a finite number >= 0, got {value}")
    return float(value)


def _export_margins(record: dict[str, Any]) -> dict[str, float]:
    """The margins the export wrote (``margin_small``, ``margin_large``), by table name."""
    margins = {}
    for table in ("small", "large"):
        value = get_field(record, f"margin_{table}", (int, float), optional=True)
        if value is not None:
            if not math.isfinite(value) or value < 0:
                raise Malformed(f"margin_{table}", f"expected a finite number >= 0, got {value}")
            margins[table] = float(value)
    return margins


def _conversation(turns: list[Any]) -> tuple[Turn, ...]:
    out = []
    for index, turn in enumerate(turns):
        where = f"conversation[{index}]"
        if not isinstance(turn, dict):
            raise Malformed(where, f"expected an object, got {type(turn).__name__}")
        role = get_field(turn, "role", str, where=where)
        if role not in ROLES:
            raise Malformed(f"{where}.role", f"{role!r} is not one of {ROLES}")
        out.append(Turn(role=role, content=get_field(turn, "content", str, where=where)))
    return tuple(out)

"""Personal information replaced by typed mask tokens, as OLMo's Dolma does
(``|||EMAIL_ADDRESS|||``, ``|||PHONE_NUMBER|||``, ``|||IP_ADDRESS|||``), so a model learns
that an address goes there without learning the address. Detection is
:func:`paddock.curation.core.pii.find_pii`'s; this module only substitutes."""

from __future__ import annotations

from typing import Final

from paddock.curation.core.pii import PiiType, find_pii

MASKS: Final = {
    PiiType.EMAIL: "|||EMAIL_ADDRESS|||",
    PiiType.PHONE: "|||PHONE_NUMBER|||",
    PiiType.IP_ADDRESS: "|||IP_ADDRESS|||",
    PiiType.US_SSN: "|||US_SSN|||",
    PiiType.CREDIT_CARD: "|||CREDIT_CARD|||",
}


def redact_pii(text: str) -> tuple[str, dict[str, int]]:
    """(``text`` with each detection replaced by its type's mask, count per type value).
    A type without a mask here (one pii.py adds later) is masked as ``|||PII|||``."""
    pieces: list[str] = []
    counts: dict[str, int] = {}
    position = 0
    for span in find_pii(text):
        if span.start < position:  # find_pii promises no overlaps; never cut a mask
            continue
        pieces.append(text[position : span.start])
        pieces.append(MASKS.get(span.type, "|||PII|||"))
        counts[str(span.type)] = counts.get(str(span.type), 0) + 1
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces), counts
